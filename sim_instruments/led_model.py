"""Physical model of an LED pixel: electrical, optical and ageing behaviour.

Electrical: a diode (saturation current density J0, ideality n) with specific series
and shunt resistances, solved exactly for I(V) and V(I).

Efficiency: EQE = EQE_max * (I_diode / I) * charge-balance(J_d) * roll-off(J_d), so
leakage through the shunt lowers EQE at low J and roll-off lowers it at high J.

Spectrum: a Gaussian in wavelength (photon-number distribution) whose peak and width
may drift with log current density.

Ageing (see :class:`AgeingParameters`): stretched-exponential luminance loss with a time
constant that scales with drive as L0^n * T = const, an optional initial rise (brightening
over the first minutes under drive), a junction-voltage rise, an on/off-cycling response,
and optional open- or short-circuit failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from station.core import photometry

BOLTZMANN_EV_PER_K = 8.617333262e-5
MODEL_GRID_NM = np.arange(300.0, 1200.0 + 0.25, 0.25)


def increasing_root(f, slope, lo: float, hi: float, xtol: float = 1e-12, rtol: float = 1e-12,
                    max_iterations: int = 200) -> float:
    """Root of an increasing function bracketed by [lo, hi]: Newton steps, bisection when
    a step would leave the bracket (as "rtsafe"). Converges to |dx| < xtol + rtol |x|.

    Replaces scipy's ``brentq`` here: importing scipy.optimize costs about 0.6 s.
    """
    f_lo, f_hi = f(lo), f(hi)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if f_lo > 0 or f_hi < 0:
        raise ValueError(f"root not bracketed by [{lo!r}, {hi!r}]")
    x = 0.5 * (lo + hi)
    for _ in range(max_iterations):
        fx = f(x)
        if fx == 0:
            return x
        if fx < 0:
            lo = x
        else:
            hi = x
        d = slope(x)
        step_to = x - fx / d if d > 0 else math.nan
        if not lo < step_to < hi:
            step_to = 0.5 * (lo + hi)
        if abs(step_to - x) <= xtol + rtol * abs(step_to) or hi - lo <= xtol + rtol * abs(step_to):
            return step_to
        x = step_to
    raise RuntimeError("root finder did not converge")


@dataclass(frozen=True)
class ElectricalParameters:
    """Diode with series and shunt resistance, per unit area."""

    saturation_current_density_A_cm2: float
    ideality: float
    series_resistance_ohm_cm2: float
    shunt_resistance_ohm_cm2: float
    temperature_K: float = 300.0


@dataclass(frozen=True)
class EfficiencyParameters:
    """EQE versus diode current density."""

    eqe_max: float
    charge_balance_current_density_mA_cm2: float
    charge_balance_exponent: float
    rolloff_current_density_mA_cm2: float
    rolloff_exponent: float


@dataclass(frozen=True)
class SpectrumParameters:
    """Gaussian emission band, optionally drifting with bias."""

    peak_nm: float
    fwhm_nm: float
    peak_shift_nm_per_decade: float = 0.0
    fwhm_change_nm_per_decade: float = 0.0
    reference_current_density_mA_cm2: float = 1.0


@dataclass(frozen=True)
class AgeingParameters:
    """Operational ageing.

    At constant drive L(t)/L0 = exp(-(t/tau)^beta). tau is set by the lifetime
    ``reference_lifetime_h`` to ``reference_T_percent`` at ``reference_current_density``
    and scales as tau ~ L0^-n with the fresh device's emission at the drive.
    """

    reference_current_density_mA_cm2: float
    reference_T_percent: float
    reference_lifetime_h: float
    stretch_beta: float = 0.8
    acceleration_exponent: float = 1.95
    voltage_rise_V_at_T50: float = 0.3
    cycling_current_gain_max: float = 1.0
    cycling_gain_cycles: float = 60.0
    #: brightening at the start of operation (perovskite LEDs often brighten for minutes before they
    #: decay): luminance x (1 + initial_rise_fraction (1 - exp(-t_on / initial_rise_time_s))), t_on the
    #: time under drive
    initial_rise_fraction: float = 0.0
    initial_rise_time_s: float = 600.0
    #: a reversible loss (ion migration; assumed, no published figure): under any drive a fraction
    #: q of the light is lost, building towards ``reversible_loss_max`` with the time constant
    #: ``reversible_build_s``; with the output off it recovers, q decaying with
    #: ``reversible_recovery_s``. Luminance x (1 - q); the irreversible ageing is untouched by it.
    reversible_loss_max: float = 0.0
    reversible_build_s: float = 1200.0
    reversible_recovery_s: float = 1800.0
    open_circuit_after_h: float | None = None
    short_circuit_after_h: float | None = None
    short_circuit_resistance_ohm: float = 2.0

    @property
    def reference_tau_s(self) -> float:
        loss = -math.log(self.reference_T_percent / 100.0)
        return self.reference_lifetime_h * 3600.0 / loss ** (1.0 / self.stretch_beta)


@dataclass(frozen=True)
class LEDParameters:
    """Everything that defines a simulated device."""

    name: str
    description: str
    electrical: ElectricalParameters
    efficiency: EfficiencyParameters
    spectrum: SpectrumParameters
    ageing: AgeingParameters
    pixel_area_cm2: float = 0.04
    #: a substrate of such devices: its mean peak EQE relative to this one (the published
    #: champion), and its EQE spread relative to the substrate's spread (sim_instruments.substrate_sim)
    batch_mean_eqe_fraction: float = 1.0
    batch_eqe_spread_factor: float = 1.0

    def with_area(self, pixel_area_cm2: float) -> LEDParameters:
        return replace(self, pixel_area_cm2=pixel_area_cm2)


@dataclass(frozen=True)
class DeviceCondition:
    """How aged the device is, as the optics and electronics see it."""

    luminance_fraction: float = 1.0  # ageing loss factor
    junction_shift_V: float = 0.0  # + raises the voltage needed
    failure: str | None = None  # None, "open" or "short"


FRESH = DeviceCondition()


@dataclass(frozen=True)
class OperatingPoint:
    """The device's true state at one drive."""

    voltage_V: float
    current_A: float
    current_density_mA_cm2: float
    eqe: float
    photon_rate_per_s: float
    peak_nm: float
    fwhm_nm: float
    radiant_flux_W: float = field(default=0.0)
    luminous_flux_lm: float = field(default=0.0)
    luminance_cd_m2: float = field(default=0.0)
    radiance_W_sr_m2: float = field(default=0.0)


class LEDModel:
    """Stateless physics of one device; the condition is passed in."""

    def __init__(self, parameters: LEDParameters) -> None:
        self.parameters = parameters
        e = parameters.electrical
        self._area_cm2 = parameters.pixel_area_cm2
        self._thermal_V = e.ideality * BOLTZMANN_EV_PER_K * e.temperature_K
        self._series_ohm = e.series_resistance_ohm_cm2 / self._area_cm2
        self._shunt_ohm = e.shunt_resistance_ohm_cm2 / self._area_cm2
        self._saturation_A = e.saturation_current_density_A_cm2 * self._area_cm2

    # --- electrical -----------------------------------------------------------------
    def _diode_current_A(self, junction_V: float, condition: DeviceCondition) -> float:
        x = (junction_V - condition.junction_shift_V) / self._thermal_V
        return self._saturation_A * math.expm1(min(x, 700.0))

    def _junction_current_A(self, junction_V: float, condition: DeviceCondition) -> float:
        return self._diode_current_A(junction_V, condition) + junction_V / self._shunt_ohm

    def _junction_slope_A_V(self, junction_V: float, condition: DeviceCondition) -> float:
        """d(junction current)/d(junction voltage)."""
        x = (junction_V - condition.junction_shift_V) / self._thermal_V
        diode = self._saturation_A * math.exp(x) / self._thermal_V if x < 700.0 else 0.0
        return diode + 1.0 / self._shunt_ohm

    def current_at_voltage_A(self, voltage_V: float, condition: DeviceCondition = FRESH) -> float:
        """Terminal current for a terminal voltage."""
        if condition.failure == "open":
            return 0.0
        if condition.failure == "short":
            return voltage_V / self.parameters.ageing.short_circuit_resistance_ohm
        if voltage_V == 0:
            return 0.0

        def mismatch(junction_V: float) -> float:
            return junction_V + self._series_ohm * self._junction_current_A(junction_V, condition) - voltage_V

        def slope(junction_V: float) -> float:
            return 1.0 + self._series_ohm * self._junction_slope_A_V(junction_V, condition)

        lo, hi = (0.0, voltage_V) if voltage_V > 0 else (voltage_V, 0.0)
        junction_V = increasing_root(mismatch, slope, lo, hi)
        return (voltage_V - junction_V) / self._series_ohm if self._series_ohm > 0 else \
            self._junction_current_A(junction_V, condition)

    def voltage_at_current_V(self, current_A: float, condition: DeviceCondition = FRESH) -> float:
        """Terminal voltage needed for a terminal current (inf when open-circuit)."""
        if condition.failure == "open":
            return math.copysign(math.inf, current_A) if current_A else 0.0
        if condition.failure == "short":
            return current_A * self.parameters.ageing.short_circuit_resistance_ohm
        if current_A == 0:
            return 0.0
        lo, hi = -1.0, 1.0
        while self._junction_current_A(lo, condition) > current_A:
            lo *= 2
        while self._junction_current_A(hi, condition) < current_A:
            hi *= 2
        junction_V = increasing_root(lambda v: self._junction_current_A(v, condition) - current_A,
                                     lambda v: self._junction_slope_A_V(v, condition), lo, hi)
        return junction_V + current_A * self._series_ohm

    # --- optical --------------------------------------------------------------------
    def internal_eqe(self, diode_current_density_mA_cm2: float) -> float:
        """EQE of the diode current alone (charge balance and roll-off)."""
        f = self.parameters.efficiency
        j = max(diode_current_density_mA_cm2, 1e-30)
        balance = 1.0 / (1.0 + (f.charge_balance_current_density_mA_cm2 / j) ** f.charge_balance_exponent)
        rolloff = 1.0 / (1.0 + (j / f.rolloff_current_density_mA_cm2) ** f.rolloff_exponent)
        return f.eqe_max * balance * rolloff

    def band(self, current_density_mA_cm2: float) -> tuple[float, float]:
        """(peak_nm, fwhm_nm) of the emission at a current density."""
        s = self.parameters.spectrum
        decades = math.log10(max(current_density_mA_cm2, 1e-9) / s.reference_current_density_mA_cm2)
        return (s.peak_nm + s.peak_shift_nm_per_decade * decades,
                max(s.fwhm_nm + s.fwhm_change_nm_per_decade * decades, 1.0))

    def operating_point(self, voltage_V: float, current_A: float, condition: DeviceCondition = FRESH,
                        photometry_totals: bool = True) -> OperatingPoint:
        """Optical output at a solved (V, I) pair; ``photometry_totals=False`` skips the
        spectral integrals (flux, luminance, radiance stay 0) for callers that need only
        the photon rate and band."""
        j_mA_cm2 = current_A / self._area_cm2 * 1e3
        peak, fwhm = self.band(abs(j_mA_cm2))
        if condition.failure or current_A <= 0:
            return OperatingPoint(voltage_V, current_A, j_mA_cm2, 0.0, 0.0, peak, fwhm)
        junction_V = voltage_V - current_A * self._series_ohm
        diode_A = max(self._diode_current_A(junction_V, condition), 0.0)
        eqe = (self.internal_eqe(diode_A / self._area_cm2 * 1e3) * diode_A / current_A
               * condition.luminance_fraction)
        photons = eqe * current_A / photometry.ELEMENTARY_CHARGE_C
        point = OperatingPoint(voltage_V, current_A, j_mA_cm2, eqe, photons, peak, fwhm)
        if not photometry_totals:
            return point
        flux = self.spectral_flux_W_nm(point, MODEL_GRID_NM)
        radiant = photometry.radiometric_total(flux, MODEL_GRID_NM)
        luminous = photometry.photometric_total(flux, MODEL_GRID_NM)
        projected_area_sr_m2 = math.pi * self._area_cm2 * 1e-4
        return replace(point, radiant_flux_W=radiant, luminous_flux_lm=luminous,
                       luminance_cd_m2=luminous / projected_area_sr_m2,
                       radiance_W_sr_m2=radiant / projected_area_sr_m2)

    def at_voltage(self, voltage_V: float, condition: DeviceCondition = FRESH) -> OperatingPoint:
        return self.operating_point(voltage_V, self.current_at_voltage_A(voltage_V, condition), condition)

    def at_current(self, current_A: float, condition: DeviceCondition = FRESH) -> OperatingPoint:
        return self.operating_point(self.voltage_at_current_V(current_A, condition), current_A, condition)

    def spectral_flux_W_nm(self, point: OperatingPoint, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Forward spectral flux (W/nm) of a Lambertian pixel at an operating point."""
        wl = np.asarray(wavelength_nm, float)
        if point.photon_rate_per_s <= 0:
            return np.zeros_like(wl)
        sigma = point.fwhm_nm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        photon_density = np.exp(-0.5 * ((wl - point.peak_nm) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        energy_J = photometry.PLANCK_J_S * photometry.SPEED_OF_LIGHT_M_S / (wl * 1e-9)
        return point.photon_rate_per_s * photon_density * energy_J

    def spectral_radiance_W_sr_m2_nm(self, point: OperatingPoint,
                                     wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Spectral radiance of the Lambertian pixel: flux / (pi A)."""
        return self.spectral_flux_W_nm(point, wavelength_nm) / (math.pi * self._area_cm2 * 1e-4)

    # --- figures the model itself predicts (for tests and presets) ------------------
    def fresh_photon_rate_at_current(self, current_A: float) -> float:
        if current_A <= 0:
            return 0.0
        return self.operating_point(self.voltage_at_current_V(current_A), current_A,
                                    photometry_totals=False).photon_rate_per_s
