"""Operational lifetime: hold a constant current density, a constant voltage, or the current
that gives a requested initial luminance (automatic L0), and follow the light until T_x.

Streams: ``monitor`` (every reading, at an interval that may grow log-spaced so a
1000-hour run stays a sensible size), ``spectra`` (a reading with its spectrum at its own
interval), ``search`` (the automatic-L0 readings), ``checkpoints`` (J-V-L sweeps every N
hours) and ``events``. Stop criteria, any combination: T_x reached, maximum duration,
device failure (open, short, compliance), abort, and "T_x predicted to within +-P %".
The figures of merit come from the stored columns (:mod:`station.analysis.lifetime`)
with the same decay tracker the run used live.
"""

from __future__ import annotations

import math
from typing import Any

from pymeasure.experiment import FloatParameter, ListParameter

from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.analysis.decay import L0_DEFINITIONS, DecayTracker
from station.analysis.lifetime import (
    LIGHT_UNITS,
    decay_status,
    duration_text,
    judge_quantity,
    lifetime_analysis,
    lifetime_percents,
    prediction_values,
    track_decay,
    usable_light,
)
from station.analysis.stored_run import StoredRun, last_row
from station.core.errors import ConfigError, InstrumentFault
from station.core.units import current_A, current_density_mA_cm2
from station.run.records import SPECTROGRAM, SPECTRUM, Column, MainCurve, Marks, Plot, Stream
from station.setup.config import StationConfig

from .long_run import CHECKPOINTS, EVENT_KINDS, EVENTS, Drive, LongRunProcedure
from .operating_point import READING_COLUMNS
from .safety_limits import Limited

LIFETIME_DRIVES = ("current", "voltage", "luminance")
#: with L0 the maximum, a rise beyond this factor over the last L0 told is told again
L0_NOTICE_STEP = 1.01
#: automatic L0: lowest current density tried first, and the most readings it may take
SEARCH_MAX_READINGS = 40
MONITOR_COLUMNS: tuple[Column, ...] = (
    Column("index", "1", "monitor point number", "i8"),
    Column("elapsed_s", "s", "time under drive since the run started", label="t"),
    Column("relative_light", "1", "L/L0 (luminance or radiance, as judged; NaN until L0 is set)", label="L/L0"),
    Column("set_current_A", "A", "programmed source current (NaN when sourcing voltage)"),
    Column("set_voltage_V", "V", "programmed source voltage (NaN when sourcing current)"),
    *READING_COLUMNS,
)
_FLAGS = ("low_light", "saturated", "truncated", "in_compliance", "luminance_unreliable")
MONITOR = Stream("monitor", MONITOR_COLUMNS, description="the light and the drive at every monitor interval",
                 display=("elapsed_s", "relative_light", "voltage_V", "current_density_mA_cm2", "luminance_cd_m2"),
                 flags=_FLAGS)
SPECTRA = Stream("spectra", MONITOR_COLUMNS, spectra=True,
                 description="a reading with its spectrum at every spectrum interval")
SEARCH = Stream("search", (Column("index", "1", "reading number", "i8"),
                           Column("elapsed_s", "s", "time under drive since the search began"),
                           Column("set_current_A", "A", "programmed source current"), *READING_COLUMNS),
                description="automatic L0: the readings that found the drive current")


class Lifetime(LongRunProcedure):
    """Operational lifetime at a constant current density, a constant voltage, or the current
    that gives a requested initial luminance; stops at T_x, a maximum duration, a device
    failure or a confident prediction of T_x."""

    NAME = "lifetime"
    FIGURE_SET = "lifetime"
    STREAMS = (MONITOR, SPECTRA, SEARCH, CHECKPOINTS, EVENTS)
    MAIN = MainCurve("monitor", axis="elapsed_s", signal="relative_light",
                     auxiliary=("luminance_cd_m2", "radiance_W_sr_m2", "voltage_V", "current_density_mA_cm2"))
    FAULT_MATRIX_PARAMETERS = {"monitor_interval": 1.0, "max_duration": 0.01, "spectrum_interval": 2.0}
    PLOTS = (
        Plot("L/L0 against time", "monitor", x="elapsed_s", y="relative_light", x_in_hours=True, prediction=True,
             marks=(Marks("events", "elapsed_s", "kind", EVENT_KINDS["lifetime"][0], "value", "T{value:g}"),)),
        Plot("Voltage against time", "monitor", x="elapsed_s", y="voltage_V", x_in_hours=True),
        Plot("Latest spectrum", "spectra", SPECTRUM),
        Plot("Spectra against time", "spectra", SPECTROGRAM, x="elapsed_s", x_in_hours=True),
    )

    drive_mode = ListParameter("Drive (constant current density, constant voltage, or the current for a "
                               "requested initial luminance = automatic L0)", choices=list(LIFETIME_DRIVES),
                               default="current")
    SAFETY_LIMITED = {**LongRunProcedure.SAFETY_LIMITED, **LongRunProcedure.HELD_DRIVE_LIMITED,
        "search_start_current_density": Limited("current_density", positive=True,
                                                when=lambda p: p.drive_mode == "luminance")}
    current_density = FloatParameter("Drive current density", units="mA/cm^2", default=5.0, minimum=0, maximum=1e5)
    voltage = FloatParameter("Drive voltage", units="V", default=3.5, minimum=-MAX_VOLTAGE_V, maximum=MAX_VOLTAGE_V)
    target_light = FloatParameter("Automatic L0 - requested initial luminance (radiance, W/(sr m^2), for "
                                  "near-infrared devices)", units="cd/m^2", default=1000.0, minimum=0, maximum=1e7)
    l0_tolerance = FloatParameter("Automatic L0 - accepted deviation from the requested light", units="fraction",
                                  default=0.01, minimum=0.001, maximum=0.5)
    max_overshoot = FloatParameter("Automatic L0 - largest step beyond the requested light allowed", units="fraction",
                                   default=0.05, minimum=0, maximum=1)
    search_time_limit = FloatParameter("Automatic L0 - longest search", units="s", default=300.0, minimum=1,
                                       maximum=86400)
    search_start_current_density = FloatParameter("Automatic L0 - first current density tried", units="mA/cm^2",
                                                  default=0.01, minimum=1e-6, maximum=1e5)
    l0_definition = ListParameter("L0 definition (initial after the settling time, or maximum for devices that "
                                  "brighten first)",
                                  choices=list(L0_DEFINITIONS), default="initial")
    settling_time = FloatParameter("Settling time before L0 (initial definition)", units="s", default=0.0,
                                   minimum=0, maximum=1e6)
    monitor_interval = FloatParameter("Monitor interval (the first, when it grows)", units="s", default=60.0,
                                      minimum=0.01, maximum=86400)
    monitor_points_per_decade = FloatParameter("Log-spaced monitor - points per decade of time (0 = fixed interval)",
                                               units="1", default=0.0, minimum=0, maximum=1e4)
    max_monitor_interval = FloatParameter("Longest monitor interval when it grows", units="s", default=3600.0,
                                          minimum=0.01, maximum=86400)
    spectrum_interval = FloatParameter("Spectrum stream interval (0 = every monitor point)", units="s",
                                       default=600.0, minimum=0, maximum=1e6)
    checkpoint_interval = FloatParameter("J-V-L checkpoint every (0 = none)", units="h", default=0.0, minimum=0,
                                         maximum=1e5)
    stop_at_percent = FloatParameter("Stop at T_x - x (0 = never)", units="%", default=50.0, minimum=0, maximum=99.9)
    max_duration = FloatParameter("Longest run", units="h", default=1000.0, minimum=1e-4, maximum=1e6)
    stop_when_predicted_within = FloatParameter("Stop once T_x is predicted to within +- this fraction (95 %; "
                                                "0 = never)", units="fraction", default=0.0, minimum=0, maximum=1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tracker = DecayTracker(self.l0_definition, self.settling_time, self.percents)
        self._l0_noticed = math.nan
        self.monitor_points = 0
        self.spectra_points = 0
        self._next_spectrum_s = 0.0
        self._next_checkpoint_s = math.inf
        self._next_monitor_s = 0.0

    @property
    def percents(self) -> tuple[float, ...]:
        return lifetime_percents(self.stop_at_percent)

    @property
    def target_percent(self) -> float:
        return self.stop_at_percent if self.stop_at_percent > 0 else 50.0

    # --- validation -------------------------------------------------------------------
    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        for name in ("drive_mode", "l0_definition"):
            choices = LIFETIME_DRIVES if name == "drive_mode" else L0_DEFINITIONS
            if getattr(self, name) not in choices:
                raise ConfigError(f"parameter {name} must be one of {', '.join(choices)}")
        if self.drive_mode == "luminance" and not self.target_light > 0:
            raise ConfigError("parameter target_light must be above 0")
        if self.max_monitor_interval < self.monitor_interval:
            raise ConfigError("parameter max_monitor_interval must not be below monitor_interval")

    def checkpoints_planned(self) -> bool:
        return self.checkpoint_interval > 0

    def planned_points(self) -> int:
        """Monitor rows at most (the fixed interval over the longest run)."""
        return int(min(self.max_duration * 3600 / self.monitor_interval + 1, 1e12))

    def planned_spectra(self) -> int:
        """Rows of the spectra stream at most: one every spectrum interval (every monitor point for 0)."""
        interval = max(self.spectrum_interval, self.monitor_interval)
        return int(min(self.max_duration * 3600 / interval + 1, 1e12))

    def interval_at(self, elapsed_s: float) -> float:
        """The monitor interval at ``elapsed_s``: fixed, or growing so points are log-spaced."""
        if self.monitor_points_per_decade <= 0:
            return self.monitor_interval
        growth = 10 ** (1 / self.monitor_points_per_decade) - 1
        return min(self.max_monitor_interval, max(self.monitor_interval, elapsed_s * growth))

    # --- lifecycle --------------------------------------------------------------------
    def startup(self) -> None:
        area = self.station.config.pixel_area_cm2
        if self._resumed is not None:  # the drive the run held, from its stored rows
            self.start_clock()
            self.apply_drive(self._stored_drive)
            self.record_start()
            return
        if self.drive_mode == "luminance":  # search first; the lifetime counts from the found drive
            first_A = current_A(self.search_start_current_density, area)
            self.apply_drive(Drive("current", first_A, self.compliance_voltage))
            self.start_clock()
            found = self.find_drive_current()
            self.start_clock()
            self.record_start()
            self.event("drive_found", found[0], found[1])
        elif self.drive_mode == "current":
            self.apply_drive(Drive("current", current_A(self.current_density, area), self.compliance_voltage))
            self.start_clock()
            self.record_start()
        else:
            self.apply_drive(Drive("voltage", self.voltage, self.compliance_current))
            self.start_clock()
            self.record_start()
        self._next_monitor_s = self.settle_time
        self._next_checkpoint_s = self.checkpoint_interval * 3600 if self.checkpoint_interval > 0 else math.inf

    def execute(self) -> None:
        while not self.stop_reason:
            if not self.wait_until(self._next_monitor_s):
                self.stop_reason = "aborted by the user"
                return
            self.stop_reason = self.monitor_point()
            if self.stop_reason:
                return
            if self.elapsed() >= self._next_checkpoint_s:
                if not self.run_checkpoint():
                    self.stop_reason = "aborted by the user"
                    return
                self._next_checkpoint_s += self.checkpoint_interval * 3600
            previous = self._next_monitor_s
            self._next_monitor_s = max(previous + self.interval_at(previous), self.elapsed())

    def monitor_point(self) -> str:
        """One monitor reading: recorded, checked, tracked; the reason to stop or ""."""
        reading = self.measure()
        elapsed = self.elapsed()
        values = reading.values()
        drive = self.drive
        assert drive is not None
        values.update(index=self.monitor_points, elapsed_s=elapsed,
                      set_current_A=drive.level if drive.mode == "current" else math.nan,
                      set_voltage_V=drive.level if drive.mode == "voltage" else math.nan)
        self.judge_light(values, self.monitor_points)
        quantity = self.judge.quantity
        light = usable_light(values, quantity)
        l0_before = self.tracker.l0
        reached = self.tracker.add(elapsed, light, values["voltage_V"], values["current_density_mA_cm2"])
        values["relative_light"] = light / self.tracker.l0 if math.isfinite(self.tracker.l0) else math.nan
        self.record("monitor", values)
        self.monitor_points += 1
        if elapsed >= self._next_spectrum_s and reading.spectrum.recorded_spectrum:
            values["index"] = self.spectra_points
            self.record("spectra", values, reading.spectrum)
            self.spectra_points += 1
            self._next_spectrum_s = elapsed + self.spectrum_interval
        self.check(reading)
        self.watch_light(reading, f"{duration_text(elapsed)} under drive")
        units = LIGHT_UNITS[quantity]
        l0 = self.tracker.l0
        if math.isfinite(l0) and (not math.isfinite(l0_before) or l0 > L0_NOTICE_STEP * self._l0_noticed):
            # with L0 the maximum, each rise beyond 1 % is told again: the last notice is the L0 in force
            so_far = "; the maximum so far" if self.l0_definition == "maximum" else ""
            self.event("l0", l0, f"L0 = {l0:.4g} {units} at {duration_text(self.tracker.l0_time_s)} "
                       f"({self.l0_definition}{so_far})")
            self._l0_noticed = l0
        for percent in reached:
            crossing = self.tracker.crossings[percent]
            self.event("lifetime", percent, f"T{percent:g} reached: {duration_text(crossing.time_s)}",
                       elapsed_s=crossing.time_s)
        self.report_progress(min(elapsed / (self.max_duration * 3600), 1.0), self.status_line(), self.prediction())
        return self.stop_check(elapsed)

    def stop_check(self, elapsed: float) -> str:
        if self.stop_at_percent > 0 and self.stop_at_percent in self.tracker.crossings:
            reached = self.tracker.crossings[self.stop_at_percent]
            return f"T{self.stop_at_percent:g} reached at {duration_text(reached.time_s)}"
        if elapsed >= self.max_duration * 3600:
            return f"maximum duration {self.max_duration:g} h reached"
        if self.stop_when_predicted_within > 0:
            predicted = self.tracker.prediction(self.target_percent)
            if predicted is not None:
                t, low, high = predicted
                half_width = max(t - low, high - t) / t
                if half_width <= self.stop_when_predicted_within:
                    self.event("prediction", t)
                    return (f"T{self.target_percent:g} predicted {duration_text(t)} (95 % {duration_text(low)} to "
                            f"{duration_text(high)}, within +-{self.stop_when_predicted_within:.0%}; extrapolated)")
        return ""

    def prediction(self) -> dict[str, float]:
        """The running fit and T_x prediction, for a live plot (empty without a fit)."""
        return prediction_values(self.tracker, self.target_percent)

    def status_line(self) -> str:
        """elapsed, L/L0, the T_x reached so far, the prediction."""
        return "  ".join([f"t={duration_text(self.elapsed())}", *decay_status(self.tracker, self.target_percent)])

    # --- automatic L0 -----------------------------------------------------------------
    def find_drive_current(self) -> tuple[float, str]:
        """The current that gives ``target_light``: from a low current density, steps up by
        at most a factor 10 and never beyond what the local slope of log L on log I predicts
        for the target plus ``max_overshoot``; then secant steps on log-log until within
        ``l0_tolerance``. Every reading goes to the ``search`` stream; the time taken and
        the highest light seen are recorded."""
        area = self.station.config.pixel_area_cm2
        target = self.target_light
        smu = self.station.smu
        assert self.drive is not None
        current = self.drive.level
        previous: tuple[float, float] | None = None
        highest = 0.0
        started = self.elapsed()
        limit_A = min(self.station.config.max_current_A, 0.1)
        for index in range(SEARCH_MAX_READINGS):
            reading = self.measure(self.settle_time)
            values = reading.values()
            values.update(index=index, elapsed_s=self.elapsed() - started, set_current_A=current)
            self.record("search", values)
            self.check(reading)
            self.watch_light(reading, f"search reading {index + 1}", dim_counts=False)  # steps up from below detection
            self.judge_light(values, index)
            light = usable_light(values, self.judge.quantity)
            if math.isfinite(light):
                highest = max(highest, light)
                if abs(light / target - 1) <= self.l0_tolerance:
                    break
            if self.elapsed() - started > self.search_time_limit:
                raise InstrumentFault(f"automatic L0: {target:g} {LIGHT_UNITS[self.judge.quantity]} not found "
                                      f"within {self.search_time_limit:g} s (last {light:.4g} at {current:.4g} A)")
            if not (math.isfinite(light) and light > 0):
                factor = 10.0  # below detection: a decade up
            elif previous is not None and previous[1] > 0 and current != previous[0]:  # secant on log-log
                slope = min(max(math.log(light / previous[1]) / math.log(current / previous[0]), 0.5), 5.0)
                factor = (target / light) ** (1 / slope)
            else:  # one reading: assume the steepest slope an LED shows, so the step cannot overshoot
                factor = (target / light) ** (1 / 5.0)
            factor = min(factor, 10.0)
            previous = (current, light) if math.isfinite(light) else previous
            current = min(current * factor, limit_A)
            smu.apply_current(current)
            self.drive = Drive("current", current, self.drive.compliance)
        else:
            raise InstrumentFault(f"automatic L0: no current gave {target:g} {LIGHT_UNITS[self.judge.quantity]} "
                                  f"within {SEARCH_MAX_READINGS} readings")
        overshoot = max(highest / target - 1, 0.0)
        found = current_density_mA_cm2(current, area)
        return found, (
            f"automatic L0: {found:.4g} mA/cm^2 gives {light:.4g} {LIGHT_UNITS[self.judge.quantity]} "
            f"(requested {target:g}); search {self.elapsed() - started:.0f} s, {index + 1} readings, highest light "
            f"{highest:.4g} (overshoot {overshoot:.1%})")

    # --- resume -----------------------------------------------------------------------
    def restore(self, run: StoredRun) -> None:
        last = last_row(run, ["set_current_A", "set_voltage_V"], "monitor")
        if last is None:
            raise ConfigError("the run has no monitor point to resume from")
        current, voltage = float(last["set_current_A"]), float(last["set_voltage_V"])
        self._stored_drive = Drive("current", current, self.compliance_voltage) if math.isfinite(current) else \
            Drive("voltage", voltage, self.compliance_current)
        quantity = judge_quantity(run, "monitor", self.light_quantity)
        self.judge.decided, self.judge.reason = quantity, "judged before the run resumed"
        self.tracker, _ = track_decay(run, "monitor", quantity, self.l0_definition, self.settling_time, self.percents)
        self._l0_noticed = self.tracker.l0
        self.light_watch.seen_usable = math.isfinite(self.tracker.l0)
        self.monitor_points, self.spectra_points = run.rows("monitor"), run.rows("spectra")
        self._next_monitor_s = self._elapsed_offset_s
        last_spectrum = last_row(run, ["elapsed_s"], "spectra")
        if last_spectrum is not None:
            self._next_spectrum_s = last_spectrum["elapsed_s"] + self.spectrum_interval
        self._next_checkpoint_s = ((self.checkpoints_done + 1) * self.checkpoint_interval * 3600
                                   if self.checkpoint_interval > 0 else math.inf)

    # --- analysis ---------------------------------------------------------------------
    @classmethod
    def analyze(cls, run: StoredRun) -> dict[str, Any]:
        return lifetime_analysis(run)

