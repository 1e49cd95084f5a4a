"""Reversible and irreversible loss of a stress-and-rest run, from its stored ``monitor`` stream.

Each cycle stresses the device at a constant drive, then rests it with the output off,
probing the light briefly at the same drive at log-spaced times of the rest. Per cycle:

* ``L_end``: the light at the end of the stress (a straight line through the stress's last
  :data:`END_READINGS` readings, at the last one's time: less noisy than one reading);
* the recovery: L(t) = L_inf - (L_inf - L_end) exp(-t / tau) fitted to the probes, t the
  time since the output went off, with L_end as the value at t = 0; L_inf is the light the
  device would regain after a long rest, tau the recovery time constant;
* reversible loss of the cycle = (L_inf - L_end) / L0, irreversible loss so far =
  1 - L_inf / L0 (L0: the first stress reading of the first cycle);
* when the recovery cannot be fitted (fewer than :data:`MIN_PROBES` probes, or tau not
  constrained) the last probe stands for L_inf and the cycle is flagged
  ``recovery_incomplete`` (the reversible loss is then a lower bound);
* the rest is judged long enough when it lasted :data:`COMPLETE_RESTS` tau or more.

Uncertainties are 1 sigma: the fits' covariances scaled by their residuals, L0's noise (one
reading: the stress readings' scatter), and the probes' own stress. Every probe drives the
device for a second or two, which builds a little reversible loss again; its bound, the
stress's initial relative fall rate (the first :data:`END_READINGS` readings of the cycle,
where the reversible loss builds fastest) times the probes' total time under drive, is
added as a systematic 1 sigma to L_inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .lifetime import judge_quantity
from .stored_run import StoredRun

#: stress readings fitted at the end of each stress
END_READINGS = 5
#: probes needed to fit a recovery
MIN_PROBES = 3
#: a rest of this many recovery time constants leaves less than 5 % of the reversible loss
COMPLETE_RESTS = 3.0
PHASE_STRESS, PHASE_PROBE = 0, 1
#: cycles listed one by one in the printed figures (the first and last halves of a longer run)
LISTED_CYCLES = 20
LIGHT = {"photometric": "luminance_cd_m2", "radiometric": "radiance_W_sr_m2"}


@dataclass(frozen=True)
class CycleRecovery:
    """One cycle's loss split, as fractions of L0."""

    cycle: int
    stress_end_s: float
    light_end: float
    light_recovered: float  # L_inf (fitted) or the last probe
    light_recovered_sigma: float
    recovery_time_constant_s: float
    recovery_time_constant_sigma_s: float
    rest_s: float
    reversible_loss: float
    irreversible_loss: float
    reversible_sigma: float
    irreversible_sigma: float
    recovery_incomplete: bool


def fit_recovery(rest_s: np.ndarray, light: np.ndarray, light_end: float) -> tuple[float, float, float, float] | None:
    """(L_inf, sigma, tau_s, sigma) of L(t) = L_inf - (L_inf - L_end) exp(-t/tau), or None."""
    from scipy.optimize import least_squares

    t, y = np.asarray(rest_s, float), np.asarray(light, float)
    keep = np.isfinite(t) & np.isfinite(y) & (t > 0)
    t, y = t[keep], y[keep]
    if len(t) < MIN_PROBES or not math.isfinite(light_end):
        return None
    t_all, y_all = np.concatenate([[0.0], t]), np.concatenate([[light_end], y])
    tau0 = float(np.median(t))
    scale = max(float(np.max(np.abs(y))), 1e-300)

    def residual(p: np.ndarray) -> np.ndarray:
        l_inf, log_tau = p
        return (l_inf - (l_inf - light_end) * np.exp(-t_all / math.exp(log_tau)) - y_all) / scale

    try:
        result = least_squares(residual, [float(y[-1]), math.log(tau0)], x_scale=[scale, 1.0])
    except (ValueError, FloatingPointError):
        return None
    dof = max(len(t_all) - 2, 1)
    variance = float(np.sum(result.fun ** 2)) / dof
    try:
        covariance = np.linalg.inv(result.jac.T @ result.jac) * variance
    except np.linalg.LinAlgError:
        return None
    l_inf, log_tau = (float(v) for v in result.x)
    sigma_l = math.sqrt(max(covariance[0, 0], 0.0))
    sigma_log_tau = math.sqrt(max(covariance[1, 1], 0.0))
    tau = math.exp(log_tau)
    if not (math.isfinite(sigma_l) and sigma_log_tau < 1.0 and tau < 10 * float(np.max(t))):
        return None  # the rest does not constrain the recovery
    return l_inf, sigma_l, tau, tau * sigma_log_tau


def _end_of_stress(t: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(light at the last stress reading's time, its 1 sigma, one reading's relative 1 sigma)
    from a line through the stress's last readings."""
    keep = np.isfinite(y)
    t, y = t[keep][-END_READINGS:], y[keep][-END_READINGS:]
    if len(t) == 0:
        return math.nan, math.nan, math.nan
    if len(t) < 4:
        return float(y[-1]), math.nan, math.nan
    coefficients, residuals, *_ = np.polyfit(t - t[-1], y, 1, full=True)
    scatter = math.sqrt(float(residuals[0]) / (len(t) - 2)) if len(residuals) else 0.0
    design = np.vstack([t - t[-1], np.ones_like(t)]).T
    variance = np.linalg.inv(design.T @ design)[1, 1] * scatter ** 2
    return float(coefficients[1]), math.sqrt(variance), scatter / abs(float(coefficients[1]))


def _initial_fall_rate(t: np.ndarray, y: np.ndarray) -> float:
    """-d ln L / dt (1/s, at least 0) over the stress's first readings."""
    keep = np.isfinite(y) & (y > 0)
    t, y = t[keep][:END_READINGS], y[keep][:END_READINGS]
    if len(t) < 2 or t[-1] <= t[0]:
        return 0.0
    return max(-float(np.polyfit(t - t[0], np.log(y), 1)[0]), 0.0)


def recovery_cycles(run: StoredRun, stream: str = "monitor", quantity: str | None = None) -> list[CycleRecovery]:
    """The loss split of every cycle with a stress and at least one probe."""
    quantity = quantity or judge_quantity(run, stream, "auto")
    c = run.read_columns(["cycle", "phase", "elapsed_s", "rest_s", "probe_on_s", LIGHT[quantity], "low_light",
                          "saturated", "truncated"], stream)  # a few hundred rows per cycle at most
    light = np.asarray(c[LIGHT[quantity]], float)
    bad = (np.asarray(c["low_light"]) != 0) | (np.asarray(c["saturated"]) != 0) | (np.asarray(c["truncated"]) != 0)
    light = np.where(bad, np.nan, light)
    cycle, phase = np.asarray(c["cycle"]), np.asarray(c["phase"])
    elapsed, rest = np.asarray(c["elapsed_s"], float), np.asarray(c["rest_s"], float)
    probe_on = np.asarray(c["probe_on_s"], float)
    stress = phase == PHASE_STRESS
    first = np.flatnonzero(stress & np.isfinite(light))
    if not len(first):
        return []
    l0 = float(light[first[0]])
    out = []
    for k in sorted({int(v) for v in cycle}):
        s, p = stress & (cycle == k), (phase == PHASE_PROBE) & (cycle == k)
        if not np.any(s) or not np.any(p & np.isfinite(light)):
            continue
        light_end, end_sigma, reading_sigma = _end_of_stress(elapsed[s], light[s])
        probes_t, probes = rest[p], light[p]
        fitted = fit_recovery(probes_t, probes, light_end)
        back_action = _initial_fall_rate(elapsed[s], light[s]) * float(np.nansum(probe_on[p]))
        rest_s = float(np.nanmax(probes_t))
        if fitted is not None:
            l_inf, sigma, tau, tau_sigma = fitted
            incomplete = rest_s < COMPLETE_RESTS * tau
        else:
            usable = np.isfinite(probes)
            l_inf, sigma, tau, tau_sigma = float(probes[usable][-1]), math.nan, math.nan, math.nan
            incomplete = True
        reversible, irreversible = (l_inf - light_end) / l0, 1.0 - l_inf / l0
        sigma = math.hypot(sigma, back_action * l_inf) if math.isfinite(sigma) else sigma
        # L0 is one reading: its relative sigma is one stress reading's scatter
        reversible_sigma = math.hypot(math.hypot(sigma, end_sigma) / l0, reversible * reading_sigma)
        irreversible_sigma = math.hypot(sigma / l0, (1 - irreversible) * reading_sigma)
        out.append(CycleRecovery(k, float(np.max(elapsed[s])), light_end, l_inf, sigma, tau, tau_sigma, rest_s,
                                 reversible, irreversible, reversible_sigma, irreversible_sigma, bool(incomplete)))
    return out


def recovery_analysis(run: StoredRun, stream: str = "monitor") -> dict[str, Any]:
    """The figures printed and stored: each cycle's split (``cycle<k>_...``, fractions of L0;
    the first and last :data:`LISTED_CYCLES` / 2 cycles of a longer run) and the last cycle's."""
    quantity = judge_quantity(run, stream, "auto")
    cycles = recovery_cycles(run, stream, quantity)
    out: dict[str, Any] = {"cycles_completed": len(cycles), "light_quantity": quantity}
    if not cycles:
        return out
    listed = cycles if len(cycles) <= LISTED_CYCLES else cycles[:LISTED_CYCLES // 2] + cycles[-LISTED_CYCLES // 2:]
    for c in listed:
        out.update({f"cycle{c.cycle}_reversible_loss": c.reversible_loss,
                    f"cycle{c.cycle}_irreversible_loss": c.irreversible_loss,
                    f"cycle{c.cycle}_reversible_loss_sigma": c.reversible_sigma,
                    f"cycle{c.cycle}_irreversible_loss_sigma": c.irreversible_sigma,
                    f"cycle{c.cycle}_recovery_time_constant_h": c.recovery_time_constant_s / 3600,
                    f"cycle{c.cycle}_recovery_incomplete": "yes" if c.recovery_incomplete else "no"})
    last = cycles[-1]
    out.update({"final_reversible_loss": last.reversible_loss, "final_irreversible_loss": last.irreversible_loss,
                "final_reversible_loss_sigma": last.reversible_sigma,
                "final_irreversible_loss_sigma": last.irreversible_sigma,
                "recovery_time_constant_h": float(np.nanmedian([c.recovery_time_constant_s for c in cycles])) / 3600
                if any(math.isfinite(c.recovery_time_constant_s) for c in cycles) else math.nan})
    return out
