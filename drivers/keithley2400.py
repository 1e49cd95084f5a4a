"""Keithley 2400 SourceMeter: pymeasure's driver, extended for an LED station.

Additions over :class:`pymeasure.instruments.keithley.Keithley2400`:

* :meth:`StationKeithley2400.read_point` returns V, I and the status word (with the
  compliance flag) from a single ``:READ?``.
* Safety limits from the station configuration are enforced on every command that
  leaves the driver (``write`` is guarded), whatever the caller asks, including raw
  SCPI and pymeasure's own properties and ramps.
* :meth:`StationKeithley2400.safe_shutdown` ramps to zero and switches the output off;
  the output-off step runs even if the ramp fails.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from pymeasure.instruments.keithley import Keithley2400

from station.clock import Clock, WallClock
from station.errors import SafetyLimitError
from station.scpi import canonical

log = logging.getLogger(__name__)

STATUS_COMPLIANCE_BIT = 1 << 3
RANGE_COMPLIANCE_BIT = 1 << 16
ELEMENTS = ("VOLT", "CURR", "RES", "TIME", "STAT")
#: instrument defaults after *RST
RESET_COMPLIANCE_CURRENT_A = 1.05e-4
RESET_COMPLIANCE_VOLTAGE_V = 21.0


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
        if self.max_voltage_V > 210 or self.max_current_A > 1.05:
            raise ValueError("safety limits exceed the Keithley 2400's ranges (210 V, 1.05 A)")


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


class StationKeithley2400(Keithley2400):
    """Keithley 2400 with enforced safety limits and a shutdown that cannot be skipped."""

    def __init__(self, adapter, limits: SafetyLimits, clock: Clock | None = None,
                 name: str = "Keithley 2400 SourceMeter", **kwargs) -> None:
        self.limits = limits
        self.clock = clock if clock is not None else WallClock()
        self._reset_tracking()
        super().__init__(adapter, name, **kwargs)

    # --- the guard ------------------------------------------------------------------
    def _reset_tracking(self) -> None:
        self._source_mode = "VOLT"
        self._level = {"VOLT": 0.0, "CURR": 0.0}
        self._compliance_current_A = RESET_COMPLIANCE_CURRENT_A
        self._compliance_voltage_V = RESET_COMPLIANCE_VOLTAGE_V
        self._output_on = False

    def write(self, command: str, **kwargs) -> None:
        """Send a command after checking every part of it against the safety limits."""
        updates = [self._check(canonical(part)) for part in command.split(";") if part.strip()]
        super().write(command, **kwargs)
        for update in updates:
            if update:
                update()

    def _check(self, command: str):
        header, _, argument = command.partition(" ")
        limits = self.limits
        if header == "*RST":
            return self._reset_tracking
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
        if header == ":OUTP":
            turning_on = argument.strip() == "1"
            if turning_on:
                self._check_output_may_switch_on()
            return lambda: setattr(self, "_output_on", turning_on)
        return None

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
    def read_point(self) -> SMUReading:
        """V, I and status from one ``:READ?`` (format set by ``reset_data_format``)."""
        values = self.values(":READ?")
        if len(values) != len(ELEMENTS):
            raise ValueError(f"unexpected :READ? reply with {len(values)} values: {values!r}")
        voltage, current, _, timestamp, status = values
        voltage = float("nan") if voltage == 9.91e37 else voltage
        current = float("nan") if current == 9.91e37 else current
        return SMUReading(voltage, current, int(status), timestamp)

    # --- ramps and shutdown on the station clock ------------------------------------
    def ramp_to_voltage(self, target_voltage, steps=10, pause=0.01):
        """Ramp the source voltage linearly from the last level set, on the station clock."""
        self._check(f":SOUR:VOLT {float(target_voltage)!r}")  # refuse before the first step
        for level in np.linspace(self._level["VOLT"], target_voltage, steps):
            self.source_voltage = float(level)
            self.clock.sleep(pause)

    def ramp_to_current(self, target_current, steps=10, pause=0.01):
        """Ramp the source current linearly from the last level set, on the station clock."""
        self._check(f":SOUR:CURR {float(target_current)!r}")
        for level in np.linspace(self._level["CURR"], target_current, steps):
            self.source_current = float(level)
            self.clock.sleep(pause)

    def safe_shutdown(self) -> None:
        """Ramp to zero, then switch the output off; the output-off step always runs."""
        try:
            if self._source_mode == "CURR":
                self.ramp_to_current(0.0)
            else:
                self.ramp_to_voltage(0.0)
        except Exception:  # noqa: BLE001 - the output must go off whatever happened
            log.exception("ramp to zero failed; switching the output off directly")
        last_error: Exception | None = None
        for _ in range(3):
            try:
                self.write(":OUTP 0")
                return
            except Exception as exc:  # noqa: BLE001
                last_error = exc
        log.error("could not switch the Keithley 2400 output off: %s", last_error)
        raise last_error  # type: ignore[misc]

    def shutdown(self) -> None:
        """pymeasure's shutdown hook: safe shutdown, then mark the instrument shut down."""
        try:
            self.safe_shutdown()
        finally:
            self.isShutdown = True


def _number(argument: str, command: str) -> float:
    try:
        value = float(argument)
    except ValueError:
        raise SafetyLimitError(f"refusing {command!r}: only numeric source levels are allowed") from None
    if not math.isfinite(value):
        raise SafetyLimitError(f"refusing {command!r}: level is not finite")
    return value
