"""Figures of merit of an operational-lifetime run (MEASUREMENTS.md section 4), from its
stored columns, read in chunks (memory does not grow with the run).

* L0, T95/T90/T80/T50 (and the run's own T_x) measured by :class:`~.decay.DecayTracker`,
  the same rule the run applied live; the voltage and current density at each T_x.
* For a T_x the run did not reach: the stretched-exponential extrapolation with its 95 %
  interval (``*_extrapolated_h``, always labelled so), and a TM-21-style projection as a
  separate mode (:func:`tm21_projection`).
* EL peak, FWHM and colour (u'v') drift over the spectrum stream.
* Acceleration across runs at several L0 (:func:`fit_acceleration`) and the conversion of a
  lifetime to a reference luminance (:func:`convert_lifetime`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decay import LIFETIME_PERCENTS, DecayTracker
from .light_quantity import JUDGE_COLUMNS, LightQuantityJudge
from .stored_run import StoredRun, parameter_values

NAN = float("nan")
#: TM-21-style projection: exponential fitted over the last part of the test ...
TM21_FIT_FRACTION = 0.5
#: ... and projected no further than this multiple of the test duration (beyond: a bound)
TM21_PROJECTION_LIMIT = 6.0
#: the columns that make a monitor reading's light unusable
UNUSABLE_FLAGS = ("low_light", "saturated", "truncated")
LIGHT_COLUMNS = {"photometric": "luminance_cd_m2", "radiometric": "radiance_W_sr_m2"}
LIGHT_UNITS = {"photometric": "cd/m^2", "radiometric": "W/(sr m^2)"}


def usable_light(values: Mapping[str, Any], quantity: str) -> float:
    """The reading's luminance (or radiance), NaN when its flags say it is not usable."""
    if any(values.get(flag, 0) for flag in UNUSABLE_FLAGS):
        return NAN
    if quantity == "photometric" and values.get("luminance_unreliable", 0):
        return NAN
    return float(values.get(LIGHT_COLUMNS[quantity], NAN))


def lifetime_percents(stop_percent: float) -> tuple[float, ...]:
    return tuple(sorted({*LIFETIME_PERCENTS, *([stop_percent] if 0 < stop_percent < 100 else [])}, reverse=True))


def _label(percent: float) -> str:
    return f"T{percent:g}"


@dataclass(frozen=True)
class TM21Projection:
    """Exponential L/L0 = B exp(-alpha t) over the last part of the test, projected."""

    B: float
    alpha_per_h: float
    fit_from_h: float
    duration_h: float
    points: int

    def time_to(self, percent: float) -> tuple[float, bool]:
        """(t_x in hours, is_bound): beyond ``TM21_PROJECTION_LIMIT`` x the duration the
        projection is reported as that bound."""
        limit = TM21_PROJECTION_LIMIT * self.duration_h
        q = percent / 100.0
        if not self.alpha_per_h > 0:
            return limit, True
        t = math.log(self.B / q) / self.alpha_per_h
        return (limit, True) if t > limit else (max(t, 0.0), False)


def tm21_projection(run: StoredRun, stream: str, quantity: str, l0: float, duration_s: float) -> TM21Projection | None:
    """Least-squares line of ln(L/L0) on t over the last :data:`TM21_FIT_FRACTION` of the test."""
    start_s = (1 - TM21_FIT_FRACTION) * duration_s
    n = st = sy = stt = sty = 0.0
    for chunk in _chunks(run, stream, quantity):
        t, light = chunk
        keep = (t >= start_s) & np.isfinite(light) & (light > 0)
        if not np.any(keep):
            continue
        th, y = t[keep] / 3600.0, np.log(light[keep] / l0)
        n += len(th)
        st, sy, stt, sty = st + th.sum(), sy + y.sum(), stt + (th * th).sum(), sty + (th * y).sum()
    if n < 3 or n * stt - st * st <= 0:
        return None
    slope = (n * sty - st * sy) / (n * stt - st * st)
    intercept = (sy - slope * st) / n
    return TM21Projection(math.exp(intercept), -slope, start_s / 3600.0, duration_s / 3600.0, int(n))


def _chunks(run: StoredRun, stream: str, quantity: str):
    names = [n for n in ("elapsed_s", *LIGHT_COLUMNS.values(), *UNUSABLE_FLAGS, "luminance_unreliable")
             if n in run.column_names(stream)]
    for chunk in run.iter_chunks(names, stream):
        light = np.asarray(chunk[LIGHT_COLUMNS[quantity]], float).copy()
        bad = np.zeros(len(light), bool)
        for flag in UNUSABLE_FLAGS + (("luminance_unreliable",) if quantity == "photometric" else ()):
            if flag in chunk:
                bad |= np.asarray(chunk[flag]) != 0
        light[bad] = NAN
        yield np.asarray(chunk["elapsed_s"], float), light


def judge_quantity(run: StoredRun, stream: str, choice: str) -> str:
    judge = LightQuantityJudge(choice)
    if judge.decided is not None:
        return judge.quantity
    names = [n for n in JUDGE_COLUMNS if n in run.column_names(stream)]
    if not names:
        return judge.quantity
    for chunk in run.iter_chunks(names, stream, 4096):
        for i in range(len(chunk[names[0]])):
            if judge.add({name: chunk[name][i] for name in names}):
                return judge.quantity
    return judge.quantity


def track_decay(run: StoredRun, stream: str, quantity: str, l0_definition: str, settling_s: float,
                percents: tuple[float, ...]) -> tuple[DecayTracker, float]:
    """The tracker fed with every stored monitor point; also the last elapsed time."""
    tracker = DecayTracker(l0_definition, settling_s, percents)
    names = [n for n in ("elapsed_s", "voltage_V", "current_density_mA_cm2", *LIGHT_COLUMNS.values(),
                         *UNUSABLE_FLAGS, "luminance_unreliable") if n in run.column_names(stream)]
    last = NAN
    for chunk in run.iter_chunks(names, stream):
        rows = len(chunk["elapsed_s"])
        for i in range(rows):
            values = {name: chunk[name][i] for name in names}
            tracker.add(float(values["elapsed_s"]), usable_light(values, quantity),
                        float(values.get("voltage_V", NAN)), float(values.get("current_density_mA_cm2", NAN)))
        if rows:
            last = float(chunk["elapsed_s"][-1])
    return tracker, last


def duration_text(seconds: float) -> str:
    """A time under drive as a status line says it: seconds below 0.1 h, hours above."""
    return f"{seconds / 3600:.3g} h" if seconds >= 360 else f"{seconds:.0f} s"


def decay_status(tracker: DecayTracker, percent: float) -> list[str]:
    """The decay's part of a lifetime status line: L/L0, the T_x reached, the predicted
    T_x with its interval (the run's own line, and watch mode's from the file)."""
    parts = [f"L/L0={tracker.latest_relative:.3f}"]
    parts += [f"T{p:g}={duration_text(c.time_s)}" for p, c in sorted(tracker.crossings.items(), reverse=True)]
    if percent not in tracker.crossings:
        predicted = tracker.prediction(percent)
        if predicted is not None:
            t, low, high = predicted
            parts.append(f"T{percent:g}~{duration_text(t)} [{duration_text(low)}, {duration_text(high)}] (predicted)")
    return parts


def prediction_values(tracker: DecayTracker, percent: float) -> dict[str, float]:
    """The running fit and T_x prediction for a live plot and a status line (empty without
    one): the stop rule's own prediction, every model and the hindcast."""
    if percent in tracker.crossings or not math.isfinite(tracker.l0):
        return {}
    fit = tracker.fit()
    predicted = tracker.prediction(percent) if fit is not None else None
    if fit is None or predicted is None:
        return {}
    t, low, high = predicted
    return {"fit_amplitude": fit.amplitude, "fit_tau_s": fit.tau_s, "fit_beta": fit.beta,
            "fit_t_peak_s": fit.t_peak_s, "predicted_percent": percent,
            "predicted_s": t, "predicted_low_s": low, "predicted_high_s": high}


class DecayFollower:
    """A lifetime run's decay followed from its stored monitor rows as they come (watch mode
    on another PC): the run's own tracker rules and prediction, from its stored parameters."""

    #: the monitor columns it reads
    COLUMNS = ("elapsed_s", "voltage_V", "current_density_mA_cm2", *LIGHT_COLUMNS.values(), *UNUSABLE_FLAGS,
               "luminance_unreliable", *JUDGE_COLUMNS)

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        stop = float(parameters.get("stop_at_percent", 0) or 0)
        self.percent = stop if stop > 0 else 50.0
        self.judge = LightQuantityJudge(str(parameters.get("light_quantity", "auto")))
        self.tracker = DecayTracker(str(parameters.get("l0_definition", "initial")),
                                    float(parameters.get("settling_time", 0.0) or 0.0), lifetime_percents(stop))
        self.rows = 0

    def add_rows(self, columns: Mapping[str, np.ndarray]) -> None:
        names = [n for n in self.COLUMNS if n in columns]
        if "elapsed_s" not in names:
            return
        for i in range(len(columns["elapsed_s"])):
            values = {name: float(columns[name][i]) for name in names}
            self.judge.add(values, self.rows)
            self.rows += 1
            self.tracker.add(values["elapsed_s"], usable_light(values, self.judge.quantity),
                             values.get("voltage_V", NAN), values.get("current_density_mA_cm2", NAN))

    def prediction(self) -> dict[str, float]:
        return prediction_values(self.tracker, self.percent)

    def status(self) -> str:
        """L/L0, the T_x reached, the prediction (the run's status line, from the file)."""
        return "  ".join(decay_status(self.tracker, self.percent))


def fit_figures(tracker: DecayTracker, percents: Iterable[float]) -> dict:
    """The best fit's parameters and, for each T_x not reached, its prediction
    (:meth:`DecayTracker.prediction`: the models that fit, their intervals; left out while
    the data do not constrain it)."""
    fit = tracker.fit(force=True)
    crossings = tracker.crossings
    if fit is None:
        return {"fit": None}
    da, dtau, dbeta = fit.uncertainties()
    out: dict[str, Any] = {"fit": {"model": "L/L0 = A exp(-((t - t_0)/tau)^beta)", "A": fit.amplitude,
                                   "A_uncertainty": da, "tau_h": fit.tau_s / 3600, "tau_uncertainty_h": dtau / 3600,
                                   "beta": fit.beta, "beta_uncertainty": dbeta, "t_peak_h": fit.t_peak_s / 3600,
                                   "points": fit.points, "rms_residual": fit.rms_residual,
                                   "models": len(tracker.fits())}}
    for percent in percents:
        if percent in crossings:
            continue
        predicted = tracker.prediction(percent)
        if predicted is None:
            continue
        t, low, high = predicted
        label = _label(percent)
        out[f"{label}_extrapolated_h"] = t / 3600
        out[f"{label}_extrapolated_low_h"] = low / 3600
        out[f"{label}_extrapolated_high_h"] = high / 3600
    return out


def lifetime_analysis(run: StoredRun, stream: str = "monitor") -> dict[str, Any]:
    """Lifetime figures of merit from the stored monitor (and spectrum) stream."""
    p = parameter_values(run)
    stop_percent = float(p.get("stop_at_percent", 0) or 0)
    percents = lifetime_percents(stop_percent)
    quantity = judge_quantity(run, stream, str(p.get("light_quantity", "auto")))
    out: dict[str, Any] = {"points": run.rows(stream), "light_quantity": quantity,
                           "l0_definition": p.get("l0_definition", "initial")}
    if not run.rows(stream):
        return out
    tracker, last_s = track_decay(run, stream, quantity, str(out["l0_definition"]),
                                  float(p.get("settling_time", 0.0) or 0.0), percents)
    units = LIGHT_UNITS[quantity]
    out.update({"duration_h": last_s / 3600, "L0": tracker.l0, "L0_units": units, "L0_time_h": tracker.l0_time_s / 3600,
                "voltage_at_L0_V": tracker.l0_voltage_V,
                "current_density_at_L0_mA_cm2": tracker.l0_current_density_mA_cm2,
                # the highest light: the smoothed maximum, or L0 when the first reading was higher
                # (a device decaying from the start: a median of three lies below its first reading)
                **({"peak_light": tracker.l0, "peak_time_h": tracker.l0_time_s / 3600} if tracker.l0 > tracker.peak
                   else {"peak_light": tracker.peak, "peak_time_h": tracker.peak_time_s / 3600}),
                "final_relative_light": tracker.latest_relative})
    for percent in percents:
        crossing = tracker.crossings.get(percent)
        label = _label(percent)
        out[f"{label}_h"] = crossing.time_s / 3600 if crossing else None
        if crossing:
            out[f"voltage_rise_at_{label}_V"] = crossing.voltage_V - tracker.l0_voltage_V
            out[f"current_density_at_{label}_mA_cm2"] = crossing.current_density_mA_cm2
    out.update(fit_figures(tracker, percents))
    if math.isfinite(tracker.l0) and last_s > 0:
        tm21 = tm21_projection(run, stream, quantity, tracker.l0, last_s)
        if tm21 is not None:
            out["tm21"] = {"model": "L/L0 = B exp(-alpha t), fitted over the last half of the test",
                           "B": tm21.B, "alpha_per_h": tm21.alpha_per_h, "fit_from_h": tm21.fit_from_h,
                           "projection_limit_h": TM21_PROJECTION_LIMIT * tm21.duration_h}
            for percent in percents:
                if percent not in tracker.crossings:
                    t, bound = tm21.time_to(percent)
                    out["tm21"][f"{_label(percent)}_h"] = t
                    out["tm21"][f"{_label(percent)}_is_bound"] = bound
    out.update(spectral_drift(run))
    return out


def spectral_drift(run: StoredRun, stream: str = "spectra") -> dict[str, Any]:
    """Peak, FWHM and colour of the first and last shape-reliable spectra; the largest
    colour shift from the first (Delta u'v')."""
    if stream not in run.stream_names() or not run.rows(stream):
        return {}
    names = [n for n in ("elapsed_s", "peak_wavelength_nm", "fwhm_nm", "cie_u_prime", "cie_v_prime",
                         "shape_unreliable", "chromaticity_unreliable", *UNUSABLE_FLAGS)
             if n in run.column_names(stream)]
    first: dict[str, float] | None = None
    last: dict[str, float] | None = None
    max_shift = 0.0
    for chunk in run.iter_chunks(names, stream):
        for i in range(len(chunk["elapsed_s"])):
            v = {name: float(chunk[name][i]) for name in names}
            if any(v.get(f, 0) for f in (*UNUSABLE_FLAGS, "shape_unreliable", "chromaticity_unreliable")):
                continue
            if first is None:
                first = v
            last = v
            max_shift = max(max_shift, math.hypot(v["cie_u_prime"] - first["cie_u_prime"],
                                                  v["cie_v_prime"] - first["cie_v_prime"]))
    if first is None or last is None:
        return {}
    if last is first:  # one spectrum: no drift to tell (not 0)
        return {"peak_wavelength_drift_nm": None, "fwhm_drift_nm": None, "colour_shift_delta_uv": None,
                "max_colour_shift_delta_uv": None, "spectra_span_h": 0.0}
    return {"peak_wavelength_drift_nm": last["peak_wavelength_nm"] - first["peak_wavelength_nm"],
            "fwhm_drift_nm": last["fwhm_nm"] - first["fwhm_nm"],
            "colour_shift_delta_uv": math.hypot(last["cie_u_prime"] - first["cie_u_prime"],
                                                last["cie_v_prime"] - first["cie_v_prime"]),
            "max_colour_shift_delta_uv": max_shift, "spectra_span_h": (last["elapsed_s"] - first["elapsed_s"]) / 3600}


# --- across runs ------------------------------------------------------------------------
def convert_lifetime(t_x: float, l0: float, reference: float, n: float) -> float:
    """T_x(L_ref) = T_x(L0) (L0 / L_ref)^n (MEASUREMENTS.md section 4)."""
    return t_x * (l0 / reference) ** n


@dataclass(frozen=True)
class Acceleration:
    """L0^n T_x = C, fitted as ln T_x = ln C - n ln L0 over several runs."""

    n: float
    n_uncertainty: float  # 1 sigma (NaN with two runs)
    log_c: float
    covariance: np.ndarray
    runs: int

    def lifetime_at(self, reference: float) -> tuple[float, float]:
        """(T_x at ``reference`` luminance, 1 sigma) from the fitted line."""
        g = np.array([1.0, -math.log(reference)])
        log_t = self.log_c - self.n * math.log(reference)
        sigma = math.sqrt(max(float(g @ self.covariance @ g), 0.0)) if np.all(np.isfinite(self.covariance)) else NAN
        return math.exp(log_t), math.exp(log_t) * sigma


def fit_acceleration(l0: Iterable[float], t_x: Iterable[float]) -> Acceleration:
    """n (and its uncertainty) from runs at several L0 (at least two, at different L0)."""
    x = np.log(np.asarray(list(l0), float))
    y = np.log(np.asarray(list(t_x), float))
    if len(x) < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or np.ptp(x) == 0:
        raise ValueError("the acceleration fit needs lifetimes at two or more different L0")
    design = np.column_stack([np.ones_like(x), -x])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    dof = len(x) - 2
    if dof > 0:
        variance = float(np.sum((y - design @ coefficients) ** 2)) / dof
        covariance = np.linalg.inv(design.T @ design) * variance
    else:
        covariance = np.full((2, 2), NAN)
    return Acceleration(float(coefficients[1]), float(math.sqrt(covariance[1, 1])) if dof > 0 else NAN,
                        float(coefficients[0]), covariance, len(x))
