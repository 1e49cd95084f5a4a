"""Lifetime and cycling on the simulated bench with the virtual clock: the station's
lifetimes against the model's own, automatic L0, the published constant-voltage T50s,
acceleration, device failure, the FRET cycling test, and the analytics' rules."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from procedures.cycling import Cycling
from procedures.lifetime import Lifetime
from sim_instruments.bench import SimulatedBench
from sim_instruments.presets import PRESETS, PUBLISHED
from sim_instruments.simulated_led import Drive, time_to_percent_s
from station.analysis.decay import DecayTracker, time_to_percent
from station.analysis.lifetime import convert_lifetime, fit_acceleration
from station.data.reader import read_run
from station.session import run_to_file
from station.setup.config import load_config
from station.setup.station import open_station

AREA = 0.04


def run(procedure, path, preset="red-cspbbri-qd", bench=None):
    config = load_config()
    procedure.validate(config)
    bench = bench or SimulatedBench(preset)
    with open_station(config, bench=bench) as station:
        outcome = run_to_file(procedure, station, path)
    return outcome, bench


def model_time_to(preset: str, drive: Drive, percent: float, l0_at_s: float = 0.0, use_max: bool = False,
                  step_s: float = 1.0, parameters=None) -> float:
    """The model's own T_x, s (:func:`sim_instruments.simulated_led.time_to_percent_s`)."""
    return time_to_percent_s(parameters or PRESETS[preset], drive, percent, l0_at_s, use_max, step_s)


def test_constant_current_t90_and_t50_match_the_model_within_2_percent(tmp_path):
    j = 20.0  # mA/cm^2: T50 of a few hours
    procedure = Lifetime(drive_mode="current", current_density=j, monitor_interval=60.0, stop_at_percent=50,
                         spectrum_interval=1800.0)
    outcome, _ = run(procedure, tmp_path / "cc.h5")
    assert outcome.status == "finished" and outcome.reason.startswith("T50 reached")
    figures = outcome.analysis
    l0_at = figures["L0_time_h"] * 3600
    drive = Drive("current", j * 1e-3 * AREA, 8.0)
    for percent in (90, 50):
        truth_h = model_time_to("red-cspbbri-qd", drive, percent, l0_at_s=l0_at, step_s=10.0) / 3600
        assert figures[f"T{percent}_h"] == pytest.approx(truth_h, rel=0.02)
    assert figures["voltage_rise_at_T50_V"] == pytest.approx(PRESETS["red-cspbbri-qd"].ageing.voltage_rise_V_at_T50,
                                                             rel=0.1)
    # the figures are computed from the stored columns by the same tracker the run used
    stored = read_run(outcome.path)
    assert stored.rows("monitor") == outcome.points
    events = stored.read_columns(["kind", "value"], "events")
    assert list(events["kind"][:2]) == [1, 2] and 3 in events["kind"] and events["kind"][-1] == 8


def test_automatic_l0_lands_within_2_percent_of_the_requested_luminance(tmp_path):
    procedure = Lifetime(drive_mode="luminance", target_light=1000.0, monitor_interval=60.0, max_duration=0.05,
                         stop_at_percent=0)
    outcome, _ = run(procedure, tmp_path / "auto.h5")
    assert outcome.status == "finished"
    stored = read_run(outcome.path)
    first = stored.read_columns(["luminance_cd_m2"], "monitor")["luminance_cd_m2"][0]
    assert first == pytest.approx(1000.0, rel=0.02)
    assert outcome.analysis["L0"] == pytest.approx(1000.0, rel=0.02)
    search = stored.read_columns(["luminance_cd_m2"], "search")["luminance_cd_m2"]
    assert 2 <= len(search) <= 25  # bounded stress: few readings
    assert np.nanmax(search) <= 1000.0 * 1.05  # overshoot bounded by max_overshoot (5 %)


@pytest.mark.parametrize("preset, interval_s, definition", [("alpha-cspbi3-control", 1.0, "initial"),
                                                            ("deep-red-cspbi3-pin", 300.0, "initial")])
def test_constant_voltage_presets_reproduce_their_published_t50_within_5_percent(tmp_path, preset, interval_s,
                                                                                 definition):
    procedure = Lifetime(drive_mode="voltage", voltage=3.5, compliance_current=0.1, monitor_interval=interval_s,
                         settle_time=0.0, stop_at_percent=50, l0_definition=definition, spectrum_interval=1e5)
    outcome, _ = run(procedure, tmp_path / "cv.h5", preset=preset)
    assert outcome.status == "finished", outcome.reason
    assert outcome.analysis["T50_h"] == pytest.approx(PUBLISHED[preset]["T50_h_at_3.5_V"], rel=0.05)


def test_the_l0_definition_matters_for_a_device_that_brightens_first(tmp_path):
    """The p-i-n preset brightens by 20 % over its first minutes: T50 from the initial
    luminance is later than T50 from the maximum, each as the model says."""
    params = PRESETS["deep-red-cspbi3-pin"]
    figures = {}
    for definition in ("initial", "maximum"):
        procedure = Lifetime(drive_mode="voltage", voltage=3.5, monitor_interval=300.0, settle_time=0.0,
                             stop_at_percent=50, l0_definition=definition, spectrum_interval=1e5)
        figures[definition] = run(procedure, tmp_path / f"{definition}.h5", preset=params.name)[0].analysis
    drive = Drive("voltage", 3.5, 0.1)
    truth_max = model_time_to(params.name, drive, 50, use_max=True, step_s=60.0) / 3600
    truth_initial = model_time_to(params.name, drive, 50, l0_at_s=figures["initial"]["L0_time_h"] * 3600,
                                  step_s=60.0) / 3600
    assert figures["maximum"]["T50_h"] == pytest.approx(truth_max, rel=0.02)
    assert figures["initial"]["T50_h"] == pytest.approx(truth_initial, rel=0.02)
    assert figures["initial"]["T50_h"] > 1.05 * figures["maximum"]["T50_h"]
    assert figures["maximum"]["peak_time_h"] > 0.2  # the maximum came after the rise


def test_acceleration_exponent_recovered_within_0_05_from_four_l0(tmp_path):
    l0, t90 = [], []
    for j in (5.0, 10.0, 20.0, 40.0):
        guess_s = 500 * 60 * (5.0 / j) ** 1.95
        procedure = Lifetime(drive_mode="current", current_density=j, monitor_interval=guess_s / 150,
                             stop_at_percent=90, spectrum_interval=1e6, settle_time=0.0)
        figures = run(procedure, tmp_path / f"j{j:g}.h5")[0].analysis
        l0.append(figures["L0"])
        t90.append(figures["T90_h"])
    fit = fit_acceleration(l0, t90)
    assert fit.n == pytest.approx(PRESETS["red-cspbbri-qd"].ageing.acceleration_exponent, abs=0.05)


def test_worked_example_converts_t90_to_100_cd_m2():
    """MEASUREMENTS.md: T90 = 500 min at 1015 cd/m^2 with n = 1.95 gives about 7.6e2 h at 100 cd/m^2."""
    assert convert_lifetime(500 / 60, 1015.0, 100.0, 1.95) == pytest.approx(763, rel=0.005)
    fit = fit_acceleration([1015.0, 2030.0, 4060.0], [500.0 / 60 * 2 ** (1.95 * k) for k in (0, -1, -2)])
    assert fit.n == pytest.approx(1.95, abs=1e-9)
    assert fit.lifetime_at(100.0)[0] == pytest.approx(convert_lifetime(500 / 60, 1015.0, 100.0, 1.95), rel=1e-9)


def test_a_device_that_shorts_mid_run_fails_the_run_with_the_output_off_and_data_intact(tmp_path):
    params = PRESETS["red-cspbbri-qd"]
    shorting = dataclasses.replace(params, ageing=dataclasses.replace(params.ageing, short_circuit_after_h=2.0))
    bench = SimulatedBench(params.name)
    bench.led.parameters = shorting
    procedure = Lifetime(drive_mode="current", current_density=5.0, monitor_interval=60.0, stop_at_percent=50)
    outcome, bench = run(procedure, tmp_path / "short.h5", bench=bench)
    assert outcome.status == "failed" and "short circuit" in outcome.reason
    assert not bench.keithley.output_on
    stored = read_run(outcome.path)
    assert stored.status == "failed" and stored.rows("monitor") == outcome.points
    elapsed = stored.read_columns(["elapsed_s"], "monitor")["elapsed_s"]
    assert 1.9 < elapsed[-1] / 3600 < 2.1
    assert stored.read_columns(["kind"], "events")["kind"][-1] == 8  # the stop event


def test_a_noisy_dip_does_not_end_the_lifetime_early():
    tracker = DecayTracker("initial", 0.0, (90,))
    t = np.arange(0, 1000.0)
    light = 1000 * np.exp(-((t / 2000.0) ** 1.0))
    light[100] = 100.0  # one reading far below (a glitch)
    light[200:202] = 850.0  # two in a row
    for ti, li in zip(t, light, strict=True):
        tracker.add(ti, li)
    expected = 2000.0 * -math.log(0.9)
    assert tracker.crossings[90].time_s == pytest.approx(expected, rel=0.01)


def test_extrapolated_lifetime_from_a_run_stopped_early_is_within_5_percent(tmp_path):
    procedure = Lifetime(drive_mode="current", current_density=20.0, monitor_interval=60.0, stop_at_percent=80,
                         spectrum_interval=1e5)
    figures = run(procedure, tmp_path / "early.h5")[0].analysis
    truth_h = model_time_to("red-cspbbri-qd", Drive("current", 20e-3 * AREA, 8.0), 50,
                            l0_at_s=figures["L0_time_h"] * 3600, step_s=10.0) / 3600
    assert figures["T50_h"] is None
    assert figures["T50_extrapolated_h"] == pytest.approx(truth_h, rel=0.05)
    assert figures["T50_extrapolated_low_h"] < figures["T50_extrapolated_h"] < figures["T50_extrapolated_high_h"]
    assert figures["tm21"]["T50_h"] > 0
    assert time_to_percent(50, 1.0, 1.0) == pytest.approx(math.log(2))


def test_stop_rule_on_the_predicted_lifetime_frees_the_rig_early(tmp_path):
    procedure = Lifetime(drive_mode="current", current_density=20.0, monitor_interval=60.0, stop_at_percent=50,
                         stop_when_predicted_within=0.05, spectrum_interval=1e5)
    outcome = run(procedure, tmp_path / "predicted.h5")[0]
    assert outcome.status == "finished" and "predicted" in outcome.reason
    figures = outcome.analysis
    truth_h = model_time_to("red-cspbbri-qd", Drive("current", 20e-3 * AREA, 8.0), 50,
                            l0_at_s=figures["L0_time_h"] * 3600, step_s=10.0) / 3600
    assert figures["duration_h"] < 0.8 * truth_h
    assert figures["T50_extrapolated_h"] == pytest.approx(truth_h, rel=0.1)


def test_the_fret_preset_reproduces_the_published_650_cycle_test(tmp_path):
    published = PUBLISHED["deep-red-cspbi3-fret-cycling"]
    procedure = Cycling(cycles=650, voltage=published["voltage_V"], on_time=10.0, off_time=10.0)
    outcome, bench = run(procedure, tmp_path / "cycling.h5", preset="deep-red-cspbi3-fret")
    assert outcome.status == "finished" and outcome.points == 650
    figures = outcome.analysis
    stored = read_run(outcome.path)
    luminance = stored.read_columns(["luminance_mean_cd_m2"], "cycles")["luminance_mean_cd_m2"]
    assert luminance[0] == pytest.approx(published["first_cycle_cd_m2"], rel=0.15)
    assert luminance[199] == pytest.approx(published["cycle_200_cd_m2"], rel=0.15)
    assert figures["decline_cycle"] is None  # no decline
    assert abs(figures["trend_per_100_cycles"]) < 0.01
    assert stored.read_columns(["cycle"], "cycles")["cycle"][-1] == 649
    assert not bench.keithley.output_on


def _saturating_config():
    """A spectrometer that cannot integrate shorter than 5 s: a lit device saturates it."""
    config = load_config()
    spectrometer = dataclasses.replace(config.spectrometer, min_integration_s=5.0, max_integration_s=10.0)
    return dataclasses.replace(config, spectrometer=spectrometer)


@pytest.mark.parametrize("procedure", [
    Lifetime(current_density=20.0, monitor_interval=60.0, max_duration=0.5, stop_at_percent=50.0),
    Cycling(cycles=20, on_time=2.0, off_time=1.0),
], ids=["lifetime", "cycling"])
def test_a_light_meter_that_reads_nothing_usable_fails_the_run(tmp_path, procedure):
    """Issue 23, item 7: a lifetime run went its whole duration with every light reading NaN
    (a saturated spectrometer), no L0 and no T_x, and ended "finished", exit 0."""
    config = _saturating_config()
    procedure.validate(config)
    with open_station(config) as station:
        outcome = run_to_file(procedure, station, tmp_path / "saturated.h5")
    assert outcome.status == "failed", outcome.reason
    assert "no usable light reading at 5 lit readings in a row" in outcome.reason and "saturated" in outcome.reason
    stream = "monitor" if isinstance(procedure, Lifetime) else "cycles"
    run = read_run(outcome.path)
    assert run.status == "failed" and run.rows(stream) <= 5  # stopped at the fifth, every reading kept


def test_a_sweep_that_saturates_before_any_usable_light_reading_fails(tmp_path):
    from procedures.jvl_sweep import JVLSweep

    config = _saturating_config()
    procedure = JVLSweep(start_voltage=4.0, stop_voltage=6.0, step_voltage=0.5)
    procedure.validate(config)
    with open_station(config) as station:
        outcome = run_to_file(procedure, station, tmp_path / "sweep.h5")
    assert outcome.status == "failed" and "before any usable light reading" in outcome.reason, outcome.reason
    assert outcome.points == 1
