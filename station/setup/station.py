"""Open the instruments a configuration names, on hardware or on the simulated bench.

The simulated bench (``sim_instruments``) is imported only when the configuration asks
for it; a hardware configuration never loads pyvisa-sim or the LED model.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drivers.light_meter import LightMeter
from drivers.output_guard import OutputOffReport, SafetyLimits
from drivers.pixel_switch import PixelSwitch, check_selected
from drivers.source_meter import SourceMeter
from drivers.source_meters import kind_of_identity, source_meter_kind
from drivers.spectral_result import SpectralResult
from station.core.clock import Clock, WallClock
from station.core.errors import InstrumentError, InstrumentFault, RunAborted, StationError, one_line
from station.core.signals import INTERRUPTS
from station.core.stop_flag import StopFlag
from station.core.watchdog import Watchdog

from .address_claims import AddressClaims
from .config import NO_LIGHT, NO_SWITCH, SIMULATED, Pixel, StationConfig
from .light_meters import open_light_meter, open_photodiode_channel, visa_resource
from .pixel_switch import open_switch

if TYPE_CHECKING:
    from drivers.photodiode import PhotodiodeChannel

log = logging.getLogger(__name__)


@dataclass
class Station:
    """The opened instruments of one station. Closing always switches the output off."""

    config: StationConfig
    clock: Clock
    smu: SourceMeter
    light: LightMeter | None  # None: a dark station ([light] geometry = "none")
    bench: Any | None = None  # the simulated bench, when the configuration uses it
    #: the photodiode read beside the light meter at every point ([light] second_channel)
    photodiode: PhotodiodeChannel | None = None
    #: the switch that connects one pixel of the substrate at a time ([switch])
    switch: PixelSwitch | None = None
    closed: bool = False
    #: what the last shutdown confirmed (None: no shutdown yet)
    output_report: OutputOffReport | None = None
    #: give up on a light reading after this long (None: the instrument's ``measure_timeout_s``)
    light_timeout_s: float | None = None
    #: set to stop every wait of the station at once (the runner's abort, a signal); see :meth:`wait`
    stop_requested: StopFlag = field(default_factory=StopFlag)
    _light_calls: Watchdog = field(default_factory=lambda: Watchdog("the light instrument"))
    _signal_listener: int | None = None
    #: the station's claims on its instruments' addresses, released when it closes
    claims: AddressClaims | None = None

    def __post_init__(self) -> None:
        # while the station is open a signal raises nothing at random: it stops every wait
        INTERRUPTS.hold(self)
        self._signal_listener = INTERRUPTS.listen(lambda _signum: self.stop_requested.set())

    @property
    def light_hung(self) -> bool:
        """The light instrument did not return from a reading (it is left unclosed)."""
        return self._light_calls.hung

    @property
    def geometry(self) -> str:
        return self.config.geometry

    def prepare_light(self) -> None:
        """Whatever the light instrument needs before readings (darks); the output must be off."""
        if self.light is None:
            return
        if self.smu.output_on:
            raise InstrumentError("the light instrument is prepared (darks) with the source output off")
        self.light.prepare()
        if self.photodiode is not None:
            self.photodiode.prepare()

    def measure_light(self, drive_mA_cm2: float = float("nan")) -> SpectralResult:
        """One light reading at a point of current density ``drive_mA_cm2``, given up
        (:class:`InstrumentError`) after the instrument's ``measure_timeout_s``: a hung
        instrument must not keep the source on."""
        light = self.light
        if light is None:
            raise InstrumentError('this station has no light instrument ([light] geometry = "none")')
        timeout = self.light_timeout_s if self.light_timeout_s is not None else light.measure_timeout_s
        return self._light_calls.call(functools.partial(light.measure, drive_mA_cm2), timeout,
                                      stop=self.stop_requested.is_set)

    def wait(self, seconds: float) -> None:
        """Wait on the station clock; at once when a stop is requested: the held signal's
        exception (a safe point), or :class:`RunAborted`."""
        if not self.clock.wait(seconds, self.stop_requested.is_set):
            INTERRUPTS.check()
            raise RunAborted("aborted while waiting")

    def ensure_output_off(self, ramp: bool = True) -> OutputOffReport:
        """Switch the output off and read it back; a confirmed "off" since the last
        "on" is not repeated. ``ramp=False`` (emergency stop): no ramp to zero first."""
        smu = self.smu
        report = smu.last_output_report
        if not (smu.confirmed_off and report is not None):
            report = smu.safe_shutdown(ramp=ramp)
        self.output_report = report
        return report

    def select_pixel(self, pixel: Pixel) -> None:
        """Connect ``pixel`` through the switch and read it back. Refused unless the source
        output is confirmed off (read back "off" and not switched on since); a read-back
        other than exactly this channel is an :class:`InstrumentFault` naming the pixel."""
        if self.switch is None:
            raise InstrumentError("no pixel switch is configured ([switch] kind)")
        if not self.smu.confirmed_off:
            raise InstrumentFault(f"pixel {pixel.name}: refusing to switch pixels while the source output is not "
                                  "confirmed off")
        self.switch.close_only(pixel.channel)
        self.wait(self.config.switch.settle_s)
        check_selected(self.switch, pixel.channel, pixel.name)
        self.config = self.config.for_pixel(pixel)

    def verify_pixel(self) -> None:
        """Before the output goes on: the switch still connects this run's pixel (read back)."""
        if self.switch is None:
            return
        pixel = self.config.pixel
        if pixel is None:
            raise InstrumentError("the station has a pixel switch but no pixel is selected")
        check_selected(self.switch, pixel.channel, pixel.name)

    def identities(self) -> dict[str, str]:
        ids = {"smu": self.smu.id.strip(), "light": self.light.identity if self.light is not None else "none"}
        if self.photodiode is not None:
            ids["second_channel"] = self.photodiode.identity
        if self.switch is not None:
            ids["pixel_switch"] = self.switch.identity
        if self.config.mixes_simulation:
            ids["simulated_instruments"] = ", ".join(self.config.simulated_roles)
        if self.bench is not None:
            ids["simulated_device"] = self.bench.led.parameters.name
            ids["simulated_bench"] = self.bench.describe()  # the seed in force, whatever the file said
            ids["simulation_seed"] = str(self.bench.seed)
        return ids

    def close(self) -> None:
        """Output off first (read back), whatever else fails; then release the light
        instrument. Signals wait until this is done."""
        if self.closed:
            return
        with INTERRUPTS.shielded(), ExitStack() as after:  # run last first, whatever fails before
            self.closed = True
            after.callback(self._release_process)
            after.callback(self._release_light)
            after.callback(lambda: self._release_switch(report_confirmed=self.smu.confirmed_off))
            self.ensure_output_off()

    def _release_process(self) -> None:
        """The station's claims on its addresses and its hold on the process's signals."""
        if self.claims is not None:
            self.claims.release()
        if self._signal_listener is not None:
            INTERRUPTS.unlisten(self._signal_listener)
        INTERRUPTS.release(self)

    def _release_switch(self, report_confirmed: bool) -> None:
        """Disconnect every pixel (only with the output confirmed off), release the switch."""
        if self.switch is None:
            return
        try:
            if report_confirmed:
                self.switch.open_all()
            else:
                log.warning("the output is not confirmed off: the pixel switch is left as it is")
        except Exception as exc:  # noqa: BLE001 - closing must not mask the shutdown
            log.warning("opening the pixel switch's channels failed: %s", one_line(exc))
        try:
            self.switch.close()
        except Exception as exc:  # noqa: BLE001
            log.warning("closing the pixel switch failed: %s", one_line(exc))

    def _release_light(self) -> None:
        if self.light is None:
            if self.bench is not None:
                self.bench.close()
            return
        try:
            if self._light_calls.idle(min(self.light_timeout_s or self.light.measure_timeout_s, 30.0)):
                self._light_calls.close()
                self.light.close()
            else:
                log.warning("the light instrument is not answering; left as it is")
        except Exception as exc:  # noqa: BLE001 - closing must not mask the shutdown
            log.warning("closing the light instrument failed: %s", one_line(exc))
        if self.photodiode is not None:  # read on the measurement thread: nothing of it is in flight now
            try:
                self.photodiode.meter.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the photodiode's meter failed: %s", one_line(exc))
        if self.bench is not None:
            self.bench.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_station(config: StationConfig, bench: Any | None = None,
                 on_failed_open: Callable[[Station], None] | None = None) -> Station:
    """Open every instrument of ``config``: the light instrument, then the source meter,
    whose output is switched off at once, then the pixel switch (every channel opened, then
    the configuration's pixel selected and read back).

    ``bench`` replaces the simulated bench the configuration would build (tests).
    ``on_failed_open`` gets the station closed again when the switch or the pixel failed
    (what its shutdown confirmed is in ``output_report``).
    """
    opening = object()
    INTERRUPTS.hold(opening)  # a signal now is held until the station is open and can stop at a safe point
    try:
        claims = AddressClaims(config.instrument_addresses).acquire()  # before anything is opened
        try:
            station = _open_station(config, bench, on_failed_open, claims)
        except BaseException:
            claims.release()
            raise
        return station
    finally:
        INTERRUPTS.release(opening)


def _open_station(config: StationConfig, bench: Any | None, on_failed_open: Callable[[Station], None] | None,
                  claims: AddressClaims) -> Station:
    if bench is None and config.uses_simulation:
        from sim_instruments.bench import SimulatedBench

        substrate = config.substrate
        bench = SimulatedBench.from_settings(config.simulation_settings(), pixel_area_cm2=config.pixel_area_cm2,
                                             state_path=config.simulated_device_state,
                                             fresh_device=config.simulated_device_fresh,
                                             radiometer_model=config.radiometer.model,
                                             spectrometer_model=config.spectrometer.model,
                                             pixels=[(p.name, p.area_cm2, p.channel) for p in substrate.pixels],
                                             substrate=substrate.name,
                                             state_pixel=config.pixel.name if config.pixel else None,
                                             smu_model=config.smu.model)
    clock: Clock = bench.clock if bench is not None and config.smu.address == SIMULATED else WallClock()
    opened = ExitStack()  # what to close, last opened first, if a later instrument fails to open
    try:
        if bench is not None:
            opened.callback(bench.close)
        # the light instrument first: its problems (window, integration range) stop us before the SMU
        light = open_light_meter(config, bench) if config.geometry != NO_LIGHT else None
        if light is not None:
            opened.callback(light.close)
        photodiode = open_photodiode_channel(config, bench) if config.second_channel == "photodiode" else None
        if photodiode is not None:
            opened.callback(photodiode.meter.close)
        smu = _open_smu(config, bench, clock)
    except BaseException:
        with INTERRUPTS.shielded():
            opened.close()
        raise
    opened.pop_all()
    station = Station(config, clock, smu, light, bench, photodiode=photodiode, claims=claims)
    if config.switch.kind != NO_SWITCH:
        try:
            station.switch = open_switch(config, bench)
            station.ensure_output_off()  # confirmed off before any relay moves
            station.switch.open_all()
            if config.pixel is not None:
                station.select_pixel(config.pixel)
        except BaseException:
            station.close()  # output off, every pixel disconnected (if confirmed off), all released
            if on_failed_open is not None:
                on_failed_open(station)
            raise
    return station


def _open_smu(config: StationConfig, bench: Any | None, clock: Clock) -> SourceMeter:
    """The configured kind of source meter, its output switched off at once; refused unless the
    instrument says it is that kind (a 2450 is not driven with the 2400's commands)."""
    kind = source_meter_kind(config.smu.model)
    address, kwargs = visa_resource(config, config.smu.address, bench, lambda b: b.smu_address)
    limits = SafetyLimits(config.max_voltage_V, config.max_current_A)
    try:
        smu = kind.driver_class()(address, limits, clock=clock, read_termination="\n", write_termination="\n",
                                  timeout=5000, **kwargs)
        smu.output_off_timeout_s = config.output_off_timeout_s
        smu.write(":OUTP 0")  # whatever an earlier session left behind
        identity = smu.id
        found = kind_of_identity(identity)
        if found is kind:
            smu.prepare_for_station()  # ... a source list, sweep or trigger model included
    except StationError:
        raise
    except Exception as exc:  # pyvisa raises several types for unreachable resources
        raise InstrumentError(f"[smu] address {config.smu.address!r}: cannot open ({one_line(exc)})") from None
    if found is not kind:
        what = f"a {found.model} ([smu] model = \"{found.name}\")" if found is not None else repr(identity.strip())
        raise InstrumentError(f"[smu] address {config.smu.address!r}: not a {kind.model} but {what}")
    return smu
