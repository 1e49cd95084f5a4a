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
* **Prediction.** A stretched exponential L/L0 = A exp(-((t - t_pk)/tau)^beta) fitted to
  the decay after the maximum t_pk (A absorbs the difference between the peak and L0);
  t_x = t_pk + tau (-ln(x / 100 A))^(1/beta), with a 95 % interval from the fit's
  covariance (delta method on log t). Always marked as extrapolated.
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


@dataclass(frozen=True)
class Crossing:
    """The moment the light fell to ``percent`` % of L0."""

    percent: float
    time_s: float  # since the drive started
    voltage_V: float
    current_density_mA_cm2: float


@dataclass(frozen=True)
class StretchedExponential:
    """L/L0 = amplitude exp(-((t - t_peak_s) / tau_s)^beta) for t >= t_peak_s, with the
    fit's covariance of (ln amplitude, ln tau, beta)."""

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


def fit_stretched_exponential(time_s: np.ndarray, relative: np.ndarray, t_peak_s: float) -> StretchedExponential | None:
    """Least-squares fit of the decay after ``t_peak_s``; None when it cannot be fitted."""
    from scipy.optimize import least_squares  # analysis only: keeps the station's start fast

    t, y = np.asarray(time_s, float), np.asarray(relative, float)
    keep = np.isfinite(t) & np.isfinite(y) & (t >= t_peak_s) & (y > 0)
    t, y = t[keep] - t_peak_s, y[keep]
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
        covariance = np.linalg.inv(result.jac.T @ result.jac) * variance
    except np.linalg.LinAlgError:
        covariance = np.full((3, 3), np.inf)
    log_a, log_tau, beta = (float(v) for v in result.x)
    return StretchedExponential(math.exp(log_a), math.exp(log_tau), beta, t_peak_s, covariance, len(t),
                                math.sqrt(variance))


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
        self._history = _History()
        self._fit: StretchedExponential | None = None
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
            self._fit = None
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
        """The stretched-exponential fit of the decay so far (refitted when the history has
        grown by 5 % in time or 200 points; ``force``: now)."""
        points, at_s = self._fit_at
        new = self._history.seen - points
        if not force and self._fit is not None and new < 200 and \
                not (new >= 5 and self.latest_time_s - self.peak_time_s
                     > (1 + REFIT_TIME_FRACTION) * (at_s - self.peak_time_s)):
            return self._fit
        if not math.isfinite(self.peak) or self.latest_relative * self.l0 > (1 - MIN_FIT_DECLINE) * self.peak:
            return None
        if len(self._history.time_s) < MIN_FIT_POINTS:
            return None
        t = np.asarray(self._history.time_s)
        y = np.asarray(self._history.value) / self.l0
        self._fit = fit_stretched_exponential(t, y, self.peak_time_s)
        self._fit_at = (self._history.seen, self.latest_time_s)
        return self._fit

    def prediction(self, percent: float) -> tuple[float, float, float] | None:
        """(t_x, low, high) in seconds, extrapolated by the fit; None without a fit."""
        fit = self.fit()
        if fit is None:
            return None
        t_x, low, high = fit.time_to(percent)
        return None if not math.isfinite(t_x) else (t_x, low, high)


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
