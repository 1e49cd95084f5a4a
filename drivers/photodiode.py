"""A calibrated silicon photodiode as a light channel: photocurrent -> spectral flux or radiance.

A photodiode measures one number, its photocurrent I. With

* R(lambda), the photodiode's spectral responsivity (A/W, from its calibration certificate),
* S(lambda), one spectrum of the same device measured by the sphere spectrometer or the
  radiometer (the spectral weighting, MEASUREMENTS.md section 1), and
* G, a geometry factor found by measuring that spectrum and the photocurrent together
  (I = G * integral R S dlambda; G is dimensionless on a sphere port, m^2 sr for a
  photodiode looking at the pixel through a radiance calibration),

a photocurrent I scales the reference spectrum: S_now = k S with
k = (I - I_dark) / (G * integral R S dlambda). Every figure (luminance, radiance, photon
flux, EQE) then follows from S_now by the station's ordinary formulas, over the
reference's emission band. Colour and spectral shape are the reference's, not
measured: the result is marked ``synthetic`` and those figures are left out.
All of it is held in a :class:`PhotodiodeCalibration` file made by
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

from .calibration import load_certificate
from .light_meter import LightDescription, SpectrumAxis
from .spectral_result import SPECTRAL_FLUX, SPECTRAL_RADIANCE, UNITS, SpectralResult

FORMAT = "ledstation-photodiode-calibration/1"
RESPONSIVITY_COLUMNS = ("wavelength_nm", "responsivity_A_W")
GEOMETRY_UNITS = {SPECTRAL_FLUX: "1", SPECTRAL_RADIANCE: "m^2 sr"}
#: dark readings taken with the output off before a run
DEFAULT_DARK_READINGS = 10


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
        if wl.min() < self.wavelength_nm[0] - 1e-9 or wl.max() > self.wavelength_nm[-1] + 1e-9:
            raise CalibrationError(f"photodiode responsivity {self.path} covers {self.wavelength_nm[0]:g}-"
                                   f"{self.wavelength_nm[-1]:g} nm but the emission needs {wl.min():.0f}-"
                                   f"{wl.max():.0f} nm")
        return np.interp(wl, self.wavelength_nm, self.responsivity_A_W)


@dataclass(frozen=True)
class PhotodiodeCalibration:
    """Geometry factor, spectral weighting and responsivity of one photodiode on one device."""

    quantity: str  # the reference's: spectral_flux (sphere) or spectral_radiance (radiometer)
    wavelength_nm: NDArray[np.float64]  # the reference's emission band, on its instrument's grid
    reference_spectrum: NDArray[np.float64]  # over the band, in UNITS[quantity]
    responsivity_A_W: NDArray[np.float64]  # on wavelength_nm
    geometry_factor: float
    geometry_factor_relative_sigma: float
    metadata: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        if self.quantity not in GEOMETRY_UNITS:
            raise CalibrationError(f"photodiode calibration {self.path}: unknown quantity {self.quantity!r}")
        shapes = {self.wavelength_nm.shape, self.reference_spectrum.shape, self.responsivity_A_W.shape}
        if len(shapes) != 1 or self.wavelength_nm.ndim != 1 or len(self.wavelength_nm) < 10:
            raise CalibrationError(f"photodiode calibration {self.path}: wavelength, spectrum and responsivity "
                                   "must be equal-length lists of at least 10 values")
        if not np.all(np.diff(self.wavelength_nm) > 0):
            raise CalibrationError(f"photodiode calibration {self.path}: wavelengths must increase")
        if not (math.isfinite(self.geometry_factor) and self.geometry_factor > 0):
            raise CalibrationError(f"photodiode calibration {self.path}: geometry factor must be positive")
        if not np.all(np.isfinite(self.reference_spectrum)) or self.reference_spectrum.sum() <= 0:
            raise CalibrationError(f"photodiode calibration {self.path}: the reference spectrum has no emission")
        if not (np.all(np.isfinite(self.responsivity_A_W)) and np.all(self.responsivity_A_W > 0)):
            raise CalibrationError(f"photodiode calibration {self.path}: the responsivity must be positive everywhere")
        if not np.all(np.isfinite(self.wavelength_nm)) or not (math.isfinite(self.geometry_factor_relative_sigma)
                                                                and self.geometry_factor_relative_sigma >= 0):
            raise CalibrationError(f"photodiode calibration {self.path}: wavelengths and the geometry factor's "
                                   "uncertainty must be finite numbers")

    @property
    def units(self) -> str:
        return UNITS[self.quantity]

    def weighted_response_A(self) -> float:
        """G * integral of R S dlambda over the band: the photocurrent the reference spectrum gives."""
        weights = photometry.trapezoid_weights(self.wavelength_nm)
        return self.geometry_factor * float(np.sum(weights * self.responsivity_A_W * self.reference_spectrum))

    # --- file -----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "quantity": self.quantity, "units": self.units,
            "geometry_factor": self.geometry_factor, "geometry_factor_units": GEOMETRY_UNITS[self.quantity],
            "geometry_factor_relative_sigma": self.geometry_factor_relative_sigma,
            "metadata": self.metadata, "wavelength_nm": self.wavelength_nm.tolist(),
            "reference_spectrum": self.reference_spectrum.tolist(), "responsivity_A_W": self.responsivity_A_W.tolist(),
        }, indent=1)

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
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CalibrationError(f"photodiode calibration {path}: not a {FORMAT} file "
                                   "(make one with ledstation calibrate-photodiode)")
        try:
            return cls(doc["quantity"], np.asarray(doc["wavelength_nm"], float),
                       np.asarray(doc["reference_spectrum"], float), np.asarray(doc["responsivity_A_W"], float),
                       float(doc["geometry_factor"]), float(doc.get("geometry_factor_relative_sigma", 0.0)),
                       {str(k): str(v) for k, v in dict(doc.get("metadata", {})).items()},
                       hashlib.sha256(data).hexdigest(), str(path))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"photodiode calibration {path}: missing or malformed {exc}") from None


def calibrate_geometry(spectra: NDArray[np.float64], net_currents_A: NDArray[np.float64],
                       wavelength_nm: NDArray[np.float64], band: slice, quantity: str,
                       responsivity: PhotodiodeResponsivity, metadata: dict[str, str]) -> PhotodiodeCalibration:
    """G from spectra and dark-subtracted photocurrents taken together (one pair per row),
    over the emission ``band`` of the spectra; the calibration keeps that band only."""
    wl = np.asarray(wavelength_nm, float)[band]
    in_band = np.asarray(spectra, float)[:, band]
    r = responsivity.on_grid(wl)
    expected = in_band @ (photometry.trapezoid_weights(wl) * r)  # A per unit G
    ratios = np.asarray(net_currents_A, float) / expected
    if not np.all(np.isfinite(ratios)) or np.any(ratios <= 0):
        raise CalibrationError("photodiode calibration: no positive photocurrent against the spectrum "
                               "(is the photodiode connected and facing the light?)")
    g = float(np.mean(ratios))
    sigma = float(np.std(ratios, ddof=1) / np.sqrt(len(ratios)) / g) if len(ratios) > 1 else float("nan")
    return PhotodiodeCalibration(quantity, wl, in_band.mean(axis=0), r, g, sigma,
                                 {**metadata, "responsivity_file": responsivity.path,
                                  "responsivity_sha256": responsivity.sha256,
                                  "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})


def dark_current(meter: Ammeter, readings: int) -> tuple[float, float]:
    """(mean, 1-sigma noise) of ``readings`` photocurrents with the light off; the noise is
    at least the meter's resolution."""
    meter.configure_for_photocurrent()
    values = np.array([meter.read_current_A() for _ in range(readings)])
    if not np.all(np.isfinite(values)):
        raise InstrumentError(f"photodiode on {meter.identity}: dark readings are not numbers (overflow?)")
    spread = float(np.std(values, ddof=1)) if readings > 1 else 0.0
    return float(np.mean(values)), max(spread, meter.resolution_A)


class PhotodiodeChannel:
    """A photodiode on a meter with its calibration: readings -> synthetic spectra."""

    def __init__(self, meter: Ammeter, calibration: PhotodiodeCalibration,
                 dark_readings: int = DEFAULT_DARK_READINGS) -> None:
        self.meter = meter
        self.calibration = calibration
        self.dark_readings = dark_readings
        self.dark_A = float("nan")
        self.noise_A = float("nan")
        self._per_unit_A = calibration.weighted_response_A()
        wl = calibration.wavelength_nm
        self._band = EmissionBand(True, 0, len(wl) - 1, float(wl[0]), float(wl[-1]), float("inf"))
        self._reference = calibration.reference_spectrum
        self._reference_totals = photometry.band_totals(self._reference, wl, self._band.pixels)[0]

    @property
    def identity(self) -> str:
        return f"photodiode on {self.meter.identity}"

    def prepare(self) -> None:
        """Dark current and noise from readings with the output off."""
        self.dark_A, self.noise_A = dark_current(self.meter, self.dark_readings)

    def description(self) -> dict[str, Any]:
        c = self.calibration
        return {"source": "photodiode calibration", "path": c.path, "sha256": c.sha256,
                "geometry_factor": c.geometry_factor, "geometry_factor_units": GEOMETRY_UNITS[c.quantity],
                "dark_current_A": self.dark_A, "noise_A": self.noise_A,
                "reference_wavelength_nm": c.wavelength_nm, "reference_spectrum": c.reference_spectrum,
                "responsivity_A_W": c.responsivity_A_W,
                **{f"metadata_{k}": v for k, v in c.metadata.items()}}

    def measure(self) -> SpectralResult:
        """One reading as the reference spectrum scaled to it."""
        if not math.isfinite(self.dark_A):
            raise InstrumentError(f"{self.identity}: no dark reading; prepare the channel with the output off")
        current = self.meter.read_current_A()
        return self.result(current)

    def result(self, current_A: float) -> SpectralResult:
        c = self.calibration
        wl = c.wavelength_nm
        extras = {"photodiode_current_A": current_A}
        if not math.isfinite(current_A):  # overflow: the meter's range is exceeded
            nan = np.full(wl.shape, np.nan)
            return SpectralResult(wl, nan, c.quantity, np.array([current_A]), "A", float("nan"), saturated=True,
                                  instrument=self.identity, calibration_sha256=c.sha256, extras=extras,
                                  synthetic=True)
        scale = (current_A - self.dark_A) / self._per_unit_A
        sigma = math.sqrt(2.0) * self.noise_A / self._per_unit_A  # the reading's and the dark's noise
        spectral = scale * self._reference
        totals = scale * self._reference_totals
        variances = (sigma * self._reference_totals) ** 2
        low_light = not scale > TOTAL_SNR * sigma
        return SpectralResult(wl, spectral, c.quantity, np.array([current_A]), "A", float("nan"),
                              low_light=low_light, instrument=self.identity, calibration_sha256=c.sha256,
                              extras=extras, noise=np.abs(sigma) * self._reference, band=self._band,
                              band_totals=(totals, variances), synthetic=True)


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
        c = self.channel.calibration
        description = self.channel.description()
        arrays = {"reference_wavelength_nm": "nm", "reference_spectrum": c.units, "responsivity_A_W": "A/W"}
        return LightDescription(self.identity, SpectrumAxis(c.wavelength_nm, c.quantity, c.units, "A"),
                                calibration=description, calibration_units=arrays)

    def measure(self) -> SpectralResult:
        return self.channel.measure()

    def close(self) -> None:
        self.channel.meter.close()
