"""Calibrate a photodiode against the station's spectrometer or radiometer on the device itself.

With the device driven at one level, ``readings`` spectra and photocurrents are taken in
turn (the photocurrent read on both sides of each spectrum and averaged). The mean
spectrum becomes the spectral weighting, and the geometry factor
G = (I - I_dark) / integral R S dlambda, averaged over the pairs, ties photocurrent to the
spectrometer's absolute scale (:mod:`drivers.photodiode`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import station
from drivers.photodiode import PhotodiodeCalibration, PhotodiodeResponsivity, calibrate_geometry
from station.core.errors import CalibrationError

from .station import Station


def calibrate_photodiode(st: Station, meter: Any, responsivity: PhotodiodeResponsivity, dark_A: float,
                         readings: int, drive: str) -> PhotodiodeCalibration:
    """Spectra and photocurrents at the present drive (the output is on) -> the calibration."""
    spectra, currents, band = [], [], None
    for _ in range(readings):
        before = meter.read_current_A()
        result = st.measure_light()
        after = meter.read_current_A()
        if not result.valid or result.band is None:
            problem = ("saturated" if result.saturated else "too dim" if result.low_light
                       else "cut off by the instrument's range")
            raise CalibrationError(f"photodiode calibration: the reference spectrum is {problem}; choose a drive "
                                   "where the light instrument measures the whole emission well")
        band = band or result.band.pixels
        spectra.append(np.asarray(result.spectral, float))
        currents.append(0.5 * (before + after) - dark_A)
    assert band is not None
    identities = st.identities()
    metadata = {"light_instrument": identities["light"], "photodiode_meter": str(getattr(meter, "identity", "")),
                "device": identities.get("simulated_device", ""), "drive": drive,
                "pixel_area_cm2": f"{st.config.pixel_area_cm2:g}", "readings": str(readings),
                "dark_current_A": f"{dark_A:.6e}", "software": f"ledstation {station.__version__}"}
    return calibrate_geometry(np.array(spectra), np.array(currents), np.asarray(result.wavelength_nm, float), band,
                              result.quantity, responsivity, metadata)
