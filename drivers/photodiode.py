"""A calibrated silicon photodiode as a light channel: photocurrent -> spectral flux or radiance.

A photodiode measures one number, its photocurrent I. With

* R(lambda), the photodiode's spectral responsivity (A/W, from its calibration certificate),
* S(lambda), the spectral weighting: a spectrum of the same device (MEASUREMENTS.md section 1),
* G, a geometry factor found by measuring spectra and photocurrents together
  (I = G * integral R S dlambda; G is dimensionless on a sphere port, m^2 sr for a
  photodiode looking at the pixel through a radiance calibration),

a photocurrent I scales the weighting: S_now = k S with k = (I - I_dark) / (G integral R S).
Every figure (luminance, radiance, photon flux, EQE) then follows from S_now by the
station's ordinary formulas.

The weighting decides how right the figures are, because an emitter's band moves and
widens with the drive while V(lambda) is steep: calibrated at 10 mA/cm^2 a deep-red
device's photodiode luminance was +1.9 % off at 2000 mA/cm^2. So:

* beside a spectrometer or radiometer (``[light] second_channel``), each point is
  weighted with the spectrum measured at that point (:meth:`PhotodiodeChannel.result`
  with ``measured``): no spectral mismatch;
* on its own, the calibration holds spectra at several drives (``calibrate-photodiode
  --current-density 1 3 10 ...``) and each point's weighting is interpolated in
  log(current density) between them; the interpolation's own error (from the curvature
  across the levels) is a *spectral-mismatch* uncertainty carried with every figure, and a
  point outside the calibrated drive range is flagged ``outside_calibration`` with the
  mismatch extrapolated (unknown, NaN, from a single-level calibration).

Every figure's stated 1-sigma uncertainty combines the photocurrent's noise (dark noise
of the reading and of the dark, and the meter's proportional noise measured during
calibration), the geometry factor's uncertainty and the spectral mismatch. Colour and
spectral shape are not measured: the result is marked ``synthetic`` and those figures
are left out. All of it is held in a :class:`PhotodiodeCalibration` file made by
``ledstation calibrate-photodiode``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from station.core import photometry
from station.core.emission_band import TOTAL_SNR, EmissionBand
from station.core.errors import CalibrationError, InstrumentError
from station.core.user_files import read_user_file

from .calibration import covers, load_certificate
from .light_meter import LightDescription, SpectrumAxis
from .spectral_result import SPECTRAL_FLUX, SPECTRAL_RADIANCE, UNITS, SpectralResult

FORMAT = "ledstation-photodiode-calibration/2"
#: format 1: one reference spectrum at one drive (read; its drive range is that one drive)
FORMAT_1 = "ledstation-photodiode-calibration/1"
RESPONSIVITY_COLUMNS = ("wavelength_nm", "responsivity_A_W")
GEOMETRY_UNITS = {SPECTRAL_FLUX: "1", SPECTRAL_RADIANCE: "m^2 sr"}
#: dark readings taken with the output off before a run
DEFAULT_DARK_READINGS = 10
#: a drive within this fraction of a decade of the calibrated range counts as inside it
DRIVE_TOLERANCE_DECADES = 0.005
#: the band integrals a photodiode result carries an uncertainty for
_FIGURES = (photometry.TOTAL, photometry.PHOTONS, photometry.LUMINOUS)
class Ammeter(Protocol):
    """What the photodiode channel needs of the meter that reads it."""

    @property
    def identity(self) -> str: ...

    #: the meter's resolution on its range, A (the noise floor when its readings do not vary)
    resolution_A: float

    def configure_for_photocurrent(self) -> None: ...

    def read_current_A(self) -> float: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PhotodiodeResponsivity:
    """A photodiode's spectral responsivity from its certificate (CSV: wavelength_nm,responsivity_A_W)."""

    wavelength_nm: NDArray[np.float64]
    responsivity_A_W: NDArray[np.float64]
    sha256: str
    path: str

    @classmethod
    def load(cls, path: str | Path) -> PhotodiodeResponsivity:
        what = "photodiode responsivity"
        wl, values, sha256 = load_certificate(path, RESPONSIVITY_COLUMNS, what)
        if np.any(values <= 0) or np.any(values > 1.0):
            raise CalibrationError(f"{what} {path}: values must be within (0, 1] A/W")
        return cls(wl, values, sha256, str(path))

    def on_grid(self, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        wl = np.asarray(wavelength_nm, float)
        if not covers(self.wavelength_nm, wl):
            raise CalibrationError(f"photodiode responsivity {self.path} covers {self.wavelength_nm[0]:g}-"
                                   f"{self.wavelength_nm[-1]:g} nm but the emission needs {wl.min():.0f}-"
                                   f"{wl.max():.0f} nm")
        return np.interp(wl, self.wavelength_nm, self.responsivity_A_W)


@dataclass(frozen=True)
class PhotodiodeCalibration:
    """Geometry factor, spectral weightings (one per calibrated drive) and responsivity of
    one photodiode on one device."""

    quantity: str  # the reference's: spectral_flux (sphere) or spectral_radiance (radiometer)
    wavelength_nm: NDArray[np.float64]  # the references' emission band, on their instrument's grid
    reference_spectra: NDArray[np.float64]  # [drives, pixels] over the band, in UNITS[quantity]
    drive_mA_cm2: NDArray[np.float64]  # [drives] increasing current density of each reference (NaN: unknown)
    responsivity_A_W: NDArray[np.float64]  # on wavelength_nm
    geometry_factor: float
    geometry_factor_relative_sigma: float
    #: 1 sigma of one photocurrent reading relative to its value, beyond the dark noise
    #: (the meter's proportional noise and the light's flicker, measured while calibrating)
    photocurrent_relative_noise: float = 0.0
    #: the certificate's responsivity (wavelength_nm, A/W), to weight a measured spectrum
    #: beyond the band (format 1 files: the band's only)
    responsivity_curve: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    #: [drives, 3] relative 1-sigma of each reference's radiant, photon and luminous totals per
    #: ampere, from the scatter of its readings (a dim tail, e.g. a near-infrared emitter's
    #: luminance, is noisy); None: not measured (format 1)
    reference_relative_sigma: NDArray[np.float64] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        where = f"photodiode calibration {self.path}"
        if self.quantity not in GEOMETRY_UNITS:
            raise CalibrationError(f"{where}: unknown quantity {self.quantity!r}")
        spectra = self.reference_spectra
        if (self.wavelength_nm.ndim != 1 or len(self.wavelength_nm) < 10 or spectra.ndim != 2
                or spectra.shape[1] != len(self.wavelength_nm)
                or self.responsivity_A_W.shape != self.wavelength_nm.shape
                or self.drive_mA_cm2.shape != (spectra.shape[0],) or spectra.shape[0] < 1):
            raise CalibrationError(f"{where}: wavelength, spectra and responsivity must be equal-length lists of at "
                                   "least 10 values, one spectrum per drive")
        if not np.all(np.isfinite(self.wavelength_nm)) or not np.all(np.diff(self.wavelength_nm) > 0):
            raise CalibrationError(f"{where}: wavelengths must be finite and increase")
        if not (math.isfinite(self.geometry_factor) and self.geometry_factor > 0):
            raise CalibrationError(f"{where}: geometry factor must be positive")
        if not np.all(np.isfinite(spectra)) or np.any(spectra.sum(axis=1) <= 0):
            raise CalibrationError(f"{where}: a reference spectrum has no emission")
        if not (np.all(np.isfinite(self.responsivity_A_W)) and np.all(self.responsivity_A_W > 0)):
            raise CalibrationError(f"{where}: the responsivity must be positive everywhere")
        drives = self.drive_mA_cm2
        known = drives[np.isfinite(drives)]
        if len(known) not in (0, len(drives)) or np.any(known <= 0) or np.any(np.diff(known) <= 0):
            raise CalibrationError(f"{where}: drives must be positive current densities in increasing order")
        for name in ("geometry_factor_relative_sigma", "photocurrent_relative_noise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise CalibrationError(f"{where}: {name} must be a finite fraction within [0, 1)")
        sigma = self.reference_relative_sigma
        if sigma is not None and (sigma.shape != (spectra.shape[0], len(_FIGURES)) or not np.all(sigma >= 0)):
            raise CalibrationError(f"{where}: reference_relative_sigma must be non-negative, 3 per drive")
        if self.responsivity_curve is not None:
            wl, values = self.responsivity_curve
            if (wl.ndim != 1 or wl.shape != values.shape or len(wl) < 2 or not np.all(np.diff(wl) > 0)
                    or not np.all(np.isfinite(values)) or np.any(values <= 0) or np.any(values > 1)):
                raise CalibrationError(f"{where}: the responsivity curve must be increasing wavelengths with "
                                       "values within (0, 1] A/W")

    @property
    def units(self) -> str:
        return UNITS[self.quantity]

    @property
    def drive_range_mA_cm2(self) -> tuple[float, float]:
        """The current densities the references cover (NaN when the file does not say)."""
        return float(self.drive_mA_cm2[0]), float(self.drive_mA_cm2[-1])

    def weighted_responses_A(self) -> NDArray[np.float64]:
        """G * integral of R S dlambda for each reference: the photocurrent it gives."""
        weights = photometry.trapezoid_weights(self.wavelength_nm) * self.responsivity_A_W
        return self.geometry_factor * (self.reference_spectra @ weights)

    def responsivity_on(self, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        """R on another grid (a measured spectrum's band), from the certificate's curve."""
        wl, values = self.responsivity_curve or (self.wavelength_nm, self.responsivity_A_W)
        return np.interp(np.asarray(wavelength_nm, float), wl, values)

    # --- file -----------------------------------------------------------------------
    def to_json(self) -> str:
        curve = self.responsivity_curve
        return json.dumps({
            "format": FORMAT, "quantity": self.quantity, "units": self.units,
            "geometry_factor": self.geometry_factor, "geometry_factor_units": GEOMETRY_UNITS[self.quantity],
            "geometry_factor_relative_sigma": self.geometry_factor_relative_sigma,
            "photocurrent_relative_noise": self.photocurrent_relative_noise,
            "metadata": self.metadata, "wavelength_nm": self.wavelength_nm.tolist(),
            "drive_mA_cm2": [None if not math.isfinite(d) else d for d in self.drive_mA_cm2.tolist()],
            "reference_spectra": self.reference_spectra.tolist(), "responsivity_A_W": self.responsivity_A_W.tolist(),
            "responsivity_curve": None if curve is None else {"wavelength_nm": curve[0].tolist(),
                                                              "responsivity_A_W": curve[1].tolist()},
            "reference_relative_sigma": None if self.reference_relative_sigma is None
            else self.reference_relative_sigma.tolist(),
        }, indent=1)  # json writes floats with repr: every value reads back bit for bit

    def save(self, path: str | Path) -> str:
        data = self.to_json().encode("utf-8")
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: str | Path) -> PhotodiodeCalibration:
        path = Path(path)
        data = read_user_file(path, "photodiode calibration", CalibrationError)
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CalibrationError(f"photodiode calibration {path}: cannot read ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, FORMAT_1):
            raise CalibrationError(f"photodiode calibration {path}: not a {FORMAT} file "
                                   "(make one with ledstation calibrate-photodiode)")
        try:
            metadata = {str(k): str(v) for k, v in dict(doc.get("metadata", {})).items()}
            if doc["format"] == FORMAT_1:
                spectra = np.asarray([doc["reference_spectrum"]], float)
                drives = np.array([_format_1_drive(metadata.get("drive", ""))])
                curve = reference_sigma = None
            else:
                spectra = np.asarray(doc["reference_spectra"], float)
                drives = np.asarray([math.nan if d is None else d for d in doc["drive_mA_cm2"]], float)
                c = doc.get("responsivity_curve")
                curve = None if c is None else (np.asarray(c["wavelength_nm"], float),
                                                np.asarray(c["responsivity_A_W"], float))
                r = doc.get("reference_relative_sigma")
                reference_sigma = None if r is None else np.asarray(r, float)
            return cls(doc["quantity"], np.asarray(doc["wavelength_nm"], float), spectra, drives,
                       np.asarray(doc["responsivity_A_W"], float), float(doc["geometry_factor"]),
                       float(doc.get("geometry_factor_relative_sigma", 0.0)),
                       float(doc.get("photocurrent_relative_noise", 0.0)), curve, reference_sigma, metadata,
                       hashlib.sha256(data).hexdigest(), str(path))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(f"photodiode calibration {path}: missing or malformed {exc}") from None


def _format_1_drive(text: str) -> float:
    """A format-1 file's drive, from its metadata ("10 mA/cm^2"); NaN when it says none."""
    number, _, units = text.partition(" ")
    try:
        value = float(number)
    except ValueError:
        return math.nan
    return value if units == "mA/cm^2" and math.isfinite(value) and value > 0 else math.nan


@dataclass(frozen=True)
class CalibrationLevel:
    """Spectra and dark-subtracted photocurrents taken together at one drive."""

    drive_mA_cm2: float
    spectra: NDArray[np.float64]  # [readings, pixels] on the instrument's grid
    net_currents_A: NDArray[np.float64]  # [readings] each the mean of the readings around its spectrum
    band: slice  # the emission band of these spectra
    #: relative scatter of the photocurrent readings at this level (meter noise and flicker)
    photocurrent_relative_scatter: float
    #: one spectrum's stated 1-sigma noise per pixel (the instrument's noise model), or None
    noise: NDArray[np.float64] | None = None


def calibrate_geometry(levels: list[CalibrationLevel], wavelength_nm: NDArray[np.float64], quantity: str,
                       responsivity: PhotodiodeResponsivity, metadata: dict[str, str]) -> PhotodiodeCalibration:
    """G from every (spectrum, photocurrent) pair of every level; the references are each
    level's mean spectrum over the union of their emission bands."""
    if not levels:
        raise CalibrationError("photodiode calibration: no drive levels")
    levels = sorted(levels, key=lambda level: level.drive_mA_cm2)
    start = min(level.band.start for level in levels)
    stop = max(level.band.stop for level in levels)
    band = slice(start, stop)
    wl = np.asarray(wavelength_nm, float)[band]
    r = responsivity.on_grid(wl)
    weights = photometry.trapezoid_weights(wl) * r
    ratios = np.concatenate([np.asarray(level.net_currents_A, float) / (np.asarray(level.spectra, float)[:, band]
                                                                         @ weights) for level in levels])
    if not np.all(np.isfinite(ratios)) or np.any(ratios <= 0):
        raise CalibrationError("photodiode calibration: no positive photocurrent against the spectrum "
                               "(is the photodiode connected and facing the light?)")
    g = float(np.mean(ratios))
    sigma = float(np.std(ratios, ddof=1) / np.sqrt(len(ratios)) / g) if len(ratios) > 1 else float("nan")
    spectra = np.array([np.asarray(level.spectra, float)[:, band].mean(axis=0) for level in levels])
    drives = np.array([level.drive_mA_cm2 for level in levels], float)
    noise = float(np.median([level.photocurrent_relative_scatter for level in levels]))
    reference_sigma = np.array([_reference_sigma(level, band, wl, weights) for level in levels])
    return PhotodiodeCalibration(quantity, wl, spectra, drives, r, g, sigma, noise,
                                 (responsivity.wavelength_nm, responsivity.responsivity_A_W), reference_sigma,
                                 {**metadata, "responsivity_file": responsivity.path,
                                  "responsivity_sha256": responsivity.sha256,
                                  "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})


def _reference_sigma(level: CalibrationLevel, band: slice, wl: NDArray[np.float64],
                     weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative 1-sigma of a reference's totals per unit photocurrent: the standard error of
    its readings' scatter and, because every reading subtracted the same dark (whose noise
    no averaging removes), a single reading's stated noise over sqrt(2)."""
    spectra = np.asarray(level.spectra, float)[:, band]
    pixels = slice(0, len(wl))
    per_unit = np.array([photometry.band_totals(s, wl, pixels)[0][list(_FIGURES)] / float(s @ weights)
                         for s in spectra])
    mean = np.abs(per_unit.mean(axis=0))
    scatter = np.std(per_unit, axis=0, ddof=1) / math.sqrt(len(per_unit)) / mean if len(per_unit) > 1 else 0.0
    stated = np.zeros(len(_FIGURES))
    if level.noise is not None:
        noise = np.asarray(level.noise, float)
        totals, variances = photometry.band_totals(spectra.mean(axis=0), wl, pixels,
                                                   noise[band] if noise.ndim else noise)
        stated = np.sqrt(variances[list(_FIGURES)] / 2) / np.abs(totals[list(_FIGURES)])
    return np.sqrt(scatter ** 2 + stated ** 2)


def dark_current(meter: Ammeter, readings: int) -> tuple[float, float]:
    """(mean, 1-sigma noise) of ``readings`` photocurrents with the light off; the noise is
    at least the meter's resolution."""
    meter.configure_for_photocurrent()
    values = np.array([meter.read_current_A() for _ in range(readings)])
    if not np.all(np.isfinite(values)):
        raise InstrumentError(f"photodiode on {meter.identity}: dark readings are not numbers (overflow?)")
    spread = float(np.std(values, ddof=1)) if readings > 1 else 0.0
    return float(np.mean(values)), max(spread, meter.resolution_A)


@dataclass(frozen=True)
class Weighting:
    """The spectral weighting of one point: figures per ampere of net photocurrent."""

    wavelength_nm: NDArray[np.float64]
    per_ampere: NDArray[np.float64]  # the spectrum one ampere of net photocurrent stands for
    totals_per_ampere: NDArray[np.float64]  # its band integrals (photometry.band_totals)
    #: relative 1-sigma of each band integral from the weighting (spectral mismatch); NaN: unknown
    mismatch_relative: NDArray[np.float64]
    outside_calibration: bool
    band: EmissionBand | None = None  # where the weighting's figures integrate


class PhotodiodeChannel:
    """A photodiode on a meter with its calibration: readings -> synthetic spectra."""

    def __init__(self, meter: Ammeter, calibration: PhotodiodeCalibration,
                 dark_readings: int = DEFAULT_DARK_READINGS) -> None:
        self.meter = meter
        self.calibration = calibration
        self.dark_readings = dark_readings
        self.dark_A = float("nan")
        self.noise_A = float("nan")
        c = calibration
        wl = c.wavelength_nm
        self._band = EmissionBand(True, 0, len(wl) - 1, float(wl[0]), float(wl[-1]), float("inf"))
        self._per_ampere = c.reference_spectra / c.weighted_responses_A()[:, None]
        self._totals = np.array([photometry.band_totals(s, wl, self._band.pixels)[0] for s in self._per_ampere])
        self._log_drives = np.log10(c.drive_mA_cm2)
        self._reference_sigma = (c.reference_relative_sigma if c.reference_relative_sigma is not None
                                 else np.zeros((len(c.drive_mA_cm2), len(_FIGURES))))

    @property
    def identity(self) -> str:
        return f"photodiode on {self.meter.identity}"

    def prepare(self) -> None:
        """Dark current and noise from readings with the output off."""
        self.dark_A, self.noise_A = dark_current(self.meter, self.dark_readings)

    def description(self) -> dict[str, Any]:
        c = self.calibration
        low, high = c.drive_range_mA_cm2
        return {"source": "photodiode calibration", "path": c.path, "sha256": c.sha256,
                "geometry_factor": c.geometry_factor, "geometry_factor_units": GEOMETRY_UNITS[c.quantity],
                "geometry_factor_relative_sigma": c.geometry_factor_relative_sigma,
                "photocurrent_relative_noise": c.photocurrent_relative_noise,
                "dark_current_A": self.dark_A, "noise_A": self.noise_A,
                "drive_min_mA_cm2": low, "drive_max_mA_cm2": high,
                "reference_wavelength_nm": c.wavelength_nm, "reference_spectra": c.reference_spectra,
                "reference_drive_mA_cm2": c.drive_mA_cm2, "responsivity_A_W": c.responsivity_A_W,
                **({} if c.reference_relative_sigma is None
                   else {"reference_relative_sigma": c.reference_relative_sigma}),
                **({} if c.responsivity_curve is None
                   else {"responsivity_curve_wavelength_nm": c.responsivity_curve[0],
                         "responsivity_curve_A_W": c.responsivity_curve[1]}),
                **{f"metadata_{k}": v for k, v in c.metadata.items()}}

    def describe(self) -> LightDescription:
        """Axis (the references' band) and calibration, for the run file."""
        c = self.calibration
        return LightDescription(self.identity, SpectrumAxis(c.wavelength_nm, c.quantity, c.units, "A"),
                                calibration=self.description(), calibration_units=self.description_units())

    def description_units(self) -> dict[str, str]:
        """Units of the arrays of :meth:`description`."""
        return {"reference_wavelength_nm": "nm", "reference_spectra": self.calibration.units,
                "reference_drive_mA_cm2": "mA/cm^2", "responsivity_A_W": "A/W",
                "reference_relative_sigma": "1", "responsivity_curve_wavelength_nm": "nm",
                "responsivity_curve_A_W": "A/W"}

    def read_A(self) -> float:
        """One photocurrent reading, dark not subtracted (NaN: the meter's range is exceeded)."""
        if not math.isfinite(self.dark_A):
            raise InstrumentError(f"{self.identity}: no dark reading; prepare the channel with the output off")
        return self.meter.read_current_A()

    def measure(self, drive_mA_cm2: float = math.nan, measured: SpectralResult | None = None) -> SpectralResult:
        """One reading, weighted for this point (see :meth:`result`)."""
        return self.result(self.read_A(), drive_mA_cm2, measured)

    # --- weighting ------------------------------------------------------------------
    def weighting(self, drive_mA_cm2: float, measured: SpectralResult | None = None) -> Weighting:
        """The point's weighting: the measured spectrum when one of the calibration's
        quantity is fit for figures, else the references interpolated to the drive."""
        c = self.calibration
        if (measured is not None and measured.valid and not measured.synthetic and measured.band is not None
                and measured.quantity == c.quantity):
            pixels = measured.band.pixels
            wl = np.asarray(measured.wavelength_nm, float)
            s = np.asarray(measured.spectral, float)
            weights = photometry.trapezoid_weights(wl[pixels]) * c.responsivity_on(wl[pixels])
            response = c.geometry_factor * float(weights @ s[pixels])
            per_ampere = np.zeros(len(s))
            per_ampere[pixels] = s[pixels] / response
            totals, variances = measured.band_totals or photometry.band_totals(s, wl, pixels, measured.noise)
            # the measured spectrum's noise enters the ratio at most as much as it enters each total
            shape = (np.sqrt(variances) / np.abs(totals))[list(_FIGURES)]
            return Weighting(wl, per_ampere, totals / response, shape, False, measured.band)
        x = math.log10(drive_mA_cm2) if drive_mA_cm2 > 0 else math.nan
        xs = self._log_drives
        w = _interpolated(self.calibration.wavelength_nm, self._per_ampere, self._totals, xs, x)
        # the references' own noise: the nearer's at a drive between two (their mean is no less noisy)
        nearest = int(np.argmin(np.abs(xs - x))) if math.isfinite(x) and np.all(np.isfinite(xs)) else 0
        own = self._reference_sigma[nearest]
        return Weighting(w.wavelength_nm, w.per_ampere, w.totals_per_ampere,
                         np.sqrt(w.mismatch_relative ** 2 + own ** 2), w.outside_calibration, self._band)

    def result(self, current_A: float, drive_mA_cm2: float = math.nan,
               measured: SpectralResult | None = None) -> SpectralResult:
        """The reading as a synthetic spectrum of the point's weighting, with every figure's
        1 sigma from the photocurrent's noise, the geometry factor and the spectral mismatch."""
        c = self.calibration
        w = self.weighting(drive_mA_cm2, measured)
        wl, band = w.wavelength_nm, w.band
        extras = {"photodiode_current_A": current_A, "outside_calibration": float(w.outside_calibration),
                  "reference_centroid_nm": float(w.totals_per_ampere[photometry.FIRST_MOMENT]
                                                 / w.totals_per_ampere[photometry.TOTAL])}
        if not math.isfinite(current_A):  # overflow: the meter's range is exceeded
            nan = np.full(wl.shape, np.nan)
            return SpectralResult(wl, nan, c.quantity, np.array([current_A]), "A", float("nan"), saturated=True,
                                  instrument=self.identity, calibration_sha256=c.sha256, extras=extras,
                                  synthetic=True)
        net_A = current_A - self.dark_A
        noise_A = math.sqrt(2.0) * self.noise_A  # the reading's and the dark's
        relative = np.sqrt((noise_A / net_A) ** 2 + c.photocurrent_relative_noise ** 2
                           + c.geometry_factor_relative_sigma ** 2 + w.mismatch_relative ** 2) if net_A else \
            np.full(len(_FIGURES), np.inf)
        totals = net_A * w.totals_per_ampere
        variances = np.zeros(len(totals))
        variances[list(_FIGURES)] = (np.abs(totals[list(_FIGURES)]) * relative) ** 2
        noise_floor = np.sqrt(noise_A ** 2 + (c.photocurrent_relative_noise * net_A) ** 2)
        low_light = not net_A > TOTAL_SNR * noise_floor
        return SpectralResult(wl, net_A * w.per_ampere, c.quantity, np.array([current_A]), "A", float("nan"),
                              low_light=low_light, instrument=self.identity, calibration_sha256=c.sha256,
                              extras=extras, noise=noise_floor * np.abs(w.per_ampere), band=band,
                              band_totals=(totals, variances), synthetic=True)


def _interpolated(wl: NDArray[np.float64], per_ampere: NDArray[np.float64], totals: NDArray[np.float64],
                  xs: NDArray[np.float64], x: float) -> Weighting:
    """References interpolated linearly in log drive ``x`` (``xs``: theirs), with the
    interpolation error as the mismatch: t(1-t) h^2 |q''| / 2 from the neighbouring second
    differences (two levels: t(1-t) |dq|); outside the range the nearest reference, its
    mismatch extrapolated with the end slope (one level or unknown drives: NaN)."""
    figures = list(_FIGURES)
    n = len(xs)
    unknown = np.full(len(figures), np.nan)
    if n == 1 or not np.all(np.isfinite(xs)) or not math.isfinite(x):
        inside = n == 1 and math.isfinite(x) and abs(x - xs[0]) <= DRIVE_TOLERANCE_DECADES
        return Weighting(wl, per_ampere[0], totals[0], np.zeros(len(figures)) if inside else unknown, not inside)
    q = totals[:, figures]
    if x < xs[0] - DRIVE_TOLERANCE_DECADES or x > xs[-1] + DRIVE_TOLERANCE_DECADES:
        end = 0 if x < xs[0] else n - 1
        other = 1 if end == 0 else n - 2
        slope = (q[end] - q[other]) / (xs[end] - xs[other])
        mismatch = np.abs(slope * (x - xs[end]) / q[end])
        return Weighting(wl, per_ampere[end], totals[end], mismatch, True)
    x = min(max(x, xs[0]), xs[-1])
    i = min(int(np.searchsorted(xs, x, side="right")) - 1, n - 2)
    h = xs[i + 1] - xs[i]
    t = (x - xs[i]) / h
    spectrum = (1 - t) * per_ampere[i] + t * per_ampere[i + 1]
    total = (1 - t) * totals[i] + t * totals[i + 1]
    if n == 2:
        error = t * (1 - t) * np.abs(q[1] - q[0])
    else:
        slopes = np.diff(q, axis=0) / np.diff(xs)[:, None]
        curvature = np.abs(np.diff(slopes, axis=0) / (0.5 * (xs[2:] - xs[:-2]))[:, None])
        near = curvature[max(i - 1, 0):min(i + 1, n - 2)].max(axis=0)
        error = t * (1 - t) * h * h * near / 2
    return Weighting(wl, spectrum, total, error / np.abs(total[figures]), False)


class PhotodiodeLightMeter:
    """The photodiode channel as the station's light meter."""

    def __init__(self, channel: PhotodiodeChannel) -> None:
        self.channel = channel

    @property
    def identity(self) -> str:
        return self.channel.identity

    @property
    def measure_timeout_s(self) -> float:
        return 10.0

    def prepare(self) -> None:
        self.channel.prepare()

    def describe(self) -> LightDescription:
        return self.channel.describe()

    def measure(self, drive_mA_cm2: float = math.nan) -> SpectralResult:
        """A reading weighted for the drive it was taken at (no drive: flagged outside
        the calibration, its mismatch unknown)."""
        return self.channel.measure(drive_mA_cm2)

    def close(self) -> None:
        self.channel.meter.close()
