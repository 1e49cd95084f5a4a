"""A simulated LED on the bench: the model plus its history under drive.

The device ages with the bench clock. Whenever the drive changes or the device is
read, ageing is integrated from the last update to ``clock.monotonic()`` under the
drive that was applied in between.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from station.core.clock import Clock

from .led_model import DeviceCondition, LEDModel, LEDParameters, OperatingPoint
from .single_carrier_model import DarkDeviceModel, DarkDeviceParameters


@dataclass(frozen=True)
class Drive:
    """What the source meter applies: ``mode`` is "voltage" or "current"."""

    mode: str
    level: float  # V or A
    compliance: float  # A when sourcing voltage, V when sourcing current


class SimulatedLED:
    """Stateful device: equivalent age, on/off cycle count and failures."""

    #: Largest fractional loss of luminance integrated in one ageing step.
    MAX_LOSS_PER_STEP = 0.002

    def __init__(self, parameters: LEDParameters | DarkDeviceParameters, clock: Clock,
                 ageing_reference: LEDParameters | None = None) -> None:
        """``ageing_reference``: the device whose fresh emission at the reference drive sets the
        ageing rate (default: this one); a defect such as a leak added to a device leaves it as it was."""
        self.model = LEDModel(parameters) if isinstance(parameters, LEDParameters) else DarkDeviceModel(parameters)
        self.parameters = parameters
        self.clock = clock
        self._lock = threading.RLock()
        self._start_s = clock.monotonic()
        self._last_update_s = self._start_s
        self.equivalent_age_s = 0.0  # time at the reference drive that gives the same loss
        self.on_off_cycles = 0
        self.on_time_s = 0.0  # time under drive (the initial rise follows it)
        self.reversible_loss = 0.0  # the fraction of light lost reversibly (recovers at rest)
        self._drive: Drive | None = None
        ageing = parameters.ageing
        reference_current_A = ageing.reference_current_density_mA_cm2 * 1e-3 * parameters.pixel_area_cm2
        reference = self.model if ageing_reference is None else LEDModel(ageing_reference)  # type: ignore[assignment]
        self._reference_photon_rate = reference.fresh_photon_rate_at_current(reference_current_A)
        self._tau_s = ageing.reference_tau_s
        self._rate_cache = (math.nan, 0.0)  # (current, fresh photon rate) of the last ageing step
        #: called after every change of state (the bench may keep it in a file)
        self.on_change: Callable[[SimulatedLED], None] | None = None

    def restore(self, equivalent_age_s: float, on_time_s: float, operating_s: float, on_off_cycles: int,
                drive: Drive | None, gap_s: float, reversible_loss: float = 0.0) -> None:
        """Continue a device saved ``gap_s`` ago: it ages (or recovers) over the gap under ``drive``."""
        with self._lock:
            now = self.clock.monotonic()
            self.equivalent_age_s, self.on_time_s, self.on_off_cycles = equivalent_age_s, on_time_s, on_off_cycles
            self.reversible_loss = reversible_loss
            self._start_s = now - operating_s - gap_s
            self._last_update_s = now - gap_s
            self._drive = drive
            self._advance()

    def operating_s(self) -> float:
        return self.clock.monotonic() - self._start_s

    # --- condition ------------------------------------------------------------------
    @property
    def operating_hours(self) -> float:
        return (self.clock.monotonic() - self._start_s) / 3600.0

    def ageing_fraction(self) -> float:
        """Luminance remaining from ageing alone, exp(-(t_eq/tau)^beta), up to now."""
        with self._lock:
            self._advance()
            return self._ageing_fraction()

    def _ageing_fraction(self) -> float:
        return math.exp(-((self.equivalent_age_s / self._tau_s) ** self.parameters.ageing.stretch_beta))

    def condition(self) -> DeviceCondition:
        with self._lock:
            self._advance()
            return self._condition()

    def _condition(self) -> DeviceCondition:
        a = self.parameters.ageing
        hours = self.operating_hours
        failure = None
        if a.short_circuit_after_h is not None and hours >= a.short_circuit_after_h:
            failure = "short"
        elif a.open_circuit_after_h is not None and hours >= a.open_circuit_after_h:
            failure = "open"
        fraction = self._ageing_fraction()
        rise_V = a.voltage_rise_V_at_T50 * (1.0 - fraction) / 0.5
        brightening = 1.0 + a.initial_rise_fraction * -math.expm1(-self.on_time_s / a.initial_rise_time_s)
        brightening *= 1.0 - self.reversible_loss
        gain = 1.0 + (a.cycling_current_gain_max - 1.0) * (1.0 - math.exp(-self.on_off_cycles / a.cycling_gain_cycles))
        cycling_shift_V = -self.model._thermal_V * math.log(gain)
        return DeviceCondition(luminance_fraction=fraction * brightening, junction_shift_V=rise_V + cycling_shift_V,
                               failure=failure)

    # --- drive ----------------------------------------------------------------------
    def set_drive(self, drive: Drive | None) -> None:
        """Apply a new drive (None = output off); counts off-to-on transitions."""
        with self._lock:
            self._advance()
            if self._drive is None and drive is not None:
                self.on_off_cycles += 1
            self._drive = drive
            if self.on_change is not None:
                self.on_change(self)

    @property
    def drive(self) -> Drive | None:
        return self._drive

    def solve(self, drive: Drive | None = None, photometry_totals: bool = True) -> tuple[OperatingPoint, bool]:
        """(operating point, in_compliance) for a drive (default: the present one).
        ``photometry_totals=False`` skips the luminance/radiance integrals (electrical use)."""
        with self._lock:
            self._advance()
            return self._solve(drive if drive is not None else self._drive, self._condition(), photometry_totals)

    def _solve(self, drive: Drive | None, condition: DeviceCondition,
               photometry_totals: bool = False) -> tuple[OperatingPoint, bool]:
        model = self.model

        def point(voltage_V: float, current_A: float) -> OperatingPoint:
            return model.operating_point(voltage_V, current_A, condition, photometry_totals)

        if drive is None:
            return point(0.0, 0.0), False
        if drive.mode == "voltage":
            current_A = model.current_at_voltage_A(drive.level, condition)
            limit_A = abs(drive.compliance)
            if abs(current_A) <= limit_A:
                return point(drive.level, current_A), False
            clamped_A = math.copysign(limit_A, current_A)
            return point(model.voltage_at_current_V(clamped_A, condition), clamped_A), True
        voltage_V = model.voltage_at_current_V(drive.level, condition)
        limit_V = abs(drive.compliance)
        if abs(voltage_V) <= limit_V:
            return point(voltage_V, drive.level), False
        clamped_V = math.copysign(limit_V, voltage_V if voltage_V else drive.level)
        return point(clamped_V, model.current_at_voltage_A(clamped_V, condition)), True

    # --- ageing ---------------------------------------------------------------------
    def _acceleration(self, current_A: float) -> float:
        if current_A <= 0 or self._reference_photon_rate <= 0:
            return 0.0
        if self._rate_cache[0] != current_A:  # a constant current asks again and again
            self._rate_cache = (current_A, self.model.fresh_photon_rate_at_current(current_A))
        rate = self._rate_cache[1]
        return (rate / self._reference_photon_rate) ** self.parameters.ageing.acceleration_exponent

    def _advance(self) -> None:
        now_s = self.clock.monotonic()
        remaining_s = now_s - self._last_update_s
        self._last_update_s = now_s
        if remaining_s <= 0:
            return
        self._reversible(remaining_s, self._drive is not None)
        if self._drive is None:
            return
        self.on_time_s += remaining_s
        try:
            self._age(remaining_s)
        finally:
            if self.on_change is not None:
                self.on_change(self)

    def _reversible(self, dt_s: float, driven: bool) -> None:
        """The reversible loss over ``dt_s``: building towards its maximum under drive,
        recovering with the output off (exact for the step: independent of the drive level)."""
        a = self.parameters.ageing
        if a.reversible_loss_max <= 0 or (not driven and self.reversible_loss <= 0):
            return
        if driven:
            self.reversible_loss = a.reversible_loss_max + (self.reversible_loss - a.reversible_loss_max) * \
                math.exp(-dt_s / a.reversible_build_s)
        else:
            self.reversible_loss *= math.exp(-dt_s / a.reversible_recovery_s)

    def _age(self, remaining_s: float) -> None:
        beta = self.parameters.ageing.stretch_beta
        while remaining_s > 0:
            condition = self._condition()
            if condition.failure:
                return
            point, _ = self._solve(self._drive, condition)
            acceleration = self._acceleration(point.current_A)
            if acceleration <= 0:
                return
            # step so that the luminance fraction falls by at most MAX_LOSS_PER_STEP
            age = self.equivalent_age_s
            x = (age / self._tau_s) ** beta
            target_age = self._tau_s * (x + self.MAX_LOSS_PER_STEP) ** (1.0 / beta)
            step_s = min(remaining_s, max((target_age - age) / acceleration, 1e-3))
            if self._drive.mode == "current" and not _in_compliance(point, self._drive):
                step_s = remaining_s  # fixed current: the acceleration does not change
            self.equivalent_age_s += step_s * acceleration
            remaining_s -= step_s


def _in_compliance(point: OperatingPoint, drive: Drive) -> bool:
    return abs(point.voltage_V) >= abs(drive.compliance) * (1 - 1e-12)


def time_to_percent_s(parameters: LEDParameters, drive: Drive, percent: float, l0_at_s: float = 0.0,
                      use_max: bool = False, step_s: float = 1.0) -> float:
    """The device's own T_x, s: the device alone on a virtual clock under ``drive``, aged in
    steps of ``step_s``, L0 at ``l0_at_s`` (or its running maximum), the crossing
    interpolated. The truth that tests and benchmarks hold the station's lifetimes to."""
    from station.core.clock import VirtualClock

    clock = VirtualClock(0.0)
    led = SimulatedLED(parameters, clock)
    led.set_drive(drive)
    clock.sleep(l0_at_s)
    l0 = led.solve()[0].luminance_cd_m2
    previous_t, previous = clock.elapsed_s, l0
    while True:
        clock.sleep(step_s)
        light = led.solve()[0].luminance_cd_m2
        if use_max and light > l0:
            l0 = light
        if light < percent / 100 * l0:
            return previous_t + (previous - percent / 100 * l0) / (previous - light) * step_s
        previous_t, previous = clock.elapsed_s, light

