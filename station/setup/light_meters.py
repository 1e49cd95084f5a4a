"""Open the light instrument a configuration names.

This is the one place that knows which concrete driver stands behind the
:class:`~drivers.light_meter.LightMeter` interface; everything above it uses only the
interface.
"""

from __future__ import annotations

from typing import Any

from drivers.light_meter import LightMeter
from station.core.errors import InstrumentError, StationError, one_line

from .config import SIMULATED, StationConfig


def open_light_meter(config: StationConfig, bench: Any | None) -> LightMeter:
    """The sphere spectrometer or the radiometer of ``config`` (``bench``: the simulated bench)."""
    if config.geometry == "sphere":
        return _open_sphere(config, bench)
    return _open_radiometer(config, bench)


def _open_sphere(config: StationConfig, bench: Any | None) -> LightMeter:
    from drivers.calibration import ResponsivityCalibration

    calibration = ResponsivityCalibration.load(config.resolved_calibration_path())
    return sphere_spectrometer(config, sphere_device(config, bench), calibration)


def sphere_device(config: StationConfig, bench: Any | None) -> Any:
    """The spectrometer device the configuration names (seabreeze, or the simulated bench's)."""
    from drivers.sphere_spectrometer import open_seabreeze

    address = config.spectrometer.address
    if address == SIMULATED:
        assert bench is not None, "a simulated spectrometer needs the simulated bench"
        return bench.spectrometer
    return open_seabreeze(address)


def sphere_spectrometer(config: StationConfig, device: Any, calibration: Any | None) -> Any:
    """The sphere spectrometer driver with the configuration's integration settings and window
    (``calibration`` None: uncalibrated, for building a calibration)."""
    from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer

    s = config.spectrometer
    settings = IntegrationSettings(s.min_integration_s, s.max_integration_s, s.low_fraction, s.high_fraction,
                                   s.dark_scans)
    return SphereSpectrometer(device, calibration, settings, window_nm=s.wavelength_range_nm)


def _open_radiometer(config: StationConfig, bench: Any | None) -> LightMeter:
    from drivers.pr6xx import PR6xx

    r = config.radiometer
    if r.address == SIMULATED:
        assert bench is not None
        address, kwargs = bench.radiometer_address, {"visa_library": bench.visa_library}
    else:
        address, kwargs = r.address, ({"visa_library": config.smu.visa_library} if config.smu.visa_library else {})
    try:
        radiometer = PR6xx(address, timeout_s=r.timeout_s, **kwargs)
        radiometer.enter_remote()
    except StationError:
        raise
    except Exception as exc:
        raise InstrumentError(f"[radiometer] address {r.address!r}: cannot open ({one_line(exc)})") from None
    return radiometer

