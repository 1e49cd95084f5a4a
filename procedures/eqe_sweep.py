"""EQE versus current density: current-sourced at log-spaced current densities."""

from __future__ import annotations

import math

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter

from drivers.source_meters import PARAMETER_MAX_VOLTAGE_V as MAX_VOLTAGE_V
from station.core.errors import ConfigError
from station.core.units import current_A
from station.run.records import SPECTROGRAM, SPECTRUM, MainCurve, Plot
from station.setup.config import StationConfig

from .safety_limits import Limited
from .sweep_base import SweepProcedure

#: lowest start current density: well below any LED's turn-on, and finite in every unit
MIN_CURRENT_DENSITY_MA_CM2 = 1e-6


class EQESweep(SweepProcedure):
    """Log-spaced current densities from start to stop; records the voltage needed.
    Stops early on voltage compliance, a luminance or radiance limit, or breakdown."""

    NAME = "eqe"
    MAIN = MainCurve("points", axis="current_density_mA_cm2", signal="eqe",
                     auxiliary=("voltage_V", "luminance_cd_m2", "radiance_W_sr_m2"))
    COMPLIANCE_REASON = "voltage compliance reached"
    PLOTS = (
        Plot("EQE-J", "points", x="current_density_mA_cm2", y="eqe", log_x=True),
        Plot("L-J", "points", x="current_density_mA_cm2", y="luminance_cd_m2", log_x=True, log_y=True),
        Plot("J-V", "points", x="voltage_V", y="current_density_mA_cm2", log_y=True, absolute=True),
        Plot("Latest spectrum", "points", SPECTRUM),
        Plot("Spectra against time", "points", SPECTROGRAM, x="elapsed_s"),
    )

    SAFETY_LIMITED = {"start_current_density": Limited("current_density"),
                      "stop_current_density": Limited("current_density"),
                      "compliance_voltage": Limited("voltage", positive=True)}
    start_current_density = FloatParameter("Start current density", units="mA/cm^2", default=0.01, minimum=0,
                                           maximum=1e6)
    stop_current_density = FloatParameter("Stop current density", units="mA/cm^2", default=200.0, minimum=0,
                                          maximum=1e6)
    points_per_decade = IntegerParameter("Points per decade", default=5, minimum=1, maximum=1000)
    compliance_voltage = FloatParameter("Compliance voltage", units="V", default=8.0, minimum=0,
                                        maximum=MAX_VOLTAGE_V)

    def validate(self, config: StationConfig) -> None:
        super().validate(config)
        start, stop = self.start_current_density, self.stop_current_density
        if not (start >= MIN_CURRENT_DENSITY_MA_CM2 and stop > start):
            raise ConfigError(f"parameters need {MIN_CURRENT_DENSITY_MA_CM2:g} <= start_current_density < "
                              f"stop_current_density, got {start:g} and {stop:g} mA/cm^2")
        self.check_point_count()

    def planned_points(self) -> int:
        decades = math.log10(self.stop_current_density / self.start_current_density)
        return max(2, int(round(decades * self.points_per_decade)) + 1)

    def current_densities_mA_cm2(self) -> np.ndarray:
        return np.logspace(math.log10(self.start_current_density), math.log10(self.stop_current_density),
                           self.planned_points())

    def startup(self) -> None:
        super().startup()
        smu = self.station.smu
        smu.configure_current_source(self.compliance_voltage, self.station.config.smu.nplc)
        smu.enable_source()

    def execute(self) -> None:
        area = self.station.config.pixel_area_cm2
        plan = self.current_densities_mA_cm2()
        for j in plan:
            values = self.step(+1, len(plan), set_current_A=current_A(float(j), area))
            if values is None:
                return
            reason = self.stop_check(values)
            if reason:
                self.stop_reason = reason
                return
        self.stop_reason = "completed"
