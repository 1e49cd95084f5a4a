"""Sweep figures of merit on curves with known answers."""

import math

import numpy as np
import pytest

from station.analysis import sweep as a


def test_turn_on_is_interpolated_on_log_luminance():
    v = np.array([2.0, 2.5, 3.0, 3.5])
    lum = np.array([0.01, 0.1, 10.0, 1000.0])  # log L linear between 2.5 and 3.0
    assert a.turn_on_voltage(v, lum, 1.0) == pytest.approx(2.75)


def test_turn_on_ignores_nan_points_and_is_nan_when_never_reached():
    v = np.array([1.0, 2.0, 3.0, 4.0])
    assert a.turn_on_voltage(v, np.array([np.nan, 0.1, np.nan, 10.0]), 1.0) == pytest.approx(3.0)
    assert math.isnan(a.turn_on_voltage(v, np.array([0.1, 0.2, 0.3, 0.4]), 1.0))


def test_maximum_and_value_at():
    v = np.linspace(2, 8, 61)
    lum = 1e4 * np.exp(-((v - 6.0) ** 2))
    assert a.maximum(v, lum) == pytest.approx((1e4, 6.0))
    assert a.value_at(v, lum, 1e4 / math.e) == pytest.approx(5.0, abs=0.01)


def test_rolloff_is_where_eqe_halves_above_its_peak():
    j = np.logspace(-2, 3, 51)
    eqe = 0.2 / (1 + (j / 100.0) ** 2)  # halves exactly at 100 mA/cm^2
    assert a.rolloff_current_density(j, eqe) == pytest.approx(100.0, rel=0.01)
    assert math.isnan(a.rolloff_current_density(j[:20], eqe[:20]))


def test_sweep_figures_on_a_synthetic_device():
    v = np.linspace(0, 6, 121)
    j = 1e-3 * np.exp(v / 0.25)  # mA/cm^2
    eqe = 0.2 * np.ones_like(v)
    eqe[v > 4] = 0.2 * np.exp(-(v[v > 4] - 4))
    lum = 10.0 * j * eqe  # some luminance scale
    figures = a.sweep_figures({"voltage_V": v, "current_density_mA_cm2": j, "eqe": eqe, "luminance_cd_m2": lum,
                               "radiance_W_sr_m2": lum / 100, "direction": np.ones_like(v)})
    expected_on = 0.25 * math.log(1.0 / (10 * 0.2 * 1e-3))
    assert figures.turn_on_voltage_V == pytest.approx(expected_on, abs=1e-3)
    assert figures.peak_eqe == pytest.approx(0.2)
    assert figures.eqe_at_100_cd_m2 == pytest.approx(0.2)
    assert figures.voltage_at_1000_cd_m2_V == pytest.approx(0.25 * math.log(1000 / (10 * 0.2 * 1e-3)), abs=1e-3)


def test_reverse_points_do_not_enter_the_figures():
    v = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    lum = np.array([0.1, 10.0, 100.0, 1e6, 1e6])
    figures = a.sweep_figures({"voltage_V": v, "current_density_mA_cm2": v, "eqe": v / 10, "luminance_cd_m2": lum,
                               "radiance_W_sr_m2": lum, "direction": np.array([1, 1, 1, -1, -1])})
    assert figures.max_luminance_cd_m2 == 100.0


def test_radiometric_figures_use_the_radiance_threshold():
    v = np.array([1.0, 1.5, 2.0])
    rad = np.array([1e-3, 1e-2, 1e-1])
    figures = a.sweep_figures({"voltage_V": v, "current_density_mA_cm2": v, "eqe": v, "luminance_cd_m2": rad * 0,
                               "radiance_W_sr_m2": rad}, "radiometric", turn_on_radiance_W_sr_m2=0.01)
    assert figures.turn_on_voltage_V == pytest.approx(1.5)
    assert math.isnan(figures.voltage_at_1000_cd_m2_V)
