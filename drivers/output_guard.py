"""The safety guard every station source-meter driver shares, whatever its make.

:class:`GuardedSourceMeter` is a mixin placed before a pymeasure ``Instrument`` class:

* every command that leaves the driver (``write``) is checked against the station's
  :class:`SafetyLimits` first: source levels, compliance (limit) values, and switching the
  output on while the compliance in force is above the limits; a model adds its own
  refusals (commands that would switch the output on or source levels behind the guard);
* the driver tracks what it last set (source function, levels, output), pessimistically:
  the output may be on from the moment an "output on" command leaves;
* :meth:`GuardedSourceMeter.safe_shutdown` ramps to zero on the station clock, switches the
  output off and reads the state back, and keeps trying for ``output_off_timeout_s`` of wall
  time; it never raises and reports what it confirmed (:class:`OutputOffReport`);
* :meth:`GuardedSourceMeter.read_point` repeats a timed-out or garbled reading once after a
  device clear, and tells :attr:`notice`.

A model supplies its SCPI spelling (:meth:`canonical_command`, the header sets), how one
reading is taken (:meth:`_read_point_once`) and how a source is configured.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pyvisa.errors import VisaIOError

from station.core.clock import Clock, WallClock
from station.core.errors import InstrumentFault, SafetyLimitError
from station.core.errors import one_line as _one_line

log = logging.getLogger(__name__)

#: how long (wall time) the station keeps trying to switch off an output that does not
#: confirm "off", and the pause between attempts
OUTPUT_OFF_TIMEOUT_S = 10.0
OUTPUT_OFF_RETRY_PAUSE_S = 0.2


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

    def check_within(self, max_voltage_V: float, max_current_A: float, model: str) -> None:
        """ValueError when these limits exceed what ``model`` can source."""
        if self.max_voltage_V > max_voltage_V or self.max_current_A > max_current_A:
            raise ValueError(f"safety limits exceed the {model}'s ranges ({max_voltage_V:g} V, {max_current_A:g} A)")


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
    """One source-measure reading; ``status`` is the instrument's own status word (its meaning
    is the model's), ``in_compliance`` what the model's driver read from it."""

    voltage_V: float
    current_A: float
    status: int
    instrument_time_s: float
    in_compliance: bool = False


def number(argument: str, command: str) -> float:
    """A numeric level of a command, or :class:`SafetyLimitError` (never a silent default)."""
    try:
        value = float(argument)
    except ValueError:
        raise SafetyLimitError(f"refusing {command!r}: only numeric source levels are allowed") from None
    if not math.isfinite(value):
        raise SafetyLimitError(f"refusing {command!r}: level is not finite") from None
    return value


class GuardedSourceMeter:
    """Safety limits on every command, tracked output state, and a shutdown that reads back."""

    #: the model's name, in messages
    MODEL: ClassVar[str] = "source meter"
    #: canonical headers that set a voltage or a current source level
    VOLTAGE_LEVEL_HEADERS: ClassVar[frozenset[str]] = frozenset()
    CURRENT_LEVEL_HEADERS: ClassVar[frozenset[str]] = frozenset()
    #: canonical headers that set the current limit (voltage source) and voltage limit (current source)
    CURRENT_LIMIT_HEADERS: ClassVar[frozenset[str]] = frozenset()
    VOLTAGE_LIMIT_HEADERS: ClassVar[frozenset[str]] = frozenset()
    #: what the limits are after *RST (A and V)
    RESET_COMPLIANCE_CURRENT_A: ClassVar[float] = 0.0
    RESET_COMPLIANCE_VOLTAGE_V: ClassVar[float] = 0.0

    limits: SafetyLimits
    clock: Clock

    def _init_guard(self, limits: SafetyLimits, clock: Clock | None) -> None:
        self.limits = limits
        self.clock = clock if clock is not None else WallClock()
        self.output_off_timeout_s = OUTPUT_OFF_TIMEOUT_S
        self.last_output_report: OutputOffReport | None = None
        #: told of transient faults the driver recovered from (the runner records them)
        self.notice: Callable[[str], None] = lambda message: None
        self._confirmed_off = False
        self._reset_tracking()

    # --- what the model supplies ----------------------------------------------------------
    @staticmethod
    def canonical_command(command: str) -> str:
        """One command in the model's canonical form."""
        raise NotImplementedError

    def _model_check(self, header: str, argument: str, command: str):
        """A model's own check of one canonical command: False if it does not handle it, else
        None or the update to run once the command is sent; raises SafetyLimitError to refuse."""
        return False

    def _read_point_once(self) -> SMUReading:
        raise NotImplementedError

    def _before_shutdown(self) -> None:
        """What must stop before the ramp down (a model's own sweep in progress)."""

    # --- the guard ------------------------------------------------------------------
    def _reset_tracking(self) -> None:
        self._source_mode = "VOLT"
        self._level = {"VOLT": 0.0, "CURR": 0.0}
        self._compliance_current_A = self.RESET_COMPLIANCE_CURRENT_A
        self._compliance_voltage_V = self.RESET_COMPLIANCE_VOLTAGE_V
        self._output_on = False

    def write(self, command: str, **kwargs) -> None:
        """Send a command after checking every part of it against the safety limits."""
        updates = [self._check(self.canonical_command(part)) for part in command.split(";") if part.strip()]
        super().write(command, **kwargs)  # type: ignore[misc]
        for update in updates:
            if update:
                update()

    def _check(self, command: str):
        header, _, argument = command.partition(" ")
        if header == "*RST":
            return self._reset_tracking
        handled = self._model_check(header, argument, command)
        if handled is not False:
            return handled
        limits = self.limits
        if header in self.VOLTAGE_LEVEL_HEADERS or header in self.CURRENT_LEVEL_HEADERS:
            is_voltage = header in self.VOLTAGE_LEVEL_HEADERS
            value = number(argument, command)
            limit = limits.max_voltage_V if is_voltage else limits.max_current_A
            if abs(value) > limit:
                kind, unit, key = ("voltage", "V", "max_voltage_V") if is_voltage else ("current", "A", "max_current_A")
                raise SafetyLimitError(f"source {kind} {value:g} {unit} exceeds the station limit of "
                                       f"{limit:g} {unit} ([safety] {key})")
            mode = "VOLT" if is_voltage else "CURR"
            return lambda: self._level.__setitem__(mode, value)
        if header in self.CURRENT_LIMIT_HEADERS:
            value = number(argument, command)
            if abs(value) > limits.max_current_A:
                raise SafetyLimitError(f"compliance current {value:g} A exceeds the station limit of "
                                       f"{limits.max_current_A:g} A ([safety] max_current_A)")
            return lambda: setattr(self, "_compliance_current_A", abs(value))
        if header in self.VOLTAGE_LIMIT_HEADERS:
            value = number(argument, command)
            if abs(value) > limits.max_voltage_V:
                raise SafetyLimitError(f"compliance voltage {value:g} V exceeds the station limit of "
                                       f"{limits.max_voltage_V:g} V ([safety] max_voltage_V)")
            return lambda: setattr(self, "_compliance_voltage_V", abs(value))
        if header == ":SOUR:FUNC":
            mode = argument.strip().strip("'\"").upper()
            mode = "CURR" if mode.startswith("CURR") else "VOLT"
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

    # --- output and levels --------------------------------------------------------------
    def enable_source(self) -> None:
        self.write(":OUTP 1")

    def disable_source(self) -> None:
        self.write(":OUTP 0")

    def apply_voltage(self, volts: float) -> None:
        """Set the source voltage level: the guarded fast path of a sweep step."""
        self._send_checked(f":SOUR:VOLT {volts:g}")

    def apply_current(self, amperes: float) -> None:
        """Set the source current level: the guarded fast path of a sweep step."""
        self._send_checked(f":SOUR:CURR {amperes:g}")

    def _send_checked(self, command: str) -> None:
        """Send a command already in canonical form, after the same check ``write`` makes."""
        update = self._check(command)
        resource = getattr(self, "_resource", None)
        if resource is None:
            super().write(command)  # type: ignore[misc]
        else:
            resource.write(command)
        if update:
            update()

    # --- measurement ----------------------------------------------------------------
    def read_point(self) -> SMUReading:
        """V, I, status and compliance of one reading.

        A time-out or a garbled reply is retried once (a reading only measures again), after
        a device clear, and reported through :attr:`notice`; a second failure raises
        :class:`InstrumentFault`.
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

    # --- ramps and shutdown on the station clock ------------------------------------
    def ramp_to_voltage(self, target_voltage: float, steps: int = 10, pause: float = 0.01) -> None:
        """Ramp the source voltage linearly from the last level set, on the station clock."""
        self._check(f":SOUR:VOLT {float(target_voltage)!r}")  # refuse before the first step
        for level in np.linspace(self._level["VOLT"], target_voltage, steps):
            self.apply_voltage(float(level))
            self.clock.sleep(pause)

    def ramp_to_current(self, target_current: float, steps: int = 10, pause: float = 0.01) -> None:
        """Ramp the source current linearly from the last level set, on the station clock."""
        self._check(f":SOUR:CURR {float(target_current)!r}")
        for level in np.linspace(self._level["CURR"], target_current, steps):
            self.apply_current(float(level))
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
        self._before_shutdown()
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
                state = self.ask(":OUTP?").strip()  # type: ignore[attr-defined]
                if state in ("0", "OFF"):
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
                log.info("could not confirm the %s output off after %d attempts: %s", self.MODEL, attempts, error)
                break
            time.sleep(OUTPUT_OFF_RETRY_PAUSE_S)
        self.last_output_report = report
        return report

    def _clear_interface(self) -> None:
        """Device clear: drop any reply an interrupted or timed-out query left behind."""
        try:
            self.adapter.connection.clear()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - not every interface supports it
            pass

    def shutdown(self) -> None:
        """pymeasure's shutdown hook: safe shutdown, then mark the instrument shut down."""
        try:
            self.safe_shutdown()
        finally:
            self.isShutdown = True
