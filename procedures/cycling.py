"""Repeated on/off cycling: N cycles of a constant voltage or current for a set time, then
off for a set time; one row per cycle (light at the start, end and mean of the on phase,
current density, voltage, and the spectrum of the last reading), optional J-V-L
checkpoints every K cycles. ``elapsed_s`` is the run time since the first cycle began,
off phases included."""

from __future__ import annotations

import math
from typing import Any

from pymeasure.experiment import FloatParameter, IntegerParameter, ListParameter

from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.analysis.cycling import cycling_analysis
from station.analysis.lifetime import LIGHT_UNITS, judge_quantity, usable_light
from station.analysis.stored_run import StoredRun
from station.core.errors import ConfigError
from station.run.records import SPECTROGRAM, SPECTRUM, Column, MainCurve, Plot, Stream
from station.setup.config import StationConfig

from .long_run import CHECKPOINTS, DRIVE_MODES, EVENTS, LongRunProcedure
from .operating_point import READING_COLUMNS

CYCLE_COLUMNS: tuple[Column, ...] = (
    Column("cycle", "1", "cycle number (from 0)", "i8"),
    Column("elapsed_s", "s", "run time at the start of the on phase", label="t"),
    Column("light_start", "1", "light (luminance or radiance, as judged) at the start of the on phase"),
    Column("light_end", "1", "light at the end of the on phase"),
    Column("light_mean", "1", "mean light of the on phase's readings"),
    Column("relative_light", "1", "mean light relative to the first cycle's", label="L/L(1)"),
    Column("luminance_start_cd_m2", "cd/m^2"),
    Column("luminance_end_cd_m2", "cd/m^2"),
    Column("luminance_mean_cd_m2", "cd/m^2", label="L mean"),
    Column("radiance_start_W_sr_m2", "W/(sr m^2)"),
    Column("radiance_end_W_sr_m2", "W/(sr m^2)"),
    Column("radiance_mean_W_sr_m2", "W/(sr m^2)"),
    Column("current_density_mean_mA_cm2", "mA/cm^2", "mean of the on phase's readings", label="J mean"),
    Column("voltage_mean_V", "V", "mean of the on phase's readings", label="V mean"),
    Column("usable_readings", "1", "readings of the on phase with usable light", "i4"),
    *READING_COLUMNS,  # the last reading of the on phase, with its spectrum
)
CYCLES = Stream("cycles", CYCLE_COLUMNS, spectra=True,
                description="one row per cycle; the reading columns are the on phase's last reading",
                display=("cycle", "relative_light", "luminance_mean_cd_m2", "voltage_mean_V",
                         "current_density_mean_mA_cm2"),
                flags=("low_light", "saturated", "truncated", "in_compliance"))
MAX_CYCLES = 1_000_000


class Cycling(LongRunProcedure):
    """On/off cycling at a constant voltage or current: light at the start, end and mean of
    every on phase, and whether it declines."""

    NAME = "cycling"
    FIGURE_SET = "cycling"
    STREAMS = (CYCLES, CHECKPOINTS, EVENTS)
    MAIN = MainCurve("cycles", axis="cycle", signal="relative_light",
                     auxiliary=("luminance_mean_cd_m2", "voltage_mean_V", "current_density_mean_mA_cm2"))
    FAULT_MATRIX_PARAMETERS = {"cycles": 8, "on_time": 2.0, "off_time": 1.0}
    PLOTS = (
        Plot("L/L0 against cycle", "cycles", x="cycle", y="relative_light"),
        Plot("Luminance against cycle", "cycles", x="cycle", y="luminance_mean_cd_m2"),
        Plot("Voltage against cycle", "cycles", x="cycle", y="voltage_mean_V"),
        Plot("Latest spectrum", "cycles", SPECTRUM),
        Plot("Spectra against cycle", "cycles", SPECTROGRAM, x="cycle"),
    )
    STATUS_INTERVAL_S = 30.0

    cycles = IntegerParameter("Cycles", default=650, minimum=1, maximum=MAX_CYCLES)
    drive_mode = ListParameter("Drive of the on phase", choices=list(DRIVE_MODES), default="voltage")
    SAFETY_LIMITED = {**LongRunProcedure.SAFETY_LIMITED, **LongRunProcedure.HELD_DRIVE_LIMITED}
    voltage = FloatParameter("On-phase voltage", units="V", default=3.5, minimum=-MAX_VOLTAGE_V,
                             maximum=MAX_VOLTAGE_V)
    current_density = FloatParameter("On-phase current density", units="mA/cm^2", default=5.0, minimum=0,
                                     maximum=1e5)
    on_time = FloatParameter("On time", units="s", default=10.0, minimum=0.01, maximum=86400)
    off_time = FloatParameter("Off time", units="s", default=10.0, minimum=0, maximum=86400)
    readings_per_on_phase = IntegerParameter("Readings per on phase (first at the start, last at the end)",
                                             default=3, minimum=2, maximum=1000)
    checkpoint_every_cycles = IntegerParameter("J-V-L checkpoint every K cycles (0 = none)", default=0, minimum=0,
                                               maximum=MAX_CYCLES)
    decline_fraction = FloatParameter("Decline reported when the light falls this far below its highest level",
                                      units="fraction", default=0.1, minimum=0.001, maximum=0.99)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cycle = 0
        self.first_light = math.nan

    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        self.check_held_drive(config)
        if self.settle_time >= self.on_time:
            raise ConfigError(f"parameter settle_time {self.settle_time:g} s must be shorter than on_time "
                              f"{self.on_time:g} s")

    def checkpoints_planned(self) -> bool:
        return self.checkpoint_every_cycles > 0

    def planned_points(self) -> int:
        return int(self.cycles)

    def startup(self) -> None:
        self.start_clock()
        self.record_start()

    def execute(self) -> None:
        smu = self.station.smu
        drive = self.held_drive()
        while self.cycle < self.cycles:
            if self.should_stop():
                self.stop_reason = "aborted by the user"
                return
            start = self.elapsed()
            self.apply_drive(drive)  # output on
            readings = []
            times = [start + self.settle_time + k * (self.on_time - self.settle_time) / (self.readings_per_on_phase - 1)
                     for k in range(self.readings_per_on_phase)]
            for at in times:
                if not self.wait_until(at):
                    self.stop_reason = "aborted by the user"
                    return
                reading = self.measure()
                readings.append(reading)
                self.judge_light(reading.values(), self.cycle)
                if reading.in_compliance or not self._healthy(reading):
                    break
            smu.disable_source()  # output off for the off phase
            self.record_cycle(start, readings)
            for reading in readings:  # the row is kept as evidence, then a fault ends the run
                self.check(reading)
                self.watch_light(reading, f"cycle {self.cycle + 1}")
            self.cycle += 1
            self.report_progress(self.cycle / self.cycles, self.status_line())
            if self.checkpoint_every_cycles and self.cycle % self.checkpoint_every_cycles == 0 \
                    and self.cycle < self.cycles:
                if not self.run_checkpoint():
                    self.stop_reason = "aborted by the user"
                    return
                smu.disable_source()
            if not self.wait_until(start + self.on_time + self.off_time):
                self.stop_reason = "aborted by the user"
                return
        self.stop_reason = f"{self.cycles} cycles completed"

    def _healthy(self, reading) -> bool:
        try:
            self.check(reading)
        except Exception:  # noqa: BLE001 - the cycle's row is recorded first, then check() raises again
            return False
        return True

    def record_cycle(self, start: float, readings: list) -> None:
        quantity = self.judge.quantity
        rows = [r.values() for r in readings]
        light = [usable_light(v, quantity) for v in rows]
        usable = [x for x in light if math.isfinite(x)]
        mean = sum(usable) / len(usable) if usable else math.nan
        if not math.isfinite(self.first_light) and math.isfinite(mean):
            self.first_light = mean

        def mean_of(name: str) -> float:
            values = [v[name] for v in rows if math.isfinite(v[name])]
            return sum(values) / len(values) if values else math.nan

        lum = [usable_light(v, "photometric") for v in rows]
        rad = [usable_light(v, "radiometric") for v in rows]
        values = rows[-1]
        values.update(cycle=self.cycle, elapsed_s=start, light_start=light[0], light_end=light[-1], light_mean=mean,
                      relative_light=mean / self.first_light if math.isfinite(self.first_light) else math.nan,
                      luminance_start_cd_m2=lum[0], luminance_end_cd_m2=lum[-1],
                      luminance_mean_cd_m2=_nanmean(lum), radiance_start_W_sr_m2=rad[0],
                      radiance_end_W_sr_m2=rad[-1], radiance_mean_W_sr_m2=_nanmean(rad),
                      current_density_mean_mA_cm2=mean_of("current_density_mA_cm2"),
                      voltage_mean_V=mean_of("voltage_V"), usable_readings=len(usable))
        spectrum = readings[-1].spectrum
        self.record("cycles", values, spectrum if spectrum.recorded_spectrum else None)
        self._last_relative = values["relative_light"]

    def status_line(self) -> str:
        relative = getattr(self, "_last_relative", math.nan)
        return f"cycle {self.cycle}/{self.cycles}  L/L(1)={relative:.3f}  ({LIGHT_UNITS[self.judge.quantity]})"

    def restore(self, run: StoredRun) -> None:
        self.cycle = run.rows("cycles")
        if self.cycle:
            light = run.read_columns(["light_mean"], "cycles")["light_mean"]
            finite = [float(x) for x in light if math.isfinite(x)]
            self.first_light = finite[0] if finite else math.nan
            self.judge.decided = judge_quantity(run, "cycles", self.light_quantity)
            self.judge.reason = "judged before the run resumed"

    @classmethod
    def analyze(cls, run: StoredRun) -> dict[str, Any]:
        return cycling_analysis(run)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan
