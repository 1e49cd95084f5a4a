"""Lifetimes across devices: a population with runs that ended before T_x (censored).

A batch of lifetime runs gives, for a lifetime T_x, one time per device: T_x when the run
reached it (an event), else the run's duration (right-censored: the device lived at
least that long). A censored run is neither dropped nor replaced by its extrapolation.
With scipy.stats (``CensoredData``, ``ecdf``, ``logrank``, the Weibull and lognormal
distributions' censored maximum-likelihood fits):

* the Kaplan-Meier estimate of the fraction still above x % against time, with its 95 %
  band (Greenwood), and from it the median life and B10 (the time by which 10 % of the
  devices reached T_x) with their intervals where the band crosses the level;
* Weibull and lognormal fits with 95 % bounds from the observed information (numerical
  Hessian of the censored log-likelihood on log parameters), and their median and B10;
* the comparison of two batches by the log-rank test.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .decay import Z95

#: fewest devices, and devices that reached T_x, for a distribution
MIN_DEVICES = 3
MIN_REACHED = 2


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % interval (NaN where it cannot be told)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class LifetimeDistribution:
    figure: str  # e.g. "T50_h"
    devices: int
    reached: int
    censored: int
    km_time_h: tuple[float, ...]  # the event times
    km_survival: tuple[float, ...]  # the fraction not yet at T_x just after each
    km_low: tuple[float, ...]
    km_high: tuple[float, ...]
    median_h: Estimate  # Kaplan-Meier
    b10_h: Estimate
    weibull_shape: Estimate
    weibull_scale_h: Estimate
    weibull_median_h: Estimate
    weibull_b10_h: Estimate
    lognormal_mu: Estimate  # of ln(t / h)
    lognormal_sigma: Estimate
    lognormal_median_h: Estimate
    lognormal_b10_h: Estimate


def _censored(times_h: np.ndarray, reached: np.ndarray):  # noqa: ANN202 - scipy's CensoredData
    return _censored_of(times_h[reached], times_h[~reached])


def _censored_of(events: np.ndarray, censored: np.ndarray):  # noqa: ANN202
    from scipy.stats import CensoredData

    return CensoredData(uncensored=events, right=censored)


def lifetime_distribution(figure: str, times_h: Sequence[float],
                          reached: Sequence[bool]) -> LifetimeDistribution | None:
    """The distribution of a lifetime over devices: ``times_h`` each device's T_x (``reached``)
    or its run's duration (censored). None with too few devices or events."""
    from scipy import stats

    t = np.asarray(times_h, float)
    r = np.asarray(reached, bool)
    keep = np.isfinite(t) & (t > 0)
    t, r = t[keep], r[keep]
    if len(t) < MIN_DEVICES or r.sum() < MIN_REACHED:
        return None
    data = _censored(t, r)
    km = stats.ecdf(data).sf
    with warnings.catch_warnings():  # Greenwood's band is undefined where S reaches 0: left NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        band = km.confidence_interval(0.95, method="linear")
    times = km.quantiles
    survival = km.probabilities
    low = np.clip(band.low.probabilities, 0, 1)
    high = np.clip(band.high.probabilities, 0, 1)
    weibull = _fit(stats.weibull_min, t[r], t[~r])
    lognormal = _fit(stats.lognorm, t[r], t[~r])
    return LifetimeDistribution(
        figure, len(t), int(r.sum()), int((~r).sum()), tuple(times), tuple(survival), tuple(low), tuple(high),
        _km_quantile(times, survival, low, high, 0.5), _km_quantile(times, survival, low, high, 0.9),
        *_weibull_estimates(weibull), *_lognormal_estimates(lognormal))


def _km_quantile(times: np.ndarray, survival: np.ndarray, low: np.ndarray, high: np.ndarray,
                 level: float) -> Estimate:
    """The first time the survival falls to ``level`` or below; its interval where the band does."""
    def first(curve: np.ndarray) -> float:
        below = np.flatnonzero(curve <= level + 1e-12)
        return float(times[below[0]]) if len(below) else math.nan

    return Estimate(first(survival), first(low), first(high))


def _fit(distribution, events: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:  # noqa: ANN001
    """Censored maximum likelihood (location 0) and the covariance of (ln shape, ln scale)."""
    try:
        shape, _, scale = distribution.fit(_censored_of(events, censored), floc=0)
    except (ValueError, RuntimeError, FloatingPointError):
        return None

    def nll(p: np.ndarray) -> float:
        s, c = math.exp(p[0]), math.exp(p[1])
        return -float(np.sum(distribution.logpdf(events, s, scale=c))
                      + np.sum(distribution.logsf(censored, s, scale=c)))

    x = np.array([math.log(shape), math.log(scale)])
    hessian = _hessian(nll, x)
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        covariance = np.full((2, 2), np.inf)
    if not np.all(np.isfinite(covariance)) or np.any(np.diag(covariance) < 0):
        covariance = np.full((2, 2), np.inf)
    return x, covariance


def _hessian(f, x: np.ndarray, step: float = 1e-3) -> np.ndarray:  # noqa: ANN001
    """Central-difference Hessian."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * step, np.eye(n)[j] * step
            h[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * step * step)
    return h


def _log_estimate(value_log: float, gradient: np.ndarray, covariance: np.ndarray) -> Estimate:
    sigma = math.sqrt(max(float(gradient @ covariance @ gradient), 0.0))
    if not math.isfinite(sigma):
        return Estimate(math.exp(value_log), math.nan, math.nan)
    return Estimate(math.exp(value_log), math.exp(value_log - Z95 * sigma), math.exp(value_log + Z95 * sigma))


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan)


def _weibull_estimates(fit: tuple[np.ndarray, np.ndarray] | None) -> tuple[Estimate, ...]:
    """Shape k, scale, median = scale ln2^(1/k), B10 = scale (-ln 0.9)^(1/k)."""
    if fit is None:
        return (NAN_ESTIMATE,) * 4
    (log_k, log_scale), cov = fit
    k = math.exp(log_k)
    out = [_log_estimate(log_k, np.array([1.0, 0.0]), cov), _log_estimate(log_scale, np.array([0.0, 1.0]), cov)]
    for q in (math.log(2.0), -math.log(0.9)):
        # ln t_q = ln scale + ln(q) / k; d/d ln k = -ln(q) / k
        out.append(_log_estimate(log_scale + math.log(q) / k, np.array([-math.log(q) / k, 1.0]), cov))
    return tuple(out)


def _lognormal_estimates(fit: tuple[np.ndarray, np.ndarray] | None) -> tuple[Estimate, ...]:
    """mu = ln scale, sigma, median = e^mu, B10 = e^(mu + sigma z_0.1)."""
    if fit is None:
        return (NAN_ESTIMATE,) * 4
    (log_sigma, log_scale), cov = fit
    sigma = math.exp(log_sigma)
    mu_sigma = math.sqrt(cov[1, 1]) if math.isfinite(cov[1, 1]) else math.nan
    mu = Estimate(log_scale, log_scale - Z95 * mu_sigma, log_scale + Z95 * mu_sigma)
    z10 = -1.2815515655446004  # the 10 % quantile of the standard normal
    return (mu, _log_estimate(log_sigma, np.array([1.0, 0.0]), cov), Estimate(math.exp(log_scale),
                                                                               math.exp(mu.low), math.exp(mu.high)),
            _log_estimate(log_scale + sigma * z10, np.array([sigma * z10, 1.0]), cov))


@dataclass(frozen=True)
class Comparison:
    """Two batches' lifetimes compared by the log-rank test (censoring respected)."""

    figure: str
    statistic: float  # z (its square is the chi-square of one degree of freedom)
    p_value: float  # two-sided


def compare_lifetimes(figure: str, a: tuple[Sequence[float], Sequence[bool]],
                      b: tuple[Sequence[float], Sequence[bool]]) -> Comparison | None:
    """The log-rank test of two batches' lifetime ``figure`` (times_h, reached) each."""
    from scipy import stats

    sets = []
    for times_h, reached in (a, b):
        t, r = np.asarray(times_h, float), np.asarray(reached, bool)
        keep = np.isfinite(t) & (t > 0)
        if keep.sum() < 2 or r[keep].sum() < 1:
            return None
        sets.append(_censored(t[keep], r[keep]))
    result = stats.logrank(sets[0], sets[1])
    return Comparison(figure, float(result.statistic), float(result.pvalue))
