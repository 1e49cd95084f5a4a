"""Dark devices with a known truth: single-carrier (hole-only, electron-only) diodes and a
lateral film.

**Single-carrier diode** (thickness d, permittivity eps, mobility mu, traps N_t at depth
E_t, background carriers n_0), in Lampert's regional picture of space-charge-limited
current (Lampert and Mark, "Current Injection in Solids", 1970):

* ohmic: J = q n_0 mu V / d;
* trap-limited space charge below the trap-filled limit: theta (9/8) eps eps0 mu V^2 / d^3,
  with theta = n_1 / (n_1 + N_t), n_1 = N_eff exp(-E_t / kT) (shallow-trap factor);
* traps filled at V_TFL = q N_t d^2 / (2 eps eps0) (MEASUREMENTS.md section 4); above it the
  current rises steeply to the trap-free Mott-Gurney law (9/8) eps eps0 mu V^2 / d^3. The
  rise begins at V_TFL and completes over a relative width ``trap_filling_width`` (a
  spread of trap energies): Theta(V) = theta + (1 - theta) (1 - exp(-((V - V_TFL) / (w V_TFL))^2)).

J = J_ohmic + Theta(V) J_MG; odd in V (a symmetric stack). The station's analysis must
give back N_t from V_TFL and mu from the Mott-Gurney region: their truth is these
parameters.

**Lateral film** (conductivity sigma, thickness T, channel length L and width W between
two coplanar contacts): I = sigma (T W / L) V, ohmic.

Neither emits light; the device does not age.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from station.core import photometry

from .led_model import AgeingParameters, DeviceCondition, OperatingPoint, increasing_root

VACUUM_PERMITTIVITY_F_M = 8.8541878128e-12
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: a dark device does not age (the simulated LED's ageing needs a reference; no light: no ageing)
NOT_AGEING = AgeingParameters(reference_current_density_mA_cm2=10.0, reference_T_percent=50.0,
                              reference_lifetime_h=1e9)


@dataclass(frozen=True)
class SingleCarrierParameters:
    """A hole-only or electron-only diode."""

    name: str
    description: str
    carrier: str  # "hole" or "electron"
    thickness_nm: float
    relative_permittivity: float
    mobility_cm2_Vs: float
    trap_density_cm3: float
    trap_depth_eV: float
    background_density_cm3: float
    effective_density_of_states_cm3: float = 2.5e19
    trap_filling_width: float = 0.08
    temperature_K: float = 300.0
    pixel_area_cm2: float = 0.04
    ageing: AgeingParameters = field(default=NOT_AGEING)
    kind: str = "single-carrier"
    shunt_resistance_ohm_cm2: float | None = None  # a leak in parallel (a defective pixel)

    def with_area(self, pixel_area_cm2: float) -> SingleCarrierParameters:
        return replace(self, pixel_area_cm2=pixel_area_cm2)

    @property
    def trap_filled_limit_V(self) -> float:
        """V_TFL = q N_t d^2 / (2 eps eps0)."""
        d_m = self.thickness_nm * 1e-9
        return (photometry.ELEMENTARY_CHARGE_C * self.trap_density_cm3 * 1e6 * d_m ** 2
                / (2 * self.relative_permittivity * VACUUM_PERMITTIVITY_F_M))

    @property
    def trap_factor(self) -> float:
        """theta = n_1 / (n_1 + N_t): the free fraction of the injected charge before the traps fill."""
        n1 = self.effective_density_of_states_cm3 * math.exp(
            -self.trap_depth_eV / (BOLTZMANN_EV_PER_K * self.temperature_K))
        return n1 / (n1 + self.trap_density_cm3)

    def mott_gurney_A_cm2(self, voltage_V: float) -> float:
        """(9/8) eps eps0 mu V^2 / d^3, A/cm^2."""
        d_m = self.thickness_nm * 1e-9
        j_A_m2 = (9 / 8 * self.relative_permittivity * VACUUM_PERMITTIVITY_F_M * self.mobility_cm2_Vs * 1e-4
                  * voltage_V ** 2 / d_m ** 3)
        return j_A_m2 * 1e-4

    def current_density_A_cm2(self, voltage_V: float) -> float:
        v = abs(voltage_V)
        d_cm = self.thickness_nm * 1e-7
        ohmic = photometry.ELEMENTARY_CHARGE_C * self.background_density_cm3 * self.mobility_cm2_Vs * v / d_cm
        v_tfl, theta = self.trap_filled_limit_V, self.trap_factor
        filled = 0.0 if v <= v_tfl else -math.expm1(-((v - v_tfl) / (self.trap_filling_width * v_tfl)) ** 2)
        j = ohmic + (theta + (1 - theta) * filled) * self.mott_gurney_A_cm2(v)
        return math.copysign(j, voltage_V)


@dataclass(frozen=True)
class LateralFilmParameters:
    """A film between two coplanar contacts."""

    name: str
    description: str
    conductivity_S_cm: float
    film_thickness_nm: float
    channel_length_um: float
    channel_width_mm: float
    pixel_area_cm2: float = 0.04  # not used by the film (the station's configuration may still name one)
    ageing: AgeingParameters = field(default=NOT_AGEING)
    kind: str = "lateral-film"
    shunt_resistance_ohm_cm2: float | None = None  # a leak in parallel (a defective pixel)

    def with_area(self, pixel_area_cm2: float) -> LateralFilmParameters:
        return replace(self, pixel_area_cm2=pixel_area_cm2)

    @property
    def conductance_S(self) -> float:
        """sigma T W / L."""
        return (self.conductivity_S_cm * self.film_thickness_nm * 1e-7 * self.channel_width_mm * 0.1
                / (self.channel_length_um * 1e-4))


DarkDeviceParameters = SingleCarrierParameters | LateralFilmParameters


def dark_pixel_parameters(base: DarkDeviceParameters, area_cm2: float, z: np.ndarray, spread: float,
                          shunt_ohm_cm2: float | None) -> DarkDeviceParameters:
    """One pixel of a substrate of dark devices: mobility, trap density and background density
    (or a film's conductivity) each x exp(N(0, spread)), with an optional leak."""
    if isinstance(base, LateralFilmParameters):
        return replace(base, conductivity_S_cm=base.conductivity_S_cm * math.exp(spread * z[0]),
                       pixel_area_cm2=area_cm2, shunt_resistance_ohm_cm2=shunt_ohm_cm2)
    return replace(base, mobility_cm2_Vs=base.mobility_cm2_Vs * math.exp(spread * z[0]),
                   trap_density_cm3=base.trap_density_cm3 * math.exp(spread * z[1]),
                   background_density_cm3=base.background_density_cm3 * math.exp(spread * z[2]),
                   pixel_area_cm2=area_cm2, shunt_resistance_ohm_cm2=shunt_ohm_cm2)


class DarkDeviceModel:
    """The electrical interface of :class:`~sim_instruments.led_model.LEDModel` for a dark device."""

    _thermal_V = 0.0259  # the simulated LED's cycling response uses it; a dark device has none

    def __init__(self, parameters: DarkDeviceParameters) -> None:
        self.parameters = parameters
        self._area_cm2 = parameters.pixel_area_cm2

    def current_at_voltage_A(self, voltage_V: float, condition: DeviceCondition | None = None) -> float:
        p = self.parameters
        leak = 0.0 if p.shunt_resistance_ohm_cm2 is None else voltage_V * self._area_cm2 / p.shunt_resistance_ohm_cm2
        if isinstance(p, LateralFilmParameters):
            return p.conductance_S * voltage_V + leak
        return p.current_density_A_cm2(voltage_V) * self._area_cm2 + leak

    def voltage_at_current_V(self, current_A: float, condition: DeviceCondition | None = None) -> float:
        if current_A == 0:
            return 0.0
        p = self.parameters
        if isinstance(p, LateralFilmParameters):
            return current_A / self.current_at_voltage_A(1.0)
        magnitude = abs(current_A)
        hi = 1.0
        while self.current_at_voltage_A(hi) < magnitude:
            hi *= 2
            if hi > 1e6:
                return math.copysign(math.inf, current_A)
        v = increasing_root(lambda x: self.current_at_voltage_A(x) - magnitude,
                            lambda x: (self.current_at_voltage_A(x * 1.000001 + 1e-12) - self.current_at_voltage_A(x))
                            / (x * 0.000001 + 1e-12), 0.0, hi)
        return math.copysign(v, current_A)

    def operating_point(self, voltage_V: float, current_A: float, condition: DeviceCondition | None = None,
                        photometry_totals: bool = True) -> OperatingPoint:
        return OperatingPoint(voltage_V, current_A, current_A / self._area_cm2 * 1e3, 0.0, 0.0, math.nan, math.nan)

    def fresh_photon_rate_at_current(self, current_A: float) -> float:
        return 0.0

    def spectral_flux_W_nm(self, point: OperatingPoint, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(wavelength_nm, float))

    def spectral_radiance_W_sr_m2_nm(self, point: OperatingPoint,
                                     wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(wavelength_nm, float))
