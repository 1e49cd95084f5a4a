"""Stress and recovery: stress at a constant current density or voltage, rest with the output
off, probe the light at the same drive during the rest, and repeat; the analysis separates
the loss that recovers at rest (ion migration in perovskite LEDs) from the loss that does
not (:mod:`station.analysis.recovery`).

One stream, ``monitor``: every reading, with its cycle (from 1), its phase (0 stress, 1 a
probe during the rest) and, for a probe, the time since the output went off. A probe is the
stress drive switched on for ``settle_time``, one reading, and the output off again: a short
stress of its own (seconds against the rest's minutes), stated in the file's parameters.
``elapsed_s`` is the run time since the first stress began, rests included.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, ListParameter

from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.analysis.lifetime import LIGHT_UNITS, usable_light
from station.analysis.recovery import PHASE_PROBE, PHASE_STRESS, fit_recovery, recovery_analysis
from station.analysis.stored_run import StoredRun
from station.core.errors import ConfigError
from station.run.records import Column, MainCurve, Plot, Stream
from station.setup.config import StationConfig

from .long_run import DRIVE_MODES, EVENTS, Drive, LongRunProcedure
from .operating_point import READING_COLUMNS

MONITOR_COLUMNS: tuple[Column, ...] = (
    Column("index", "1", "reading number", "i8"),
    Column("cycle", "1", "stress-and-rest cycle (from 1)", "i4"),
    Column("phase", "1", f"{PHASE_STRESS} stress, {PHASE_PROBE} a probe during the rest", "i4"),
    Column("elapsed_s", "s", "run time since the first stress began, rests included", label="t"),
    Column("rest_s", "s", "time since the output went off (a probe; NaN under stress)"),
    Column("probe_on_s", "s", "how long a probe's drive had been on when its reading ended (NaN under stress)"),
    Column("relative_light", "1", "L/L0, L0 the first reading of the first stress", label="L/L0"),
    Column("set_current_A", "A", "programmed source current (NaN when sourcing voltage)"),
    Column("set_voltage_V", "V", "programmed source voltage (NaN when sourcing current)"),
    *READING_COLUMNS,
)
MONITOR = Stream("monitor", MONITOR_COLUMNS, description="every reading: the stresses and the probes of the rests",
                 display=("cycle", "phase", "elapsed_s", "rest_s", "relative_light", "voltage_V"),
                 flags=("low_light", "saturated", "truncated", "in_compliance"))
MAX_CYCLES = 10_000


class StressRecovery(LongRunProcedure):
    """Stress, rest with the output off while probing the recovery, repeat: the reversible
    and irreversible loss of every cycle."""

    NAME = "stress_recovery"
    FIGURE_SET = "stress_recovery"
    STREAMS = (MONITOR, EVENTS)
    MAIN = MainCurve("monitor", axis="elapsed_s", signal="relative_light",
                     auxiliary=("luminance_cd_m2", "radiance_W_sr_m2", "voltage_V", "current_density_mA_cm2"))
    FAULT_MATRIX_PARAMETERS = {"cycles": 2, "stress_time": 0.001, "rest_time": 0.001, "monitor_interval": 1.0,
                               "rest_probes": 3}
    PLOTS = (
        Plot("L/L0 against time", "monitor", x="elapsed_s", y="relative_light", x_in_hours=True),
        Plot("Voltage against time", "monitor", x="elapsed_s", y="voltage_V", x_in_hours=True),
    )
    STATUS_INTERVAL_S = 30.0

    cycles = IntegerParameter("Stress-and-rest cycles", default=3, minimum=1, maximum=MAX_CYCLES)
    drive_mode = ListParameter("Drive of the stress", choices=list(DRIVE_MODES), default="current")
    SAFETY_LIMITED = {**LongRunProcedure.SAFETY_LIMITED, **LongRunProcedure.HELD_DRIVE_LIMITED}
    current_density = FloatParameter("Stress current density", units="mA/cm^2", default=5.0, minimum=0,
                                     maximum=1e5)
    voltage = FloatParameter("Stress voltage", units="V", default=3.5, minimum=-MAX_VOLTAGE_V, maximum=MAX_VOLTAGE_V)
    stress_time = FloatParameter("Stress time per cycle", units="h", default=1.0, minimum=1e-5, maximum=1e5)
    rest_time = FloatParameter("Rest time per cycle (output off)", units="h", default=2.0, minimum=1e-5,
                               maximum=1e5)
    monitor_interval = FloatParameter("Reading interval under stress", units="s", default=60.0, minimum=0.01,
                                      maximum=86400)
    rest_probes = IntegerParameter("Probes of the light during each rest (log-spaced; the last at its end)",
                                   default=6, minimum=1, maximum=100)
    first_probe_fraction = FloatParameter("First probe, as a fraction of the rest time", units="fraction",
                                          default=1 / 64, minimum=1e-4, maximum=1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cycle = 1
        self.readings = 0
        self.l0 = math.nan
        self._last_stress_light = math.nan
        self._status = ""

    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        self.check_held_drive(config)
        if self.monitor_interval > self.stress_time * 3600:
            raise ConfigError(f"parameter monitor_interval {self.monitor_interval:g} s is longer than the stress "
                              f"({self.stress_time * 3600:g} s)")
        probes = self.probe_times_s()
        if len(probes) > 1 and float(np.min(np.diff(probes))) <= self.settle_time:
            raise ConfigError("the rest probes come closer together than settle_time: fewer probes, a later "
                              "first probe or a longer rest")

    def planned_points(self) -> int:
        per_cycle = self.stress_time * 3600 / self.monitor_interval + 1 + self.rest_probes
        return int(min(self.cycles * per_cycle, 1e12))

    def probe_times_s(self) -> np.ndarray:
        """Times since the output went off at which the rest is probed (log-spaced, the last at its end)."""
        rest = self.rest_time * 3600
        if self.rest_probes == 1:
            return np.array([rest])
        return np.geomspace(max(self.first_probe_fraction * rest, self.settle_time + 1.0), rest, self.rest_probes)

    # --- lifecycle --------------------------------------------------------------------
    def startup(self) -> None:
        self.start_clock()
        self.record_start()

    def execute(self) -> None:
        drive = self.held_drive()
        smu = self.station.smu
        while self.cycle <= self.cycles:
            start = self.elapsed()
            self.apply_drive(drive)
            stress_s = self.stress_time * 3600
            at = start + self.settle_time
            while True:  # the stress: readings every monitor interval, the last at its end
                if not self.wait_until(min(at, start + stress_s)):
                    self.stop_reason = "aborted by the user"
                    return
                self.reading(PHASE_STRESS, math.nan, drive)
                if self.elapsed() >= start + stress_s:
                    break
                at += self.monitor_interval
            smu.disable_source()
            off_at = self.elapsed()
            self.event("rest_start", self.cycle)
            light_end, probes = self._last_stress_light, []
            for probe_s in self.probe_times_s():
                if not self.wait_until(off_at + probe_s - self.settle_time):
                    self.stop_reason = "aborted by the user"
                    return
                self.apply_drive(drive)
                light = self.reading(PHASE_PROBE, off_at, drive, self.settle_time, on_at=self.elapsed())
                smu.disable_source()
                probes.append((self.elapsed() - off_at, light))
            self.event("rest_end", self.cycle)
            self._status = self._cycle_status(light_end, probes)
            self.report_progress(self.cycle / self.cycles, self._status)
            self.cycle += 1
        self.stop_reason = f"{self.cycles} stress-and-rest cycles completed"

    def reading(self, phase: int, off_at: float, drive: Drive, settle_s: float = 0.0,
                on_at: float = math.nan) -> float:
        """One reading recorded and checked; its usable light (NaN if none)."""
        reading = self.measure(settle_s)
        values = reading.values()
        now = self.elapsed()
        self.judge_light(values, self.readings)
        light = usable_light(values, self.judge.quantity)
        if not math.isfinite(self.l0) and phase == PHASE_STRESS and math.isfinite(light):
            self.l0 = light
            self.event("l0", light, f"L0 = {light:.4g} {LIGHT_UNITS[self.judge.quantity]} (first stress reading)")
        values.update(index=self.readings, cycle=self.cycle, phase=phase, elapsed_s=now,
                      rest_s=now - off_at if phase == PHASE_PROBE else math.nan, probe_on_s=now - on_at,
                      relative_light=light / self.l0 if math.isfinite(self.l0) else math.nan,
                      set_current_A=drive.level if drive.mode == "current" else math.nan,
                      set_voltage_V=drive.level if drive.mode == "voltage" else math.nan)
        self.record("monitor", values)
        self.readings += 1
        if phase == PHASE_STRESS:
            self._last_stress_light = light
        self.check(reading)
        self.watch_light(reading, f"cycle {self.cycle}")
        return light

    def _cycle_status(self, light_end: float, probes: list[tuple[float, float]]) -> str:
        """The cycle's split, live (the analysis redoes it from the file)."""
        t, light = np.array([p[0] for p in probes]), np.array([p[1] for p in probes])
        fitted = fit_recovery(t, light, light_end)
        recovered = fitted[0] if fitted else (float(light[-1]) if len(light) else math.nan)
        return (f"cycle {self.cycle}/{self.cycles}: reversible {(recovered - light_end) / self.l0:.1%}, "
                f"irreversible {1 - recovered / self.l0:.1%} of L0"
                + ("" if fitted else " (recovery not fitted: the last probe)"))

    def status_line(self) -> str:
        return self._status

    def restore(self, run: StoredRun) -> None:
        """Resume at the cycle the run was in (it starts that cycle's stress again)."""
        rows = run.rows("monitor")
        self.readings = rows
        if rows:
            c = run.read_columns(["cycle", "phase", "relative_light", "luminance_cd_m2", "radiance_W_sr_m2"],
                                 "monitor")
            self.cycle = int(np.max(c["cycle"]))
            relative = np.asarray(c["relative_light"], float)
            finite = np.flatnonzero(np.isfinite(relative) & (relative > 0))
            if len(finite):
                from station.analysis.lifetime import judge_quantity

                self.judge.decided = judge_quantity(run, "monitor", self.light_quantity)
                self.judge.reason = "judged before the run resumed"
                column = "luminance_cd_m2" if self.judge.decided == "photometric" else "radiance_W_sr_m2"
                i = int(finite[0])
                self.l0 = float(c[column][i]) / float(relative[i])

    @classmethod
    def analyze(cls, run: StoredRun) -> dict[str, Any]:
        return recovery_analysis(run)
