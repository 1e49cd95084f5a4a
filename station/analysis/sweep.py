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


def first_crossing(x: ArrayLike, y: ArrayLike, threshold: float, log_y: bool = True) -> float:
    """x where y first rises through ``threshold``, interpolated (log y by default); NaN if never."""
    x, y = _arrays(x, y)
    valid = np.isfinite(x) & np.isfinite(y) & ((y > 0) if log_y else True)
    x, y = x[valid], y[valid]
    above = np.nonzero(y >= threshold)[0]
    if len(above) == 0:
        return NAN
    i = int(above[0])
    if i == 0:
        return float(x[0]) if y[0] == threshold else NAN  # already above at the first point
    y0, y1 = (np.log(y[i - 1]), np.log(y[i])) if log_y else (y[i - 1], y[i])
    target = math.log(threshold) if log_y else threshold
    return float(x[i - 1] + (target - y0) * (x[i] - x[i - 1]) / (y1 - y0))


def turn_on_voltage(voltage_V: ArrayLike, light: ArrayLike, threshold: float = 1.0) -> float:
    """Voltage at which luminance (or radiance) first reaches ``threshold``."""
    return first_crossing(voltage_V, light, threshold)


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
    current_density_at_peak_eqe_mA_cm2: float
    luminance_at_peak_eqe_cd_m2: float
    radiance_at_peak_eqe_W_sr_m2: float
    voltage_at_peak_eqe_V: float
    eqe_at_100_cd_m2: float
    eqe_at_1000_cd_m2: float
    rolloff_current_density_mA_cm2: float
    peak_wavelength_shift_nm: float
    fwhm_change_nm: float

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


UNITS = {
    "turn_on_voltage_V": "V", "max_luminance_cd_m2": "cd/m^2", "voltage_at_max_luminance_V": "V",
    "max_radiance_W_sr_m2": "W/(sr m^2)", "voltage_at_max_radiance_V": "V", "voltage_at_1000_cd_m2_V": "V",
    "peak_eqe": "1", "current_density_at_peak_eqe_mA_cm2": "mA/cm^2", "luminance_at_peak_eqe_cd_m2": "cd/m^2",
    "radiance_at_peak_eqe_W_sr_m2": "W/(sr m^2)", "voltage_at_peak_eqe_V": "V", "eqe_at_100_cd_m2": "1",
    "eqe_at_1000_cd_m2": "1", "rolloff_current_density_mA_cm2": "mA/cm^2", "peak_wavelength_shift_nm": "nm",
    "fwhm_change_nm": "nm",
}


OPTICAL_COLUMNS = ("eqe", "luminance_cd_m2", "radiance_W_sr_m2", "peak_wavelength_nm", "fwhm_nm", "centroid_nm")


def sweep_figures(columns: dict[str, np.ndarray], light_quantity: str = "photometric",
                  turn_on_luminance_cd_m2: float = 1.0, turn_on_radiance_W_sr_m2: float = 0.01) -> SweepFigures:
    """All sweep figures from a run's columns (forward-direction points only)."""
    c = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    forward = c["direction"] >= 0 if "direction" in c else np.ones(len(c["voltage_V"]), bool)
    c = {k: v[forward] for k, v in c.items()}
    if "low_light" in c:  # spectra near the noise floor: no optical figure is trusted
        dim = c["low_light"] > 0
        c = {k: (np.where(dim, NAN, x) if k in OPTICAL_COLUMNS else x) for k, x in c.items()}
    v, j, eqe = c["voltage_V"], c["current_density_mA_cm2"], c["eqe"]
    lum, rad = c["luminance_cd_m2"], c["radiance_W_sr_m2"]
    radiometric = light_quantity == "radiometric"
    threshold = turn_on_radiance_W_sr_m2 if radiometric else turn_on_luminance_cd_m2
    l_max, v_l_max = maximum(v, lum)
    r_max, v_r_max = maximum(v, rad)
    peak, _ = maximum(v, eqe)
    if math.isfinite(peak):
        k = int(np.nanargmax(np.where(np.isfinite(eqe), eqe, -np.inf)))
        at_peak = (j[k], lum[k], rad[k], v[k])
    else:
        at_peak = (NAN,) * 4
    bright = (rad if radiometric else lum) >= 10 * threshold  # spectra well above the noise
    peaks = c.get("peak_wavelength_nm", np.full(len(v), NAN))[bright]
    widths = c.get("fwhm_nm", np.full(len(v), NAN))[bright]
    finite_peaks, finite_widths = peaks[np.isfinite(peaks)], widths[np.isfinite(widths)]
    return SweepFigures(
        light_quantity=light_quantity,
        turn_on_voltage_V=turn_on_voltage(v, rad if radiometric else lum, threshold),
        turn_on_threshold=threshold,
        max_luminance_cd_m2=l_max, voltage_at_max_luminance_V=v_l_max,
        max_radiance_W_sr_m2=r_max, voltage_at_max_radiance_V=v_r_max,
        voltage_at_1000_cd_m2_V=NAN if radiometric else value_at(v, lum, 1000.0),
        peak_eqe=peak, current_density_at_peak_eqe_mA_cm2=at_peak[0], luminance_at_peak_eqe_cd_m2=at_peak[1],
        radiance_at_peak_eqe_W_sr_m2=at_peak[2], voltage_at_peak_eqe_V=at_peak[3],
        eqe_at_100_cd_m2=NAN if radiometric else value_at(eqe, lum, 100.0),
        eqe_at_1000_cd_m2=NAN if radiometric else value_at(eqe, lum, 1000.0),
        rolloff_current_density_mA_cm2=rolloff_current_density(j, eqe),
        peak_wavelength_shift_nm=float(np.ptp(finite_peaks)) if len(finite_peaks) else NAN,
        fwhm_change_nm=float(finite_widths[-1] - finite_widths[0]) if len(finite_widths) else NAN,
    )


#: the columns :func:`sweep_figures` uses
SWEEP_ANALYSIS_COLUMNS = ("voltage_V", "current_density_mA_cm2", "eqe", "luminance_cd_m2", "radiance_W_sr_m2",
                          "direction", "low_light", "peak_wavelength_nm", "fwhm_nm", "centroid_nm")


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
    quantity = judged_light_quantity(str(parameters.get("light_quantity", "photometric")), columns["centroid_nm"],
                                     columns.get("low_light"))
    figures = sweep_figures(columns, quantity, float(parameters.get("turn_on_luminance", 1.0)),
                            float(parameters.get("turn_on_radiance", 0.01)))
    radiometric = quantity == "radiometric"
    return {"figures": figures.as_dict(),
            "units": {**UNITS, "turn_on_threshold": "W/(sr m^2)" if radiometric else "cd/m^2"},
            "signal": "radiance_W_sr_m2" if radiometric and signal == "luminance_cd_m2" else signal}
