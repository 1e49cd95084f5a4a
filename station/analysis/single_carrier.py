"""Figures of a dark J-V: space-charge-limited current of single-carrier devices, and the
conductivity of a lateral film (MEASUREMENTS.md section 4).

On log-log axes a single-carrier device shows an **ohmic** region (slope 1), a steep
**trap-filling** region starting at the trap-filled-limit voltage V_TFL, and the trap-free
**Mott-Gurney** region (slope 2):

* the local slope d ln|J| / d ln V along the curve (central differences over neighbours
  at least 1 % apart in voltage);
* ohmic region: the longest run of points with slope within 1 +- 0.25, before the steep rise;
* trap-filling region: the points after the ohmic region with slope at least 3, up to the
  steepest and on while the slope stays at least 3;
* V_TFL: where the straight line through the steepest part of the trap-filling region
  (slope at least half its maximum; log-log) meets the ohmic line, i.e. the onset of the
  steep rise; N_t = 2 eps eps0 V_TFL / (q d^2);
* Mott-Gurney region: the longest run of points after the trap-filling region with slope
  within 2 +- 0.25, below compliance; mu from J = (9/8) eps eps0 mu V^2 / d^3 with the
  free carriers' ohmic current in parallel: J = a V + b V^2 over the region, mu from b. Its
  uncertainty holds the fit's and the model's (half the difference to mu with the exponent
  held at 2 and nothing in parallel): :func:`mott_gurney_mobility`; the slope fitted freely
  over the region is reported beside it;
* lateral film: sigma = G L / (T W), G the least-squares slope of I against V (with an
  offset) over the points below compliance, with its standard error.

Every region can be given instead of detected (``regions``: name -> (V_low, V_high)); the
figures say which were given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from station.core.photometry import ELEMENTARY_CHARGE_C

VACUUM_PERMITTIVITY_F_M = 8.8541878128e-12
OHMIC_SLOPE, MOTT_GURNEY_SLOPE, SLOPE_TOLERANCE = 1.0, 2.0, 0.25
STEEP_SLOPE = 3.0
MIN_REGION_POINTS = 4
REGION_NAMES = ("ohmic", "trap_filling", "mott_gurney")


@dataclass(frozen=True)
class Region:
    name: str
    low_V: float
    high_V: float
    points: int
    given: bool  # given by the user, not detected


def local_slope(voltage_V: NDArray[np.float64], current_density: NDArray[np.float64]) -> NDArray[np.float64]:
    """d ln|J| / d ln V at each point (NaN where it cannot be taken), over neighbours at least
    1 % apart in voltage so that dense sweeps do not turn noise into slope."""
    v, j = np.abs(np.asarray(voltage_V, float)), np.abs(np.asarray(current_density, float))
    n = len(v)
    slope = np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        lv, lj = np.log(v), np.log(j)
    for i in range(n):
        lo, hi = i, i
        while lo > 0 and lv[i] - lv[lo] < 0.01:
            lo -= 1
        while hi < n - 1 and lv[hi] - lv[i] < 0.01:
            hi += 1
        if hi > lo and np.isfinite(lv[hi] - lv[lo]) and lv[hi] != lv[lo] and np.isfinite(lj[hi] - lj[lo]):
            slope[i] = (lj[hi] - lj[lo]) / (lv[hi] - lv[lo])
    return slope


def _longest_run(mask: NDArray[np.bool_]) -> tuple[int, int]:
    """(first, last + 1) of the longest run of True; (0, 0) if none."""
    best, start = (0, 0), None
    for i, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def _in(v: NDArray[np.float64], bounds: tuple[float, float]) -> NDArray[np.bool_]:
    return (v >= bounds[0]) & (v <= bounds[1])


def mott_gurney_mobility(v: NDArray[np.float64], j_A_m2: NDArray[np.float64], eps_F_m: float,
                         d_m: float) -> tuple[float, float]:
    """(mu in m^2/(V s), its relative 1 sigma) over a Mott-Gurney region.

    mu comes from J = a V + b V^2 (the ohmic current of the free carriers in parallel with
    the space-charge-limited current; relative residuals), b = (9/8) eps mu / d^3. Its
    uncertainty holds the fit's (residual-scaled covariance) and the model's: half the
    difference to mu with the exponent held at 2 and nothing in parallel (the mean of
    ln(8 J d^3 / (9 eps V^2))), the spread between two readings of the same region. With
    no positive V^2 term the held-exponent mu is given, its model error the drift of ln mu
    along the region."""
    n = len(v)
    ln_mu = np.log(8 * j_A_m2 * d_m ** 3 / (9 * eps_F_m * v ** 2))
    held = float(np.exp(np.mean(ln_mu)))
    design = np.vstack([v / j_A_m2, v ** 2 / j_A_m2]).T
    (a, b), *_ = np.linalg.lstsq(design, np.ones(n), rcond=None)
    residual = design @ np.array([a, b]) - 1.0
    if b > 0 and n > 2:
        scale = float(np.sum(residual ** 2)) / (n - 2)
        b_sigma = math.sqrt(scale * float(np.linalg.inv(design.T @ design)[1, 1]))
        mu = float(b) * 8 * d_m ** 3 / (9 * eps_F_m)
        return mu, math.hypot(b_sigma / float(b), 0.5 * math.log(mu / held))
    trend, intercept = np.polyfit(np.log(v), ln_mu, 1)
    scatter = ln_mu - (trend * np.log(v) + intercept)
    noise = math.sqrt(float(np.sum(scatter ** 2)) / max(n - 2, 1) / n)
    return held, math.hypot(noise, abs(float(trend)) * float(np.ptp(np.log(v))))


def _line(lv: NDArray[np.float64], lj: NDArray[np.float64]) -> tuple[float, float]:
    """(slope, intercept) of ln J against ln V by least squares."""
    slope, intercept = np.polyfit(lv, lj, 1)
    return float(slope), float(intercept)


def single_carrier_figures(voltage_V: NDArray[np.float64], current_density_mA_cm2: NDArray[np.float64],
                           in_compliance: NDArray[np.bool_], thickness_nm: float, relative_permittivity: float,
                           regions: Mapping[str, tuple[float, float]] | None = None) -> dict[str, object]:
    """Figures of one forward sweep of a single-carrier device (points with V > 0 and J > 0)."""
    regions = dict(regions or {})
    v = np.asarray(voltage_V, float)
    j = np.asarray(current_density_mA_cm2, float) * 1e-3 * 1e4  # A/m^2
    usable = np.isfinite(v) & np.isfinite(j) & (v > 0) & (j > 0) & ~np.asarray(in_compliance, bool)
    order = np.argsort(v[usable])
    v, j = v[usable][order], j[usable][order]
    figures: dict[str, object] = {"points_used": int(len(v))}
    if len(v) < 2 * MIN_REGION_POINTS:
        figures["note"] = f"too few usable points ({len(v)}) for a log-log analysis"
        return figures
    slope = local_slope(v, j)
    lv, lj = np.log(v), np.log(j)
    eps = relative_permittivity * VACUUM_PERMITTIVITY_F_M
    d_m = thickness_nm * 1e-9
    found: dict[str, Region] = {}

    steep = np.nan_to_num(slope, nan=0.0) >= STEEP_SLOPE
    first_steep = int(np.argmax(steep)) if steep.any() else len(v)
    # ohmic: the longest run of slope ~1 before the steep rise
    if "ohmic" in regions:
        ohmic = _in(v, regions["ohmic"])
    else:
        near_one = np.abs(slope - OHMIC_SLOPE) <= SLOPE_TOLERANCE
        near_one[first_steep:] = False
        a, b = _longest_run(near_one)
        ohmic = np.zeros(len(v), bool)
        ohmic[a:b] = True
    if ohmic.sum() >= MIN_REGION_POINTS:
        found["ohmic"] = Region("ohmic", float(v[ohmic].min()), float(v[ohmic].max()), int(ohmic.sum()),
                                "ohmic" in regions)
        ohmic_slope, ohmic_intercept = _line(lv[ohmic], lj[ohmic])
        figures["ohmic_slope"] = ohmic_slope
        # the ohmic line with its slope held at 1 (its intercept: the mean of ln J - ln V)
        ohmic_offset = float(np.mean(lj[ohmic] - lv[ohmic]))
        figures["ohmic_conductance_mA_cm2_V"] = math.exp(ohmic_offset) * 0.1  # J/V; A/m^2 -> mA/cm^2
    # trap filling: from the first steep point through the steepest, while the slope stays steep
    if "trap_filling" in regions:
        filling = _in(v, regions["trap_filling"])
    else:
        filling = np.zeros(len(v), bool)
        if steep.any():
            a, b = first_steep, first_steep
            while b < len(v) and steep[b]:
                b += 1
            filling[a:b] = True
    if filling.sum() >= 2 and "ohmic" in found:
        # the line through the steepest part of the rise (slope at least half its maximum): the onset
        steepest = filling & (np.nan_to_num(slope, nan=0.0) >= 0.5 * np.nanmax(np.where(filling, slope, np.nan)))
        if steepest.sum() < 2 or "trap_filling" in regions:
            steepest = filling
        fill_slope, fill_intercept = _line(lv[steepest], lj[steepest])
        found["trap_filling"] = Region("trap_filling", float(v[filling].min()), float(v[filling].max()),
                                       int(filling.sum()), "trap_filling" in regions)
        figures["trap_filling_slope"] = fill_slope
        if fill_slope > OHMIC_SLOPE:
            v_tfl = math.exp((ohmic_offset - fill_intercept) / (fill_slope - OHMIC_SLOPE))
            figures["trap_filled_limit_V"] = v_tfl
            figures["trap_density_cm3"] = 2 * eps * v_tfl / (ELEMENTARY_CHARGE_C * d_m ** 2) * 1e-6
    # Mott-Gurney: the longest run of slope ~2 after the trap-filling region
    if "mott_gurney" in regions:
        mg = _in(v, regions["mott_gurney"])
    else:
        after = int(np.nonzero(filling)[0].max()) + 1 if filling.any() else (
            int(np.nonzero(ohmic)[0].max()) + 1 if ohmic.any() else 0)
        near_two = np.abs(slope - MOTT_GURNEY_SLOPE) <= SLOPE_TOLERANCE
        near_two[:after] = False
        a, b = _longest_run(near_two)
        mg = np.zeros(len(v), bool)
        mg[a:b] = True
    if mg.sum() >= MIN_REGION_POINTS:
        found["mott_gurney"] = Region("mott_gurney", float(v[mg].min()), float(v[mg].max()), int(mg.sum()),
                                      "mott_gurney" in regions)
        mu, relative_sigma = mott_gurney_mobility(v[mg], j[mg], eps, d_m)
        figures["mobility_cm2_Vs"] = mu * 1e4
        figures["mobility_uncertainty_cm2_Vs"] = mu * 1e4 * relative_sigma
        figures["mott_gurney_slope"] = _line(lv[mg], lj[mg])[0]
    for name in REGION_NAMES:
        if name in found:
            r = found[name]
            figures[f"{name}_from_V"], figures[f"{name}_to_V"] = r.low_V, r.high_V
            figures[f"{name}_points"] = r.points
    given = [name for name in REGION_NAMES if name in regions]
    if given:
        figures["regions_given"] = ", ".join(given)
    missing = [name for name in REGION_NAMES if name not in found]
    if missing:
        figures["note"] = f"not found: {', '.join(missing)} region (give it with --{missing[0].replace('_', '-')}-V)"
    return figures


def lateral_figures(voltage_V: NDArray[np.float64], current_A: NDArray[np.float64], in_compliance: NDArray[np.bool_],
                    film_thickness_nm: float, channel_length_um: float, channel_width_mm: float,
                    window: tuple[float, float] | None = None) -> dict[str, object]:
    """sigma = (I/V) L / (T W) of a film between two coplanar contacts (ohmic: I = G V + I_0)."""
    v, i = np.asarray(voltage_V, float), np.asarray(current_A, float)
    usable = np.isfinite(v) & np.isfinite(i) & ~np.asarray(in_compliance, bool)
    if window is not None:
        usable &= _in(v, window)
    v, i = v[usable], i[usable]
    if len(v) < 3 or np.ptp(v) == 0:
        return {"points_used": int(len(v)), "note": "too few usable points for a conductance fit"}
    (g, offset), cov = np.polyfit(v, i, 1, cov=True)
    geometry_m = channel_length_um * 1e-6 / (film_thickness_nm * 1e-9 * channel_width_mm * 1e-3)
    sigma_S_m = g * geometry_m
    residual = i - (g * v + offset)
    figures: dict[str, object] = {
        "points_used": int(len(v)), "conductance_S": float(g), "offset_current_A": float(offset),
        "conductivity_S_cm": float(sigma_S_m * 1e-2),
        "conductivity_uncertainty_S_cm": float(math.sqrt(cov[0, 0]) * geometry_m * 1e-2),
        "linearity_residual_rms_A": float(np.sqrt(np.mean(residual ** 2))),
        "fit_from_V": float(v.min()), "fit_to_V": float(v.max())}
    if window is not None:
        figures["regions_given"] = "fit"
    return figures
