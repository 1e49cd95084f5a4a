"""Open the light instrument a configuration names.

This is the one place that knows which concrete driver stands behind the
:class:`~drivers.light_meter.LightMeter` interface; everything above it uses only the
interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from drivers.light_meter import LightMeter
from station.core.errors import InstrumentError, StationError, one_line

from .config import SIMULATED, StationConfig

if TYPE_CHECKING:
    from drivers.photodiode import PhotodiodeChannel


def visa_resource(config: StationConfig, address: str, bench: Any | None,
                  simulated: Callable[[Any], str]) -> tuple[str, dict[str, Any]]:
    """(resource name, pyvisa keyword arguments) of a configured VISA address: "sim" is the
    simulated bench's resource (``simulated(bench)``) on its own library; any other address
    is opened with ``[smu] visa_library``."""
    if address == SIMULATED:
        assert bench is not None, "a simulated instrument needs the simulated bench"
        return simulated(bench), {"visa_library": bench.visa_library}
    return address, ({"visa_library": config.smu.visa_library} if config.smu.visa_library else {})


def open_light_meter(config: StationConfig, bench: Any | None) -> LightMeter:
    """The light instrument of ``config``'s kind (:mod:`.light_kinds`; ``bench``: the simulated bench)."""
    return config.light_kind.open(config, bench)


def open_photodiode(config: StationConfig, bench: Any | None) -> LightMeter:
    """The calibrated photodiode as the light meter."""
    from drivers.photodiode import PhotodiodeLightMeter

    return PhotodiodeLightMeter(open_photodiode_channel(config, bench))


def open_photodiode_channel(config: StationConfig, bench: Any | None) -> PhotodiodeChannel:
    """The photodiode on its meter with its configured calibration."""
    from drivers.photodiode import PhotodiodeCalibration, PhotodiodeChannel

    path, _ = config.resolved_photodiode_paths()
    if path is None:
        raise InstrumentError("[photodiode] calibration_file is empty (ledstation calibrate-photodiode)")
    calibration = PhotodiodeCalibration.load(path)  # before the meter is opened: nothing left open if it fails
    return PhotodiodeChannel(open_photodiode_meter(config, bench), calibration, config.photodiode.dark_readings)


def open_photodiode_meter(config: StationConfig, bench: Any | None) -> Any:
    """The meter that reads the photodiode: a Keithley 6485, or a Keithley 2000 over the amplifier."""
    p = config.photodiode
    address, kwargs = visa_resource(config, p.address, bench, lambda b: b.photodiode_addresses[p.meter])
    try:
        if p.meter == "keithley6485":
            from drivers.keithley6485 import Keithley6485

            meter = Keithley6485(address, nplc=p.nplc, timeout=5000, **kwargs)
            expected = "MODEL 6485"
            identity = meter.id
        else:
            from pymeasure.instruments.keithley import Keithley2000

            from drivers.transimpedance_dmm import TransimpedanceDMM

            dmm = Keithley2000(address, read_termination="\n", write_termination="\n", timeout=5000, **kwargs)
            meter = TransimpedanceDMM(dmm, p.transimpedance_gain_V_A, nplc=p.nplc)
            expected = "MODEL 20"
            identity = dmm.id
    except StationError:
        raise
    except Exception as exc:
        raise InstrumentError(f"[photodiode] address {p.address!r}: cannot open ({one_line(exc)})") from None
    if expected not in identity.upper():
        raise InstrumentError(f"[photodiode] address {p.address!r}: not a {p.meter} ({identity.strip()!r})")
    return meter


def open_sphere(config: StationConfig, bench: Any | None) -> LightMeter:
    """The sphere spectrometer with its responsivity calibration."""
    from drivers.calibration import ResponsivityCalibration

    calibration = ResponsivityCalibration.load(config.resolved_calibration_path())
    return sphere_spectrometer(config, sphere_device(config, bench), calibration)


def sphere_device(config: StationConfig, bench: Any | None) -> Any:
    """The spectrometer device the configuration names (seabreeze, or the simulated bench's)."""
    from drivers.sphere_spectrometer import open_seabreeze

    address, model = config.spectrometer.address, config.spectrometer.model
    if address == SIMULATED:
        assert bench is not None, "a simulated spectrometer needs the simulated bench"
        return bench.spectrometer
    device = open_seabreeze(address)
    if str(getattr(device, "model", "")).upper() != model.upper():
        found = getattr(device, "model", "?")
        device.close()
        raise InstrumentError(f"[spectrometer] model: the spectrometer {address!r} is a {found}, the configuration "
                              f"says {model}")
    return device


def sphere_spectrometer(config: StationConfig, device: Any, calibration: Any | None) -> Any:
    """The sphere spectrometer driver with the configuration's integration settings and window
    (``calibration`` None: uncalibrated, for building a calibration)."""
    from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer

    s = config.spectrometer
    settings = IntegrationSettings(s.min_integration_s, s.max_integration_s, s.low_fraction, s.high_fraction,
                                   s.dark_scans, averages=s.averages,
                                   target_relative_uncertainty=s.target_relative_uncertainty,
                                   max_time_per_point_s=s.max_time_per_point_s)
    return SphereSpectrometer(device, calibration, settings, window_nm=s.wavelength_range_nm)


def open_radiometer(config: StationConfig, bench: Any | None) -> LightMeter:
    """The spectroradiometer of the configured model, in remote mode."""
    from drivers.radiometers import RADIOMETER_MODELS

    r = config.radiometer
    driver = RADIOMETER_MODELS[r.model].driver
    address, kwargs = visa_resource(config, r.address, bench, lambda b: b.radiometer_address)
    try:
        radiometer = driver(address, timeout_s=r.timeout_s, model=r.model, **kwargs)
        radiometer.enter_remote()
    except StationError:
        raise
    except Exception as exc:
        raise InstrumentError(f"[radiometer] address {r.address!r}: cannot open ({one_line(exc)})") from None
    return radiometer

