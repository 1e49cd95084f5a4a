"""The station's Keithley 2450 driver: pymeasure's own ``Keithley2450`` (SCPI command set),
behind the station's guard (:class:`~drivers.output_guard.GuardedSourceMeter`).

What the station adds to pymeasure's driver:

* every command is checked against the station's safety limits (levels, ``ILIMit`` and
  ``VLIMit``, output on); commands that would source levels the guard never sees are
  refused: source sweeps and lists, configuration lists, trigger-model templates and
  blocks (other than the empty model), recalled setups and scripts;
* :meth:`StationKeithley2450.read_point` takes one reading with ``:READ? "defbuffer1",
  READ, SOUR, SOURSTAT, REL``: the measured value, the source read back
  (``:SOURce:<function>:READ:BACK ON``), the source status (its limit bit is the
  compliance) and the time;
* the ramps and the shutdown run on the station clock and read the output state back.

The 2450 has no sweep here of its own (its trigger-model sweeps are refused by the guard):
:meth:`StationKeithley2450.sweep` goes one level at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from pymeasure.instruments.keithley import Keithley2450

from drivers import keithley2450 as facts
from drivers.keithley2400 import canonical_2400
from drivers.output_guard import GuardedSourceMeter, SafetyLimits, SMUReading
from drivers.source_meter import SweepReadings, point_sweep
from station.core.clock import Clock
from station.core.errors import SafetyLimitError

_LEVEL = ("", ":LEV", ":LEV:IMM", ":LEV:IMM:AMPL")
#: the elements of one reading, as sent
_READ_QUERY = ':READ? "defbuffer1", ' + ", ".join(facts.READ_ELEMENTS)
#: trigger-model templates that source nothing of their own
_SAFE_TRIGGER_MODELS = {'"EMPTY"', "'EMPTY'", "EMPTY"}


def _refusal(header: str, argument: str) -> str:
    """Why a command is refused outright ("" if it is not)."""
    if header.startswith(":SOUR:") and (":SWE" in header or ":LIST" in header):
        return "the 2450's own sweeps and source lists source levels the station's guard does not see"
    if header.startswith((":SOUR:CONF", ":SOUR:VOLT:CONF", ":SOUR:CURR:CONF")) or ":CONF:LIST" in header:
        return "configuration lists recall source settings the station cannot check"
    if header == ":TRIG:LOAD" and argument.strip().upper() not in _SAFE_TRIGGER_MODELS:
        return "trigger-model templates run sweeps and source levels the station cannot check"
    if header.startswith(":TRIG:BLOC"):
        return "trigger-model blocks may recall sources and levels the station cannot check"
    if header in ("*RCL", ":SCR:RUN") or header.startswith(":SCR:RUN"):
        return f"{header} restores a stored setup or runs a script the station cannot check"
    return ""


class StationKeithley2450(GuardedSourceMeter, Keithley2450):
    """Keithley 2450 (SCPI) with enforced safety limits and a shutdown that cannot be skipped."""

    MODEL = "Keithley 2450"
    VOLTAGE_LEVEL_HEADERS = frozenset(":SOUR:VOLT" + node for node in _LEVEL)
    CURRENT_LEVEL_HEADERS = frozenset(":SOUR:CURR" + node for node in _LEVEL)
    CURRENT_LIMIT_HEADERS = frozenset({":SOUR:VOLT:ILIM", ":SOUR:VOLT:ILIM:LEV"})
    VOLTAGE_LIMIT_HEADERS = frozenset({":SOUR:CURR:VLIM", ":SOUR:CURR:VLIM:LEV"})
    RESET_COMPLIANCE_CURRENT_A = facts.RESET_COMPLIANCE_CURRENT_A
    RESET_COMPLIANCE_VOLTAGE_V = facts.RESET_COMPLIANCE_VOLTAGE_V
    BUFFERED_SWEEP = False
    # the 2450's SCPI tree resolves the same optional nodes as the 2400's ([:SENSe[1]], SOURce[1], OUTPut[1])
    canonical_command = staticmethod(canonical_2400)

    def __init__(self, adapter, limits: SafetyLimits, clock: Clock | None = None,
                 name: str = "Keithley 2450 SourceMeter", **kwargs) -> None:
        limits.check_within(facts.MAX_VOLTAGE_V, facts.MAX_CURRENT_A, self.MODEL)
        self._init_guard(limits, clock)
        super().__init__(adapter, name, **kwargs)

    def _model_check(self, header: str, argument: str, command: str):
        refusal = _refusal(header, argument)
        if refusal:
            raise SafetyLimitError(f"refusing {command!r}: {refusal}")
        return False

    # --- configuration ----------------------------------------------------------------
    def prepare_for_station(self) -> None:
        """On opening: no trigger model of an earlier session left to run, readings one at a time."""
        self.write(":ABOR")
        self.write(':TRIG:LOAD "Empty"')

    def configure_voltage_source(self, compliance_current_A: float, nplc: float = 1.0) -> None:
        """Source voltage (read back), measure current, with a current limit."""
        self.source_mode = "voltage"
        self.write(":SOUR:VOLT:RANG:AUTO 1")
        self.write(":SOUR:VOLT:READ:BACK 1")
        self.write(':SENS:FUNC "CURR"')
        self.write(":SENS:CURR:RANG:AUTO 1")
        self.compliance_current = compliance_current_A
        self.current_nplc = nplc
        self.apply_voltage(0.0)

    def configure_current_source(self, compliance_voltage_V: float, nplc: float = 1.0) -> None:
        """Source current (read back), measure voltage, with a voltage limit."""
        self.source_mode = "current"
        self.write(":SOUR:CURR:RANG:AUTO 1")
        self.write(":SOUR:CURR:READ:BACK 1")
        self.write(':SENS:FUNC "VOLT"')
        self.write(":SENS:VOLT:RANG:AUTO 1")
        self.compliance_voltage = compliance_voltage_V
        self.voltage_nplc = nplc
        self.apply_current(0.0)

    def zero_once(self) -> None:
        """One auto-zero reference now (``:AZERo:ONCE``), then none before each reading."""
        function = "CURR" if self._source_mode == "VOLT" else "VOLT"
        self.write(f":SENS:{function}:AZER 0")
        self.write(":AZER:ONCE")

    def sweep(self, levels: Sequence[float], *, compliance: float, nplc: float, dwell_s: float,
              wait: Callable[[float], None], bias: float = 0.0, abort_on_compliance: bool = True,
              on_partial: Callable[[SweepReadings], None] | None = None) -> SweepReadings:
        """A voltage sweep one level at a time (:func:`drivers.source_meter.point_sweep`)."""
        return point_sweep(self, levels, compliance=compliance, nplc=nplc, dwell_s=dwell_s, wait=wait, bias=bias,
                           abort_on_compliance=abort_on_compliance, on_partial=on_partial)

    # --- measurement ----------------------------------------------------------------
    def _read_point_once(self) -> SMUReading:
        return parse_read_reply(self.ask(_READ_QUERY), self._source_mode)


def parse_read_reply(reply: str, source_function: str) -> SMUReading:
    """V, I, source status and compliance from a reply to the station's ``:READ?`` (the measured
    value, the source read back, the source status, the relative time); ValueError if it is not
    one. Overflow (9.9E+37) becomes NaN."""
    try:
        values = [float(x) for x in reply.split(",")]
    except ValueError:
        raise ValueError(f"unexpected :READ? reply {reply.strip()[:80]!r}") from None
    if len(values) != len(facts.READ_ELEMENTS):
        raise ValueError(f"unexpected :READ? reply with {len(values)} values: {reply.strip()[:80]!r}")
    measured, sourced, status, time_s = values
    if not (math.isfinite(status) and 0 <= status < 2**16 and status == int(status)):
        raise ValueError(f"unexpected source status in :READ? reply {reply.strip()[:80]!r}")
    measured = math.nan if abs(measured) >= facts.OVERFLOW else measured
    sourced = math.nan if abs(sourced) >= facts.OVERFLOW else sourced
    voltage, current = (sourced, measured) if source_function == "VOLT" else (measured, sourced)
    return SMUReading(voltage, current, int(status), time_s, bool(int(status) & facts.SOURCE_STATUS_LIMIT))
