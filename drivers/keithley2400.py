"""Keithley 2400 SourceMeter for an LED station, declared on pymeasure's ``Instrument``.

The station's driver declares the controls it uses with ``Instrument.control`` and the
same SCPI strings as pymeasure's own ``Keithley2400`` (``tests/test_driver_protocols.py``
checks the traffic). It does not subclass that class: importing
``pymeasure.instruments.keithley`` imports every Keithley driver and pandas, about
0.4 s at every start of the station. pymeasure's unmodified driver still runs against
the simulated 2400 (``tests/test_sim_keithley2400.py``).

What the station adds:

* :meth:`StationKeithley2400.read_point` returns V, I and the status word (with the
  compliance flag) from a single ``:READ?`` (``:MEAS...?`` would reconfigure the
  instrument and reset compliance).
* Safety limits from the station configuration are enforced on every command that
  leaves the driver (``write`` is guarded), whatever the caller asks, including raw
  SCPI, the ramps and the instrument's own sweep and list levels. Commands that would
  switch the output on or reset the compliance behind the guard (``:CONFigure``,
  ``:MEASure?``, auto output-off, recalled setups, auto-ohms) are refused.
* :meth:`StationKeithley2400.safe_shutdown` ramps to zero, switches the output off and
  reads the output state back; it keeps trying for :data:`OUTPUT_OFF_TIMEOUT_S` if the
  instrument does not answer, and reports what it could confirm
  (:class:`OutputOffReport`). The driver assumes the output may be on from the moment it
  sends ``:OUTP 1`` until a read-back says it is off.

The instrument's own limits (:data:`MAX_VOLTAGE_V`, :data:`MAX_CURRENT_A`, the NPLC
range and the reset compliance values) live here and nowhere else.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymeasure.adapters import VISAAdapter
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range
from pyvisa.errors import VisaIOError

from station.core.clock import Clock, WallClock
from station.core.errors import InstrumentFault, SafetyLimitError
from station.core.errors import one_line as _one_line
from station.core.scpi import canonical

log = logging.getLogger(__name__)

#: largest source or compliance magnitudes of the 2400 (its 200 V and 1 A ranges, 5 % over)
MAX_VOLTAGE_V = 210.0
MAX_CURRENT_A = 1.05
#: integration time range in power-line cycles
NPLC_RANGE = (0.01, 10.0)
#: instrument defaults after *RST
RESET_COMPLIANCE_CURRENT_A = 1.05e-4
RESET_COMPLIANCE_VOLTAGE_V = 21.0
#: the :READ? reply holds "overflow" for a quantity not measured
OVERFLOW = 9.91e37
#: most source-measure points of one sweep or source list, and readings the trace buffer holds
MAX_SWEEP_POINTS = 2500
MAX_TRACE_POINTS = 2500
#: most values one :SOURce:LIST command (or one :APPend) may carry
MAX_LIST_COMMAND_VALUES = 100
#: operation condition and event register bit (:STATus:OPERation...): idle
OPERATION_IDLE_BIT = 1 << 10
#: status byte (serial poll, *STB?): the operation summary bit
STATUS_BYTE_OPERATION_BIT = 1 << 7

#: how long (wall time) the station keeps trying to switch off an output that does not
#: confirm "off", and the pause between attempts
OUTPUT_OFF_TIMEOUT_S = 10.0
OUTPUT_OFF_RETRY_PAUSE_S = 0.2

STATUS_COMPLIANCE_BIT = 1 << 3
RANGE_COMPLIANCE_BIT = 1 << 16
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
_BOOL = {True: 1, False: 0}


@dataclass(frozen=True)
class SafetyLimits:
    """Largest magnitudes the station may ever source or allow."""

    max_voltage_V: float
    max_current_A: float

    def __post_init__(self) -> None:
        for name in ("max_voltage_V", "max_current_A"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"safety limit {name} must be a positive number, got {value!r}")
        if self.max_voltage_V > MAX_VOLTAGE_V or self.max_current_A > MAX_CURRENT_A:
            raise ValueError(f"safety limits exceed the Keithley 2400's ranges ({MAX_VOLTAGE_V:g} V, "
                             f"{MAX_CURRENT_A:g} A)")


@dataclass(frozen=True)
class OutputOffReport:
    """What a shutdown could confirm: the output state read back from the instrument."""

    confirmed: bool
    last_level: str  # the last source level the driver set, with units
    attempts: int
    error: str = ""

    def summary(self) -> str:
        if self.confirmed:
            return "output confirmed off"
        return (f"COULD NOT SWITCH THE OUTPUT OFF (last set {self.last_level}; {self.error}): "
                "switch it off by hand")


@dataclass(frozen=True)
class SMUReading:
    """One source-measure reading."""

    voltage_V: float
    current_A: float
    status: int
    instrument_time_s: float

    @property
    def in_compliance(self) -> bool:
        return bool(self.status & STATUS_COMPLIANCE_BIT)


_VOLTAGE_LEVEL = {":SOUR:VOLT", ":SOUR:VOLT:LEV", ":SOUR:VOLT:LEV:IMM", ":SOUR:VOLT:LEV:IMM:AMPL"}
_CURRENT_LEVEL = {":SOUR:CURR", ":SOUR:CURR:LEV", ":SOUR:CURR:LEV:IMM", ":SOUR:CURR:LEV:IMM:AMPL"}
#: levels the instrument's own sweeps and lists source (checked against the limits like a level)
_SWEEP_LEVELS = {":SOUR:VOLT:STAR": True, ":SOUR:VOLT:STOP": True, ":SOUR:VOLT:CENT": True,
                 ":SOUR:VOLT:SPAN": True, ":SOUR:CURR:STAR": False, ":SOUR:CURR:STOP": False,
                 ":SOUR:CURR:CENT": False, ":SOUR:CURR:SPAN": False, ":SOUR:LIST:VOLT": True,
                 ":SOUR:LIST:CURR": False, ":SOUR:LIST:VOLT:APP": True, ":SOUR:LIST:CURR:APP": False}


def _refusal(header: str, argument: str) -> str:
    """Why a command is refused outright ("" if it is not): commands that would switch
    the output on, or change the compliance or the source, behind the guard's back
    (2400 manual: :CONFigure resets the function's settings, compliance included, to
    their *RST values and switches the output on; :MEASure? is :CONFigure + :READ?)."""
    value = argument.strip().strip("'\"").upper()
    if header.startswith(":CONF") or (header.startswith(":MEAS") and header.endswith("?")):
        return (f"{header} resets the compliance to its *RST value and switches the output on; "
                "the station reads with :READ? (read_point)")
    if header == ":SOUR:CLE:AUTO" and value not in ("0", "OFF"):
        return "auto output-off mode switches the output on at every reading"
    if header in ("*RCL", ":SYST:MEM:REC", ":SYST:POS") and not header.endswith("?"):
        return f"{header} restores a stored setup (source, compliance, output) the station cannot check"
    if header == ":SENS:RES:MODE" and value.startswith("AUTO"):
        return "auto-ohms mode sources a current of the instrument's choosing"
    return ""


#: root nodes the 2400 reads as :SENSe (its [:SENSe[1]] is optional)
_SENSE_ROOTS = (":CURR", ":VOLT", ":RES", ":FUNC", ":AVER", ":DATA")


@lru_cache(maxsize=1024)
def canonical_2400(command: str) -> str:
    """One command in the canonical form, with the 2400's optional nodes resolved as the
    instrument resolves them: ``SOURce[1]``, ``SENSe[1]``, ``OUTPut[1]``, the optional
    ``[:SENSe]`` root, ``CURRent[:DC]``/``VOLTage[:DC]`` and ``FUNCtion[:MODE]``; so the guard
    and the simulator see one spelling of everything a client may send."""
    command = canonical(command)
    header, sep, argument = command.partition(" ")
    if header.startswith("*"):
        return command
    query = "?" if header.endswith("?") else ""
    nodes = [{"SOUR1": "SOUR", "SENS1": "SENS", "OUTP1": "OUTP"}.get(n, n) for n in header.rstrip("?").split(":")]
    header = ":".join(nodes)
    if header.startswith(_SENSE_ROOTS) and header.split(":")[1] in {r[1:] for r in _SENSE_ROOTS}:
        header = ":SENS" + header
    for optional in (":SENS:CURR:DC", ":SENS:VOLT:DC"):
        if header == optional or header.startswith(optional + ":"):
            header = optional[:-3] + header[len(optional):]
    header = {":SOUR:FUNC:MODE": ":SOUR:FUNC", ":INIT:IMM": ":INIT"}.get(header, header)
    header += query
    return header + sep + argument


def _flag(command: str, doc: str):
    return Instrument.control(command + "?", command + " %d", doc, validator=strict_discrete_set,
                              values=_BOOL, map_values=True)


class StationKeithley2400(SCPIMixin, Instrument):
    """Keithley 2400 with enforced safety limits and a shutdown that cannot be skipped."""

    source_enabled = _flag("OUTPUT", "Control whether the source output is on (bool).")
    source_mode = Instrument.control(
        ":SOURCE:FUNCTION?", ":SOURCE:FUNCTION %s", "Control the source mode ('current' or 'voltage').",
        validator=strict_discrete_set, values={"current": "CURR", "voltage": "VOLT"}, map_values=True)
    source_voltage = Instrument.control(
        ":SOURCE:VOLTAGE?", ":SOURCE:VOLTAGE %g", "Control the source voltage in V.",
        validator=strict_range, values=[-MAX_VOLTAGE_V, MAX_VOLTAGE_V])
    source_current = Instrument.control(
        ":SOURCE:CURRENT?", ":SOURCE:CURRENT %g", "Control the source current in A.",
        validator=strict_range, values=[-MAX_CURRENT_A, MAX_CURRENT_A])
    compliance_current = Instrument.control(
        ":SENSE:CURRENT:PROTECTION?", ":SENSE:CURRENT:PROTECTION %g", "Control the compliance current in A.",
        validator=strict_range, values=[-MAX_CURRENT_A, MAX_CURRENT_A])
    compliance_voltage = Instrument.control(
        ":SENSE:VOLTAGE:PROTECTION?", ":SENSE:VOLTAGE:PROTECTION %g", "Control the compliance voltage in V.",
        validator=strict_range, values=[-MAX_VOLTAGE_V, MAX_VOLTAGE_V])
    source_voltage_range_auto_enabled = _flag(":SOURCE:VOLTAGE:RANGE:AUTO", "Source voltage auto range (bool).")
    source_current_range_auto_enabled = _flag(":SOURCE:CURRENT:RANGE:AUTO", "Source current auto range (bool).")
    current_range_auto_enabled = _flag(":SENSE:CURRENT:RANGE:AUTO", "Current measurement auto range (bool).")
    voltage_range_auto_enabled = _flag(":SENSE:VOLTAGE:RANGE:AUTO", "Voltage measurement auto range (bool).")
    current_nplc = Instrument.control(
        ":SENSE:CURRENT:NPLCYCLES?", ":SENSE:CURRENT:NPLCYCLES %g",
        "Control the integration time in power-line cycles (global on the 2400).",
        validator=strict_range, values=list(NPLC_RANGE))
    voltage_nplc = Instrument.control(
        ":SENSE:VOLTAGE:NPLCYCLES?", ":SENSE:VOLTAGE:NPLCYCLES %g",
        "Control the integration time in power-line cycles (global on the 2400).",
        validator=strict_range, values=list(NPLC_RANGE))

    def __init__(self, adapter, limits: SafetyLimits, clock: Clock | None = None,
                 name: str = "Keithley 2400 SourceMeter", **kwargs) -> None:
        self.limits = limits
        self.clock = clock if clock is not None else WallClock()
        self.output_off_timeout_s = OUTPUT_OFF_TIMEOUT_S
        self.last_output_report: OutputOffReport | None = None
        #: told of transient faults the driver recovered from (the runner records them)
        self.notice: Callable[[str], None] = lambda message: None
        self._confirmed_off = False
        self._reset_tracking()
        super().__init__(adapter, name, **kwargs)
        # the per-point path goes straight to the VISA resource (pymeasure's layers cost
        # ~0.1 ms a call); with any other adapter (protocol tests) it goes through pymeasure
        self._resource = self.adapter.connection if isinstance(self.adapter, VISAAdapter) else None
        self.reset_data_format()

    def reset_data_format(self) -> None:
        """The :READ? reply format :meth:`read_point` expects (as pymeasure's driver sets it)."""
        self.write(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS")

    # --- the guard ------------------------------------------------------------------
    def _reset_tracking(self) -> None:
        self._source_mode = "VOLT"
        self._level = {"VOLT": 0.0, "CURR": 0.0}
        self._compliance_current_A = RESET_COMPLIANCE_CURRENT_A
        self._compliance_voltage_V = RESET_COMPLIANCE_VOLTAGE_V
        self._output_on = False
        self._sweep_range = {"VOLT": (0.0, 0.0), "CURR": (0.0, 0.0)}  # (start, stop) of the staircase sweeps
        self._pass_may_run = False  # an :INIT was sent and the pass has not been seen to end

    def write(self, command: str, **kwargs) -> None:
        """Send a command after checking every part of it against the safety limits."""
        updates = [self._check(canonical_2400(part)) for part in command.split(";") if part.strip()]
        super().write(command, **kwargs)
        for update in updates:
            if update:
                update()

    def _check(self, command: str):
        header, _, argument = command.partition(" ")
        limits = self.limits
        if header == "*RST":
            return self._reset_tracking
        refusal = _refusal(header, argument)
        if refusal:
            raise SafetyLimitError(f"refusing {command!r}: {refusal}")
        if header in _SWEEP_LEVELS:
            return self._check_sweep_level(header, argument, command)
        if header in (":INIT", "*TRG"):  # :INIT is overlapped: a sweep may run on after it
            return lambda: setattr(self, "_pass_may_run", True)
        if header == ":ABOR":
            return lambda: setattr(self, "_pass_may_run", False)
        if header in _VOLTAGE_LEVEL or header in _CURRENT_LEVEL:
            is_voltage = header in _VOLTAGE_LEVEL
            value = _number(argument, command)
            limit = limits.max_voltage_V if is_voltage else limits.max_current_A
            if abs(value) > limit:
                kind, unit, key = ("voltage", "V", "max_voltage_V") if is_voltage else ("current", "A", "max_current_A")
                raise SafetyLimitError(f"source {kind} {value:g} {unit} exceeds the station limit of "
                                       f"{limit:g} {unit} ([safety] {key})")
            mode = "VOLT" if is_voltage else "CURR"
            return lambda: self._level.__setitem__(mode, value)
        if header == ":SENS:CURR:PROT":
            value = _number(argument, command)
            if abs(value) > limits.max_current_A:
                raise SafetyLimitError(f"compliance current {value:g} A exceeds the station limit of "
                                       f"{limits.max_current_A:g} A ([safety] max_current_A)")
            return lambda: setattr(self, "_compliance_current_A", abs(value))
        if header == ":SENS:VOLT:PROT":
            value = _number(argument, command)
            if abs(value) > limits.max_voltage_V:
                raise SafetyLimitError(f"compliance voltage {value:g} V exceeds the station limit of "
                                       f"{limits.max_voltage_V:g} V ([safety] max_voltage_V)")
            return lambda: setattr(self, "_compliance_voltage_V", abs(value))
        if header == ":SOUR:FUNC":
            mode = argument.strip().strip("'\"")
            return lambda: setattr(self, "_source_mode", mode)
        if header in (":OUTP", ":OUTP:STAT"):  # OUTPut[:STATe]
            turning_on = argument.strip().upper() not in ("0", "OFF")
            if turning_on:
                self._check_output_may_switch_on()
                # pessimistic: the output may be on from the moment the command leaves
                self._output_on, self._confirmed_off = True, False
                return None
            return lambda: setattr(self, "_output_on", False)
        return None

    def check_sweep_levels(self, values: Sequence[float], function: str, context: str = "") -> None:
        """Refuse any level a sweep of ``function`` ("VOLT" or "CURR") would source beyond the
        station's limits (or not finite); ``context`` says where the level comes from."""
        voltage = function == "VOLT"
        limit = self.limits.max_voltage_V if voltage else self.limits.max_current_A
        unit, key = ("V", "max_voltage_V") if voltage else ("A", "max_current_A")
        for value in values:
            if not (math.isfinite(value) and abs(value) <= limit * (1 + 1e-12)):
                raise SafetyLimitError(f"sweep level {value:g} {unit}{context} is beyond the station limit of "
                                       f"{limit:g} {unit} ([safety] {key})")

    def _check_sweep_level(self, header: str, argument: str, command: str):
        """A sweep or list level: every level the instrument's own sweep can source must be
        within the limits. Start and stop are coupled with centre and span (2400 manual), so
        a centre or span is checked by the start and stop it makes."""
        function = "VOLT" if _SWEEP_LEVELS[header] else "CURR"
        values = [_number(text, command) for text in argument.split(",")]
        start, stop = self._sweep_range[function]
        node = header.rsplit(":", 1)[-1]
        made = ""
        if node in ("CENT", "SPAN"):
            centre, span = ((values[0], stop - start) if node == "CENT" else ((start + stop) / 2, values[0]))
            start, stop = centre - span / 2, centre + span / 2
            values = [start, stop]
            made = ", the sweep's start or stop it makes"
        elif node == "STAR":
            start = values[0]
        elif node == "STOP":
            stop = values[0]
        self.check_sweep_levels(values, function, f" ({header} {argument.strip()}{made})")
        return lambda: self._sweep_range.__setitem__(function, (start, stop))

    def _check_output_may_switch_on(self) -> None:
        if self._source_mode == "CURR" and self._compliance_voltage_V > self.limits.max_voltage_V:
            raise SafetyLimitError(
                f"refusing to switch the output on: compliance voltage {self._compliance_voltage_V:g} V is "
                f"above the station limit of {self.limits.max_voltage_V:g} V; set it first")
        if self._source_mode == "VOLT" and self._compliance_current_A > self.limits.max_current_A:
            raise SafetyLimitError(
                f"refusing to switch the output on: compliance current {self._compliance_current_A:g} A is "
                f"above the station limit of {self.limits.max_current_A:g} A; set it first")

    @property
    def output_on(self) -> bool:
        """Whether the driver last switched the output on (no instrument query)."""
        return self._output_on

    @property
    def confirmed_off(self) -> bool:
        """The instrument read back "output off" and nothing has switched it on since."""
        return self._confirmed_off

    @property
    def source_function(self) -> str:
        """"VOLT" or "CURR": the source function the driver last set."""
        return self._source_mode

    @property
    def source_level(self) -> float:
        """The source level the driver last set (V or A)."""
        return self._level[self._source_mode]

    def last_level_text(self) -> str:
        return f"{self.source_level:g} {'V' if self._source_mode == 'VOLT' else 'A'}"

    # --- configuration ----------------------------------------------------------------
    def enable_source(self) -> None:
        self.source_enabled = True

    def disable_source(self) -> None:
        self.source_enabled = False

    def configure_voltage_source(self, compliance_current_A: float, nplc: float = 1.0) -> None:
        """Source voltage, measure current, with a current compliance."""
        self.source_mode = "voltage"
        self.source_voltage_range_auto_enabled = True
        self.current_range_auto_enabled = True
        self.compliance_current = compliance_current_A
        self.current_nplc = nplc
        self.source_voltage = 0.0

    def configure_current_source(self, compliance_voltage_V: float, nplc: float = 1.0) -> None:
        """Source current, measure voltage, with a voltage compliance."""
        self.source_mode = "current"
        self.source_current_range_auto_enabled = True
        self.voltage_range_auto_enabled = True
        self.compliance_voltage = compliance_voltage_V
        self.voltage_nplc = nplc
        self.source_current = 0.0

    def apply_voltage(self, volts: float) -> None:
        """Set the source voltage level: the guarded fast path of a sweep step."""
        self._send_checked(f":SOUR:VOLT {volts:g}")

    def apply_current(self, amperes: float) -> None:
        """Set the source current level: the guarded fast path of a sweep step."""
        self._send_checked(f":SOUR:CURR {amperes:g}")

    def _send_checked(self, command: str) -> None:
        """Send a command already in canonical form, after the same check ``write`` makes."""
        update = self._check(command)
        if self._resource is None:
            super().write(command)
        else:
            self._resource.write(command)
        if update:
            update()

    # --- measurement ----------------------------------------------------------------
    def read_point(self) -> SMUReading:
        """V, I and status from one ``:READ?`` (format set by :meth:`reset_data_format`).

        A time-out or a garbled reply is retried once (a ``:READ?`` only measures again),
        after a device clear, and reported through :attr:`notice`; a second failure
        raises :class:`InstrumentFault`.
        """
        try:
            return self._read_point_once()
        except (VisaIOError, ValueError, OSError) as exc:
            self.notice(f"source meter: {_one_line(exc)}; reading repeated")
            self._clear_interface()
        try:
            return self._read_point_once()
        except (VisaIOError, ValueError, OSError) as exc:
            raise InstrumentFault(f"source meter failed twice in a row: {_one_line(exc)}") from None

    def _read_point_once(self) -> SMUReading:
        reply = self.ask(":READ?") if self._resource is None else self._resource.query(":READ?")
        return parse_read_reply(reply)

    # --- ramps and shutdown on the station clock ------------------------------------
    def ramp_to_voltage(self, target_voltage: float, steps: int = 10, pause: float = 0.01) -> None:
        """Ramp the source voltage linearly from the last level set, on the station clock."""
        self._check(f":SOUR:VOLT {float(target_voltage)!r}")  # refuse before the first step
        for level in np.linspace(self._level["VOLT"], target_voltage, steps):
            self.source_voltage = float(level)
            self.clock.sleep(pause)

    def ramp_to_current(self, target_current: float, steps: int = 10, pause: float = 0.01) -> None:
        """Ramp the source current linearly from the last level set, on the station clock."""
        self._check(f":SOUR:CURR {float(target_current)!r}")
        for level in np.linspace(self._level["CURR"], target_current, steps):
            self.source_current = float(level)
            self.clock.sleep(pause)

    def safe_shutdown(self, timeout_s: float | None = None, ramp: bool = True) -> OutputOffReport:
        """Ramp to zero (unless ``ramp`` is false: an emergency stop), switch the output off
        and read the state back.

        The output-off step runs even if the ramp fails; it is repeated (with a device
        clear, in case an interrupted query left a reply behind) until the instrument
        reads back "off" or ``timeout_s`` (default :attr:`output_off_timeout_s`) of wall
        time has passed. Never raises: the report says what was confirmed.
        """
        timeout = self.output_off_timeout_s if timeout_s is None else timeout_s
        last_level = self.last_level_text()
        if self._pass_may_run:  # a sweep of the instrument's own may be running: stop it first
            self.abort_pass()
        try:
            if not ramp:
                pass
            elif self._source_mode == "CURR":
                self.ramp_to_current(0.0)
            else:
                self.ramp_to_voltage(0.0)
        except Exception as exc:  # noqa: BLE001 - the output must go off whatever happened
            log.info("ramp to zero failed (%s); switching the output off directly", _one_line(exc))
        deadline = time.monotonic() + timeout
        attempts, error = 0, ""
        while True:
            attempts += 1
            if attempts > 1:
                self._clear_interface()
            try:
                self.write(":OUTP 0")
                state = self.ask(":OUTP?").strip()
                if state == "0":
                    self._confirmed_off = True
                    report = OutputOffReport(True, last_level, attempts)
                    break
                error = f"the instrument reads back output {state!r}"
            except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
                error = _one_line(exc)
            if attempts == 1:
                self.notice(f"source meter does not confirm the output off ({error}); trying again for up to "
                            f"{timeout:g} s")
            if time.monotonic() >= deadline:
                report = OutputOffReport(False, last_level, attempts, error)
                log.info("could not confirm the Keithley 2400 output off after %d attempts: %s", attempts, error)
                break
            time.sleep(OUTPUT_OFF_RETRY_PAUSE_S)
        self.last_output_report = report
        return report

    def single_reading_setup(self) -> None:
        """The trigger model, source modes and buffer as the station's single readings expect them:
        fixed source levels, one reading per :READ?, no buffering, no abort on compliance,
        automatic source delay, auto zero on, sweep and list levels zero (as the guard tracks
        them). Sent when the station opens (whatever an earlier session, or a sweep that was
        ended early, left behind) and after the instrument's own sweeps; otherwise a later
        :READ? would run a leftover source list, or a sweep mode switched on later would source
        levels the guard never saw."""
        for command in (":SOUR:VOLT:MODE FIX", ":SOUR:CURR:MODE FIX", ":ARM:SOUR IMM", ":ARM:COUN 1",
                        ":TRIG:SOUR IMM", ":TRIG:COUN 1", ":TRIG:DEL 0", ":TRAC:FEED:CONT NEV", ":SOUR:SWE:CAB NEV",
                        ":SOUR:DEL:AUTO 1", ":SYST:AZER:STAT 1",
                        # sweep levels an earlier program left are unknown to the guard: zero them
                        ":SOUR:VOLT:STAR 0", ":SOUR:VOLT:STOP 0", ":SOUR:CURR:STAR 0", ":SOUR:CURR:STOP 0",
                        ":SOUR:LIST:VOLT 0", ":SOUR:LIST:CURR 0"):
            self.write(command)

    def serial_poll(self) -> int:
        """The status byte by serial poll (GPIB SPE/SPD, VISA viReadSTB): answered while the trigger
        model runs, when the 2400 leaves ordinary queries until it is idle. VisaIOError
        (VI_ERROR_NSUP_OPER) where the interface has none (RS-232)."""
        if self._resource is None:
            return int(self.ask("*STB?"))
        return int(self._resource.read_stb())

    def wait_for_operation_complete(self, timeout_s: float) -> None:
        """*OPC?, waited for up to ``timeout_s`` (the 2400 answers once its trigger model is idle)."""
        connection = self.adapter.connection
        previous = connection.timeout
        connection.timeout = max(previous, timeout_s * 1000)
        try:
            self.ask("*OPC?")
        finally:
            connection.timeout = previous

    def abort_pass(self) -> None:
        """End a pass of the trigger model (an overlapped sweep) at once: device clear, then
        ``:ABORt``; the source returns to its bias level. Never raises."""
        self._clear_interface()
        try:
            self.write(":ABOR")
        except Exception as exc:  # noqa: BLE001 - the output-off step follows whatever happened
            log.info(":ABOR failed (%s)", _one_line(exc))

    @property
    def pass_may_run(self) -> bool:
        """An overlapped pass (:INIT) was started and has not been seen to end."""
        return self._pass_may_run

    def pass_ended(self) -> None:
        """The instrument read back idle: the pass is over."""
        self._pass_may_run = False

    def _clear_interface(self) -> None:
        """Device clear: drop any reply an interrupted or timed-out query left behind."""
        try:
            self.adapter.connection.clear()
        except Exception:  # noqa: BLE001 - not every interface supports it
            pass

    def shutdown(self) -> None:
        """pymeasure's shutdown hook: safe shutdown, then mark the instrument shut down."""
        try:
            self.safe_shutdown()
        finally:
            self.isShutdown = True


def parse_read_reply(reply: str) -> SMUReading:
    """V, I, status from a ``:READ?`` reply in the :data:`ELEMENTS` format; ValueError if it is
    not one (overflow, 9.91e37, becomes NaN)."""
    try:
        values = [float(x) for x in reply.split(",")]
    except ValueError:
        raise ValueError(f"unexpected :READ? reply {reply.strip()[:80]!r}") from None
    if len(values) != len(ELEMENTS):
        raise ValueError(f"unexpected :READ? reply with {len(values)} values: {reply.strip()[:80]!r}")
    voltage, current, _, timestamp, status = values
    if not (math.isfinite(status) and 0 <= status < 2**32 and status == int(status)):
        raise ValueError(f"unexpected status word in :READ? reply {reply.strip()[:80]!r}")
    voltage = math.nan if voltage == OVERFLOW else voltage
    current = math.nan if current == OVERFLOW else current
    return SMUReading(voltage, current, int(status), timestamp)


def _number(argument: str, command: str) -> float:
    try:
        value = float(argument)
    except ValueError:
        raise SafetyLimitError(f"refusing {command!r}: only numeric source levels are allowed") from None
    if not math.isfinite(value):
        raise SafetyLimitError(f"refusing {command!r}: level is not finite") from None
    return value
