"""Open the instruments a configuration names, on hardware or on the simulated bench."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers.calibration import ResponsivityCalibration
from drivers.keithley2400 import SafetyLimits, StationKeithley2400
from drivers.pr6xx import PR6xx
from drivers.spectral_result import SpectralResult
from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer, open_seabreeze
from sim_instruments.bench import SimulatedBench

from .clock import Clock, WallClock
from .config import SIMULATED, StationConfig
from .errors import InstrumentError, StationError

log = logging.getLogger(__name__)


@dataclass
class Station:
    """The opened instruments of one station. Closing always switches the output off."""

    config: StationConfig
    clock: Clock
    smu: StationKeithley2400
    light: SphereSpectrometer | PR6xx
    bench: SimulatedBench | None = None
    closed: bool = False

    @property
    def geometry(self) -> str:
        return self.config.geometry

    def prepare_light(self) -> None:
        """Record the sphere's dark library (output must be off); nothing for a radiometer."""
        if isinstance(self.light, SphereSpectrometer):
            if self.smu.output_on:
                raise InstrumentError("dark spectra need the source output off")
            self.light.record_dark_library()

    def measure_light(self) -> SpectralResult:
        return self.light.measure()

    def identities(self) -> dict[str, str]:
        light = (self.light.identity if isinstance(self.light, SphereSpectrometer)
                 else f"{self.light.model} {self.light.serial_number}")
        ids = {"smu": self.smu.id.strip(), "light": light}
        if self.bench is not None:
            ids["simulated_device"] = self.bench.led.parameters.name
        return ids

    def close(self) -> None:
        """Output off first, whatever else fails; then release the light instrument."""
        if self.closed:
            return
        self.closed = True
        try:
            self.smu.safe_shutdown()
        finally:
            try:
                if isinstance(self.light, SphereSpectrometer):
                    self.light.close()
                else:
                    self.light.shutdown()
            except Exception:  # noqa: BLE001 - closing must not mask the shutdown
                log.exception("closing the light instrument failed")
            if self.bench is not None:
                self.bench.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_station(config: StationConfig, bench: SimulatedBench | None = None) -> Station:
    """Open every instrument of ``config``; the source output is switched off at once."""
    if bench is None and config.uses_simulation:
        sim = config.simulation
        bench = SimulatedBench(sim.preset, pixel_area_cm2=config.pixel_area_cm2, seed=sim.seed,
                               latency=sim.latency, radiometer_model=sim.radiometer_model,
                               clock=WallClock() if sim.realtime else None)
    clock: Clock = bench.clock if bench is not None and config.smu.address == SIMULATED else WallClock()
    smu = _open_smu(config, bench, clock)
    try:
        light = _open_light(config, bench)
    except BaseException:
        smu.safe_shutdown()
        raise
    return Station(config, clock, smu, light, bench)


def _visa_kwargs(address: str, config_library: str, bench: SimulatedBench | None) -> tuple[str, dict]:
    if address == SIMULATED:
        assert bench is not None
        return bench.smu_address, {"visa_library": bench.visa_library}
    return address, ({"visa_library": config_library} if config_library else {})


def _open_smu(config: StationConfig, bench: SimulatedBench | None, clock: Clock) -> StationKeithley2400:
    address, kwargs = _visa_kwargs(config.smu.address, config.smu.visa_library, bench)
    limits = SafetyLimits(config.max_voltage_V, config.max_current_A)
    try:
        smu = StationKeithley2400(address, limits, clock=clock, read_termination="\n", write_termination="\n",
                                  timeout=5000, **kwargs)
        smu.write(":OUTP 0")  # whatever an earlier session left behind
        identity = smu.id
    except StationError:
        raise
    except Exception as exc:  # pyvisa raises several types for unreachable resources
        raise InstrumentError(f"[smu] address {config.smu.address!r}: cannot open ({_one_line(exc)})") from None
    if "MODEL 24" not in identity.upper():
        raise InstrumentError(f"[smu] address {config.smu.address!r}: not a Keithley 24xx ({identity.strip()!r})")
    return smu


def _open_light(config: StationConfig, bench: SimulatedBench | None) -> SphereSpectrometer | PR6xx:
    if config.geometry == "sphere":
        s = config.spectrometer
        calibration = ResponsivityCalibration.load(config.resolved_calibration_path())
        device = bench.spectrometer if s.address == SIMULATED and bench is not None else open_seabreeze(s.address)
        settings = IntegrationSettings(s.min_integration_s, s.max_integration_s, s.low_fraction, s.high_fraction,
                                       s.dark_scans)
        return SphereSpectrometer(device, calibration, settings, window_nm=s.wavelength_range_nm)
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
        raise InstrumentError(f"[radiometer] address {r.address!r}: cannot open ({_one_line(exc)})") from None
    return radiometer


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
