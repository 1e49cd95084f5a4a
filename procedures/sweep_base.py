"""What the J-V-L and EQE-J sweeps share: one measured point, stop checks, analysis.

Procedures are pymeasure ``Procedure`` subclasses: parameters are pymeasure
``Parameter`` objects (with units), the runner calls ``startup``/``execute``/``shutdown``
and patches ``emit`` and ``should_stop`` as pymeasure's Worker does. The station (the
opened instruments and the clock) is given to the procedure as ``procedure.station``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pymeasure.experiment import FloatParameter, ListParameter, Procedure

from station.analysis import NIR_CENTROID_NM, judged_light_quantity, sweep_figures
from station.analysis import UNITS as FIGURE_UNITS
from station.config import StationConfig
from station.device_figures import device_figures
from station.errors import ConfigError
from station.records import Column

INF = math.inf
LIGHT_QUANTITIES = ("auto", "photometric", "radiometric")

SWEEP_COLUMNS = [
    Column("index", "1", "point number", "i8"),
    Column("direction", "1", "+1 forward, -1 reverse sweep", "i1"),
    Column("time_s", "s since 1970-01-01 UTC", "time of the source-meter reading"),
    Column("elapsed_s", "s", "since the run started"),
    Column("set_voltage_V", "V", "programmed source voltage (NaN when sourcing current)"),
    Column("set_current_A", "A", "programmed source current (NaN when sourcing voltage)"),
    Column("voltage_V", "V", "measured voltage"),
    Column("current_A", "A", "measured current, mean of the readings before and after the spectrum"),
    Column("current_before_A", "A", "measured current before the spectrum"),
    Column("current_after_A", "A", "measured current after the spectrum"),
    Column("smu_status", "1", "Keithley 2400 status word", "i8"),
    Column("in_compliance", "1", "compliance bit of the status word", "u1"),
    Column("current_density_mA_cm2", "mA/cm^2"),
    Column("photon_rate_per_s", "1/s", "forward photon flux"),
    Column("eqe", "1", "external quantum efficiency (fraction)"),
    Column("radiant_flux_W", "W"),
    Column("luminous_flux_lm", "lm"),
    Column("luminance_cd_m2", "cd/m^2"),
    Column("radiance_W_sr_m2", "W/(sr m^2)"),
    Column("current_efficiency_cd_A", "cd/A"),
    Column("power_efficiency_lm_W", "lm/W"),
    Column("peak_wavelength_nm", "nm"),
    Column("fwhm_nm", "nm"),
    Column("centroid_nm", "nm"),
    Column("cie_x", "1"),
    Column("cie_y", "1"),
    Column("cie_u_prime", "1"),
    Column("cie_v_prime", "1"),
    Column("integration_time_s", "s", "spectrometer integration time (NaN for the radiometer)"),
    Column("dark_index", "1", "row of spectra/dark_library subtracted (-1: none)", "i4"),
    Column("saturated", "1", "spectrum saturated", "u1"),
    Column("low_light", "1", "too little light for optical figures", "u1"),
    Column("truncated", "1", "emission runs off the instrument's wavelength range: no optical figures", "u1"),
]


class SweepProcedure(Procedure):
    """Base of the sweeps; subclasses define the drive sequence."""

    NAME = "sweep"
    COLUMNS = SWEEP_COLUMNS
    COMPLIANCE_REASON = "compliance reached"
    SIGNAL, AXIS = "luminance_cd_m2", "voltage_V"

    settle_time = FloatParameter("Settle time after each step", units="s", default=0.1, minimum=0, maximum=3600)
    luminance_limit = FloatParameter("Stop at luminance", units="cd/m^2", default=INF, minimum=0, maximum=INF)
    radiance_limit = FloatParameter("Stop at radiance", units="W/(sr m^2)", default=INF, minimum=0, maximum=INF)
    breakdown_drop = FloatParameter("Stop when the light falls this fraction below its maximum (1 = never)",
                                    units="fraction", default=0.5, minimum=0, maximum=1)
    turn_on_luminance = FloatParameter("Turn-on luminance threshold", units="cd/m^2", default=1.0, minimum=0,
                                       maximum=1e6)
    turn_on_radiance = FloatParameter("Turn-on radiance threshold (near-infrared devices)", units="W/(sr m^2)",
                                      default=0.01, minimum=0, maximum=1e6)
    light_quantity = ListParameter("Light quantity judged (auto = radiance for NIR emitters)",
                                   choices=list(LIGHT_QUANTITIES), default="auto")

    station: Any = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.points: list[dict[str, float]] = []
        self.stop_reason = ""
        self._start_s = 0.0
        self._max_light = 0.0

    # --- validation before any instrument is touched --------------------------------
    def validate(self, config: StationConfig) -> None:
        """Raise :class:`ConfigError` (one line) for any impossible parameter."""
        for name in self.parameter_objects():
            value = getattr(self, name)
            if isinstance(value, float) and math.isnan(value):
                raise ConfigError(f"parameter {name}: NaN is not a value")
            if isinstance(value, float) and value < 0 and name in ("settle_time", "turn_on_luminance",
                                                                    "turn_on_radiance"):
                raise ConfigError(f"parameter {name} must not be negative")
        if self.light_quantity not in LIGHT_QUANTITIES:
            raise ConfigError(f"parameter light_quantity must be one of {', '.join(LIGHT_QUANTITIES)}")
        if not 0 < self.breakdown_drop <= 1:
            raise ConfigError("parameter breakdown_drop must be within (0, 1]")

    def parameters_with_units(self) -> dict[str, tuple[Any, str]]:
        return {name: (getattr(self, name), getattr(p, "units", None) or "")
                for name, p in self.parameter_objects().items()}

    def progress_total(self) -> int:
        return 1

    # --- lifecycle ------------------------------------------------------------------
    def startup(self) -> None:
        """The runner has recorded the darks (output off); subclasses configure the source."""
        self._start_s = self.station.clock.monotonic()

    def shutdown(self) -> None:
        self.station.smu.safe_shutdown()

    # --- one point ------------------------------------------------------------------
    def step(self, direction: int, total: int, set_voltage_V: float = math.nan,
             set_current_A: float = math.nan) -> bool:
        """Apply one source level, measure and report progress; True when the user aborted."""
        if self.should_stop():
            self.stop_reason = "aborted by the user"
            return True
        if math.isnan(set_current_A):
            self.station.smu.source_voltage = set_voltage_V
        else:
            self.station.smu.source_current = set_current_A
        self.measure_point(direction, set_voltage_V=set_voltage_V, set_current_A=set_current_A)
        self.emit("progress", 100.0 * len(self.points) / total)
        return False

    def measure_point(self, direction: int, set_voltage_V: float = math.nan,
                      set_current_A: float = math.nan) -> dict[str, float]:
        station = self.station
        smu = station.smu
        station.clock.sleep(self.settle_time)
        before = smu.read_point()
        spectrum = station.measure_light()
        after = smu.read_point()
        current = 0.5 * (before.current_A + after.current_A)
        area = station.config.pixel_area_cm2
        figures = device_figures(spectrum, before.voltage_V, current, area)
        dark_index = -1
        if spectrum.dark is not None and hasattr(station.light, "ladder"):
            dark_index = station.light.ladder.index(spectrum.integration_time_s)
        values: dict[str, float] = {
            **figures.as_dict(),
            "index": len(self.points), "direction": direction, "time_s": station.clock.now(),
            "elapsed_s": station.clock.monotonic() - self._start_s,
            "set_voltage_V": set_voltage_V, "set_current_A": set_current_A,
            "current_before_A": before.current_A, "current_after_A": after.current_A,
            "smu_status": before.status, "in_compliance": int(before.in_compliance or after.in_compliance),
            "integration_time_s": spectrum.integration_time_s, "dark_index": dark_index,
            "saturated": int(spectrum.saturated), "low_light": int(spectrum.low_light),
            "truncated": int(spectrum.truncated),
        }
        self.points.append(values)
        self.emit("results", {**values, "_spectrum": spectrum})
        return values

    # --- stopping -------------------------------------------------------------------
    def stop_check(self, values: dict[str, float]) -> str:
        """The reason to stop after this point, or "" to go on."""
        if values["in_compliance"]:
            return self.COMPLIANCE_REASON
        if values["low_light"]:
            return ""  # optical figures near the noise floor decide nothing
        if values["luminance_cd_m2"] >= self.luminance_limit:
            return f"luminance limit {self.luminance_limit:g} cd/m^2 reached"
        if values["radiance_W_sr_m2"] >= self.radiance_limit:
            return f"radiance limit {self.radiance_limit:g} W/(sr m^2) reached"
        if values["saturated"]:
            return "spectrometer saturated at its shortest integration time"
        radiometric = (self.light_quantity == "radiometric" or self.light_quantity == "auto"
                       and values["centroid_nm"] > NIR_CENTROID_NM)
        light = values["radiance_W_sr_m2" if radiometric else "luminance_cd_m2"]
        threshold = self.turn_on_radiance if radiometric else self.turn_on_luminance
        if math.isfinite(light):
            self._max_light = max(self._max_light, light)
            if self._max_light > 10 * threshold and light < (1 - self.breakdown_drop) * self._max_light:
                return f"breakdown: light fell {self.breakdown_drop:.0%} below its maximum"
        return ""

    # --- analysis -------------------------------------------------------------------
    def resolved_light_quantity(self) -> str:
        return judged_light_quantity(self.light_quantity, [p["centroid_nm"] for p in self.points],
                                     [p["low_light"] for p in self.points])

    def analysis(self) -> dict[str, Any]:
        if not self.points:
            return {}
        columns = {name: np.array([p[name] for p in self.points], dtype=float) for name in self.points[0]}
        quantity = self.resolved_light_quantity()
        figures = sweep_figures(columns, quantity, self.turn_on_luminance, self.turn_on_radiance)
        threshold_units = "W/(sr m^2)" if quantity == "radiometric" else "cd/m^2"
        return {"figures": figures.as_dict(), "units": {**FIGURE_UNITS, "turn_on_threshold": threshold_units},
                "signal": "radiance_W_sr_m2" if quantity == "radiometric" and self.SIGNAL == "luminance_cd_m2"
                else self.SIGNAL}
