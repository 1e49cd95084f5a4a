"""Fibre spectrometer on an integrating sphere: dark library, auto integration, calibration.

The device is anything with seabreeze's ``Spectrometer`` interface: the real instrument
through ``seabreeze`` (optional extra), or :class:`sim_instruments.spectrometer_sim.
SimulatedSpectrometer`. Dark spectra are recorded up front, with the light off, at
every integration time of a 1-2-5 ladder; auto integration then moves along the ladder
so the peak stays between set fractions of full scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from station.core import photometry
from station.core.errors import InstrumentError

from .calibration import ResponsivityCalibration
from .light_meter import DarkLibrary, LightDescription, SpectrumAxis
from .spectral_result import SPECTRAL_FLUX, UNITS, SpectralResult, assess

SATURATION_FRACTION = 0.999  # of max_intensity, on any pixel in the window
#: signal-to-noise ratio at full signal (shot-noise limited) from the manufacturer's data
#: sheets, by seabreeze's model name: USB4000 300:1 (Ocean Optics USB4000 data sheet
#: 211-00000-000-05-201604), QE Pro 1000:1 (Ocean Insight QE Pro data sheet). The counts per
#: photo-electron follow as g = full scale / SNR^2, and a pixel's shot noise is sqrt(g * net counts).
SNR_AT_FULL_SIGNAL = {"USB4000": 300.0, "QEPRO": 1000.0}
#: a model not in the table: 250:1, the lowest of Ocean's CCD spectrometers (USB2000+ data
#: sheet), so that its stated noise errs high rather than low
UNKNOWN_MODEL_SNR = 250.0
#: auto averaging judges the luminous total for emitters whose centroid lies below this
#: (the photon and radiant totals always)
PHOTOMETRIC_CENTROID_NM = 750.0
#: auto averaging re-judges at most this many times
AVERAGING_ROUNDS = 4


def electric_dark_pixels(device: Any) -> list[int]:
    """The optically masked pixels seabreeze reports for this model ([] when it reports none)."""
    try:
        return [int(i) for i in device.f.spectrometer.get_electric_dark_pixel_indices()]
    except Exception:  # noqa: BLE001 - a model or backend without the feature
        return []


@dataclass(frozen=True)
class IntegrationSettings:
    """Auto-integration and dark settings."""

    min_s: float = 0.004
    max_s: float = 2.0
    low_fraction: float = 0.35
    high_fraction: float = 0.85
    dark_scans: int = 5
    max_iterations: int = 8
    #: scans averaged per reading (the least, with a target)
    averages: int = 1
    #: > 0: average more scans, at the chosen integration time, until the band totals' relative
    #: 1 sigma (photon and radiant; luminous for a visible emitter) reaches this ...
    target_relative_uncertainty: float = 0.0
    #: ... or the scans' integration time reaches this, s
    max_time_per_point_s: float = 10.0

    def __post_init__(self) -> None:
        if not (0 < self.min_s <= self.max_s):
            raise ValueError("integration times need 0 < min_s <= max_s")
        if not (0 < self.low_fraction < self.high_fraction < 1):
            raise ValueError("integration fractions need 0 < low_fraction < high_fraction < 1")
        if self.dark_scans < 1 or self.averages < 1:
            raise ValueError("dark_scans and averages must be at least 1")
        if not (0 <= self.target_relative_uncertainty < 1 and self.max_time_per_point_s > 0):
            raise ValueError("the averaging target must be within [0, 1) and its time budget positive")


def integration_ladder(min_s: float, max_s: float) -> list[float]:
    """1-2-5 series of integration times from ``min_s`` to ``max_s`` (both included)."""
    steps = [min_s]
    decade = 10.0 ** math.floor(math.log10(min_s))
    while decade <= max_s:
        for mantissa in (1.0, 2.0, 5.0):
            t = round(mantissa * decade, 12)
            if min_s < t < max_s:
                steps.append(t)
        decade *= 10
    if max_s > min_s:
        steps.append(max_s)
    return steps


@dataclass(frozen=True)
class RawSpectrum:
    """Counts in the analysis window (the mean of ``scans`` scans), with the dark used, the
    net counts, their noise and the saturation flag.

    The noise is 1 sigma per pixel, in two parts: ``scan_noise_counts`` falls with more
    scans (read and dark-current noise of the scans, and the photon shot noise
    sqrt(g * net) of a detector of g counts per photo-electron), ``dark_noise_counts`` does
    not (the noise of the averaged dark subtracted from every scan)."""

    wavelength_nm: NDArray[np.float64]
    counts: NDArray[np.float64]
    dark: NDArray[np.float64]
    integration_time_s: float
    saturated: bool
    scan_noise_counts: NDArray[np.float64] | float
    dark_noise_counts: float = 0.0
    net: NDArray[np.float64] | None = None  # counts - dark, when already computed
    scans: int = 1

    @property
    def noise_counts(self) -> NDArray[np.float64] | float:
        """1 sigma per pixel of the net counts."""
        return np.sqrt(np.square(self.scan_noise_counts) + self.dark_noise_counts ** 2)

    @property
    def net_counts_per_s(self) -> NDArray[np.float64]:
        net = self.net if self.net is not None else self.counts - self.dark
        return net / self.integration_time_s


def open_seabreeze(serial_number: str | None = None) -> Any:
    """Open a real spectrometer through seabreeze (``pip install ledstation[seabreeze]``)."""
    try:
        from seabreeze.spectrometers import Spectrometer
    except ImportError:
        raise InstrumentError("spectrometer: seabreeze is not installed "
                              "(pip install 'ledstation[seabreeze]')") from None
    try:
        if serial_number in (None, "", "first"):
            return Spectrometer.from_first_available()
        return Spectrometer.from_serial_number(serial_number)
    except Exception as exc:  # seabreeze raises its own error types
        raise InstrumentError(f"spectrometer {serial_number or 'first available'}: {exc}") from None


class SphereSpectrometer:
    """Sphere spectrometer with darks, auto integration and absolute calibration.

    A :class:`~drivers.light_meter.LightMeter`: ``prepare`` records the dark library.
    """

    def __init__(self, device: Any, calibration: ResponsivityCalibration | None,
                 settings: IntegrationSettings | None = None,
                 window_nm: tuple[float, float] | None = None) -> None:
        self.device = device
        self.settings = settings or IntegrationSettings()
        wavelengths = np.asarray(device.wavelengths(), float)
        if window_nm is None:
            self._window = np.ones(wavelengths.shape, bool)
        else:
            self._window = (wavelengths >= window_nm[0]) & (wavelengths <= window_nm[1])
        masked = [i for i in electric_dark_pixels(device) if 0 <= i < len(wavelengths)]
        self._window[masked] = False  # masked pixels see no light
        if self._window.sum() < 10:
            raise InstrumentError(f"spectrometer: window {window_nm} nm holds too few pixels")
        inside = np.flatnonzero(self._window)
        contiguous = len(inside) == inside[-1] - inside[0] + 1
        self._pixels = slice(int(inside[0]), int(inside[-1]) + 1) if contiguous else self._window
        self.wavelength_nm = wavelengths[self._window]
        self.calibration = calibration
        self._responsivity = (calibration.on_grid(self.wavelength_nm, "the spectrometer window")
                              if calibration is not None else None)
        photometry.grid_weights(self.wavelength_nm)  # the colour tables on this grid, before any reading
        # the detector's limits as seabreeze reports them, never from a table of models
        low_us, high_us = device.integration_time_micros_limits
        min_s = max(self.settings.min_s, low_us * 1e-6)
        max_s = min(self.settings.max_s, high_us * 1e-6)
        if min_s > max_s:
            raise InstrumentError(f"spectrometer: integration range {self.settings.min_s}-{self.settings.max_s} s "
                                  f"outside the device's {low_us * 1e-6}-{high_us * 1e-6} s")
        self.ladder = integration_ladder(min_s, max_s)
        self._ladder_index = {t: i for i, t in enumerate(self.ladder)}
        self.max_intensity = float(device.max_intensity)
        model = str(getattr(device, "model", ""))
        #: the detector's counts per photo-electron (shot noise), from its data sheet
        self.counts_per_electron = self.max_intensity / SNR_AT_FULL_SIGNAL.get(model, UNKNOWN_MODEL_SNR) ** 2
        #: where that came from
        self.shot_noise_source = ("data sheet" if model in SNR_AT_FULL_SIGNAL
                                  else f"assumed {UNKNOWN_MODEL_SNR:g}:1 (model not in the table)")
        self._darks: dict[float, tuple[NDArray[np.float64], float]] = {}
        self._dark_medians: dict[float, float] = {}
        self._integration_s = self.ladder[len(self.ladder) // 2]
        self._device_integration_s: float | None = None

    @property
    def measure_timeout_s(self) -> float:
        """Longest a working instrument takes for one :meth:`measure` (auto integration may
        walk the whole ladder, twice), plus 5 s of USB latency."""
        return 2 * sum(self.ladder) + 5.0

    @property
    def identity(self) -> str:
        return f"{getattr(self.device, 'model', 'spectrometer')} {getattr(self.device, 'serial_number', '')}".strip()

    def _scan(self, integration_s: float) -> NDArray[np.float64]:
        if self._device_integration_s != integration_s:
            self.device.integration_time_micros(int(round(integration_s * 1e6)))
            self._device_integration_s = integration_s
        return np.asarray(self.device.intensities(), float)[self._pixels]

    def record_dark_library(self) -> None:
        """Record the dark spectrum at every ladder step. The light must be off."""
        for t in self.ladder:
            scans = np.array([self._scan(t) for _ in range(self.settings.dark_scans)])
            if len(scans) > 1:
                single_scan_noise = float(np.median(scans.std(axis=0, ddof=1)))
            else:  # pixel-to-pixel differences: an overestimate (fixed pattern), so conservative
                single_scan_noise = float(np.std(np.diff(scans[0])) / np.sqrt(2))
            self._darks[t] = (scans.mean(axis=0), single_scan_noise)
            self._dark_medians[t] = float(np.median(self._darks[t][0]))

    def prepare(self) -> None:
        """Record the dark library (the caller has switched the source output off)."""
        self.record_dark_library()

    def describe(self) -> LightDescription:
        """Axis, the dark library recorded by :meth:`prepare`, and the responsivity in force."""
        times, spectra = self.dark_library()
        calibration: dict[str, Any] = {}
        units: dict[str, str] = {}
        if self.calibration is not None:
            c = self.calibration
            calibration = {"path": c.path, "sha256": c.sha256, "metadata": repr(c.metadata),
                           "wavelength_nm": c.wavelength_nm, "responsivity": c.responsivity_W_nm_per_count_s}
            units = {"wavelength_nm": "nm", "responsivity": "W/nm per count/s"}
        low_us, high_us = self.device.integration_time_micros_limits
        calibration |= {"detector_full_scale_counts": self.max_intensity,
                        "detector_counts_per_electron": self.counts_per_electron,
                        "detector_shot_noise_source": self.shot_noise_source,
                        "averages": self.settings.averages,
                        "target_relative_uncertainty": self.settings.target_relative_uncertainty,
                        "max_time_per_point_s": self.settings.max_time_per_point_s,
                        "detector_integration_limits_s": f"{low_us * 1e-6:g}-{high_us * 1e-6:g}",
                        "integration_ladder_s": ",".join(f"{t:g}" for t in self.ladder)}
        return LightDescription(self.identity, SpectrumAxis(self.wavelength_nm, SPECTRAL_FLUX, UNITS[SPECTRAL_FLUX],
                                                            "counts"),
                                DarkLibrary(times, spectra, "counts"), calibration, units)

    def dark_library(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(integration times in s, dark spectra [times, pixels]) recorded so far, ladder order."""
        times = [t for t in self.ladder if t in self._darks]
        spectra = np.array([self._darks[t][0] for t in times]) if times else np.empty((0, len(self.wavelength_nm)))
        return np.array(times), spectra

    @property
    def has_darks(self) -> bool:
        return len(self._darks) == len(self.ladder)

    def dark_noise(self, integration_s: float) -> float:
        """Single-scan noise (counts) of the dark spectrum at this integration time."""
        return self._dark(integration_s)[1]

    def _dark(self, integration_s: float) -> tuple[NDArray[np.float64], float]:
        try:
            return self._darks[integration_s]
        except KeyError:
            raise InstrumentError("spectrometer: no dark spectrum recorded; record the dark library "
                                  "with the light off first") from None

    def acquire_raw(self, integration_s: float | None = None, averages: int = 1) -> RawSpectrum:
        """One spectrum; auto integration along the ladder unless ``integration_s`` is given."""
        if integration_s is not None:
            if integration_s not in self._darks:
                self._dark(integration_s)
            return self._measure(integration_s, averages)
        t = self._integration_s
        target = 0.5 * (self.settings.low_fraction + self.settings.high_fraction)
        spectrum = self._measure(t, 1)
        for _ in range(self.settings.max_iterations):
            full_scale = self.max_intensity - self._dark_medians[t]
            peak = float(spectrum.net.max())
            if spectrum.saturated or peak > self.settings.high_fraction * full_scale:
                factor = 0.2 if spectrum.saturated else target * full_scale / peak
                new_t = self._ladder_at_most(t * factor, below=t)
            elif peak < self.settings.low_fraction * full_scale:
                new_t = self._ladder_at_most(t * target * full_scale / max(peak, 1.0), below=None)
                if new_t <= t:
                    new_t = t
            else:
                break
            if new_t == t:
                break
            t = new_t
            spectrum = self._measure(t, 1)
        self._integration_s = t
        return spectrum if averages == 1 else self._measure(t, averages - 1, spectrum)

    def _ladder_at_most(self, wanted_s: float, below: float | None) -> float:
        candidates = [t for t in self.ladder if t <= wanted_s * (1 + 1e-9) and (below is None or t < below)]
        if candidates:
            return candidates[-1]
        return self.ladder[0] if below is not None else self._integration_s

    def _measure(self, t: float, scans: int, earlier: RawSpectrum | None = None) -> RawSpectrum:
        """``scans`` more scans at ``t``, averaged with ``earlier`` ones at the same ``t``."""
        new = [self._scan(t) for _ in range(max(1, scans))]
        saturated = any(float(s.max()) >= SATURATION_FRACTION * self.max_intensity for s in new)
        total = np.sum(new, axis=0) if len(new) > 1 else new[0]
        n = len(new)
        if earlier is not None:
            total = total + earlier.counts * earlier.scans
            n += earlier.scans
            saturated = saturated or earlier.saturated
        counts = total / n if n > 1 else total
        dark, read_noise = self._dark(t)
        net = counts - dark
        one_scan = np.sqrt(read_noise ** 2 + self.counts_per_electron * np.clip(net, 0.0, None))
        return RawSpectrum(self.wavelength_nm, counts, dark, t, saturated, one_scan / math.sqrt(n),
                           read_noise / math.sqrt(self.settings.dark_scans), net, n)

    def calibrate(self, raw: RawSpectrum) -> SpectralResult:
        """Spectral flux Phi_e = (counts - dark) / t * R, its noise (the count noise
        through the same factors) and the emission band judged against it."""
        if self._responsivity is None or self.calibration is None:
            raise InstrumentError("spectrometer: no responsivity calibration loaded")
        per_count = self._responsivity / raw.integration_time_s
        flux = raw.net_counts_per_s * self._responsivity
        noise = raw.noise_counts * per_count
        return SpectralResult(
            self.wavelength_nm, flux, SPECTRAL_FLUX, raw.counts, "counts", raw.integration_time_s,
            dark=raw.dark, dark_index=self._ladder_index[raw.integration_time_s], saturated=raw.saturated,
            instrument=self.identity, calibration_sha256=self.calibration.sha256, noise=noise,
            extras={"scans_averaged": float(raw.scans)},
            **assess(self.wavelength_nm, flux, noise).as_fields())

    def measure(self, drive_mA_cm2: float = float("nan")) -> SpectralResult:
        """Auto-integrated, dark-subtracted, calibrated spectral flux of ``averages`` scans,
        and more (:meth:`averaged_to_target`) when a target uncertainty is set."""
        s = self.settings
        raw = self.acquire_raw(averages=s.averages)
        result = self.calibrate(raw)
        if s.target_relative_uncertainty > 0:
            return self.averaged_to_target(raw, result)
        return result

    def averaged_to_target(self, raw: RawSpectrum, result: SpectralResult) -> SpectralResult:
        """Lengthen the integration as far as the detector stays linear (the peak at most
        ``high_fraction`` of full scale, within the budget), then average more scans until
        the band totals' relative 1 sigma reaches the target, or the scans' time reaches
        the budget; the result records its integration time, the scans and whether the
        target was met (``target_missed``).

        The variance of n scans is a/n + b (b: the subtracted dark's, which no averaging
        removes), so the scans needed follow from the first reading."""
        s = self.settings
        target = s.target_relative_uncertainty
        if not self._reached(result, target) and not raw.saturated:
            longer = self._longest_linear(raw)
            if longer > raw.integration_time_s:
                raw = self._measure(longer, 1)
                result = self.calibrate(raw)
        affordable = max(raw.scans, int(s.max_time_per_point_s / raw.integration_time_s + 1e-9))
        for _ in range(AVERAGING_ROUNDS):  # a quieter spectrum widens its band: judge again
            if self._reached(result, target) or raw.scans >= affordable:
                break
            needed = affordable
            if result.usable and result.band is not None and result.band.detected:
                a, b = self._relative_variances(raw, result)
                if b < target ** 2:
                    needed = max(raw.scans + 1, math.ceil(1.05 * a / (target ** 2 - b)))
            raw = self._measure(raw.integration_time_s, min(needed, affordable) - raw.scans, raw)
            result = self.calibrate(raw)
        extras = {**result.extras, "target_missed": float(not self._reached(result, target))}
        return replace(result, extras=extras)

    def _longest_linear(self, raw: RawSpectrum) -> float:
        """The longest ladder time whose peak, scaled from this reading, stays at most
        ``high_fraction`` of full scale and within the time budget."""
        t = raw.integration_time_s
        peak = float(np.max(raw.net_counts_per_s))
        full_scale = self.max_intensity - self._dark_medians[t]
        fits = [step for step in self.ladder if step >= t and step <= self.settings.max_time_per_point_s
                and peak * step <= self.settings.high_fraction * full_scale]
        return fits[-1] if fits else t

    def _reached(self, result: SpectralResult, target: float) -> bool:
        return bool(result.band_totals is not None and result.usable
                    and np.max(self._judged(result, *result.band_totals)) <= target ** 2)

    def _relative_variances(self, raw: RawSpectrum, result: SpectralResult) -> tuple[float, float]:
        """(a, b) of the judged totals' relative variance a/n + b, n = 1 scan: the largest."""
        per_count = self._responsivity / raw.integration_time_s
        scan = np.asarray(raw.scan_noise_counts) * math.sqrt(raw.scans) * per_count
        dark = raw.dark_noise_counts * per_count
        wl, pixels = self.wavelength_nm, result.band.pixels  # type: ignore[union-attr]
        totals, scan_var = photometry.band_totals(result.spectral, wl, pixels, scan)
        _, dark_var = photometry.band_totals(result.spectral, wl, pixels, dark)
        a = self._judged(result, totals, scan_var)
        b = self._judged(result, totals, dark_var)
        worst = int(np.argmax(a + b))
        return float(a[worst]), float(b[worst])

    @staticmethod
    def _judged(result: SpectralResult, totals: NDArray[np.float64],
                variances: NDArray[np.float64]) -> NDArray[np.float64]:
        """Relative variances of the totals the target applies to."""
        judged = [photometry.TOTAL, photometry.PHOTONS]
        if totals[photometry.FIRST_MOMENT] / totals[photometry.TOTAL] < PHOTOMETRIC_CENTROID_NM:
            judged.append(photometry.LUMINOUS)
        return variances[judged] / np.square(totals[judged])

    def close(self) -> None:
        self.device.close()
