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
from collections.abc import Callable, Sequence
from functools import lru_cache

from pymeasure.adapters import VISAAdapter
from pymeasure.instruments import Instrument, SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from station.core.clock import Clock
from station.core.errors import SafetyLimitError
from station.core.errors import one_line as _one_line
from station.core.scpi import canonical

from .output_guard import OUTPUT_OFF_RETRY_PAUSE_S as OUTPUT_OFF_RETRY_PAUSE_S
from .output_guard import OUTPUT_OFF_TIMEOUT_S as OUTPUT_OFF_TIMEOUT_S
from .output_guard import GuardedSourceMeter
from .output_guard import OutputOffReport as OutputOffReport
from .output_guard import SafetyLimits as SafetyLimits
from .output_guard import SMUReading as SMUReading
from .output_guard import number as _number
from .source_meter import SweepReadings

log = logging.getLogger(__name__)

#: largest source or compliance magnitudes of the 2400 (its 200 V and 1 A ranges, 5 % over)
MAX_VOLTAGE_V = 210.0
MAX_CURRENT_A = 1.05
#: *IDN? of the 2400 series (2400, 2401, 2410, 2420, 2425, 2430, 2440: one SCPI command set, 2400 Series
#: manual); not the 2450/2460/2470, whose SCPI differs (drivers.keithley2450)
IDENTITY_PATTERN = r"MODEL 24[0-4][0-9]\b"
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

STATUS_COMPLIANCE_BIT = 1 << 3
RANGE_COMPLIANCE_BIT = 1 << 16
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
_BOOL = {True: 1, False: 0}


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


class StationKeithley2400(GuardedSourceMeter, SCPIMixin, Instrument):
    """Keithley 2400 with enforced safety limits and a shutdown that cannot be skipped."""

    MODEL = "Keithley 2400"
    VOLTAGE_LEVEL_HEADERS = frozenset(_VOLTAGE_LEVEL)
    CURRENT_LEVEL_HEADERS = frozenset(_CURRENT_LEVEL)
    CURRENT_LIMIT_HEADERS = frozenset({":SENS:CURR:PROT"})
    VOLTAGE_LIMIT_HEADERS = frozenset({":SENS:VOLT:PROT"})
    RESET_COMPLIANCE_CURRENT_A = RESET_COMPLIANCE_CURRENT_A
    RESET_COMPLIANCE_VOLTAGE_V = RESET_COMPLIANCE_VOLTAGE_V
    #: the instrument runs a sweep of its own into its buffer (StationKeithley2400.sweep)
    BUFFERED_SWEEP = True

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
        limits.check_within(MAX_VOLTAGE_V, MAX_CURRENT_A, self.MODEL)
        self._init_guard(limits, clock)
        super().__init__(adapter, name, **kwargs)
        # the per-point path goes straight to the VISA resource (pymeasure's layers cost
        # ~0.1 ms a call); with any other adapter (protocol tests) it goes through pymeasure
        self._resource = self.adapter.connection if isinstance(self.adapter, VISAAdapter) else None
        self.reset_data_format()

    def reset_data_format(self) -> None:
        """The :READ? reply format :meth:`read_point` expects (as pymeasure's driver sets it)."""
        self.write(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS")

    # --- the guard ------------------------------------------------------------------
    canonical_command = staticmethod(canonical_2400)

    def _reset_tracking(self) -> None:
        super()._reset_tracking()
        self._sweep_range = {"VOLT": (0.0, 0.0), "CURR": (0.0, 0.0)}  # (start, stop) of the staircase sweeps
        self._pass_may_run = False  # an :INIT was sent and the pass has not been seen to end

    def _model_check(self, header: str, argument: str, command: str):
        refusal = _refusal(header, argument)
        if refusal:
            raise SafetyLimitError(f"refusing {command!r}: {refusal}")
        if header in _SWEEP_LEVELS:
            return self._check_sweep_level(header, argument, command)
        if header in (":INIT", "*TRG"):  # :INIT is overlapped: a sweep may run on after it
            return lambda: setattr(self, "_pass_may_run", True)
        if header == ":ABOR":
            return lambda: setattr(self, "_pass_may_run", False)
        return False

    def _before_shutdown(self) -> None:
        if self._pass_may_run:  # a sweep of the instrument's own may be running: stop it first
            self.abort_pass()

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

    # --- configuration ----------------------------------------------------------------
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

    # --- measurement ----------------------------------------------------------------
    def zero_once(self) -> None:
        """One zero reference now (``:SYSTem:AZERo:STATe ONCE``), then none before each reading."""
        self.write(":SYST:AZER:STAT ONCE")

    def sweep(self, levels: Sequence[float], *, compliance: float, nplc: float, dwell_s: float,
              wait: Callable[[float], None], bias: float = 0.0, abort_on_compliance: bool = True,
              on_partial: Callable[[SweepReadings], None] | None = None) -> SweepReadings:
        """A voltage sweep on the 2400's own trigger model and buffer (:mod:`drivers.keithley2400_sweep`)."""
        from .keithley2400_sweep import run_buffered_sweep

        return run_buffered_sweep(self, levels, compliance=compliance, nplc=nplc, dwell_s=dwell_s, wait=wait,
                                  bias=bias, abort_on_compliance=abort_on_compliance, on_partial=on_partial)

    def _read_point_once(self) -> SMUReading:
        reply = self.ask(":READ?") if self._resource is None else self._resource.query(":READ?")
        return parse_read_reply(reply)

    def prepare_for_station(self) -> None:
        """On opening: readings one at a time, whatever an earlier session left (:meth:`single_reading_setup`)."""
        self.single_reading_setup()

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
    return SMUReading(voltage, current, int(status), timestamp, bool(int(status) & STATUS_COMPLIANCE_BIT))
