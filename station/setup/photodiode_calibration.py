"""Calibrate a photodiode against the station's spectrometer or radiometer on the device itself.

At each of several drives (current densities), ``readings`` spectra and photocurrents are
taken in turn (the photocurrent read on both sides of each spectrum and averaged). Each
drive's mean spectrum becomes a spectral weighting, and the geometry factor
G = (I - I_dark) / integral R S dlambda is averaged over every pair of every drive, tying
photocurrent to the spectrometer's absolute scale (:mod:`drivers.photodiode`). The drives
should span the drives the photodiode will read: outside them its figures are flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import station
from drivers.photodiode import CalibrationLevel, PhotodiodeCalibration, PhotodiodeResponsivity, calibrate_geometry
from drivers.spectral_result import SpectralResult
from station.core.errors import CalibrationError

from .station import Station


def measure_level(st: Station, meter: Any, dark_A: float, readings: int,
                  drive_mA_cm2: float) -> tuple[CalibrationLevel, SpectralResult]:
    """Spectrum/photocurrent pairs at the present drive (the output is on); also the last spectrum."""
    spectra, currents, raw, band, result = [], [], [], None, None
    for _ in range(readings):
        before = meter.read_current_A()
        result = st.measure_light(drive_mA_cm2)
        after = meter.read_current_A()
        if not result.valid or result.band is None:
            problem = ("saturated" if result.saturated else "too dim" if result.low_light
                       else "cut off by the instrument's range")
            raise CalibrationError(f"photodiode calibration at {drive_mA_cm2:g} mA/cm^2: the reference spectrum is "
                                   f"{problem}; choose drives where the light instrument measures the whole "
                                   "emission well")
        band = band or result.band.pixels
        spectra.append(np.asarray(result.spectral, float))
        currents.append(0.5 * (before + after) - dark_A)
        raw += [before - dark_A, after - dark_A]
    assert band is not None and result is not None
    raw_A = np.array(raw)
    scatter = float(np.std(raw_A, ddof=1) / abs(np.mean(raw_A))) if len(raw_A) > 1 else 0.0
    noise = None if result.noise is None else np.asarray(result.noise, float)
    return CalibrationLevel(drive_mA_cm2, np.array(spectra), np.array(currents), band, min(scatter, 0.5),
                            noise), result


def calibrate_photodiode(st: Station, meter: Any, responsivity: PhotodiodeResponsivity, dark_A: float,
                         readings: int, drives_mA_cm2: Sequence[float],
                         drive_to: Callable[[float], None]) -> PhotodiodeCalibration:
    """Set each drive with ``drive_to`` (the output on, settled), measure its pairs -> the calibration."""
    levels, last = [], None
    for drive in sorted(drives_mA_cm2):
        drive_to(drive)
        level, last = measure_level(st, meter, dark_A, readings, drive)
        levels.append(level)
    assert last is not None
    identities = st.identities()
    metadata = {"light_instrument": identities["light"], "photodiode_meter": str(getattr(meter, "identity", "")),
                "device": identities.get("simulated_device", ""),
                "drives": ", ".join(f"{d:g}" for d in sorted(drives_mA_cm2)) + " mA/cm^2",
                "pixel_area_cm2": f"{st.config.pixel_area_cm2:g}", "readings_per_drive": str(readings),
                "dark_current_A": f"{dark_A:.6e}", "software": f"ledstation {station.__version__}"}
    return calibrate_geometry(levels, np.asarray(last.wavelength_nm, float), last.quantity, responsivity, metadata)
