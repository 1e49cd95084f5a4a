"""The early lifetime prediction deserves its interval (issue 25, part 1): the two cases
the audit found, over several seeds, against the model's own T50. Before: the control
device's T50 was predicted 17.5 % early with an interval that never held the truth; the
red QD device stopped at 10 h had a +-0.26 % interval covering the truth in 5 of 20 seeds.
The benchmark (benchmarks/bench_lifetime_prediction.py) runs 20 seeds of more cases."""

from __future__ import annotations

import numpy as np
import pytest

from procedures.lifetime import Lifetime
from sim_instruments.bench import SimulatedBench
from sim_instruments.simulated_led import Drive

from .test_lifetime import AREA, model_time_to, run


def predictions(tmp_path, preset, seeds, **parameters):
    """(T50 prediction, low, high, duration) of each seed's run, and the model's T50, h."""
    rows, truth = [], None
    for seed in seeds:
        procedure = Lifetime(drive_mode="current", current_density=5.0, stop_at_percent=50, spectrum_interval=1e5,
                             **parameters)
        outcome, _ = run(procedure, tmp_path / f"{seed}.h5", bench=SimulatedBench(preset, seed=seed))
        a = outcome.analysis
        if truth is None:
            truth = model_time_to(preset, Drive("current", 5e-3 * AREA, 10.0), 50, l0_at_s=a["L0_time_h"] * 3600,
                                  step_s=60.0) / 3600
        rows.append((a["T50_extrapolated_h"], a["T50_extrapolated_low_h"], a["T50_extrapolated_high_h"],
                     a["duration_h"]))
    return np.array(rows, float), truth


def test_the_stop_rule_on_the_control_device_stops_early_with_an_interval_that_holds_the_truth(tmp_path):
    rows, truth = predictions(tmp_path, "red-cspbbri-qd-control", range(6), stop_when_predicted_within=0.1)
    t, low, high, duration = rows.T
    assert np.all((low <= truth) & (truth <= high))
    assert abs(np.mean(t) / truth - 1) < 0.03
    assert np.all(duration < 0.5 * truth)  # frees the rig early


@pytest.mark.parametrize("seed", [0, 1])
def test_a_run_stopped_at_10_h_of_an_88_h_decay_predicts_within_its_interval(tmp_path, seed):
    rows, truth = predictions(tmp_path, "red-cspbbri-qd", [seed], max_duration=10.0)
    (t, low, high, _), = rows
    assert low <= truth <= high and abs(t / truth - 1) < 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_decay_still_changing_shape_is_forecast_from_its_recent_part(tmp_path, seed):
    """The p-i-n device at a constant 3.5 V: its 20 % rise fades under the decay and its
    current drifts, so beta falls as the run goes on. The whole decay's fit stopped the run
    with T50 6 % early (the benchmark's -6.08 % over 20 seeds); the hindcast now prefers the
    later half's forecast, and the interval still holds the truth."""
    procedure = Lifetime(drive_mode="voltage", voltage=3.5, stop_at_percent=50, monitor_interval=120.0,
                         spectrum_interval=1e5, stop_when_predicted_within=0.1)
    outcome, _ = run(procedure, tmp_path / "pin.h5", bench=SimulatedBench("deep-red-cspbi3-pin", seed=seed))
    a = outcome.analysis
    truth = model_time_to("deep-red-cspbi3-pin", Drive("voltage", 3.5, 0.1), 50, l0_at_s=a["L0_time_h"] * 3600,
                          step_s=60.0) / 3600
    assert "predicted" in outcome.reason and a["duration_h"] < 0.8 * truth
    assert a["T50_extrapolated_low_h"] <= truth <= a["T50_extrapolated_high_h"]
    assert abs(a["T50_extrapolated_h"] / truth - 1) < 0.03


def test_watch_mode_follows_the_prediction_the_run_made(tmp_path):
    """A watcher on another PC computes the prediction from the file's rows, in chunks as they
    come, and gets the run's own (the stop rule's) prediction."""
    from station.analysis.lifetime import DecayFollower
    from station.analysis.stored_run import parameter_values
    from station.data.reader import read_run

    procedure = Lifetime(drive_mode="current", current_density=5.0, stop_at_percent=50, monitor_interval=60.0,
                         spectrum_interval=1e5, stop_when_predicted_within=0.1)
    outcome, _ = run(procedure, tmp_path / "w.h5", bench=SimulatedBench("red-cspbbri-qd-control", seed=4))
    stored = read_run(tmp_path / "w.h5")
    follower = DecayFollower(parameter_values(stored))
    for chunk in stored.iter_chunks(list(DecayFollower.COLUMNS), "monitor", 37):
        follower.add_rows(chunk)
    predicted = follower.prediction()
    assert predicted["predicted_s"] / 3600 == pytest.approx(outcome.analysis["T50_extrapolated_h"], rel=1e-9)
    assert predicted["predicted_low_s"] / 3600 == pytest.approx(outcome.analysis["T50_extrapolated_low_h"], rel=1e-9)
    assert "(predicted)" in follower.status() and "T80=" in follower.status()


def test_lifetime_fit_prints_n_and_the_converted_lifetimes_and_refuses_a_file_twice(tmp_path, capsys):
    """It printed only "no points: no figures" unless --json, and a file given twice was a traceback."""
    from station.cli import main

    config = tmp_path / "c.toml"
    config.write_text('[simulation]\npreset = "red-cspbbri-qd-control"\n')
    files = []
    for j in (5, 10, 20):
        out = tmp_path / f"j{j}.h5"
        assert main(["run", "lifetime", "--config", str(config), "--out", str(out), "--current-density", str(j),
                     "--stop-at-percent", "90", "--monitor-interval", "10", "--spectrum-interval", "1e5"]) == 0
        files.append(str(out))
    capsys.readouterr()
    assert main(["lifetime-fit", *files, "--percent", "90"]) == 0
    printed = capsys.readouterr().out
    assert "n = 1.9" in printed  # the control device ages with n = 1.95
    assert "T90 at 100 cd/m^2:" in printed and "T90 at 1000 cd/m^2:" in printed
    assert main(["lifetime-fit", files[0], files[0]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "given twice" in err[0]


def test_the_l0_notice_follows_a_rising_maximum_and_peak_light_is_never_below_l0(tmp_path):
    """With L0 the maximum the stored notice said the first value and was never corrected;
    on the alpha device (decaying from the first reading) peak_light was below L0."""
    import h5py

    procedure = Lifetime(drive_mode="voltage", voltage=3.5, monitor_interval=60.0, settle_time=0.0,
                         stop_at_percent=90, l0_definition="maximum", spectrum_interval=1e5)
    outcome, _ = run(procedure, tmp_path / "max.h5", preset="deep-red-cspbi3-pin")
    with h5py.File(tmp_path / "max.h5", "r") as f:
        told = [m.decode() for m in f["entry/notices/message"][:] if m.decode().startswith("L0 = ")]
    assert len(told) > 1  # the rise was told as it went
    last = float(told[-1].split()[2])
    assert last == pytest.approx(outcome.analysis["L0"], rel=0.011)  # within the 1 % step of the last notice
    procedure = Lifetime(drive_mode="voltage", voltage=3.5, monitor_interval=1.0, settle_time=0.0,
                         stop_at_percent=50, spectrum_interval=1e5)
    alpha = run(procedure, tmp_path / "alpha.h5", preset="alpha-cspbi3-control")[0].analysis
    assert alpha["peak_light"] >= alpha["L0"]


def test_one_spectrum_tells_no_drift_and_cycles_count_from_one(tmp_path):
    from procedures.cycling import Cycling

    procedure = Lifetime(drive_mode="current", current_density=5.0, monitor_interval=60.0, max_duration=0.1,
                         spectrum_interval=1e5)
    figures = run(procedure, tmp_path / "one.h5")[0].analysis
    assert figures["peak_wavelength_drift_nm"] is None and figures["spectra_span_h"] == 0
    cycling = run(Cycling(cycles=5, voltage=3.43, on_time=10.0, off_time=10.0), tmp_path / "c.h5",
                  preset="deep-red-cspbi3-fret")[0].analysis
    assert 1 <= cycling["cycle_of_max"] <= 5  # the FRET device brightens: its best cycle is the last, 5
    assert cycling["cycle_of_max"] == 5


def test_a_stress_test_records_its_conditions_as_data(tmp_path):
    """Encapsulation and atmosphere as the user gives them, stored with the run; the
    temperature column is there (NaN until a sensor is configured)."""
    from station.cli import main
    from station.data.reader import read_run

    config = tmp_path / "c.toml"
    config.write_text('[substrate]\nencapsulation = "glass lid, UV epoxy"\natmosphere = "N2 glovebox"\n'
                      '[simulation]\npreset = "red-cspbbri-qd-control"\n')
    out = tmp_path / "l.h5"
    assert main(["run", "lifetime", "--config", str(config), "--out", str(out), "--current-density", "5",
                 "--max-duration", "0.02", "--monitor-interval", "10"]) == 0
    run = read_run(out)
    assert run.metadata["sample"]["encapsulation"] == "glass lid, UV epoxy"
    assert run.metadata["sample"]["atmosphere"] == "N2 glovebox"
    assert np.isnan(run.read_columns(["temperature_C"], stream="monitor")["temperature_C"]).all()
    config.write_text('[substrate]\natmosphere = "N2\\u0000"\n')
    assert main(["config", "--check", str(config)]) == 2


def test_a_lifetime_event_is_stamped_at_its_crossing_and_watch_mode_reads_the_spectra(tmp_path):
    """The live plot's T_x marks sat where three readings had confirmed the crossing (0.07 h
    late at 60 s); watch mode read no spectrum (its spectrum plots asked for no column)."""
    from procedures.long_run import EVENT_KINDS
    from station.data.reader import read_run
    from station.sinks.live_data import LiveRunData

    procedure = Lifetime(drive_mode="current", current_density=5.0, stop_at_percent=80, monitor_interval=60.0,
                         spectrum_interval=600.0)
    outcome, _ = run(procedure, tmp_path / "e.h5", bench=SimulatedBench("red-cspbbri-qd-control", seed=2))
    events = read_run(tmp_path / "e.h5").read_columns(["elapsed_s", "kind", "value"], "events")
    reached = events["kind"] == EVENT_KINDS["lifetime"][0]
    for t, percent in zip(events["elapsed_s"][reached], events["value"][reached], strict=True):
        assert t / 3600 == pytest.approx(outcome.analysis[f"T{percent:g}_h"], rel=1e-9)
    data = LiveRunData()
    data.begin("lifetime", Lifetime.STREAMS, Lifetime.plots())
    assert "spectra" in data.needed_columns()
