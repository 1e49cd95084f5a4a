"""Simulated fibre spectrometer on an integrating sphere, at seabreeze's interface.

It offers the methods of ``seabreeze.spectrometers.Spectrometer`` that the station
uses, so the same driver code runs on the real and the simulated instrument. Counts
include a dark offset with fixed-pattern variation, dark current, read noise, shot noise
and saturation at full scale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .faults import HANG_LIMIT_S

if TYPE_CHECKING:
    from .bench import SimulatedBench


class SimulatedSpectrometer:
    """USB4000-class CCD spectrometer (2048 pixels, 16-bit) behind a sphere."""

    model = "USB4000-SIM"
    pixels = 2048
    max_intensity = 65535.0
    integration_time_micros_limits = (3800, 10_000_000)
    #: counts per photo-electron; sets the shot noise
    COUNTS_PER_ELECTRON = 0.1
    READ_NOISE_COUNTS = 6.0
    DARK_CURRENT_COUNTS_S = 150.0

    def __init__(self, bench: SimulatedBench, serial_number: str = "SIM-USB4000-0001") -> None:
        self.bench = bench
        self.serial_number = serial_number
        p = np.arange(self.pixels, dtype=float)
        self._wavelength_nm = 345.0 + 0.3521 * p - 1.2e-5 * p**2
        self._integration_s = 0.1
        wl = self._wavelength_nm
        # system responsivity (counts/s per W/nm at the sphere): silicon QE x grating
        silicon = np.clip(np.exp(-0.5 * ((wl - 620.0) / 190.0) ** 2), 0.0, None)
        grating = 0.55 + 0.45 * np.exp(-0.5 * ((wl - 500.0) / 220.0) ** 2)
        self.true_counts_per_s_per_W_nm = 1.5e10 * silicon * grating
        fixed_rng = np.random.default_rng(12345)  # fixed pattern belongs to this unit
        self._dark_offset_counts = 1500.0 + fixed_rng.normal(0.0, 25.0, self.pixels)
        self._dark_current_pattern = 1.0 + np.abs(fixed_rng.normal(0.0, 0.3, self.pixels))
        self.scans = 0
        self._open = True

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
        dark = self._dark_offset_counts + self.DARK_CURRENT_COUNTS_S * self._dark_current_pattern * t
        rng = self.bench.rng
        shot = np.sqrt(np.clip(signal, 0.0, None) * self.COUNTS_PER_ELECTRON)  # g * sqrt(signal / g)
        counts = signal + dark + rng.normal(0.0, 1.0, self.pixels) * np.hypot(shot, self.READ_NOISE_COUNTS)
        return np.clip(np.round(counts), 0.0, self.max_intensity)

    def spectrum(self) -> NDArray[np.float64]:
        return np.vstack([self.wavelengths(), self.intensities()])

    def close(self) -> None:
        self._open = False

    def open(self) -> None:
        self._open = True
