"""The simulated 2400's trigger model, trace buffer, :CALC3 statistics and status bytes.

As the Model 2400 manual describes them (sections "Triggering", "Data Store" and
"Status Structure"; SCPI reference of the TRIGger, ARM, TRACe, CALCulate3 and STATus
subsystems):

* ``:INIT`` takes the unit out of idle: arm count x trigger count source-measure
  actions, each costing the integration time plus the trigger delay; an arm layer
  whose event is ``BUS`` waits for ``*TRG``, one whose event is a trigger line
  (``TLIN``, ``NST``, ``PST``, ``BST``) waits for a pulse that never comes on the bench
  (``:ABORt`` returns it to idle); ``TIMer`` spaces the arm cycles by the timer.
* ``:READ?`` is ``:INIT`` then ``:FETCh?``: it returns every reading of the sweep.
* With ``:TRACe:FEED:CONTrol NEXT`` readings fill the buffer up to ``:TRACe:POINts``;
  a full buffer sets bit 9 (buffer full) of the measurement event register and feed
  control returns to ``NEVer``. ``:TRACe:DATA?`` returns the stored readings,
  ``:CALCulate3:DATA?`` the ``:CALCulate3:FORMat`` statistic of each element over them.
* ``*STB?``: bit 0 (MSB) summarises the measurement event register through its enable
  register, bit 2 (EAV) says the error queue holds a message, bit 6 (MSS) summarises
  the status byte through the service request enable (``*SRE``).

Everything here is state and bookkeeping; readings come from the 2400 simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from drivers.keithley2400 import MAX_TRACE_POINTS
from station.core.scpi import short_mnemonic

ARM_SOURCES = ("IMM", "TIM", "MAN", "BUS", "TLIN", "NST", "PST", "BST")
TRIGGER_SOURCES = ("IMM", "TLIN")
ARM_OUTPUTS = ("TENT", "TEX", "NONE")
TRIGGER_OUTPUTS = ("SOUR", "DEL", "SENS", "NONE")
CALC3_FORMATS = ("MEAN", "SDEV", "MAX", "MIN", "PKPK")
BUFFER_FULL_BIT = 1 << 9
STB_MSB, STB_EAV, STB_MSS, STB_OSB = 1 << 0, 1 << 2, 1 << 6, 1 << 7

#: one reading: the elements in :FORM:ELEM order (VOLT, CURR, RES, TIME, STAT)
Reading = tuple[float, float, float, float, float]


@dataclass
class TriggerModel:
    """Trigger, buffer and status state of one simulated 2400."""

    arm_source: str = "IMM"
    arm_timer_s: float = 0.1
    arm_input_line: int = 1
    arm_output_line: int = 2
    arm_output: str = "NONE"
    trigger_source: str = "IMM"
    trigger_input_line: int = 1
    trigger_output_line: int = 2
    trigger_output: str = "NONE"
    trace_points: int = 100
    feed: str = "SENS"
    feed_control: str = "NEV"
    calc3_format: str = "MEAN"
    buffer: list[Reading] = field(default_factory=list)
    last_readings: list[Reading] = field(default_factory=list)
    measurement_enable: int = 0
    operation_enable: int = 0
    operation_event: int = 0
    measurement_event: int = 0
    service_request_enable: int = 0
    standard_event_enable: int = 0
    waiting: bool = False  # armed, waiting for an event the bench may never give

    def reset(self) -> None:
        """*RST / :SYST:PRES: the trigger and buffer settings back to their defaults."""
        fresh = TriggerModel()
        for name in ("arm_source", "arm_timer_s", "arm_input_line", "arm_output_line", "arm_output",
                     "trigger_source", "trigger_input_line", "trigger_output_line", "trigger_output",
                     "feed", "feed_control", "calc3_format", "waiting"):
            setattr(self, name, getattr(fresh, name))

    def preset_status(self) -> None:
        """:STAT:PRES: enable registers cleared."""
        self.measurement_enable = 0
        self.operation_enable = 0

    def clear_status(self) -> None:
        """*CLS: event registers cleared."""
        self.measurement_event = 0
        self.operation_event = 0

    def status_byte(self, error_pending: bool) -> int:
        stb = STB_MSB if self.measurement_event & self.measurement_enable else 0
        if self.operation_event & self.operation_enable:
            stb |= STB_OSB
        if error_pending:
            stb |= STB_EAV
        if stb & self.service_request_enable & ~STB_MSS:
            stb |= STB_MSS
        return stb

    def clear_buffer(self) -> None:
        """:TRAC:CLE: the readings gone, the buffer-full event with them."""
        self.buffer.clear()
        self.measurement_event &= ~BUFFER_FULL_BIT

    def store(self, readings: list[Reading]) -> None:
        """Readings of one pass into the buffer (feed control NEXT), until it is full."""
        self.begin()
        for reading in readings:
            self.add(reading)

    def begin(self) -> None:
        """A new pass through the trigger model: :FETC? will give its readings."""
        self.last_readings = []

    def add(self, reading: Reading) -> None:
        """One reading of the pass in progress (into the buffer with feed control NEXT)."""
        self.last_readings.append(reading)
        if self.feed_control != "NEXT" or self.feed != "SENS":
            return
        if len(self.buffer) < self.trace_points:
            self.buffer.append(reading)
        if len(self.buffer) >= self.trace_points:
            self.measurement_event |= BUFFER_FULL_BIT
            self.feed_control = "NEV"

    def statistic(self, elements: list[str]) -> list[float]:
        """:CALC3:DATA?: the format's statistic of each element over the buffer."""
        data = np.array(self.buffer, dtype=float)
        order = ("VOLT", "CURR", "RES", "TIME", "STAT")
        columns = [data[:, order.index(e)] for e in elements]
        compute: dict[str, Callable[[np.ndarray], float]] = {
            "MEAN": np.mean, "MAX": np.max, "MIN": np.min, "PKPK": np.ptp,
            "SDEV": lambda c: float(np.std(c, ddof=1)) if len(c) > 1 else 0.0}
        return [float(compute[self.calc3_format](c)) for c in columns]

    # --- the settings, as SCPI ----------------------------------------------------------
    def setting(self, header: str, argument: str) -> str | None | bool:
        """Answer a trigger/trace/calc3/status setting: the reply of a query, None for a
        command done, False for a header this model does not own; raises ValueError for a
        bad argument (the instrument's -2xx error)."""
        query = header.endswith("?")
        key = header.rstrip("?")
        if key == ":TRAC:POIN:ACT" and query:
            return str(len(self.buffer))
        if key == ":STAT:MEAS" and query:  # reading the event register clears it
            value, self.measurement_event = self.measurement_event, 0
            return str(value)
        if key == ":STAT:OPER" and query:
            value, self.operation_event = self.operation_event, 0
            return str(value)
        if key not in _SETTINGS:
            return False
        name, parse = _SETTINGS[key]
        if query:
            value = getattr(self, name)
            return f"{value:g}" if isinstance(value, float) else str(value)
        value = parse(argument)
        if key == ":TRAC:FEED:CONT" and value == "NEXT" and len(self.buffer) >= self.trace_points:
            raise ValueError('+800,"Illegal with storage active"')
        if key == ":TRAC:POIN" and self.feed_control == "NEXT":
            raise ValueError('+800,"Illegal with storage active"')
        setattr(self, name, value)
        return None


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(argument: str) -> str:
        value = argument.strip().strip("'\"").upper()
        matches = [o for o in options if o in (value, short_mnemonic(value))]  # long or short form
        if not matches:
            raise ValueError('-224,"Illegal parameter value"')
        return matches[0]
    return parse


def _number(argument: str) -> float:
    try:
        value = float(argument.strip())
    except ValueError:
        raise ValueError('-104,"Data type error"') from None
    if not math.isfinite(value):
        raise ValueError('-222,"Data out of range"')
    return value


def _bounded(low: float, high: float) -> Callable[[str], float]:
    def parse(argument: str) -> float:
        value = _number(argument)
        if not low <= value <= high:
            raise ValueError('-222,"Data out of range"')
        return value
    return parse


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(argument: str) -> int:
        value = int(round(_number(argument)))  # SCPI rounds a decimal given for an integer
        if not low <= value <= high:
            raise ValueError('-222,"Data out of range"')
        return value
    return parse


_line = _integer(1, 4)


def _event_list(argument: str) -> str:
    words = [w.strip().upper() for w in argument.split(",") if w.strip()]
    parse = _choice(TRIGGER_OUTPUTS)
    events = [parse(w) for w in words] or ["NONE"]
    if "NONE" in events and len(events) > 1:
        raise ValueError('-224,"Illegal parameter value"')
    return ",".join(events)


#: SCPI setting header -> (TriggerModel attribute, argument parser)
_SETTINGS: dict[str, tuple[str, Callable[[str], object]]] = {
    ":ARM:SOUR": ("arm_source", _choice(ARM_SOURCES)),
    ":ARM:TIM": ("arm_timer_s", _bounded(0.001, 99999.99)),
    ":ARM:ILIN": ("arm_input_line", _line), ":ARM:OLIN": ("arm_output_line", _line),
    ":ARM:OUTP": ("arm_output", _choice(ARM_OUTPUTS)),
    ":TRIG:SOUR": ("trigger_source", _choice(TRIGGER_SOURCES)),
    ":TRIG:ILIN": ("trigger_input_line", _line), ":TRIG:OLIN": ("trigger_output_line", _line),
    ":TRIG:OUTP": ("trigger_output", _event_list),
    ":TRAC:POIN": ("trace_points", _integer(1, MAX_TRACE_POINTS)),
    ":TRAC:FEED": ("feed", _choice(("SENS", "CALC1", "CALC2"))),
    ":TRAC:FEED:CONT": ("feed_control", _choice(("NEXT", "NEV"))),
    ":CALC3:FORM": ("calc3_format", _choice(CALC3_FORMATS)),
    ":STAT:MEAS:ENAB": ("measurement_enable", _integer(0, 65535)),
    ":STAT:OPER:ENAB": ("operation_enable", _integer(0, 65535)),
    "*SRE": ("service_request_enable", _integer(0, 255)),
    "*ESE": ("standard_event_enable", _integer(0, 255)),
}
