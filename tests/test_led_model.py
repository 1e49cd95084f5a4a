"""The LED model's physics and the presets' published figures."""

import numpy as np
import pytest

from sim_instruments.led_model import MODEL_GRID_NM, LEDModel
from sim_instruments.presets import PRESETS, PUBLISHED
from station.core import photometry as ph


def sweep(model: LEDModel, start=0.5, stop=9.0, step=0.01):
    v = np.arange(start, stop, step)
    points = [model.at_voltage(x) for x in v]
    return v, points


def crossing(v, y, threshold):
    i = int(np.nonzero(np.asarray(y) >= threshold)[0][0])
    return float(np.interp(np.log(threshold), np.log([y[i - 1], y[i]]), v[i - 1:i + 1]))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_current_and_voltage_solutions_are_inverse(name):
    model = LEDModel(PRESETS[name])
    for v in (-2.0, 0.3, 2.5, 4.0, 8.0):
        i = model.current_at_voltage_A(v)
        assert model.voltage_at_current_V(i) == pytest.approx(v, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_photon_rate_equals_eqe_times_electron_rate_and_spectrum_integral(name):
    model = LEDModel(PRESETS[name])
    point = model.at_current(2e-3)
    assert point.photon_rate_per_s == pytest.approx(point.eqe * 2e-3 / ph.ELEMENTARY_CHARGE_C, rel=1e-12)
    flux = model.spectral_flux_W_nm(point, MODEL_GRID_NM)
    assert ph.photon_rate(flux, MODEL_GRID_NM) == pytest.approx(point.photon_rate_per_s, rel=1e-4)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_eqe_has_leakage_at_low_and_rolloff_at_high_current_density(name):
    model = LEDModel(PRESETS[name])
    area = PRESETS[name].pixel_area_cm2
    eqe = {j: model.at_current(j * 1e-3 * area).eqe for j in (1e-3, 1.0, 10.0, 1000.0)}
    peak = max(model.at_current(j * 1e-3 * area).eqe for j in np.logspace(-2, 3, 101))
    assert eqe[1e-3] < 0.5 * peak
    assert eqe[1000.0] < 0.8 * peak
    assert peak <= PRESETS[name].efficiency.eqe_max


@pytest.mark.parametrize("name", ["deep-red-cspbi3-fret", "red-cspbbri-qd", "deep-red-cspbi3-pin",
                                  "alpha-cspbi3-control", "red-cspbbri-qd-control"])
def test_visible_presets_land_on_published_figures(name):
    model = LEDModel(PRESETS[name])
    published = PUBLISHED[name]
    v, points = sweep(model, stop=10.0)
    luminance = [p.luminance_cd_m2 for p in points]
    eqe = [p.eqe for p in points]
    if "turn_on_V" in published:
        assert crossing(v, luminance, 1.0) == pytest.approx(published["turn_on_V"], abs=0.1)
    assert max(luminance) == pytest.approx(published["max_luminance_cd_m2"], rel=0.02)
    assert max(eqe) == pytest.approx(published["peak_eqe"], abs=0.003)
    if "voltage_at_5000_cd_m2_V" in published:
        assert crossing(v, luminance, 5000.0) == pytest.approx(published["voltage_at_5000_cd_m2_V"], abs=0.05)
    if "luminance_at_peak_eqe_cd_m2" in published:
        assert luminance[int(np.argmax(eqe))] == pytest.approx(published["luminance_at_peak_eqe_cd_m2"], rel=0.1)
    if "eqe_at_1000_cd_m2" in published:
        k = int(np.argmax(np.array(luminance) >= 1000.0))
        assert eqe[k] == pytest.approx(published["eqe_at_1000_cd_m2"], abs=0.003)
    if "voltage_at_max_luminance_V" in published:
        assert v[int(np.argmax(luminance))] == pytest.approx(published["voltage_at_max_luminance_V"], abs=0.2)
    if "voltage_at_1000_cd_m2_V" in published:
        assert crossing(v, luminance, 1000.0) == pytest.approx(published["voltage_at_1000_cd_m2_V"], abs=0.05)
    if "luminance_at_5_mA_cm2_cd_m2" in published:
        point = model.at_current(5e-3 * PRESETS[name].pixel_area_cm2)
        assert point.luminance_cd_m2 == pytest.approx(published["luminance_at_5_mA_cm2_cd_m2"], rel=0.05)


def test_nir_preset_is_judged_by_radiance():
    name = "nir-fapbi3-qd"
    model = LEDModel(PRESETS[name])
    v, points = sweep(model, stop=6.0)
    radiance = [p.radiance_W_sr_m2 for p in points]
    assert crossing(v, radiance, 0.01) == pytest.approx(PUBLISHED[name]["turn_on_V_at_0.01_W_sr_m2"], abs=0.05)
    assert max(radiance) == pytest.approx(PUBLISHED[name]["max_radiance_W_sr_m2"], rel=0.02)
    assert max(p.luminance_cd_m2 for p in points) < 0.05 * max(radiance) * 683  # almost no luminance


def test_emission_band_shifts_with_bias_as_parameterised():
    model = LEDModel(PRESETS["nir-fapbi3-qd"])
    low, high = model.band(1.0), model.band(100.0)
    assert high[0] - low[0] == pytest.approx(2.0)  # 1 nm per decade over two decades
    assert high[1] - low[1] == pytest.approx(3.0)
