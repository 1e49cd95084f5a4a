"""Fast dark J-V of single-carrier devices and lateral films, on the source meter's own sweep.

``buffered`` (default): the levels go to the source meter as a source list and its
trigger model runs them into its buffer (the 2400: :mod:`drivers.keithley2400_sweep`): a few hundred
points take about a second. ``point``: the same levels, dwell, integration and auto zero,
one ``:SOURce`` + ``:READ?`` at a time (for comparison, or where a sweep must be watched
point by point). Either way the sweep stops at the first reading in compliance and, with
``reverse_sweep``, returns over the levels it reached. No light instrument is opened.

The device's geometry is part of the run: the layer thickness and permittivity of a
single-carrier diode (``structure = vertical``), or the film thickness and the channel's
length and width of a lateral film (``structure = lateral``); ``analyze`` gives N_t, mu or
sigma from them (:mod:`station.analysis.single_carrier`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter

from drivers.source_meter import SweepReadings
from drivers.source_meters import PARAMETER_MAX_CURRENT_A as MAX_CURRENT_A
from drivers.source_meters import PARAMETER_MAX_SWEEP_POINTS as MAX_SWEEP_POINTS
from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from drivers.source_meters import PARAMETER_NPLC_RANGE as NPLC_RANGE
from drivers.source_meters import source_meter_kind
from station.analysis.figure_units import units_from_name
from station.analysis.single_carrier import lateral_figures, single_carrier_figures
from station.analysis.stored_run import StoredRun
from station.core.errors import ConfigError, InstrumentFault
from station.core.units import current_density_mA_cm2
from station.run.records import Column, MainCurve, Plot, Stream
from station.setup.config import StationConfig

from .base import StationProcedure
from .safety_limits import Limited

DARK_COLUMNS: tuple[Column, ...] = (
    Column("index", "1", "point number", "i8"),
    Column("direction", "1", "+1 forward, -1 reverse sweep", "i1"),
    Column("time_s", "s", "the source meter's time stamp of the reading"),
    Column("elapsed_s", "s", "since the first reading"),
    Column("set_voltage_V", "V", "programmed source voltage"),
    Column("voltage_V", "V", "measured voltage"),
    Column("current_A", "A", "measured current"),
    Column("current_density_mA_cm2", "mA/cm^2", "current / pixel area (vertical devices; NaN for a lateral film)"),
    Column("in_compliance", "1", "1 if the source meter was in compliance", "i1"),
)
POINTS = Stream("points", DARK_COLUMNS, description="one row per source-measure reading, in the dark",
                display=("voltage_V", "current_A", "current_density_mA_cm2"), flags=("in_compliance",))
STRUCTURES = ("vertical", "lateral")
MODES = ("buffered", "point")


class DarkJV(StationProcedure):
    """Dark J-V of a single-carrier device or a lateral film, on the source meter's own sweep
    and buffer (or point by point). Stops at compliance; optionally sweeps back (hysteresis)."""

    NAME = "dark_jv"
    FIGURE_SET = "dark_jv"
    USES_LIGHT = False
    #: the fault matrix (tests/fault_matrix.py) reads one point at a time, so that its faults and
    #: aborts land inside the run; the buffered pass's exit paths are tested in tests/test_dark_jv.py
    FAULT_MATRIX_PARAMETERS = {"mode": "point", "stop_voltage": 0.7}
    STREAMS = (POINTS,)
    MAIN = MainCurve("points", axis="voltage_V", signal="current_density_mA_cm2", auxiliary=("current_A",))
    PLOTS = (
        Plot("J-V (log-log)", "points", x="voltage_V", y="current_density_mA_cm2", log_x=True, log_y=True,
             absolute=True),
        Plot("I-V", "points", x="voltage_V", y="current_A"),
    )

    structure = ListParameter("Device structure (vertical = single-carrier diode, lateral = film between two "
                              "contacts)", choices=list(STRUCTURES), default="vertical")
    carrier = ListParameter("Carrier of a single-carrier device", choices=["hole", "electron", "unspecified"],
                            default="unspecified")
    SAFETY_LIMITED = {"start_voltage": Limited("voltage"), "stop_voltage": Limited("voltage"),
                      "compliance_current": Limited("current", positive=True)}
    start_voltage = FloatParameter("Start voltage", units="V", default=0.01, minimum=-MAX_VOLTAGE_V,
                                   maximum=MAX_VOLTAGE_V)
    stop_voltage = FloatParameter("Stop voltage", units="V", default=5.0, minimum=-MAX_VOLTAGE_V,
                                  maximum=MAX_VOLTAGE_V)
    points = IntegerParameter("Points (forward)", default=300, minimum=2, maximum=MAX_SWEEP_POINTS)
    spacing = ListParameter("Spacing of the levels", choices=["log", "linear"], default="log")
    reverse_sweep = BooleanParameter("Sweep back to the start voltage (hysteresis)", default=False)
    dwell_time = FloatParameter("Dwell at each level before the reading", units="s", default=0.0, minimum=0,
                                maximum=999.9999)
    nplc = FloatParameter("Integration per reading", units="PLC", default=0.01, minimum=NPLC_RANGE[0],
                          maximum=NPLC_RANGE[1])
    compliance_current = FloatParameter("Compliance current", units="A", default=0.1, minimum=0,
                                        maximum=MAX_CURRENT_A)
    mode = ListParameter("How to sweep (buffered = the source meter's own sweep and buffer, point = one reading at "
                         "a time)",
                         choices=list(MODES), default="buffered")
    thickness = FloatParameter("Layer thickness d (vertical) or film thickness T (lateral)", units="nm",
                               default=30.0, minimum=0.1, maximum=1e6)
    relative_permittivity = FloatParameter("Relative permittivity of the layer", units="1", default=10.0,
                                           minimum=1.0, maximum=1e4)
    channel_length = FloatParameter("Channel length L between the contacts (lateral)", units="um", default=50.0,
                                    minimum=0.01, maximum=1e6)
    channel_width = FloatParameter("Channel width W (lateral)", units="mm", default=2.0, minimum=1e-4,
                                   maximum=1e4)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.measured = 0
        self._t0 = math.nan

    # --- before any instrument --------------------------------------------------------
    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        for name, choices in (("structure", STRUCTURES), ("mode", MODES), ("spacing", ("log", "linear"))):
            if getattr(self, name) not in choices:
                raise ConfigError(f"parameter {name} must be one of {', '.join(choices)}")
        if self.start_voltage == self.stop_voltage:
            raise ConfigError("parameter stop_voltage must differ from start_voltage")
        if self.spacing == "log" and (self.start_voltage == 0 or self.stop_voltage == 0
                                      or (self.start_voltage > 0) != (self.stop_voltage > 0)):
            raise ConfigError(f"log spacing needs start and stop of one sign and not 0 V (got {self.start_voltage:g} "
                              f"and {self.stop_voltage:g} V); use --spacing linear to cross 0 V")
        if not 2 <= self.points <= MAX_SWEEP_POINTS:
            raise ConfigError(f"parameter points must be within 2-{MAX_SWEEP_POINTS}")
        kind = source_meter_kind(config.smu.model)
        if self.mode == "buffered" and not kind.max_buffered_sweep_points:
            raise ConfigError(f"parameter mode buffered: the station has no buffered sweep on the {kind.model}; "
                              "use mode point")
        if self.mode == "buffered" and self.points * (2 if self.reverse_sweep else 1) - 1 > \
                kind.max_buffered_sweep_points:
            raise ConfigError(f"parameter points: a buffered sweep of the {kind.model} holds "
                              f"{kind.max_buffered_sweep_points} levels (up and back, with reverse_sweep)")

    def planned_points(self) -> int:
        return int(self.points) * (2 if self.reverse_sweep else 1)

    def levels(self) -> list[float]:
        """The forward levels, V."""
        if self.spacing == "log":
            sign = 1.0 if self.start_voltage > 0 else -1.0
            values = sign * np.logspace(math.log10(abs(self.start_voltage)), math.log10(abs(self.stop_voltage)),
                                        self.points)
        else:
            values = np.linspace(self.start_voltage, self.stop_voltage, self.points)
        return [float(v) for v in values]

    # --- the run ------------------------------------------------------------------------
    def startup(self) -> None:
        smu = self.station.smu
        smu.configure_voltage_source(self.compliance_current, self.nplc)
        smu.zero_once()  # as the buffered sweep: one zero reference, then none per reading
        smu.enable_source()

    def execute(self) -> None:
        forward = self.levels()
        one_pass = self.mode == "buffered" and self.reverse_sweep  # up and back in one pass of the instrument
        plan = [(v, +1) for v in forward] + ([(v, -1) for v in forward[-2::-1]] if one_pass else [])
        count = self._measure(plan, bias_V=0.0)
        if self.should_stop():
            self.stop_reason = "aborted by the user"
            return
        reached = min(count, len(forward))
        reverse_done = one_pass and count > len(forward)
        if self.reverse_sweep and not reverse_done and reached > 1:  # back over the levels reached
            self._measure([(v, -1) for v in forward[:reached - 1][::-1]], bias_V=forward[reached - 1])
        self.stop_reason = self.stop_reason or "completed"

    def _measure(self, plan: list[tuple[float, int]], bias_V: float) -> int:
        """Measure the (level, direction) plan; the number of readings (fewer: compliance)."""
        levels = [level for level, _ in plan]
        if self.mode == "buffered":
            sweep = self.station.smu.sweep(levels, compliance=self.compliance_current, nplc=self.nplc,
                                       dwell_s=self.dwell_time, wait=self.station.wait, bias=bias_V,
                                       on_partial=lambda partial: self._record_sweep(plan, partial))
            self._record_sweep(plan, sweep)
            count = len(sweep.set_level)
            last_in_compliance = bool(count and sweep.in_compliance[-1])
        else:
            smu = self.station.smu
            count, last_in_compliance = 0, False
            for level, _ in plan:
                if self.should_stop():
                    return count
                smu.apply_voltage(level)
                if self.dwell_time > 0:
                    self.station.wait(self.dwell_time)
                reading = smu.read_point()
                self._record(plan[count][1], level, reading.voltage_V, reading.current_A, reading.instrument_time_s,
                             reading.in_compliance)
                count += 1
                self.report_progress(min(1.0, self.measured / self.planned_points()))
                last_in_compliance = reading.in_compliance
                if last_in_compliance:
                    break
        if last_in_compliance:
            level, direction = plan[count - 1]
            if direction > 0:
                self.stop_reason = f"compliance reached at {level:.4g} V"
        return count

    def _record_sweep(self, plan: list[tuple[float, int]], sweep: SweepReadings) -> None:
        """The readings of one pass (all of them, or those taken before it was ended)."""
        rows = zip(sweep.set_level, sweep.voltage_V, sweep.current_A, sweep.time_s, sweep.in_compliance, strict=True)
        for (level, direction), (_, voltage, current, time_s, compliance) in zip(plan, rows, strict=False):
            self._record(direction, level, voltage, current, time_s, bool(compliance))
        self.report_progress(min(1.0, self.measured / self.planned_points()))

    def _record(self, direction: int, level: float, voltage: float, current: float, time_s: float,
                compliance: bool) -> None:
        if math.isnan(self._t0):
            self._t0 = time_s
        # a lateral film's current flows along the film: no pixel area makes it a density
        area = self.station.config.pixel_area_cm2
        density = current_density_mA_cm2(current, area) if self.structure == "vertical" else math.nan
        self.record("points", {"index": self.measured, "direction": direction, "time_s": time_s,
                               "elapsed_s": time_s - self._t0, "set_voltage_V": level, "voltage_V": voltage,
                               "current_A": current, "current_density_mA_cm2": density,
                               "in_compliance": int(compliance)})
        self.measured += 1
        if not (math.isfinite(voltage) and math.isfinite(current)):  # kept as evidence, then the run fails
            raise InstrumentFault(f"source meter returned an overflow or invalid reading (V = {voltage}, "
                                  f"I = {current}) at {level:.4g} V")

    def shutdown(self) -> None:
        smu = self.station.smu
        smu.safe_shutdown()
        if smu.confirmed_off:
            try:
                smu.single_reading_setup()  # auto zero back on for whatever runs next
            except Exception:  # noqa: BLE001, S110 - the output is off; the next open sets it up again
                pass

    # --- figures ------------------------------------------------------------------------
    @classmethod
    def analyze(cls, run: StoredRun, regions: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
        """N_t, mu (vertical) or sigma (lateral) from the stored forward sweep; ``regions``
        (name -> (V_low, V_high)) replace the detected ones."""
        p = run.parameters
        structure = str(p.get("structure", ("vertical", ""))[0])
        columns = run.read_columns(["direction", "voltage_V", "current_A", "current_density_mA_cm2",
                                    "in_compliance"], stream="points")
        forward = columns["direction"] > 0
        compliance = columns["in_compliance"][forward] > 0
        thickness = float(p["thickness"][0])
        if structure == "lateral":
            window = (regions or {}).get("fit")
            figures = lateral_figures(columns["voltage_V"][forward], columns["current_A"][forward], compliance,
                                      thickness, float(p["channel_length"][0]), float(p["channel_width"][0]), window)
        else:
            figures = single_carrier_figures(columns["voltage_V"][forward],
                                             columns["current_density_mA_cm2"][forward], compliance, thickness,
                                             float(p["relative_permittivity"][0]), regions)
        values = {k: float(v) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        notes = {k: v for k, v in figures.items() if isinstance(v, str)}
        return {"figures": values, "units": {k: units_from_name(k, default="1") for k in values}, **notes,
                "structure": structure}

