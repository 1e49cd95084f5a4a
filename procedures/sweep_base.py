"""What the J-V-L and EQE-J sweeps share: the point stream, one step, stop checks, analysis.

A sweep records one stream, ``points``: one row per operating point with its spectrum.
Stop checks keep running state only (the highest light so far, the light-quantity
judge); the figures of merit come from the stored columns (:func:`sweep_analysis`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pymeasure.experiment import FloatParameter, ListParameter

from station.analysis.light_quantity import LIGHT_QUANTITIES, LightQuantityJudge
from station.analysis.stored_run import StoredRun
from station.analysis.sweep import sweep_analysis
from station.core.emission_band import runs_off_text
from station.core.errors import ConfigError, EmissionOutOfRange, InstrumentFault
from station.run.records import SPECTROGRAM, SPECTRUM, Column, MainCurve, Plot, Stream
from station.setup.config import StationConfig

from .base import StationProcedure
from .device_health import SATURATED_ADVICE, check_point
from .operating_point import READING_COLUMNS, measure_operating_point

INF = math.inf
#: this many lit points in a row cut off by the instrument's range: it cannot measure the emitter
CUT_OFF_POINTS_TO_STOP = 3
#: most points one sweep may plan
MAX_POINTS = 100_000

SWEEP_COLUMNS: tuple[Column, ...] = (
    Column("index", "1", "point number", "i8"),
    Column("direction", "1", "+1 forward, -1 reverse sweep", "i1"),
    READING_COLUMNS[0],  # time_s
    Column("elapsed_s", "s", "since the run started"),
    Column("set_voltage_V", "V", "programmed source voltage (NaN when sourcing current)"),
    Column("set_current_A", "A", "programmed source current (NaN when sourcing voltage)"),
    *READING_COLUMNS[1:],
)
POINTS = Stream("points", SWEEP_COLUMNS, spectra=True, description="one row per operating point, with its spectrum",
                display=("voltage_V", "current_density_mA_cm2", "luminance_cd_m2", "eqe"),
                flags=("low_light", "saturated", "truncated", "in_compliance", "luminance_unreliable"))


class SweepProcedure(StationProcedure):
    """Base of the sweeps; subclasses define the drive sequence."""

    NAME = "sweep"
    FIGURE_SET = "sweep"
    STREAMS = (POINTS,)
    MAIN = MainCurve("points", axis="voltage_V", signal="luminance_cd_m2",
                     auxiliary=("current_density_mA_cm2", "radiance_W_sr_m2", "eqe"))
    COMPLIANCE_REASON: ClassVar[str] = "compliance reached"
    PLOTS = (
        Plot("J-V", "points", x="voltage_V", y="current_density_mA_cm2", log_y=True, absolute=True),
        Plot("L-V", "points", x="voltage_V", y="luminance_cd_m2", log_y=True),
        Plot("EQE-J", "points", x="current_density_mA_cm2", y="eqe", log_x=True),
        Plot("Latest spectrum", "points", SPECTRUM),
        Plot("Spectra against time", "points", SPECTROGRAM, x="elapsed_s"),
    )

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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.measured = 0
        self._start_s = 0.0
        self._max_light = 0.0
        self._at_max_light: dict[str, float] = {}
        self._judge = LightQuantityJudge()
        self._cut_off_in_a_row = 0
        self._light_range_nm = (math.nan, math.nan)

    # --- validation before any instrument is touched --------------------------------
    def validate(self, config: StationConfig) -> None:
        """Raise :class:`ConfigError` (one line) for any impossible parameter."""
        super().validate(config)
        if self.settle_time < 0:
            raise ConfigError("parameter settle_time must not be negative")
        for name in ("turn_on_luminance", "turn_on_radiance"):  # crossed on a log scale
            if not 0 < getattr(self, name) < math.inf:
                raise ConfigError(f"parameter {name} must be above 0, got {getattr(self, name):g}")
        if self.light_quantity not in LIGHT_QUANTITIES:
            raise ConfigError(f"parameter light_quantity must be one of {', '.join(LIGHT_QUANTITIES)}")
        if not 0 < self.breakdown_drop <= 1:
            raise ConfigError("parameter breakdown_drop must be within (0, 1]")

    def planned_points(self) -> int:
        raise NotImplementedError

    def check_point_count(self) -> None:
        points = self.planned_points()
        if points > MAX_POINTS:
            raise ConfigError(f"the parameters give {points:.3g} points; a sweep takes at most {MAX_POINTS}")

    # --- lifecycle ------------------------------------------------------------------
    def startup(self) -> None:
        """The runner has recorded the darks (output off); subclasses configure the source."""
        self._start_s = self.station.clock.monotonic()
        self._judge = LightQuantityJudge(self.light_quantity)
        self._cut_off_in_a_row = 0
        self._light_seen = False  # a usable light reading so far
        wavelength_nm = self.station.light.describe().axis.wavelength_nm
        self._light_range_nm = (float(wavelength_nm[0]), float(wavelength_nm[-1]))

    def shutdown(self) -> None:
        self.station.smu.safe_shutdown()

    # --- one point ------------------------------------------------------------------
    def step(self, direction: int, total: int, set_voltage_V: float = math.nan,
             set_current_A: float = math.nan) -> dict[str, float] | None:
        """Apply one source level, measure, record and report progress.

        Returns the recorded values, or None when the user aborted before the step.
        """
        if self.should_stop():
            self.stop_reason = "aborted by the user"
            return None
        if math.isnan(set_current_A):
            self.station.smu.apply_voltage(set_voltage_V)
        else:
            self.station.smu.apply_current(set_current_A)
        values = self.measure_point(direction, set_voltage_V=set_voltage_V, set_current_A=set_current_A)
        self.report_progress(self.measured / total)
        return values

    def measure_point(self, direction: int, set_voltage_V: float = math.nan,
                      set_current_A: float = math.nan) -> dict[str, float]:
        reading = measure_operating_point(self.station, self.settle_time)
        values = reading.values()
        values.update(index=self.measured, direction=direction,
                      elapsed_s=self.station.clock.monotonic() - self._start_s,
                      set_voltage_V=set_voltage_V, set_current_A=set_current_A)
        spectrum = reading.spectrum
        self.record("points", values, spectrum if spectrum.recorded_spectrum else None)
        self.measured += 1
        check_point(reading, self.station.smu)  # the point is kept as evidence, then the run fails
        if self._judge.add(values, values["index"]):
            self.notice(f"light judged {self._judge.quantity}: {self._judge.reason}", "info")
        self._check_in_range(values)
        self._light_seen = self._light_seen or spectrum.valid
        return values

    def _check_in_range(self, values: dict[str, float]) -> None:
        """Stop once it is certain the light instrument cannot measure this emitter:
        :data:`CUT_OFF_POINTS_TO_STOP` lit points in a row cut off by its range."""
        if values["low_light"] or values["saturated"]:
            return
        if not values["truncated"]:
            self._cut_off_in_a_row = 0
            return
        self._cut_off_in_a_row += 1
        if self._cut_off_in_a_row < CUT_OFF_POINTS_TO_STOP:
            return
        low, high = self._light_range_nm
        end = runs_off_text(int(values["truncated"]))
        if self.station.geometry == "radiometer":
            alternative = (f'the integrating-sphere spectrometer (geometry = "sphere") or a spectroradiometer whose '
                           f"range reaches beyond {low if end.startswith('short') else high:.0f} nm")
        else:
            alternative = "a spectrometer whose calibrated window covers the whole emission band"
        raise EmissionOutOfRange(
            f"the {self.station.light.identity} cannot measure this emitter: its emission runs off the "
            f"instrument's {low:.0f}-{high:.0f} nm range at the {end} ({self._cut_off_in_a_row} points in a row, "
            f"last at {values['voltage_V']:.3g} V); measure it with {alternative}")

    # --- stopping -------------------------------------------------------------------
    def stop_check(self, values: dict[str, float]) -> str:
        """The reason to stop after this point, or "" to go on."""
        if values["in_compliance"]:
            return self.COMPLIANCE_REASON
        if values["low_light"]:
            return ""  # optical figures near the noise floor decide nothing
        if values["luminance_cd_m2"] >= self.luminance_limit and not values["luminance_unreliable"]:
            return f"luminance limit {self.luminance_limit:g} cd/m^2 reached"
        if values["radiance_W_sr_m2"] >= self.radiance_limit:
            return f"radiance limit {self.radiance_limit:g} W/(sr m^2) reached"
        if values["saturated"]:
            if not self._light_seen:  # the sweep would end with no light figure at all
                raise InstrumentFault(f"the {self.station.light.identity} saturated at the first lit point "
                                      f"({values['voltage_V']:.3g} V) before any usable light reading: "
                                      f"{SATURATED_ADVICE}")
            return "spectrometer saturated at its shortest integration time"
        if self._judge.decided is None:
            return ""  # the light quantity is judged once, at an adequately measured point
        radiometric = self._judge.quantity == "radiometric"
        light = values["radiance_W_sr_m2" if radiometric else "luminance_cd_m2"]
        if not radiometric and values["luminance_unreliable"]:
            return ""
        threshold = self.turn_on_radiance if radiometric else self.turn_on_luminance
        if math.isfinite(light) and self.breakdown_drop < 1:  # 1 = never
            if light > self._max_light:
                self._max_light, self._at_max_light = light, values
            if self._max_light > 10 * threshold and light < (1 - self.breakdown_drop) * self._max_light:
                return light_drop_reason(self.breakdown_drop, self._at_max_light, values)
        return ""

    # --- analysis -------------------------------------------------------------------
    @classmethod
    def analyze(cls, run: StoredRun) -> dict[str, Any]:
        """Sweep figures of merit (MEASUREMENTS.md section 4) from the stored points."""
        return sweep_analysis(run, signal=cls.MAIN.signal if cls.MAIN else "luminance_cd_m2", stream="points")


#: every stop on falling light starts so (a sweep that stopped so runs no reverse branch)
LIGHT_DROP_REASON = "light fell"


def light_drop_reason(drop: float, at_max: dict[str, float], now: dict[str, float]) -> str:
    """What happened when the light fell ``drop`` below its maximum: efficiency roll-off
    (the current still rose: the EQE fell), or a failing device (the current fell too)."""
    j_max, j_now = at_max.get("current_density_mA_cm2", math.nan), now["current_density_mA_cm2"]
    at = f"{now['voltage_V']:.3g} V, {j_now:.3g} mA/cm^2"
    head = f"{LIGHT_DROP_REASON} {drop:.0%} below its maximum (at {at_max.get('voltage_V', math.nan):.3g} V)"
    if j_now >= j_max:
        eqe = f"EQE {at_max.get('eqe', math.nan) * 100:.3g} % -> {now['eqe'] * 100:.3g} %"
        return f"{head} while the current rose: efficiency roll-off ({eqe}) at {at}"
    return f"{head} and the current fell too (from {j_max:.3g} mA/cm^2): the device is failing, at {at}"

