"""The character of each simulated sphere spectrometer, from the instruments' published specifications.

The real driver never reads this table: it takes pixel count, full scale, integration
limits and electric-dark pixels from seabreeze. The simulated spectrometer imitates what
seabreeze reports for each model, and the detector behind it. Sources:

* pixel count, A/D full scale (``spectrum_max_value``), integration limits in us and
  electric-dark pixels: python-seabreeze ``pyseabreeze/devices.py`` (``USB4000``:
  3840 pixels, 65535, 10-65 535 000 us, dark pixels 5-15; ``QEPRO``: 1044 pixels,
  2^18 - 1, 8000-1 600 000 000 us, dark pixels 0-3 and 1040-1043). Ocean's older USB4000
  data sheet gives 3.8 ms as the shortest integration; seabreeze (firmware 3 and later)
  allows 10 us: the simulation follows seabreeze, as the station's driver does.
* detectors: USB4000 a Toshiba TCD1304AP linear CCD, 3648 active elements (USB4000 data
  sheet 211-00000-000-05-201604), uncooled; QE Pro a Hamamatsu S7031-1006 back-thinned
  CCD, thermo-electrically cooled.
* shot noise: the data sheets' signal-to-noise ratio at full signal (USB4000 300:1, QE Pro
  1000:1) sets the counts per photo-electron.
* read noise: full scale over the single-acquisition dynamic range the data sheets
  quote (USB4000 1300:1 -> 50 counts; QE Pro 85 000:1 -> 3 counts).
* dark current and offset and the wavelength calibration: assumed,
  plausible for the detector (a cooled CCD's dark current is hundreds of times lower);
  the wavelength span is that of a typical VIS-NIR grating (350-1000 nm class).
* ``generic``: the 2048-pixel 16-bit spectrometer the station simulated before models
  existed (a USB2000-class instrument), kept as the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpectrometerSpec:
    model: str  # as seabreeze reports it
    pixels: int
    #: wavelength calibration polynomial in the pixel index (as seabreeze's coefficients), nm
    wavelength_coefficients: tuple[float, float, float]
    max_intensity: float  # A/D full scale, counts
    integration_time_micros_limits: tuple[int, int]
    read_noise_counts: float
    dark_current_counts_s: float
    dark_offset_counts: float
    counts_per_electron: float
    cooled: bool
    electric_dark_pixels: tuple[int, ...] = ()
    #: scales the system responsivity (counts/s per W/nm at the sphere) against the generic model
    sensitivity: float = 1.0
    serial_number: str = ""

    def wavelength_nm(self) -> np.ndarray:
        p = np.arange(self.pixels, dtype=float)
        c0, c1, c2 = self.wavelength_coefficients
        return c0 + c1 * p + c2 * p**2


SPECTROMETER_MODELS: dict[str, SpectrometerSpec] = {s.model: s for s in (
    SpectrometerSpec("generic", 2048, (345.0, 0.3521, -1.2e-5), 65535.0, (3800, 10_000_000), 6.0, 150.0, 1500.0,
                     0.1, False, serial_number="SIM-GENERIC-0001"),
    SpectrometerSpec("USB4000", 3840, (340.0, 0.2, -6.0e-6), 65535.0, (10, 65_535_000), 50.0, 400.0, 2000.0,
                     0.73, False, tuple(range(5, 16)), sensitivity=0.9, serial_number="SIM-USB4F0001"),
    SpectrometerSpec("QEPRO", 1044, (345.0, 0.70, -4.0e-5), 262143.0, (8000, 1_600_000_000), 3.0, 0.5, 1000.0,
                     0.26, True, (0, 1, 2, 3, 1040, 1041, 1042, 1043), serial_number="SIM-QEP00001"),
)}
DEFAULT_SPECTROMETER_MODEL = "generic"
