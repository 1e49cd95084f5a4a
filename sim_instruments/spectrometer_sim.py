"""Simulated fibre spectrometer on an integrating sphere, at seabreeze's interface.

It offers the methods of ``seabreeze.spectrometers.Spectrometer`` that the station
uses (and ``f.spectrometer.get_electric_dark_pixel_indices()``), so the same driver code
runs on the real and the simulated instrument. It takes the character of the model the
configuration names (:mod:`.spectrometer_models`): pixel count, full scale, integration
limits, read noise, dark current, electric-dark (masked) pixels. Counts include a dark
offset with fixed-pattern variation, dark current, read noise, shot noise and
saturation at full scale.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .faults import HANG_LIMIT_S
from .spectrometer_models import DEFAULT_SPECTROMETER_MODEL, SPECTROMETER_MODELS

if TYPE_CHECKING:
    from .bench import SimulatedBench


class SimulatedSpectrometer:
    """A CCD spectrometer behind a sphere, with the character of ``model``."""

    #: system responsivity of the generic model at its peak, counts/s per W/nm at the sphere
    PEAK_COUNTS_PER_S_PER_W_NM = 1.5e10

    def __init__(self, bench: SimulatedBench, model: str = DEFAULT_SPECTROMETER_MODEL,
                 serial_number: str | None = None) -> None:
        spec = SPECTROMETER_MODELS[model]
        self.spec = spec
        self.bench = bench
        self.model = spec.model
        self.pixels = spec.pixels
        self.max_intensity = spec.max_intensity
        self.integration_time_micros_limits = spec.integration_time_micros_limits
        self.serial_number = serial_number or spec.serial_number
        self._wavelength_nm = spec.wavelength_nm()
        self._integration_s = 0.1
        wl = self._wavelength_nm
        # system responsivity (counts/s per W/nm at the sphere): silicon QE x grating
        silicon = np.clip(np.exp(-0.5 * ((wl - 620.0) / 190.0) ** 2), 0.0, None)
        grating = 0.55 + 0.45 * np.exp(-0.5 * ((wl - 500.0) / 220.0) ** 2)
        self.true_counts_per_s_per_W_nm = self.PEAK_COUNTS_PER_S_PER_W_NM * spec.sensitivity * silicon * grating
        self.true_counts_per_s_per_W_nm[list(spec.electric_dark_pixels)] = 0.0  # masked from light
        fixed_rng = np.random.default_rng(12345)  # fixed pattern belongs to this unit
        self._dark_offset_counts = spec.dark_offset_counts + fixed_rng.normal(0.0, 25.0, self.pixels)
        self._dark_current_pattern = 1.0 + np.abs(fixed_rng.normal(0.0, 0.3, self.pixels))
        self.scans = 0
        self._open = True
        dark_pixels = list(spec.electric_dark_pixels)
        #: seabreeze's feature accessor, as far as the station uses it
        self.f = SimpleNamespace(spectrometer=SimpleNamespace(
            get_electric_dark_pixel_indices=lambda: list(dark_pixels)))

    # --- seabreeze Spectrometer interface ------------------------------------------
    def wavelengths(self) -> NDArray[np.float64]:
        return self._wavelength_nm.copy()

    def integration_time_micros(self, integration_time_micros: int) -> None:
        low, high = self.integration_time_micros_limits
        if not low <= integration_time_micros <= high:
            raise ValueError(f"integration time {integration_time_micros} us outside [{low}, {high}]")
        self._integration_s = integration_time_micros * 1e-6

    def intensities(self, correct_dark_counts: bool = False,
                    correct_nonlinearity: bool = False) -> NDArray[np.float64]:
        if not self._open:
            raise RuntimeError("spectrometer is closed")
        faults, reading = self.bench.faults, self.bench.readings
        if faults and faults.active("spectrometer_hang", reading):
            faults.released.wait(HANG_LIMIT_S)  # a USB call that never returns
            raise RuntimeError("spectrometer: USB transfer aborted")
        if faults and faults.active("spectrometer_dark", reading):
            self.bench.spend(self._integration_s + 0.002)
            return np.zeros(self.pixels)
        t = self._integration_s
        self.bench.spend(t + 0.002)
        self.scans += 1
        flux = self.bench.sphere_spectral_flux_W_nm(self._wavelength_nm)
        signal = flux * self.true_counts_per_s_per_W_nm * t
        spec = self.spec
        dark = self._dark_offset_counts + spec.dark_current_counts_s * self._dark_current_pattern * t
        rng = self.bench.rng
        shot = np.sqrt(np.clip(signal, 0.0, None) * spec.counts_per_electron)  # g * sqrt(signal / g)
        counts = signal + dark + rng.normal(0.0, 1.0, self.pixels) * np.hypot(shot, spec.read_noise_counts)
        counts = np.clip(np.round(counts), 0.0, self.max_intensity)
        dark_pixels = list(spec.electric_dark_pixels)
        if correct_dark_counts and dark_pixels:  # seabreeze: the electric-dark pixels' mean is subtracted
            counts = counts - float(np.mean(counts[dark_pixels]))
        return counts  # the simulated detector is linear: correct_nonlinearity changes nothing

    def spectrum(self) -> NDArray[np.float64]:
        return np.vstack([self.wavelengths(), self.intensities()])

    def close(self) -> None:
        self._open = False

    def open(self) -> None:
        self._open = True
