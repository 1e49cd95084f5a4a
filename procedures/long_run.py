"""What the long, unattended procedures (lifetime, on/off cycling) share.

* The **drive**: constant current or constant voltage, applied, held, and re-applied at
  once after a J-V-L checkpoint.
* The **events** stream (start, L0, T_x, checkpoints, notices, resume with its gap,
  stop): one row each, with a numeric kind (:data:`EVENT_KINDS`); the words are in the
  file's notices.
* **J-V-L checkpoints**: a short voltage sweep into the ``checkpoints`` stream, the output
  returned to the drive as soon as it ends.
* **Time under drive**: ``elapsed_s`` counts from the start of the drive, on the station
  clock; a resumed run continues it (a gap with the output left on counts, one with the
  output off does not; both are recorded as events).
* **Resume**: a run whose process died (or was stopped by SIGTERM) continues from its
  stored rows; the procedure restores its state from them (:meth:`LongRunProcedure.restore`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter, ListParameter

from drivers.source_meters import PARAMETER_MAX_CURRENT_A as MAX_CURRENT_A
from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.analysis.light_quantity import LIGHT_QUANTITIES, LightQuantityJudge
from station.analysis.stored_run import StoredRun, last_row
from station.core.errors import ConfigError, DeviceFault
from station.core.units import current_A, current_density_mA_cm2
from station.run.records import Column, Stream
from station.setup.config import StationConfig

from .base import StationProcedure
from .device_health import OPEN_CIRCUIT_FRACTION, LightReadingWatch, check_point
from .operating_point import READING_COLUMNS, PointReading, measure_operating_point
from .safety_limits import Limited

TIME_UNITS = "s since 1970-01-01 UTC"
#: event kinds of the ``events`` stream (column ``kind``); ``value`` says the number each carries
EVENT_KINDS: dict[str, tuple[int, str]] = {
    "start": (1, "the drive went on (value: 0)"),
    "l0": (2, "L0 set (value: L0 in the run's light units)"),
    "lifetime": (3, "T_x reached (value: x in %; elapsed_s: the interpolated crossing, time_s: when confirmed)"),
    "checkpoint_start": (4, "a J-V-L checkpoint began (value: its number)"),
    "checkpoint_end": (5, "the drive is back after a checkpoint (value: its number)"),
    "notice": (6, "something the run met and went on from (value: 1 warning, 2 error, 0 info)"),
    "resume": (7, "the run resumed after its process ended (value: gap in s, negative when the output was off "
                  "and the gap does not count as time under drive)"),
    "stop": (8, "the run ended (value: 0 finished, 1 failed, 2 aborted)"),
    "drive_found": (9, "automatic L0: the drive current was found (value: current density, mA/cm^2)"),
    "prediction": (10, "the stop rule on the predicted lifetime ended the run (value: predicted T_x in s)"),
    "rest_start": (11, "stress and recovery: the output went off for a rest (value: the cycle, from 1)"),
    "rest_end": (12, "stress and recovery: the rest and its probes ended (value: the cycle, from 1)"),
}
EVENTS = Stream("events", (
    Column("elapsed_s", "s", "time under drive since the run started"),
    Column("time_s", TIME_UNITS),
    Column("kind", "1", "; ".join(f"{code} {name}: {text}" for name, (code, text) in EVENT_KINDS.items()), "i4"),
    Column("value", "1", "the number the kind carries (see kind)"),
), description="start, L0, lifetimes, checkpoints, notices, resume gaps and stop, one row each")
CHECKPOINT_COLUMNS: tuple[Column, ...] = (
    Column("checkpoint", "1", "checkpoint number (from 0)", "i4"),
    Column("index", "1", "point number within the checkpoint", "i8"),
    Column("elapsed_s", "s", "time under drive when the point was measured"),
    Column("set_voltage_V", "V", "programmed source voltage"),
    *READING_COLUMNS,
)
CHECKPOINTS = Stream("checkpoints", CHECKPOINT_COLUMNS, description="short J-V-L sweeps during the run",
                     display=("voltage_V", "current_density_mA_cm2", "luminance_cd_m2"))
DRIVE_MODES = ("current", "voltage")
STATUS_CODES = {"finished": 0, "failed": 1, "aborted": 2}


@dataclass(frozen=True)
class Drive:
    """What the source holds: ``mode`` "current" (A) or "voltage" (V), with its compliance."""

    mode: str
    level: float
    compliance: float

    def describe(self, area_cm2: float) -> str:
        if self.mode == "current":
            return f"{current_density_mA_cm2(self.level, area_cm2):.4g} mA/cm^2 ({self.level:.4g} A)"
        return f"{self.level:.4g} V"


class LongRunProcedure(StationProcedure):
    """Base of the lifetime and cycling procedures (not registered itself)."""

    RESUMABLE: ClassVar[bool] = True
    STATUS_INTERVAL_S: ClassVar[float] = 60.0

    SAFETY_LIMITED = {
        "compliance_voltage": Limited("voltage", positive=True),
        "compliance_current": Limited("current", positive=True),
        "checkpoint_start_voltage": Limited("voltage", when=lambda p: p.checkpoints_planned()),
        "checkpoint_stop_voltage": Limited("voltage", when=lambda p: p.checkpoints_planned()),
    }
    #: the held drive (cycling, stress and recovery, lifetime): the one its drive_mode names
    HELD_DRIVE_LIMITED = {"voltage": Limited("voltage", when=lambda p: p.drive_mode == "voltage"),
                          "current_density": Limited("current_density", positive=True,
                                                     when=lambda p: p.drive_mode == "current")}
    compliance_voltage = FloatParameter("Compliance voltage (current drive)", units="V", default=8.0, minimum=0,
                                        maximum=MAX_VOLTAGE_V)
    compliance_current = FloatParameter("Compliance current (voltage drive)", units="A", default=0.1, minimum=0,
                                        maximum=MAX_CURRENT_A)
    settle_time = FloatParameter("Settle time before a reading after the drive changes", units="s", default=0.5,
                                 minimum=0, maximum=3600)
    light_quantity = ListParameter("Light quantity judged (auto = radiance for NIR emitters)",
                                   choices=list(LIGHT_QUANTITIES), default="auto")
    checkpoint_start_voltage = FloatParameter("Checkpoint sweep start", units="V", default=0.0,
                                              minimum=-MAX_VOLTAGE_V, maximum=MAX_VOLTAGE_V)
    checkpoint_stop_voltage = FloatParameter("Checkpoint sweep stop", units="V", default=5.0,
                                             minimum=-MAX_VOLTAGE_V, maximum=MAX_VOLTAGE_V)
    checkpoint_step_voltage = FloatParameter("Checkpoint sweep step", units="V", default=0.5, minimum=0.001,
                                             maximum=MAX_VOLTAGE_V)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drive: Drive | None = None
        self.judge = LightQuantityJudge(self.light_quantity)
        self.checkpoints_done = 0
        self._origin_s = 0.0  # station clock (monotonic) when elapsed_s was 0
        self._resumed: tuple[float, bool] | None = None  # (gap_s, output_left_on)
        self._elapsed_offset_s = 0.0
        self._drive_current_A: float | None = None  # first current under a constant voltage
        self.light_watch = LightReadingWatch()  # a light meter with nothing usable, reading after reading

    # --- validation -------------------------------------------------------------------
    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        if self.light_quantity not in LIGHT_QUANTITIES:
            raise ConfigError(f"parameter light_quantity must be one of {', '.join(LIGHT_QUANTITIES)}")
        if self.checkpoints_planned() and not self.checkpoint_start_voltage < self.checkpoint_stop_voltage:
            raise ConfigError("parameter checkpoint_start_voltage must be below checkpoint_stop_voltage")

    def checkpoints_planned(self) -> bool:
        return False

    # --- a held drive of drive_mode, voltage, current_density (cycling, stress and recovery) ---
    def check_held_drive(self, config: StationConfig) -> None:
        """The subclass's ``drive_mode``, ``voltage`` and ``current_density`` within the safety limits."""
        if self.drive_mode not in DRIVE_MODES:
            raise ConfigError(f"parameter drive_mode must be one of {', '.join(DRIVE_MODES)}")

    def held_drive(self) -> Drive:
        """The subclass's constant voltage or current (its compliance the other limit)."""
        if self.drive_mode == "current":
            return Drive("current", current_A(self.current_density, self.station.config.pixel_area_cm2),
                         self.compliance_voltage)
        return Drive("voltage", self.voltage, self.compliance_current)

    def checkpoint_voltages(self) -> list[float]:
        n = int(math.floor((self.checkpoint_stop_voltage - self.checkpoint_start_voltage)
                           / self.checkpoint_step_voltage + 1e-9))
        return [self.checkpoint_start_voltage + i * self.checkpoint_step_voltage for i in range(min(n, 10_000) + 1)]

    # --- time -------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Time under drive since the run started (s)."""
        return self.station.clock.monotonic() - self._origin_s + self._elapsed_offset_s

    def start_clock(self) -> None:
        self._origin_s = self.station.clock.monotonic()

    def wait_until(self, elapsed_s: float) -> bool:
        """Wait on the station clock until ``elapsed_s``; False when aborted meanwhile."""
        remaining = elapsed_s - self.elapsed()
        if remaining <= 0:
            return not self.should_stop()
        return self.station.clock.wait(remaining, self.should_stop)

    # --- events -----------------------------------------------------------------------
    def event(self, kind: str, value: float = 0.0, message: str = "", level: str = "info",
              elapsed_s: float | None = None) -> None:
        """An event row at ``elapsed_s`` (default now: a T_x reached is stamped with its
        interpolated crossing, not the later reading that confirmed it)."""
        self.record("events", {"elapsed_s": self.elapsed() if elapsed_s is None else elapsed_s,
                               "time_s": self.station.clock.now(),
                               "kind": EVENT_KINDS[kind][0], "value": value})
        if message:
            super().notice(message, level)

    def notice(self, message: str, level: str = "warning") -> None:
        """A notice is also an event row (faults the run went on from show on the time line)."""
        super().notice(message, level)
        self.noticed(message, level)

    def noticed(self, message: str, level: str) -> None:
        """An event row for a notice; the runner calls this for the notices the drivers post
        (a retried reading)."""
        if self._run is not None and self._run.start_record is not None and self.station is not None:
            self.record("events", {"elapsed_s": self.elapsed(), "time_s": self.station.clock.now(),
                                   "kind": EVENT_KINDS["notice"][0],
                                   "value": {"info": 0, "warning": 1, "error": 2}.get(level, 1)})

    # --- drive ------------------------------------------------------------------------
    def apply_drive(self, drive: Drive) -> None:
        """Configure the source for ``drive`` and switch the output on at its level."""
        smu, nplc = self.station.smu, self.station.config.smu.nplc
        if drive.mode == "current":
            smu.configure_current_source(drive.compliance, nplc)
            smu.enable_source()
            smu.apply_current(drive.level)
        else:
            smu.configure_voltage_source(drive.compliance, nplc)
            smu.enable_source()
            smu.apply_voltage(drive.level)
        if drive != self.drive:
            self._drive_current_A = None
        self.drive = drive

    def measure(self, settle_s: float = 0.0) -> PointReading:
        """One operating point; a fault of the device or an instrument ends the run (the
        point is kept as evidence by the caller, which records it first)."""
        return measure_operating_point(self.station, settle_s)

    def check(self, reading: PointReading) -> None:
        """Device and instrument health (:func:`check_point`), and two faults of a held drive:
        under a constant voltage, the current collapsing below :data:`OPEN_CIRCUIT_FRACTION`
        of the drive's first reading (an open circuit at any voltage); the compliance reached."""
        check_point(reading, self.station.smu)
        current = abs(reading.figures.current_A)
        if self.drive is not None and self.drive.mode == "voltage" and math.isfinite(current):
            if self._drive_current_A is None:
                self._drive_current_A = current if current > 0 else None
            elif current < OPEN_CIRCUIT_FRACTION * self._drive_current_A:
                raise DeviceFault(f"open circuit: {current:.2g} A at {reading.before.voltage_V:.3g} V, below "
                                  f"{OPEN_CIRCUIT_FRACTION:.0%} of the {self._drive_current_A:.3g} A the drive "
                                  f"first gave (check the contacts)")
        if reading.in_compliance and self.drive is not None:
            what = "voltage" if self.drive.mode == "current" else "current"
            raise DeviceFault(f"device failure: {what} at compliance ({reading.before.voltage_V:.3g} V, "
                              f"{reading.figures.current_A:.3g} A) under a constant {self.drive.mode}")

    def watch_light(self, reading: PointReading, where: str, dim_counts: bool | None = None) -> None:
        """A lit reading: the run fails once the light meter has given nothing usable at
        :data:`~procedures.device_health.UNUSABLE_LIGHT_READINGS` of them in a row (by
        default a reading below detection counts until a usable one has been seen)."""
        light = self.station.light
        self.light_watch.add(reading.spectrum, light.identity if light is not None else "light meter", where,
                             dim_counts)

    def judge_light(self, values: dict[str, float], index: int) -> None:
        if self.judge.add(values, index):
            super().notice(f"light judged {self.judge.quantity}: {self.judge.reason}", "info")

    # --- checkpoints ------------------------------------------------------------------
    def run_checkpoint(self) -> bool:
        """A short J-V-L sweep, then the drive back at once. False when aborted."""
        assert self.drive is not None
        number = self.checkpoints_done
        drive = self.drive
        smu = self.station.smu
        self.event("checkpoint_start", number)
        smu.configure_voltage_source(self.compliance_current, self.station.config.smu.nplc)
        smu.enable_source()
        aborted = False
        for index, voltage in enumerate(self.checkpoint_voltages()):
            if self.should_stop():
                aborted = True
                break
            smu.apply_voltage(voltage)
            reading = measure_operating_point(self.station, 0.0)
            values = reading.values()
            values.update(checkpoint=number, index=index, elapsed_s=self.elapsed(), set_voltage_V=voltage)
            self.record("checkpoints", values)
            check_point(reading, smu)
            if reading.in_compliance:
                break
        self.apply_drive(drive)
        self.checkpoints_done += 1
        self.event("checkpoint_end", number)
        return not aborted

    # --- lifecycle --------------------------------------------------------------------
    def shutdown(self) -> None:
        self.station.smu.safe_shutdown()

    def resume_from(self, run: StoredRun, gap_s: float, output_left_on: bool) -> None:
        """Continue ``run``: the runner calls this before :meth:`startup` of a resumed run."""
        self._resumed = (gap_s, output_left_on)
        ends = [row["elapsed_s"] for stream in run.stream_names() if "elapsed_s" in run.column_names(stream)
                and (row := last_row(run, ["elapsed_s"], stream)) is not None]
        self._elapsed_offset_s = max([0.0, *ends]) + (gap_s if output_left_on else 0.0)
        checkpoint = last_row(run, ["checkpoint"], "checkpoints") if "checkpoints" in run.stream_names() else None
        if checkpoint is not None:
            self.checkpoints_done = int(checkpoint["checkpoint"]) + 1
        self.restore(run)

    def restore(self, run: StoredRun) -> None:
        """Subclasses rebuild their state from the stored rows."""

    def record_start(self) -> None:
        if self._resumed is None:
            self.event("start")
            return
        gap_s, left_on = self._resumed
        self.event("resume", gap_s if left_on else -gap_s,
                   f"resumed after a gap of {gap_s:.0f} s "
                   + ("(the output was left on: the gap counts as time under drive)" if left_on
                      else "(the output was off: the gap is not counted)"), "warning")

    def ending(self, status: str, reason: str) -> None:
        """The runner's hook before the shutdown: the stop event."""
        self.event("stop", STATUS_CODES.get(status, 1))
