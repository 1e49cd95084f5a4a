"""End-to-end sweeps on the simulated bench: figures recovered against the model's truth."""

import math

import h5py
import numpy as np
import pytest

from station.data.reader import read_run

from .sweep_helpers import config_for, eqe, jvl, model_truth, run_sweep

CASES = [
    ("deep-red-cspbi3-fret", "sphere"), ("deep-red-cspbi3-fret", "radiometer"),
    ("red-cspbbri-qd", "sphere"), ("red-cspbbri-qd", "radiometer"),
    ("nir-fapbi3-qd", "sphere"),
]


@pytest.mark.parametrize("preset,geometry", CASES)
def test_jvl_sweep_recovers_turn_on_peak_eqe_and_max_light(tmp_path, preset, geometry):
    truth = model_truth(preset)
    stop, _ = run_sweep(jvl(), config_for(preset, geometry), tmp_path / "run.h5")
    assert stop.status == "finished", stop.reason
    figures = stop.analysis["figures"]
    assert figures["peak_eqe"] == pytest.approx(truth["peak_eqe"], abs=0.003)
    if preset.startswith("nir"):
        assert figures["light_quantity"] == "radiometric"
        assert figures["turn_on_voltage_V"] == pytest.approx(truth["turn_on_radiance_V"], abs=0.05)
        assert figures["max_radiance_W_sr_m2"] == pytest.approx(truth["max_radiance_W_sr_m2"], rel=0.02)
    else:
        assert figures["light_quantity"] == "photometric"
        assert figures["turn_on_voltage_V"] == pytest.approx(truth["turn_on_V"], abs=0.05)
        assert figures["max_luminance_cd_m2"] == pytest.approx(truth["max_luminance_cd_m2"], rel=0.02)


@pytest.mark.parametrize("preset,geometry", CASES)
def test_eqe_sweep_recovers_peak_eqe_and_records_the_voltage(tmp_path, preset, geometry):
    truth = model_truth(preset)
    stop, station = run_sweep(eqe(), config_for(preset, geometry), tmp_path / "run.h5")
    assert stop.status == "finished", stop.reason
    assert stop.analysis["figures"]["peak_eqe"] == pytest.approx(truth["peak_eqe"], abs=0.003)
    run = read_run(tmp_path / "run.h5")
    set_j = run.columns["set_current_A"] / (station.config.pixel_area_cm2 * 1e-3)
    sourced = run.columns["in_compliance"] == 0  # a point at the voltage compliance holds less current
    assert sourced[:-1].all()  # only the last point, which stopped the sweep, may be
    assert run.columns["current_density_mA_cm2"][sourced] == pytest.approx(set_j[sourced], rel=1e-3)
    model = station.bench.led.model
    needed = [model.voltage_at_current_V(i) for i in run.columns["set_current_A"][:5]]
    assert run.columns["voltage_V"][:5] == pytest.approx(needed, abs=0.02)


def test_nir_device_is_refused_by_a_visible_radiometer(tmp_path):
    stop, _ = run_sweep(eqe(stop_current_density=100.0), config_for("nir-fapbi3-qd", "radiometer"),
                        tmp_path / "run.h5")
    assert stop.status == "failed" and "cannot measure this emitter" in stop.reason
    run = read_run(tmp_path / "run.h5")
    cut_off = run.columns["truncated"] > 0
    assert (run.columns["truncated"][cut_off] == 2).all()  # the long-wavelength end
    assert np.isnan(run.columns["eqe"][cut_off]).all()  # no wrong EQE from a cut-off spectrum


def test_spectral_shift_across_the_sweep_matches_the_model(tmp_path):
    stop, station = run_sweep(eqe(stop_current_density=100.0), config_for("nir-fapbi3-qd"), tmp_path / "run.h5")
    run = read_run(tmp_path / "run.h5")
    model = station.bench.led.model
    bright = run.columns["radiance_W_sr_m2"] >= 0.1
    j = run.columns["current_density_mA_cm2"][bright]
    expected_shift = 1.0 * math.log10(j.max() / j.min())  # 1 nm per decade for this preset
    assert stop.analysis["figures"]["peak_wavelength_shift_nm"] == pytest.approx(expected_shift, abs=0.4)
    assert model.parameters.spectrum.peak_shift_nm_per_decade == 1.0


def test_reverse_sweep_and_fine_step(tmp_path):
    procedure = jvl(stop_voltage=4.0, step_voltage=0.5, fine_step_voltage=0.1, fine_start_voltage=2.5,
                    fine_stop_voltage=3.5, reverse_sweep=True)
    forward = [round(v, 6) for v, d in procedure.voltages() if d > 0]
    assert forward == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 4.0]
    stop, _ = run_sweep(procedure, config_for("deep-red-cspbi3-fret"), tmp_path / "run.h5")
    run = read_run(tmp_path / "run.h5")
    assert run.points == 2 * len(forward) - 1
    back = run.columns["direction"] < 0
    assert list(run.columns["set_voltage_V"][back]) == pytest.approx(forward[-2::-1])


@pytest.mark.parametrize("kwargs,reason", [
    ({"compliance_current": 1e-3}, "compliance reached"),
    ({"current_density_limit": 100.0}, "current density limit"),
    ({"luminance_limit": 1000.0}, "luminance limit"),
    ({"stop_voltage": 10.0, "breakdown_drop": 0.03}, "efficiency roll-off"),
])
def test_sweeps_stop_early_with_the_reason_recorded(tmp_path, kwargs, reason):
    stop, _ = run_sweep(jvl(**kwargs), config_for("deep-red-cspbi3-fret"), tmp_path / "run.h5")
    assert stop.status == "finished" and reason in stop.reason
    run = read_run(tmp_path / "run.h5")
    assert reason in run.reason and run.points < 161
    if "compliance" in reason:
        assert run.columns["in_compliance"][-1] == 1
        assert run.columns["current_A"][-1] == pytest.approx(1e-3, rel=1e-3)


def test_eqe_sweep_stops_on_voltage_compliance(tmp_path):
    stop, _ = run_sweep(eqe(compliance_voltage=3.0), config_for("deep-red-cspbi3-fret"), tmp_path / "run.h5")
    assert "voltage compliance" in stop.reason
    run = read_run(tmp_path / "run.h5")
    assert run.columns["voltage_V"][-1] == pytest.approx(3.0, abs=1e-3)


def test_failing_instrument_mid_sweep_leaves_output_off_and_file_failed(tmp_path):
    from sim_instruments.bench import SimulatedBench

    bench = SimulatedBench()
    bench.keithley.fail_at_measurement = 41  # two readings a point: fails during point 21
    stop, _ = run_sweep(jvl(), config_for("deep-red-cspbi3-fret"), tmp_path / "run.h5", bench=bench)
    assert stop.status == "failed" and "SimulatedInstrumentFault" in stop.reason
    assert not bench.keithley.output_on and bench.led.drive is None
    run = read_run(tmp_path / "run.h5")
    assert run.status == "failed" and "SimulatedInstrumentFault" in run.reason
    assert run.points == 20
    with h5py.File(tmp_path / "run.h5", "r") as f:  # closed cleanly: opens without SWMR
        assert f["entry"].attrs["status"] == "failed"
