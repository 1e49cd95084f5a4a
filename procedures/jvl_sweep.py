"""J-V-L sweep: voltage-sourced, spectrum at every point."""

from __future__ import annotations

import math

import numpy as np
from pymeasure.experiment import BooleanParameter, FloatParameter

from drivers.source_meters import PARAMETER_MAX_CURRENT_A as MAX_CURRENT_A
from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.core.errors import ConfigError
from station.setup.config import StationConfig

from .dark_precheck import PRECHECK, run_dark_precheck
from .safety_limits import Limited
from .sweep_base import INF, LIGHT_DROP_REASON, SweepProcedure


class JVLSweep(SweepProcedure):
    """Voltage from start to stop in steps (optionally finer around turn-on, optionally
    back down again for hysteresis). Stops early on compliance, a current-density,
    luminance or radiance limit, or breakdown."""

    NAME = "jvl"

    SAFETY_LIMITED = {"start_voltage": Limited("voltage"), "stop_voltage": Limited("voltage"),
                      "compliance_current": Limited("current", positive=True),
                      "precheck_voltage": Limited("voltage", positive=True, when=lambda p: p.dark_precheck),
                      "fine_start_voltage": Limited("voltage", when=lambda p: p.fine_step_voltage > 0),
                      "fine_stop_voltage": Limited("voltage", when=lambda p: p.fine_step_voltage > 0)}
    start_voltage = FloatParameter("Start voltage", units="V", default=0.0, minimum=-MAX_VOLTAGE_V,
                                   maximum=MAX_VOLTAGE_V)
    stop_voltage = FloatParameter("Stop voltage", units="V", default=8.0, minimum=-MAX_VOLTAGE_V,
                                  maximum=MAX_VOLTAGE_V)
    step_voltage = FloatParameter("Voltage step", units="V", default=0.1, minimum=-MAX_VOLTAGE_V,
                                  maximum=MAX_VOLTAGE_V)
    fine_step_voltage = FloatParameter("Finer step inside the fine window (0 = none)", units="V", default=0.0,
                                       minimum=0, maximum=MAX_VOLTAGE_V)
    fine_start_voltage = FloatParameter("Fine window start", units="V", default=0.0, minimum=-MAX_VOLTAGE_V,
                                        maximum=MAX_VOLTAGE_V)
    fine_stop_voltage = FloatParameter("Fine window stop", units="V", default=0.0, minimum=-MAX_VOLTAGE_V,
                                       maximum=MAX_VOLTAGE_V)
    reverse_sweep = BooleanParameter("Sweep back to the start voltage (hysteresis)", default=False)
    compliance_current = FloatParameter("Compliance current", units="A", default=0.1, minimum=0,
                                        maximum=MAX_CURRENT_A)
    current_density_limit = FloatParameter("Stop at current density", units="mA/cm^2", default=INF, minimum=0,
                                           maximum=INF)
    dark_precheck = BooleanParameter("Dark pre-check of the pixel on the source meter's sweep (leakage, shorts) before "
                                     "light is measured", default=False)
    precheck_voltage = FloatParameter("Pre-check sweeps from minus to plus this voltage", units="V", default=1.0,
                                      minimum=0, maximum=MAX_VOLTAGE_V)
    leakage_limit = FloatParameter("Pre-check fails above this reverse current density", units="mA/cm^2",
                                   default=1.0, minimum=0, maximum=INF)

    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        span = self.stop_voltage - self.start_voltage
        if self.step_voltage == 0 or span == 0 or math.copysign(1, self.step_voltage) != math.copysign(1, span):
            raise ConfigError(f"parameter step_voltage {self.step_voltage:g} V must be non-zero and point from "
                              f"start {self.start_voltage:g} V to stop {self.stop_voltage:g} V")
        if self.fine_step_voltage > 0 and not self.fine_start_voltage < self.fine_stop_voltage:
            raise ConfigError("parameter fine_start_voltage must be below fine_stop_voltage")
        self.check_point_count()

    def planned_points(self) -> int:
        """Points of the plan, counted without building it (a bad step must not exhaust memory)."""
        forward = abs(self.stop_voltage - self.start_voltage) / abs(self.step_voltage) + 2
        if self.fine_step_voltage > 0:
            forward += (self.fine_stop_voltage - self.fine_start_voltage) / self.fine_step_voltage + 1
        return int(min(forward * (2 if self.reverse_sweep else 1), 1e18))

    def voltages(self) -> list[tuple[float, int]]:
        """(voltage, direction) of every point, in order."""
        start, stop, step = self.start_voltage, self.stop_voltage, self.step_voltage
        n = int(math.floor(abs((stop - start) / step) + 1e-9))
        forward = [start + i * step for i in range(n + 1)]
        if abs(forward[-1] - stop) > 1e-9:
            forward.append(stop)
        if self.fine_step_voltage > 0:
            low, high = self.fine_start_voltage, self.fine_stop_voltage
            fine = list(np.arange(low, high + self.fine_step_voltage / 2, self.fine_step_voltage))
            lo, hi = min(start, stop), max(start, stop)
            merged = {round(v, 9) for v in forward if not low < v < high}
            merged |= {round(v, 9) for v in fine if lo <= v <= hi}
            forward = sorted(merged, reverse=step < 0)
        points = [(float(v), +1) for v in forward]
        if self.reverse_sweep:
            points += [(float(v), -1) for v in reversed(forward[:-1])]
        return points

    def streams(self):
        return (*self.STREAMS, PRECHECK) if self.dark_precheck else self.STREAMS

    def startup(self) -> None:
        super().startup()
        smu = self.station.smu
        smu.configure_voltage_source(self.compliance_current, self.station.config.smu.nplc)
        smu.enable_source()
        if self.dark_precheck:
            run_dark_precheck(self, self.precheck_voltage, self.leakage_limit, self.compliance_current)
            smu.configure_voltage_source(self.compliance_current, self.station.config.smu.nplc)  # the sweep's set-up

    def stop_check(self, values: dict[str, float]) -> str:
        reason = super().stop_check(values)
        if not reason and values["current_density_mA_cm2"] >= self.current_density_limit:
            reason = f"current density limit {self.current_density_limit:g} mA/cm^2 reached"
        return reason

    def execute(self) -> None:
        plan = self.voltages()
        total = len(plan)
        forward = [v for v, direction in plan if direction > 0]
        reached = 0  # forward points measured; the reverse sweep returns over them
        for voltage in forward:
            values = self.step(+1, total, set_voltage_V=voltage)
            if values is None:
                return
            reached += 1
            reason = self.stop_check(values)
            if reason:
                self.stop_reason = reason
                break
        if self.reverse_sweep and not self.stop_reason.startswith(LIGHT_DROP_REASON):
            for voltage in reversed(forward[:max(reached - 1, 0)]):
                if self.step(-1, total, set_voltage_V=voltage) is None:
                    return
        self.stop_reason = self.stop_reason or "completed"
