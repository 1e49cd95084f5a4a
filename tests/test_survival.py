"""Lifetimes across devices (issue 25, part 3): censored runs counted, not dropped; the
estimates against independent computations and a population of known Weibull law."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from station.analysis.batch import Device, batch_statistics
from station.analysis.survival import compare_lifetimes, lifetime_distribution


def population(seed: int, n: int = 30, shape: float = 2.0, scale_h: float = 100.0, test_h: float = 120.0):
    """Weibull lifetimes, runs stopped at ``test_h`` (censored beyond)."""
    t = scale_h * np.random.default_rng(seed).weibull(shape, n)
    reached = t <= test_h
    return np.where(reached, t, test_h), reached


def product_limit(t: np.ndarray, reached: np.ndarray) -> dict[float, float]:
    """Kaplan-Meier written out: S(t) just after each event time."""
    s, out = 1.0, {}
    for time in np.unique(t[reached]):
        at_risk = np.sum(t >= time)
        events = np.sum((t == time) & reached)
        s *= 1 - events / at_risk
        out[float(time)] = s
    return out


def test_kaplan_meier_equals_the_product_limit_written_out():
    t, reached = population(3)
    d = lifetime_distribution("T50_h", t, reached)
    expected = product_limit(t, reached)
    got = {time: s for time, s in zip(d.km_time_h, d.km_survival, strict=True) if time in expected}
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], list(expected.values()), rtol=1e-12)
    assert d.censored == int((~reached).sum()) and d.reached == int(reached.sum())


def test_weibull_fit_equals_a_direct_maximisation_of_the_censored_likelihood():
    t, reached = population(5)

    def nll(p):
        k, lam = math.exp(p[0]), math.exp(p[1])
        z = (t / lam) ** k
        return -(np.sum(np.log(k / lam) + (k - 1) * np.log(t[reached] / lam)) - np.sum(z))

    best = minimize(nll, [0.0, math.log(np.mean(t))], method="Nelder-Mead", options={"xatol": 1e-10,
                                                                                       "fatol": 1e-12})
    d = lifetime_distribution("T50_h", t, reached)
    assert d.weibull_shape.value == pytest.approx(math.exp(best.x[0]), rel=1e-3)
    assert d.weibull_scale_h.value == pytest.approx(math.exp(best.x[1]), rel=1e-3)


def test_weibull_bounds_hold_the_true_law_in_at_least_90_percent_of_populations():
    shape, scale, n = 2.0, 100.0, 50
    b10 = scale * (-math.log(0.9)) ** (1 / shape)
    held = {"shape": 0, "scale": 0, "b10": 0}
    for seed in range(n):
        d = lifetime_distribution("T50_h", *population(seed, shape=shape, scale_h=scale))
        held["shape"] += d.weibull_shape.low <= shape <= d.weibull_shape.high
        held["scale"] += d.weibull_scale_h.low <= scale <= d.weibull_scale_h.high
        held["b10"] += d.weibull_b10_h.low <= b10 <= d.weibull_b10_h.high
    assert all(count / n >= 0.9 for count in held.values()), held


def test_the_log_rank_test_tells_a_longer_lived_batch_apart_and_matches_its_formula():
    a = population(1, scale_h=60.0)
    b = population(2, scale_h=140.0)
    c = compare_lifetimes("T50_h", a, b)
    assert c.p_value < 0.01
    # the statistic written out: sum over event times of (O - E) for group a, over its variance
    t = np.concatenate([a[0], b[0]])
    r = np.concatenate([a[1], b[1]])
    g = np.r_[np.zeros(len(a[0])), np.ones(len(b[0]))]
    o_minus_e, variance = 0.0, 0.0
    for time in np.unique(t[r]):
        at_risk = t >= time
        n, n_a = at_risk.sum(), (at_risk & (g == 0)).sum()
        d = ((t == time) & r).sum()
        d_a = ((t == time) & r & (g == 0)).sum()
        o_minus_e += d_a - d * n_a / n
        variance += d * (n_a / n) * (1 - n_a / n) * (n - d) / max(n - 1, 1)
    assert c.statistic ** 2 == pytest.approx(o_minus_e ** 2 / variance, rel=1e-9)  # z^2 = chi^2 (1 dof)


def test_a_batch_of_lifetime_runs_counts_the_runs_that_ended_early_as_censored():
    t, reached = population(7, n=12)
    devices = [Device(f"S1/P{i}", f"{i}.h5", "B1", "finished", "completed",
                      {"L0": 1000.0, "duration_h": float(ti) if not ri else 200.0,
                       **({"T50_h": float(ti)} if ri else {})})
               for i, (ti, ri) in enumerate(zip(t, reached, strict=True))]
    (b,) = batch_statistics(devices)
    d = b.lifetimes["T50_h"]
    assert (d.devices, d.reached, d.censored) == (12, int(reached.sum()), int((~reached).sum()))
    assert b.figures["T50_h"].n == int(reached.sum())  # the plain statistics keep what was reached


def test_ledstation_batch_prints_the_lifetime_distribution_of_lifetime_runs(tmp_path, capsys):
    from station.cli import main

    config = tmp_path / "c.toml"
    files = []
    for seed, hours in ((1, "5"), (2, "5"), (3, "5"), (4, "0.05")):
        config.write_text(f'[simulation]\npreset = "red-cspbbri-qd-control"\nseed = {seed}\n')
        out = tmp_path / f"{seed}.h5"
        assert main(["run", "lifetime", "--config", str(config), "--out", str(out), "--current-density", "10",
                     "--stop-at-percent", "90", "--max-duration", hours, "--monitor-interval", "20",
                     "--spectrum-interval", "1e5"]) == 0
        files.append(str(out))
    capsys.readouterr()
    assert main(["batch", *files]) == 0
    printed = capsys.readouterr().out
    assert "T90_h over devices: 4 runs, 3 reached it, 1 ended before (censored)" in printed
    assert "Kaplan-Meier: median" in printed and "Weibull: shape" in printed
