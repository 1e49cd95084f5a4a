"""Luminance decay under constant drive: L0, T_x and the prediction of T_x, point by point.

One tracker, :class:`DecayTracker`, is fed the monitor points of a lifetime run in time
order, live (stop checks, the status line) and again over the stored columns
(``ledstation analyze``), so the two always agree. It keeps constant memory: a few
points of state and a bounded, thinned history of the decay for the fit.

* **Smoothing.** Each value is the median of three consecutive usable readings (placed
  at the middle one's time), so one noisy reading neither sets L0 nor ends a lifetime.
* **L0.** ``"initial"``: the first usable reading at or after the settling time (not
  smoothed: smoothing would place L0 one interval late, which biases T_x of a device
  that decays within minutes). ``"maximum"``: the highest smoothed value (for devices
  that brighten first).
* **T_x.** The first time the smoothed L/L0 falls below x %, confirmed by
  :data:`PERSISTENCE_POINTS` smoothed values in a row below it (a dip that recovers does
  not count), interpolated linearly between the last value above and the first below.
  Times count from the start of the drive.
* **Prediction.** A stretched exponential L/L0 = A exp(-((t - t_0)/tau)^beta) fitted to
  the *raw* monitor points after the maximum t_pk (independent readings, not the
  overlapping medians), t_x = t_0 + tau (-ln(x / 100 A))^(1/beta). Its 95 % interval is
  meant to be honest on correlated, drifting data:

  - two models, with the decay's time origin t_0 at the start of the drive and at the
    maximum (on the first per cent of a decay the origin decides beta: anchoring at the
    first point gave beta 0.87 for 0.8 and T50 17 % early); the models that fit (rms within
    :data:`MODEL_RMS_RATIO` of the best) are combined: the prediction is the best one's, the
    interval spans all of theirs;
  - each model's covariance is inflated for the residuals' autocorrelation (an AR(1)
    effective sample size, (1 + rho)/(1 - rho));
  - the same models over the later half of the decay widen it too (a shape still
    changing predicts otherwise from its later half);
  - a hindcast measures each estimate's own error: the whole decay's best model and the
    later half's, each fitted the same way to the first two thirds of the decay; how far
    it misses the latest readings, grown to the horizon of the prediction
    (:meth:`DecayTracker._hindcast_spread_s`), widens the interval around that estimate;
    it catches what no covariance can, such as a constant-voltage drive drifting or a
    rise fading;
  - the central value is the whole decay's best model, unless its hindcast misses by more
    than :data:`HINDCAST_NOISE_SIGMAS` of the readings' noise and the later half's
    misses less: then the decay is still changing shape and its recent part forecasts it;
  - no prediction until the data constrain beta (relative 1 sigma at most
    :data:`MAX_BETA_RELATIVE_SIGMA`) and the light has fallen
    :data:`MIN_DECLINE_FRACTION` of the way (in -ln L/L0) to the level predicted.

  Always marked as extrapolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

L0_DEFINITIONS = ("initial", "maximum")
#: the lifetimes every analysis reports (the stop criterion's own x is added)
LIFETIME_PERCENTS = (95, 90, 80, 50)
#: smoothed values in a row below x % of L0 that confirm T_x
PERSISTENCE_POINTS = 3
#: the decay history kept for the fit (thinned by two whenever full)
HISTORY_POINTS = 1024
#: a fit needs this many points after the maximum ...
MIN_FIT_POINTS = 8
#: ... and the light this far below its maximum
MIN_FIT_DECLINE = 0.02
Z95 = 1.959964
#: the fit is redone when the decay's span has grown by this fraction (or 200 points came)
REFIT_TIME_FRACTION = 0.05
#: a model takes part in the prediction when its rms residual is within this ratio of the best's
MODEL_RMS_RATIO = 1.5
#: no prediction until beta is known to this relative 1 sigma ...
MAX_BETA_RELATIVE_SIGMA = 0.1
#: ... and the light has fallen this fraction of the way (in -ln L/L0) to the level predicted
MIN_DECLINE_FRACTION = 0.1
#: the later half's estimate leads only when the whole decay's hindcast misses by more than this
#: many sigma of the latest readings' median (1.2533 rms / sqrt(n))
HINDCAST_NOISE_SIGMAS = 3.0


@dataclass(frozen=True)
class Crossing:
    """The moment the light fell to ``percent`` % of L0."""

    percent: float
    time_s: float  # since the drive started
    voltage_V: float
    current_density_mA_cm2: float


@dataclass(frozen=True)
class StretchedExponential:
    """L/L0 = amplitude exp(-((t - t_peak_s) / tau_s)^beta), with the fit's covariance of
    (ln amplitude, ln tau, beta). ``t_peak_s`` is the decay's time origin (the maximum, or
    the start of the drive)."""

    amplitude: float
    tau_s: float
    beta: float
    t_peak_s: float
    covariance: np.ndarray
    points: int
    rms_residual: float

    def time_to(self, percent: float) -> tuple[float, float, float]:
        """(t_x, low, high) in seconds since the start: the fit's t_x and its 95 % interval;
        NaN when the model never falls that far."""
        log_term = math.log(self.amplitude) - math.log(percent / 100.0)  # -ln(x / 100 A)
        if not log_term > 0:
            return (self.t_peak_s, self.t_peak_s, self.t_peak_s) if percent >= 100 * self.amplitude \
                else (math.nan, math.nan, math.nan)
        log_dt = math.log(self.tau_s) + math.log(log_term) / self.beta
        gradient = np.array([1.0 / (self.beta * log_term), 1.0, -math.log(log_term) / self.beta ** 2])
        sigma = math.sqrt(max(float(gradient @ self.covariance @ gradient), 0.0))
        if not math.isfinite(sigma):
            sigma = math.inf
        dt = math.exp(log_dt)
        return (self.t_peak_s + dt, self.t_peak_s + dt * math.exp(-Z95 * sigma),
                self.t_peak_s + (dt * math.exp(Z95 * sigma) if sigma < 50 else math.inf))

    def uncertainties(self) -> tuple[float, float, float]:
        """1 sigma of (amplitude, tau_s, beta)."""
        s = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        return float(self.amplitude * s[0]), float(self.tau_s * s[1]), float(s[2])


def fit_stretched_exponential(time_s: np.ndarray, relative: np.ndarray, t_peak_s: float,
                              origin_s: float | None = None) -> StretchedExponential | None:
    """Least-squares fit of the decay after ``t_peak_s``, its time origin at ``origin_s``
    (default: the peak); the covariance inflated for the residuals' lag-1
    autocorrelation. None when it cannot be fitted."""
    from scipy.optimize import least_squares  # analysis only: keeps the station's start fast

    origin = t_peak_s if origin_s is None else float(origin_s)
    t, y = np.asarray(time_s, float), np.asarray(relative, float)
    keep = np.isfinite(t) & np.isfinite(y) & (t >= t_peak_s) & (y > 0)
    t, y = t[keep] - origin, y[keep]
    if len(t) < MIN_FIT_POINTS or not np.any(t > 0):
        return None
    amplitude0 = float(y[0])
    last = max(min(float(y[-1]) / amplitude0, 0.999), 1e-6)
    tau0 = float(t[-1]) / -math.log(last)

    def residual(p: np.ndarray) -> np.ndarray:
        log_a, log_tau, beta = p
        return np.exp(log_a - (t / math.exp(log_tau)) ** beta) - y

    try:
        result = least_squares(residual, [math.log(amplitude0), math.log(tau0), 1.0],
                                bounds=([-1.0, math.log(tau0) - 30, 0.1], [1.0, math.log(tau0) + 30, 3.0]),
                                x_scale=[0.01, 1.0, 0.1])
    except (ValueError, FloatingPointError):
        return None
    dof = max(len(t) - 3, 1)
    variance = float(np.sum(result.fun ** 2)) / dof
    try:
        covariance = np.linalg.inv(result.jac.T @ result.jac) * variance * _correlation_factor(result.fun)
    except np.linalg.LinAlgError:
        covariance = np.full((3, 3), np.inf)
    log_a, log_tau, beta = (float(v) for v in result.x)
    return StretchedExponential(math.exp(log_a), math.exp(log_tau), beta, origin, covariance, len(t),
                                math.sqrt(variance))


def _correlation_factor(residual: np.ndarray) -> float:
    """(1 + rho) / (1 - rho) for the residuals' lag-1 autocorrelation rho >= 0: how much
    less independent information correlated points carry (an AR(1) process)."""
    r = np.asarray(residual, float) - float(np.mean(residual))
    denominator = float(r @ r)
    if len(r) < 3 or denominator <= 0:
        return 1.0
    rho = min(max(float(r[1:] @ r[:-1]) / denominator, 0.0), 0.95)
    return (1 + rho) / (1 - rho)


@dataclass
class _History:
    """At most :data:`HISTORY_POINTS` (t, y) pairs, thinned by two whenever full."""

    stride: int = 1
    seen: int = 0
    time_s: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def add(self, t: float, v: float) -> None:
        if self.seen % self.stride == 0:
            self.time_s.append(t)
            self.value.append(v)
            if len(self.time_s) >= HISTORY_POINTS:
                self.time_s, self.value = self.time_s[::2], self.value[::2]
                self.stride *= 2
        self.seen += 1

    def clear(self) -> None:
        self.stride, self.seen = 1, 0
        self.time_s.clear()
        self.value.clear()


class DecayTracker:
    """L0 and T_x of one run, fed point by point (see the module's rules)."""

    def __init__(self, l0_definition: str = "initial", settling_s: float = 0.0,
                 percents: tuple[float, ...] = LIFETIME_PERCENTS) -> None:
        if l0_definition not in L0_DEFINITIONS:
            raise ValueError(f"L0 definition must be one of {', '.join(L0_DEFINITIONS)}")
        self.l0_definition = l0_definition
        self.settling_s = float(settling_s)
        self.percents = tuple(sorted({float(p) for p in percents}, reverse=True))
        self.l0 = math.nan
        self.l0_time_s = math.nan
        self.l0_voltage_V = math.nan
        self.l0_current_density_mA_cm2 = math.nan
        self.peak = math.nan
        self.peak_time_s = math.nan
        self.crossings: dict[float, Crossing] = {}
        self.latest_relative = math.nan
        self.latest_time_s = math.nan
        self.points = 0
        self._raw: list[tuple[float, float, float, float]] = []  # the last three usable readings
        self._above: dict[float, tuple[float, float, float, float]] = {}  # last smoothed point at/above x
        self._below: dict[float, list[tuple[float, float, float, float]]] = {}  # smoothed points below since
        self._history = _History()  # smoothed values after the maximum
        self._raw_history = _History()  # the raw readings after the maximum: what the fit uses
        self._fit: StretchedExponential | None = None
        self._fits: list[StretchedExponential] = []
        self._late_fits: list[StretchedExponential] = []
        self._hindcasts: dict[tuple, float] = {}  # hindcast misses of the present fits
        self._fit_at = (0, 0.0)  # (points, time) of the last fit

    # --- feeding ----------------------------------------------------------------------
    def add(self, time_s: float, light: float, voltage_V: float = math.nan,
            current_density_mA_cm2: float = math.nan) -> list[float]:
        """One monitor point (``light`` NaN: not usable). Returns the percents confirmed now."""
        if not (math.isfinite(time_s) and math.isfinite(light)):
            return []
        self.points += 1
        if self.l0_definition == "initial" and not math.isfinite(self.l0) and time_s >= self.settling_s:
            self._set_l0((time_s, light, voltage_V, current_density_mA_cm2))
        self._raw.append((time_s, light, voltage_V, current_density_mA_cm2))
        if time_s >= self.settling_s and math.isfinite(self.peak_time_s) and time_s >= self.peak_time_s:
            self._raw_history.add(time_s, light)
        if len(self._raw) > 3:
            self._raw.pop(0)
        if len(self._raw) < 3:
            return []
        middle = self._raw[1]
        smoothed = (middle[0], float(np.median([r[1] for r in self._raw])), middle[2], middle[3])
        return self._smoothed(smoothed)

    def _smoothed(self, point: tuple[float, float, float, float]) -> list[float]:
        t, value = point[0], point[1]
        if t < self.settling_s or not (math.isfinite(self.l0) or self.l0_definition == "maximum"):
            return []
        if not value <= self.peak:  # a new maximum: the decay (and its fit) starts here
            self.peak, self.peak_time_s = value, t
            self._history.clear()
            self._raw_history.clear()
            for raw in self._raw[1:]:  # the readings from the maximum on
                self._raw_history.add(raw[0], raw[1])
            self._fit = None
            self._fits = []
            if self.l0_definition == "maximum":
                self._set_l0(point)
                self._above = {p: point for p in self.percents if p not in self.crossings}
                self._below = {}
        self._history.add(t, value)
        self.latest_relative, self.latest_time_s = value / self.l0, t
        reached = []
        for percent in self.percents:
            if percent in self.crossings:
                continue
            level = percent / 100.0 * self.l0
            if value >= level:
                self._above[percent] = point
                self._below.pop(percent, None)
                continue
            below = self._below.setdefault(percent, [])
            if len(below) < PERSISTENCE_POINTS:
                below.append(point)
            if len(below) >= PERSISTENCE_POINTS:
                self.crossings[percent] = _interpolate(percent, level, self._above.get(percent), below[0])
                reached.append(percent)
        return reached

    def _set_l0(self, point: tuple[float, float, float, float]) -> None:
        self.l0_time_s, self.l0, self.l0_voltage_V, self.l0_current_density_mA_cm2 = point

    # --- results ----------------------------------------------------------------------
    def fit(self, force: bool = False) -> StretchedExponential | None:
        """The best-fitting stretched exponential of the decay so far (refitted when the
        history has grown by 5 % in time or 200 points; ``force``: now)."""
        fits = self.fits(force)
        return fits[0] if fits else None

    def fits(self, force: bool = False) -> list[StretchedExponential]:
        """The models that fit the decay (origin at the drive's start and at the maximum,
        rms within :data:`MODEL_RMS_RATIO` of the best), best first."""
        points, at_s = self._fit_at
        new = self._raw_history.seen - points
        if not force and self._fit is not None and new < 200 and \
                not (new >= 5 and self.latest_time_s - self.peak_time_s
                     > (1 + REFIT_TIME_FRACTION) * (at_s - self.peak_time_s)):
            return self._fits
        if not math.isfinite(self.peak) or self.latest_relative * self.l0 > (1 - MIN_FIT_DECLINE) * self.peak:
            return []
        if len(self._raw_history.time_s) < MIN_FIT_POINTS:
            return []
        t = np.asarray(self._raw_history.time_s)
        y = np.asarray(self._raw_history.value) / self.l0
        origins = sorted({0.0, self.peak_time_s})
        fits = [f for f in (fit_stretched_exponential(t, y, self.peak_time_s, origin) for origin in origins)
                if f is not None]
        fits.sort(key=lambda f: f.rms_residual)
        self._fits = [f for f in fits if f.rms_residual <= MODEL_RMS_RATIO * fits[0].rms_residual] if fits else []
        # the same models over the later half of the decay: a decay whose shape is still
        # changing (an initial rise fading, a drifting drive) predicts otherwise from it
        half = self.peak_time_s + 0.5 * (self.latest_time_s - self.peak_time_s)
        self._late_fits = [f for f in (fit_stretched_exponential(t, y, half, origin) for origin in origins)
                           if f is not None]
        self._fit = self._fits[0] if self._fits else None
        self._fit_at = (self._raw_history.seen, self.latest_time_s)
        return self._fits

    def prediction(self, percent: float) -> tuple[float, float, float] | None:
        """(t_x, low, high) in seconds, extrapolated: the central value from whichever
        estimate (the whole decay's best model, or the later half's) forecast the latest
        readings better in the hindcast, and the span of every model's 95 % interval and
        the hindcast's error; None without a fit, or while beta is not yet known to
        :data:`MAX_BETA_RELATIVE_SIGMA` or the light has not fallen
        :data:`MIN_DECLINE_FRACTION` of the way to the level."""
        fits = self.fits()
        if not fits or not math.isfinite(self.latest_relative) or self.latest_relative <= 0:
            return None
        target = -math.log(percent / 100.0)
        if -math.log(min(self.latest_relative * self.l0 / self.peak, 1.0)) < MIN_DECLINE_FRACTION * target:
            return None
        predictions = []
        for fit in fits:
            beta_sigma = fit.uncertainties()[2]
            if not beta_sigma <= MAX_BETA_RELATIVE_SIGMA * fit.beta:
                return None
            t_x, low, high = fit.time_to(percent)
            if not math.isfinite(t_x):
                return None
            predictions.append((t_x, low, high))
        for fit in self._late_fits:  # the later half's own prediction widens the interval
            t_x, low, high = fit.time_to(percent)
            predictions.append((t_x, low, high) if math.isfinite(t_x) else (math.inf, math.inf, math.inf))
        low, high = min(p[1] for p in predictions), max(p[2] for p in predictions)
        forecasts = self._forecasts(percent)
        if not forecasts or not all(math.isfinite(f[1]) for f in forecasts):
            return None  # too little decay to test the models on themselves yet
        t_x = forecasts[0][0]
        for t, spread in forecasts:  # each estimate widened by its own measured error
            low, high = min(low, t - spread), max(high, t + spread)
        return t_x, max(low, 0.0), high

    def _forecasts(self, percent: float) -> list[tuple[float, float]]:
        """(t_x, hindcast spread) of the two estimates, the better forecaster first: the
        whole decay's best model, and the later half's best. Each is fitted the same way to
        the first two thirds of the decay and judged by how far it misses the latest
        readings. A decay whose shape is still changing (a rise fading under it, a
        constant voltage's current drifting) is forecast from its recent part; a steady
        one from all of it."""
        now = self.latest_time_s
        cut = self.peak_time_s + 2.0 / 3.0 * (now - self.peak_time_s)
        candidates = [(self._fits[0], self.peak_time_s)]
        if self._late_fits:
            candidates.append((min(self._late_fits, key=lambda f: f.rms_residual),
                               self.peak_time_s + 0.5 * (cut - self.peak_time_s)))
        judged = []
        for order, (fit, start) in enumerate(candidates):
            t_x = fit.time_to(percent)[0]
            if not math.isfinite(t_x):
                continue
            miss = self._hindcast_miss(fit.t_peak_s, start, cut)
            judged.append((miss, order, t_x, self._hindcast_spread_s(fit, miss, t_x, cut)))
        # the whole decay's estimate (less scatter) stays first while its miss is within the
        # readings' noise: only a miss the noise cannot explain says the shape is changing
        noise = HINDCAST_NOISE_SIGMAS * 1.2533 * self._fits[0].rms_residual / max(self.latest_relative, 1e-9) \
            / math.sqrt(MIN_FIT_POINTS)
        judged.sort(key=lambda j: (j[0] if j[0] > noise else 0.0, j[1]))
        return [(t_x, spread) for _, _, t_x, spread in judged]

    def _hindcast_spread_s(self, best: StretchedExponential, miss: float, t_x: float, cut_s: float) -> float:
        """The model's own error, measured: fitted on the decay up to ``cut_s`` (two thirds
        of it), it missed the latest readings by ``miss`` (in ln L); scaled to the horizon
        from now to t_x by the ratio of horizons to the power 1.5 (between an offset's linear
        growth and a curvature's quadratic one) and turned into time by the decay's slope
        there. Catches what no parameter covariance can: a drive that drifts, a rise that
        fades, a decay that is not a stretched exponential."""
        if not math.isfinite(miss):
            return math.inf
        now, cut = self.latest_time_s, cut_s
        horizon = max(t_x - now, 0.0) / max(now - cut, 1e-9)
        dt = max(t_x - best.t_peak_s, 1e-9)
        slope = best.beta / best.tau_s * (dt / best.tau_s) ** (best.beta - 1)  # d(-ln L)/dt at t_x
        return miss * max(horizon, 1.0) ** 1.5 / slope if slope > 0 else math.inf

    def _hindcast_miss(self, origin_s: float, start_s: float, cut_s: float) -> float:
        """|ln L| by which the model fitted to the readings from ``start_s`` to ``cut_s``
        misses the latest readings after ``cut_s`` (inf: too few readings). Kept for the
        present readings and fits (the key holds the refit and the cut, which moves with
        every reading): the stop rule, the status line and the live plot ask for the same
        one at each monitor point."""
        key = (self._fit_at, origin_s, start_s, cut_s)
        cached = self._hindcasts.get(key)
        if cached is not None:
            return cached
        t = np.asarray(self._raw_history.time_s)
        y = np.asarray(self._raw_history.value) / self.l0
        early_t, early_y = t[t <= cut_s], y[t <= cut_s]
        recent = y[t > cut_s][-MIN_FIT_POINTS:]
        miss = math.inf
        if np.count_nonzero(early_t >= start_s) >= MIN_FIT_POINTS and len(recent) >= 3 and cut_s > start_s:
            early = fit_stretched_exponential(early_t, early_y, start_s, origin_s)
            if early is not None:
                dt_now = max(self.latest_time_s - early.t_peak_s, 0.0)
                expected = math.log(early.amplitude) - (dt_now / early.tau_s) ** early.beta
                miss = abs(float(np.log(np.median(recent))) - expected)
        if len(self._hindcasts) > 8:
            self._hindcasts.clear()
        self._hindcasts[key] = miss
        return miss


def _interpolate(percent: float, level: float, above: tuple[float, float, float, float] | None,
                 below: tuple[float, float, float, float]) -> Crossing:
    """The crossing between the last smoothed point at/above ``level`` and the first below."""
    if above is None:
        return Crossing(percent, below[0], below[2], below[3])
    (t0, v0, u0, j0), (t1, v1, u1, j1) = above, below
    w = (v0 - level) / (v0 - v1) if v0 != v1 else 1.0
    return Crossing(percent, t0 + w * (t1 - t0), u0 + w * (u1 - u0), j0 + w * (j1 - j0))


def time_to_percent(percent: float, tau_s: float, beta: float) -> float:
    """t_x = tau (-ln(x/100))^(1/beta) of L/L0 = exp(-(t/tau)^beta) (MEASUREMENTS.md section 4)."""
    return tau_s * (-math.log(percent / 100.0)) ** (1.0 / beta)
