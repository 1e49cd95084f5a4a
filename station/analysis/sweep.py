"""Figures of merit of a sweep (MEASUREMENTS.md section 4), as pure functions.

Inputs are the run's columns as arrays; NaN marks points without a valid optical
reading and is ignored. Threshold crossings are interpolated on log(L) versus V (or
log J), as is usual for turn-on and for EQE at a given luminance.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .light_quantity import judged_light_quantity
from .stored_run import StoredRun, parameter_values

NAN = float("nan")


def _arrays(*columns: ArrayLike) -> list[np.ndarray]:
    return [np.asarray(c, dtype=float) for c in columns]


def first_crossing(x: ArrayLike, y: ArrayLike, threshold: float, log_y: bool = True,
                   below: ArrayLike | None = None) -> float:
    """x where y first rises through ``threshold``, interpolated (log y by default); NaN
    if never, or if already above at the first point.

    ``below`` marks points without a usable value whose light was nevertheless below the
    threshold (below detection): evidence that the threshold was not yet reached. When
    the last point before the crossing is such a point, the crossing is extrapolated
    down from the slope of the first two points at or above the threshold and kept
    between the two points.
    """
    if not math.isfinite(threshold) or (log_y and not threshold > 0):
        return NAN  # no crossing of a threshold a log scale cannot hold (a file's stored parameter)
    x, y = _arrays(x, y)
    valid = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    evidence = valid | (np.isfinite(x) & (np.asarray(below, bool) if below is not None else False))
    x, y, valid = x[evidence], y[evidence], valid[evidence]
    above = np.flatnonzero(valid & (y >= threshold))
    if len(above) == 0:
        return NAN
    i = int(above[0])
    if i == 0:
        return float(x[0]) if y[0] == threshold else NAN  # already above at the first point

    def scale(value: float) -> float:
        return math.log(value) if log_y else value

    target = scale(threshold)
    if valid[i - 1]:
        y0, y1 = scale(y[i - 1]), scale(y[i])
        return float(x[i - 1] + (target - y0) * (x[i] - x[i - 1]) / (y1 - y0))
    later = [k for k in range(i + 1, len(x)) if valid[k] and x[k] != x[i]][:1]
    if not later:
        return float(x[i])
    k = later[0]
    slope = (scale(y[k]) - scale(y[i])) / (x[k] - x[i])
    if not slope > 0:
        return float(x[i])
    estimate = x[i] - (scale(y[i]) - target) / slope
    return float(min(max(estimate, min(x[i - 1], x[i])), max(x[i - 1], x[i])))


def turn_on_voltage(voltage_V: ArrayLike, light: ArrayLike, threshold: float = 1.0,
                    below: ArrayLike | None = None) -> float:
    """Voltage at which luminance (or radiance) first reaches ``threshold``."""
    return first_crossing(voltage_V, light, threshold, below=below)


def maximum(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """(max y, x at the max), NaN if no valid point."""
    x, y = _arrays(x, y)
    valid = np.isfinite(y)
    if not valid.any():
        return NAN, NAN
    i = int(np.nanargmax(np.where(valid, y, -np.inf)))
    return float(y[i]), float(x[i])


def value_at(x_of: ArrayLike, at: ArrayLike, target: float, log_at: bool = True) -> float:
    """``x_of`` interpolated where ``at`` first reaches ``target`` (on the rising side)."""
    return first_crossing(x_of, at, target, log_y=log_at)


def rolloff_current_density(current_density_mA_cm2: ArrayLike, eqe: ArrayLike) -> float:
    """J above the EQE peak where EQE falls to half its peak (log-J interpolated); NaN if not reached."""
    j, e = _arrays(current_density_mA_cm2, eqe)
    valid = np.isfinite(j) & np.isfinite(e) & (j > 0)
    j, e = j[valid], e[valid]
    if len(e) < 2:
        return NAN
    order = np.argsort(j)
    j, e = j[order], e[order]
    k = int(np.argmax(e))
    half = e[k] / 2
    below = np.nonzero(e[k:] <= half)[0]
    if len(below) == 0:
        return NAN
    i = k + int(below[0])
    lj0, lj1 = math.log(j[i - 1]), math.log(j[i])
    return float(math.exp(lj0 + (half - e[i - 1]) * (lj1 - lj0) / (e[i] - e[i - 1])))


#: the peak EQE is the vertex of a parabola in log10 J through the points within this many
#: decades of the largest EQE (at least PEAK_FIT_MIN_POINTS points)
PEAK_FIT_HALF_WIDTH_DECADES = 0.5
PEAK_FIT_MIN_POINTS = 5


@dataclass(frozen=True)
class PeakFit:
    """The top of a curve: value, its 1 sigma, and where (log10 J)."""

    value: float
    sigma: float
    log_j: float
    fitted: bool  # False: the largest point itself (too few points or no maximum inside the window)
    #: 1 sigma of where (log10 J): the vertex's, or half the grid step around the largest point
    log_j_sigma: float = NAN


def peak_by_fit(current_density_mA_cm2: ArrayLike, values: ArrayLike, sigmas: ArrayLike | None = None) -> PeakFit:
    """The maximum of ``values`` against log10 J from a local parabola: the largest of noisy
    points is biased up (by about a sigma), the vertex of a fit over the top is not.

    Weighted by ``sigmas`` where every point has one; the covariance is scaled up by the
    reduced chi-square when the parabola fits worse than the noise. A real top is not a
    parabola (an EQE curve rises and rolls off at different rates), so the fit is repeated
    over a window half as wide and the two disagreements (value and place) are added as
    model error. A fit whose vertex is not a maximum inside its window gives the largest
    point, with its sigma and half the grid step as its place's.
    """
    j, y = _arrays(current_density_mA_cm2, values)
    s = _arrays(sigmas)[0] if sigmas is not None else np.full(len(y), NAN)
    valid = np.isfinite(j) & (j > 0) & np.isfinite(y)
    if not valid.any():
        return PeakFit(NAN, NAN, NAN, False)
    x, y, s = np.log10(j[valid]), y[valid], s[valid]
    k = int(np.argmax(y))
    steps = np.abs(np.diff(np.sort(x)))
    grid = float(np.median(steps[steps > 0])) if np.any(steps > 0) else NAN
    largest = PeakFit(float(y[k]), float(s[k]), float(x[k]), False, grid / 2)
    wide = _vertex_fit(x, y, s, k, PEAK_FIT_HALF_WIDTH_DECADES)
    if wide is None:
        return largest
    narrow = _vertex_fit(x, y, s, k, PEAK_FIT_HALF_WIDTH_DECADES / 2)
    if narrow is None:
        return wide
    return PeakFit(wide.value, math.hypot(wide.sigma, wide.value - narrow.value), wide.log_j, True,
                   math.hypot(wide.log_j_sigma, wide.log_j - narrow.log_j))


def _vertex_fit(x: np.ndarray, y: np.ndarray, s: np.ndarray, k: int, half_width: float) -> PeakFit | None:
    """The parabola's vertex over the points within ``half_width`` decades of point ``k``
    (at least :data:`PEAK_FIT_MIN_POINTS`); None when it is no maximum inside the window."""
    distance = np.abs(x - x[k])
    window = distance <= half_width
    if window.sum() < PEAK_FIT_MIN_POINTS:
        window = distance <= np.sort(distance)[min(PEAK_FIT_MIN_POINTS, len(x)) - 1]
    xw, yw, sw = x[window], y[window], s[window]
    if len(xw) < 4 or np.ptp(xw) == 0:
        return None
    weighted = bool(np.all(np.isfinite(sw) & (sw > 0)))
    x0 = float(xw.mean())  # centred: a better-conditioned fit
    try:
        coefficients, cov = np.polyfit(xw - x0, yw, 2, w=1 / sw if weighted else None,
                                       cov="unscaled" if weighted else True)
    except (np.linalg.LinAlgError, ValueError):
        return None
    c2, c1, c0 = coefficients
    if not c2 < 0:
        return None
    vertex = -c1 / (2 * c2)
    if not xw.min() - x0 <= vertex <= xw.max() - x0:
        return None
    peak = c0 - c1 * c1 / (4 * c2)
    if weighted:
        residual = (yw - np.polyval(coefficients, xw - x0)) / sw
        dof = len(xw) - 3
        cov = cov * max(1.0, float(np.sum(residual ** 2)) / dof) if dof > 0 else cov
    gradient = np.array([c1 * c1 / (4 * c2 * c2), -c1 / (2 * c2), 1.0])
    where = np.array([c1 / (2 * c2 * c2), -1 / (2 * c2), 0.0])
    finite = bool(np.all(np.isfinite(cov)))
    sigma = math.sqrt(max(float(gradient @ cov @ gradient), 0.0)) if finite else NAN
    log_j_sigma = math.sqrt(max(float(where @ cov @ where), 0.0)) if finite else NAN
    return PeakFit(float(peak), sigma, float(vertex + x0), True, log_j_sigma)


def _at_log_j(log_j: float, current_density_mA_cm2: np.ndarray, values: np.ndarray, log_values: bool) -> float:
    """``values`` interpolated at log10 J (log-log for light), over the valid points."""
    j, y = current_density_mA_cm2, values
    ok = np.isfinite(j) & (j > 0) & np.isfinite(y) & ((y > 0) if log_values else True)
    if ok.sum() < 2 or not math.isfinite(log_j):
        return NAN
    x = np.log10(j[ok])
    order = np.argsort(x)
    x, y = x[order], y[ok][order]
    if log_values:
        return float(10 ** np.interp(log_j, x, np.log10(y)))
    return float(np.interp(log_j, x, y))


@dataclass(frozen=True)
class SweepFigures:
    """Figures of merit of a J-V-L or EQE-J sweep. ``light_quantity`` says whether
    thresholds and maxima are photometric (cd/m^2) or radiometric (W/(sr m^2))."""

    light_quantity: str
    turn_on_voltage_V: float
    turn_on_threshold: float
    max_luminance_cd_m2: float
    voltage_at_max_luminance_V: float
    max_radiance_W_sr_m2: float
    voltage_at_max_radiance_V: float
    voltage_at_1000_cd_m2_V: float
    peak_eqe: float
    peak_eqe_uncertainty: float
    current_density_at_peak_eqe_mA_cm2: float
    current_density_at_peak_eqe_uncertainty_mA_cm2: float
    luminance_at_peak_eqe_cd_m2: float
    luminance_at_peak_eqe_uncertainty_cd_m2: float
    radiance_at_peak_eqe_W_sr_m2: float
    radiance_at_peak_eqe_uncertainty_W_sr_m2: float
    voltage_at_peak_eqe_V: float
    voltage_at_peak_eqe_uncertainty_V: float
    eqe_at_100_cd_m2: float
    eqe_at_1000_cd_m2: float
    rolloff_current_density_mA_cm2: float
    peak_wavelength_shift_nm: float
    peak_wavelength_shift_uncertainty_nm: float
    fwhm_change_nm: float
    fwhm_change_uncertainty_nm: float
    spectral_stability_points: int

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


UNITS = {
    "turn_on_voltage_V": "V", "max_luminance_cd_m2": "cd/m^2", "voltage_at_max_luminance_V": "V",
    "max_radiance_W_sr_m2": "W/(sr m^2)", "voltage_at_max_radiance_V": "V", "voltage_at_1000_cd_m2_V": "V",
    "peak_eqe": "1", "peak_eqe_uncertainty": "1", "current_density_at_peak_eqe_mA_cm2": "mA/cm^2",
    "luminance_at_peak_eqe_cd_m2": "cd/m^2", "current_density_at_peak_eqe_uncertainty_mA_cm2": "mA/cm^2",
    "luminance_at_peak_eqe_uncertainty_cd_m2": "cd/m^2", "radiance_at_peak_eqe_uncertainty_W_sr_m2": "W/(sr m^2)",
    "voltage_at_peak_eqe_uncertainty_V": "V",
    "radiance_at_peak_eqe_W_sr_m2": "W/(sr m^2)", "voltage_at_peak_eqe_V": "V", "eqe_at_100_cd_m2": "1",
    "eqe_at_1000_cd_m2": "1", "rolloff_current_density_mA_cm2": "mA/cm^2", "peak_wavelength_shift_nm": "nm",
    "peak_wavelength_shift_uncertainty_nm": "nm", "fwhm_change_nm": "nm", "fwhm_change_uncertainty_nm": "nm",
    "spectral_stability_points": "1",
}


OPTICAL_COLUMNS = ("eqe", "luminance_cd_m2", "radiance_W_sr_m2", "peak_wavelength_nm", "fwhm_nm", "centroid_nm")
#: columns left out where the luminance is not significant or the colour impossible
LUMINANCE_COLUMNS = ("luminance_cd_m2",)
#: files without a shape flag: spectra whose band total is this many sigmas count for spectral stability
STABILITY_SNR = 50.0
#: residuals beyond this many robust sigmas are left out of the stability fit
OUTLIER_SIGMAS = 4.0


def spectral_change(log_current_density: ArrayLike, values: ArrayLike) -> tuple[float, float, int]:
    """(change, its 1-sigma uncertainty, points used) of a spectrum figure across the sweep.

    The change is the slope of a straight line fitted to the figure versus log10 J,
    times the span of log10 J over the points given: the change from the first to the last
    of them, with the noise of every point averaged rather than two points differenced.
    Points further than :data:`OUTLIER_SIGMAS` robust sigmas from a first fit are left out
    of the slope. The change is first order in log J: the per-point columns hold the curve.
    """
    x, y = _arrays(log_current_density, values)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return NAN, NAN, int(len(x))
    span = float(np.ptp(x))  # the change across every adequate point, outliers or not
    for _ in range(2):
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - (slope * x + intercept)
        robust_sigma = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
        inliers = np.abs(residual) <= OUTLIER_SIGMAS * robust_sigma if robust_sigma > 0 else np.ones(len(x), bool)
        if inliers.all() or inliers.sum() < 3:
            break
        x, y = x[inliers], y[inliers]
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    spread = float(np.sum((x - x.mean()) ** 2))
    slope_sigma = math.sqrt(float(np.sum(residual ** 2)) / (len(x) - 2) / spread) if len(x) > 2 else NAN
    return float(slope * span), slope_sigma * span, int(len(x))


def sweep_figures(columns: dict[str, np.ndarray], light_quantity: str = "photometric",
                  turn_on_luminance_cd_m2: float = 1.0, turn_on_radiance_W_sr_m2: float = 0.01) -> SweepFigures:
    """All sweep figures from a run's columns (forward-direction points only).

    Points flagged low light give no optical figure but count as below the turn-on
    threshold; points whose luminance is not significant give no luminance figure.
    """
    c = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    forward = c["direction"] >= 0 if "direction" in c else np.ones(len(c["voltage_V"]), bool)
    c = {k: v[forward] for k, v in c.items()}
    n = len(c["voltage_V"])
    dim = c["low_light"] > 0 if "low_light" in c else np.zeros(n, bool)
    c = {k: (np.where(dim, NAN, x) if k in OPTICAL_COLUMNS else x) for k, x in c.items()}
    faint = dim | (c["luminance_unreliable"] > 0 if "luminance_unreliable" in c else np.zeros(n, bool))
    c = {k: (np.where(faint, NAN, x) if k in LUMINANCE_COLUMNS else x) for k, x in c.items()}
    v, j, eqe = c["voltage_V"], c["current_density_mA_cm2"], c["eqe"]
    lum, rad = c["luminance_cd_m2"], c["radiance_W_sr_m2"]
    radiometric = light_quantity == "radiometric"
    threshold = turn_on_radiance_W_sr_m2 if radiometric else turn_on_luminance_cd_m2
    l_max, v_l_max = maximum(v, lum)
    r_max, v_r_max = maximum(v, rad)
    top = peak_by_fit(j, eqe, c.get("eqe_uncertainty"))
    peak = top.value
    if math.isfinite(peak):
        x, dx = top.log_j, top.log_j_sigma
        at_peak = (10 ** x, _at_log_j(x, j, lum, True), _at_log_j(x, j, rad, True), _at_log_j(x, j, v, False))
        # where EQE peaks L and L_e go as J (log-log slope 1); V by its own local slope
        dv_dx = (_at_log_j(x + 0.05, j, v, False) - _at_log_j(x - 0.05, j, v, False)) / 0.1
        at_peak_sigma = (*(value * math.log(10) * dx for value in at_peak[:3]), abs(dv_dx) * dx)
    else:
        at_peak = at_peak_sigma = (NAN,) * 4
    adequate = _adequate_signal(c, rad if radiometric else lum, threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_j = np.where(adequate & (j > 0), np.log10(j), NAN)
    shift = spectral_change(log_j, c.get("peak_wavelength_nm", np.full(n, NAN)))
    width = spectral_change(log_j, c.get("fwhm_nm", np.full(n, NAN)))
    return SweepFigures(
        light_quantity=light_quantity,
        turn_on_voltage_V=turn_on_voltage(v, rad if radiometric else lum, threshold, below=faint if not radiometric
                                          else dim),
        turn_on_threshold=threshold,
        max_luminance_cd_m2=l_max, voltage_at_max_luminance_V=v_l_max,
        max_radiance_W_sr_m2=r_max, voltage_at_max_radiance_V=v_r_max,
        voltage_at_1000_cd_m2_V=NAN if radiometric else value_at(v, lum, 1000.0),
        peak_eqe=peak, peak_eqe_uncertainty=top.sigma, current_density_at_peak_eqe_mA_cm2=at_peak[0],
        luminance_at_peak_eqe_cd_m2=at_peak[1], current_density_at_peak_eqe_uncertainty_mA_cm2=at_peak_sigma[0],
        luminance_at_peak_eqe_uncertainty_cd_m2=at_peak_sigma[1],
        radiance_at_peak_eqe_uncertainty_W_sr_m2=at_peak_sigma[2], voltage_at_peak_eqe_uncertainty_V=at_peak_sigma[3],
        radiance_at_peak_eqe_W_sr_m2=at_peak[2], voltage_at_peak_eqe_V=at_peak[3],
        eqe_at_100_cd_m2=NAN if radiometric else value_at(eqe, lum, 100.0),
        eqe_at_1000_cd_m2=NAN if radiometric else value_at(eqe, lum, 1000.0),
        rolloff_current_density_mA_cm2=rolloff_current_density(j, eqe),
        peak_wavelength_shift_nm=shift[0], peak_wavelength_shift_uncertainty_nm=shift[1],
        fwhm_change_nm=width[0], fwhm_change_uncertainty_nm=width[1], spectral_stability_points=shift[2],
    )


def _adequate_signal(c: dict[str, np.ndarray], light: np.ndarray, threshold: float) -> np.ndarray:
    """Points whose spectra are good enough for peak and width: not flagged
    ``shape_unreliable`` (older files: band total at least :data:`STABILITY_SNR` sigmas,
    or without uncertainties light at least 10 times the turn-on threshold), not
    saturated or cut off."""
    n = len(light)
    flagged = np.zeros(n, bool)
    for name in ("saturated", "truncated", "low_light", "shape_unreliable"):
        if name in c:
            flagged |= c[name] > 0
    sigma = c.get("radiance_uncertainty_W_sr_m2")
    with np.errstate(invalid="ignore"):
        if "shape_unreliable" in c:
            good = np.ones(n, bool)
        elif sigma is not None and np.isfinite(sigma).any():
            good = c["radiance_W_sr_m2"] >= STABILITY_SNR * sigma
        else:
            good = light >= 10 * threshold
    return good & ~flagged


#: the columns :func:`sweep_figures` uses
SWEEP_ANALYSIS_COLUMNS = ("voltage_V", "reference_centroid_nm", "current_density_mA_cm2", "eqe", "luminance_cd_m2",
                          "radiance_W_sr_m2",
                          "direction", "low_light", "peak_wavelength_nm", "fwhm_nm", "centroid_nm",
                          "luminance_unreliable", "radiance_uncertainty_W_sr_m2", "truncated", "saturated",
                          "shape_unreliable", "eqe_uncertainty")


def sweep_analysis(run: StoredRun, signal: str = "luminance_cd_m2", stream: str | None = None) -> dict[str, Any]:
    """Figures of merit of a stored sweep, from its columns and parameters.

    Returns ``{"figures": ..., "units": ..., "signal": ...}``: ``signal`` is the main-curve
    column for viewers (radiance instead of luminance for a device judged by radiance).
    """
    stream = stream or run.main_stream
    if run.rows(stream) == 0:
        return {}
    present = set(run.column_names(stream))
    columns = run.read_columns([name for name in SWEEP_ANALYSIS_COLUMNS if name in present], stream)
    parameters = parameter_values(run)
    quantity = judged_light_quantity(str(parameters.get("light_quantity", "photometric")), columns)
    figures = sweep_figures(columns, quantity, float(parameters.get("turn_on_luminance", 1.0)),
                            float(parameters.get("turn_on_radiance", 0.01)))
    radiometric = quantity == "radiometric"
    return {"figures": figures.as_dict(),
            "units": {**UNITS, "turn_on_threshold": "W/(sr m^2)" if radiometric else "cd/m^2"},
            "signal": "radiance_W_sr_m2" if radiometric and signal == "luminance_cd_m2" else signal}
