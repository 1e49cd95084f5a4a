"""Build a sphere responsivity calibration from a lamp of known spectral flux."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

import station
from drivers.calibration import LampCertificate, ResponsivityCalibration, responsivity_from_lamp
from drivers.sphere_spectrometer import SphereSpectrometer
from station.core.errors import CalibrationError

#: pixels whose lamp signal is below this many dark-noise sigmas are left out
MIN_LAMP_SNR = 20.0


def calibrate_sphere(spectrometer: SphereSpectrometer, certificate: LampCertificate, *,
                     lamp_off: Callable[[], None], lamp_on: Callable[[], None],
                     scans: int = 20) -> ResponsivityCalibration:
    """Darks with the lamp off, then ``scans`` averaged lamp spectra; R = Phi_lamp / (counts/s).

    The calibration covers the contiguous wavelength range around the lamp's peak signal
    where the lamp is at least ``MIN_LAMP_SNR`` dark-noise sigmas above dark.
    """
    lamp_off()
    spectrometer.record_dark_library()
    lamp_on()
    raw = spectrometer.acquire_raw(averages=scans)
    if raw.saturated:
        raise CalibrationError("lamp spectrum saturates even at the shortest integration time")
    dark_noise = spectrometer.dark_noise(raw.integration_time_s)
    net = raw.counts - raw.dark
    usable = net > MIN_LAMP_SNR * dark_noise / np.sqrt(scans)
    if not usable.any():
        raise CalibrationError("lamp signal too weak for a calibration")
    peak = int(np.argmax(net))
    first, last = peak, peak
    while first > 0 and usable[first - 1]:
        first -= 1
    while last < len(usable) - 1 and usable[last + 1]:
        last += 1
    wl = raw.wavelength_nm[first:last + 1]
    certified = certificate.on_grid(wl)
    responsivity = responsivity_from_lamp(raw.net_counts_per_s[first:last + 1], certified)
    metadata = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "spectrometer": spectrometer.identity,
        "lamp_certificate": certificate.path,
        "lamp_certificate_sha256": certificate.sha256,
        "integration_time_s": f"{raw.integration_time_s:g}",
        "scans_averaged": str(scans),
        "software": f"ledstation {station.__version__}",
        "units": "W/nm per count/s",
    }
    return ResponsivityCalibration(wl, responsivity, metadata)
