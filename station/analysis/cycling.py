"""Figures of merit of an on/off cycling run (MEASUREMENTS.md section 4), from the stored
``cycles`` stream: luminance versus cycle normalised to the first cycle, the cycle at
which it first declines by a set fraction from its highest level so far (if ever), and
the trend over the last part of the run."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .stored_run import StoredRun, parameter_values

NAN = float("nan")
#: the trend is fitted over this last fraction of the cycles
TREND_FRACTION = 0.25
#: cycles in a row below the decline level that confirm a decline (one dip does not)
DECLINE_PERSISTENCE = 3


def cycling_analysis(run: StoredRun, stream: str = "cycles") -> dict[str, Any]:
    """Cycle figures from the per-cycle mean light of the on phases; cycles count from 1
    (the stored `cycle` column from 0)."""
    p = parameter_values(run)
    rows = run.rows(stream)
    out: dict[str, Any] = {"cycles": rows}
    if not rows:
        return out
    columns = run.read_columns(["cycle", "light_mean", "luminance_mean_cd_m2", "current_density_mean_mA_cm2",
                                "voltage_mean_V"], stream)  # one row per cycle: small
    columns["cycle"] = np.asarray(columns["cycle"]) + 1  # stored from 0; every figure counts from 1
    light = np.asarray(columns["light_mean"], float)
    usable = np.isfinite(light) & (light > 0)
    if not np.any(usable):
        return out
    first = float(light[usable][0])
    relative = light / first
    out.update({"first_cycle_light": first, "light_units": p.get("light_units", ""),
                "first_cycle_luminance_cd_m2": float(columns["luminance_mean_cd_m2"][usable][0]),
                "max_relative_light": float(np.nanmax(relative)),
                "cycle_of_max": int(columns["cycle"][int(np.nanargmax(np.where(usable, relative, -np.inf)))]),
                "final_relative_light": float(relative[usable][-1]),
                "final_luminance_cd_m2": float(columns["luminance_mean_cd_m2"][usable][-1]),
                "voltage_change_V": float(columns["voltage_mean_V"][usable][-1] - columns["voltage_mean_V"][usable][0]),
                "current_density_change_mA_cm2": float(columns["current_density_mean_mA_cm2"][usable][-1]
                                                       - columns["current_density_mean_mA_cm2"][usable][0])})
    fraction = float(p.get("decline_fraction", 0.1))
    out["decline_fraction"] = fraction
    out["decline_cycle"] = decline_cycle(columns["cycle"], relative, fraction)
    out.update(trend(columns["cycle"], relative))
    return out


def decline_cycle(cycle: np.ndarray, relative: np.ndarray, fraction: float) -> int | None:
    """First cycle at which the light stays (DECLINE_PERSISTENCE cycles) more than
    ``fraction`` below its highest level so far; None if it never does."""
    highest = -math.inf
    run_start, run_length = None, 0
    for c, r in zip(cycle, relative, strict=True):
        if not math.isfinite(r):
            continue
        if r < (1 - fraction) * highest:
            run_start = int(c) if run_length == 0 else run_start
            run_length += 1
            if run_length >= DECLINE_PERSISTENCE:
                return run_start
        else:
            run_length = 0
            highest = max(highest, r)
    return None


def trend(cycle: np.ndarray, relative: np.ndarray) -> dict[str, Any]:
    """Straight line of L/L(first cycle) on cycle over the last :data:`TREND_FRACTION` of the run:
    change per 100 cycles with its 1 sigma."""
    c, r = np.asarray(cycle, float), np.asarray(relative, float)
    keep = np.isfinite(r)
    c, r = c[keep], r[keep]
    n = len(c)
    tail = max(int(math.ceil(TREND_FRACTION * n)), 3)
    if n < 4:
        return {}
    c, r = c[-tail:], r[-tail:]
    design = np.column_stack([np.ones_like(c), c])
    coefficients, *_ = np.linalg.lstsq(design, r, rcond=None)
    dof = len(c) - 2
    variance = float(np.sum((r - design @ coefficients) ** 2)) / max(dof, 1)
    covariance = np.linalg.inv(design.T @ design) * variance
    return {"trend_per_100_cycles": 100 * float(coefficients[1]),
            "trend_uncertainty_per_100_cycles": 100 * math.sqrt(float(covariance[1, 1])),
            "trend_from_cycle": int(c[0]),
            "trend_level": float(coefficients[0] + coefficients[1] * c[-1])}
