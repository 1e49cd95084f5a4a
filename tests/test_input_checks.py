"""Bad input: one line, exit 2, nothing opened and nothing written (issue list of the
fault work: configuration values, paths, titles, sizes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from procedures.jvl_sweep import JVLSweep
from station import cli


def config_file(tmp_path, text: str):
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,message", [
    ("[smu]\nnplc = 1" + "0" * 400 + "\n", "nplc"),
    ("[smu]\naddress = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML"),
    ('[spectrometer]\ncalibration_file = "a\\u0000b"\n', "NUL"),
    ("[spectrometer]\ndark_scans = 9223372036854775807\n", "dark_scans: must be within 1-1000"),
    ("[spectrometer]\nmin_integration_s = 1e-9\n", "min_integration_s: must be within"),
    ("[spectrometer]\nwavelength_range_nm = [200.0, 1010.0]\n", "outside the calibration"),
    ('[spectrometer]\ncalibration_file = "missing.csv"\n', "cannot read"),
    ('[smu]\naddress = "not a VISA address"\n', "is not a VISA resource name"),
    ("[simulation]\nseed = -1\n", "seed: must be within"),
    ('[simulation]\nseed = "7"\n', "seed: expected int"),
    ("[simulation]\nseed = 1.5\n", "seed: expected int"),
    ("[simulation]\nlatency = 1\n", "latency: expected bool"),
    ('[radiometer]\nmodel = "PR-999"\n', "[radiometer] model: must be one of PR-650, PR-655"),
    ('[simulation]\nradiometer_model = "PR-670"\n', "radiometer_model: moved to [radiometer] model"),
    ('[light]\ngeometry = "radiometer"\n[simulation]\npreset = "nir-fapbi3-qd"\n',
     "the PR-655 measures 380-780 nm but the device emits 736-820 nm"),
    ('[light]\ngeometry = "radiometer"\n[device]\nemission_nm = [700.0, 850.0]\n',
     "the PR-655 measures 380-780 nm but the device emits 700-850 nm ([device] emission_nm)"),
    ('[device]\nemission_nm = [700.0]\n', "emission_nm: must be [shortest, longest]"),
    ('[light]\ngeometry = "photodiode"\n', "[photodiode] calibration_file: empty: a photodiode needs a spectral"),
    ('[light]\nsecond_channel = "photodiode"\n', "[photodiode] calibration_file: empty"),
    ('[light]\nsecond_channel = "spectrometer"\n', "second_channel: must be"),
    ('[photodiode]\nmeter = "keithley6517"\n', "[photodiode] meter: must be one of keithley6485, keithley2000"),
    ('[photodiode]\ntransimpedance_gain_V_A = 0\n', "transimpedance_gain_V_A: must be a non-zero gain"),
    ('[spectrometer]\nmodel = "HR4000"\n', "the simulated bench has generic, USB4000, QEPRO"),
    ('[simulation]\npreset = "blue"\n', "unknown preset"),
    ("[simulation]\nfaults = [{kind = \"meteor\"}]\n", "kind must be one of"),
    ("[safety]\noutput_off_timeout_s = 0\n", "output_off_timeout_s: must be within"),
])
def test_configuration_values_are_refused_before_any_instrument(tmp_path, recorded, capsys, text, message):
    path = config_file(tmp_path, text)
    out = tmp_path / "run.h5"
    assert cli.main(["run", "jvl", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert recorded == [] and not out.exists()  # no simulated instrument was even built
    assert cli.main(["config", "--check", str(path)]) == 2


@pytest.mark.parametrize("args,message", [
    (["--out", "{dir}", "--overwrite"], "is a directory"),
    (["--out", "", "--overwrite"], "is a directory"),  # argparse makes "" the path "."
    (["--out", "{dir}/missing/run.h5"], "does not exist"),
])
def test_output_paths_are_refused_before_any_instrument(tmp_path, recorded, capsys, args, message):
    args = [a.replace("{dir}", str(tmp_path)) for a in args]
    assert cli.main(["run", "jvl", *args]) == 2
    assert message in capsys.readouterr().err and recorded == []


def test_a_title_that_is_not_text_is_refused_and_writes_nothing(tmp_path):
    out = tmp_path / "t.h5"
    result = subprocess.run([sys.executable.encode(), b"-m", b"station.cli", b"run", b"jvl", b"--out",
                             str(out).encode(), b"--title", b"caf\xff"], capture_output=True, timeout=60)
    assert result.returncode == 2 and b"--title is not valid text" in result.stderr
    assert not out.exists()


def test_calibrate_sphere_checks_its_output_before_the_lamp(tmp_path, recorded, capsys):
    assert cli.main(["calibrate-sphere", "--out", str(tmp_path / "no" / "resp.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err and recorded == []


def test_a_disk_too_small_for_the_run_is_refused_before_any_instrument(tmp_path, recorded, capsys, monkeypatch):
    from station.data import storage_guard

    monkeypatch.setattr(storage_guard, "free_bytes", lambda directory: 5 * 2**20)
    assert cli.main(["run", "jvl", "--out", str(tmp_path / "r.h5")]) == 2
    assert "MB free" in capsys.readouterr().err and recorded == []


def test_breakdown_drop_of_one_never_stops_a_sweep():
    sweep = JVLSweep(breakdown_drop=1.0)
    values = {"in_compliance": 0, "low_light": 0, "saturated": 0, "truncated": 0, "luminance_cd_m2": 500.0,
              "radiance_W_sr_m2": 1.0, "radiance_uncertainty_W_sr_m2": 0.001, "current_density_mA_cm2": 10.0,
              "centroid_nm": 684.0, "luminance_unreliable": 0}
    assert sweep._judge.add(values) and sweep._judge.quantity == "photometric"
    assert sweep.stop_check(values) == ""
    values["luminance_cd_m2"] = -3.0  # a noisy negative reading after a bright one
    assert sweep.stop_check(values) == ""
    sweep.breakdown_drop = 0.5
    values["luminance_cd_m2"] = 500.0
    sweep.stop_check(values)
    values["luminance_cd_m2"], values["current_density_mA_cm2"], values["eqe"] = 100.0, 20.0, 0.01
    values["voltage_V"] = 4.0
    reason = sweep.stop_check(values)
    assert reason.startswith("light fell 50% below its maximum") and "the device is failing" not in reason
    assert "efficiency roll-off" in reason


def test_the_seed_in_force_is_stored_whatever_the_configuration_says(tmp_path):
    from station.data.reader import read_run

    path = config_file(tmp_path, '[simulation]\npreset = "red-cspbbri-qd"\n')  # no seed: the default's
    out = tmp_path / "run.h5"
    assert cli.main(["run", "jvl", "--config", str(path), "--out", str(out), "--stop-voltage", "1"]) == 0
    instruments = read_run(out).metadata["instruments"]
    assert instruments["simulation_seed"] == "0"
    assert "preset red-cspbbri-qd; seed 0" in instruments["simulated_bench"]


def test_a_bench_without_a_seed_draws_one_and_says_which():
    from sim_instruments.bench import SimulatedBench

    first, second = SimulatedBench(seed=None), SimulatedBench(seed=None)
    assert first.seed != second.seed
    replay = SimulatedBench(seed=first.seed)
    assert replay.rng.normal() == SimulatedBench(seed=first.seed).rng.normal()
    for bench in (first, second, replay):
        bench.close()


@pytest.mark.parametrize("value", ["1e308", "nan", "-1", "inf"])
@pytest.mark.parametrize("command", [["measure"], ["calibrate-photodiode", "--out", "{tmp}/pd.json"]])
def test_every_settling_wait_is_bounded_before_an_instrument_opens(tmp_path, command, value):
    """Issue 23, item 9: measure --settle-s 1e308 waited for ever with the output on;
    calibrate-photodiode took nan and -1, and switched the drive on for inf before failing."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = subprocess.run([sys.executable, "-m", "station.cli", *args, f"--settle-s={value}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--settle-s must be within 0-3600 s" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "pd.json").exists()


@pytest.mark.parametrize("text,message", [
    ("[radiometer]\ntimeout_s = 1e308\n", "[radiometer] timeout_s: must be within 0.001-3600, got 1e+308"),
    ("[radiometer]\ntimeout_s = inf\n", "timeout_s"),
    ("[data]\ndurability_interval_s = 1e308\n", "durability_interval_s: must be"),
])
def test_configured_durations_are_bounded(tmp_path, text, message, capsys):
    assert cli.main(["config", "--check", str(config_file(tmp_path, text))]) == 2
    assert message in capsys.readouterr().err


def test_every_duration_parameter_of_every_procedure_has_a_finite_bound():
    from pymeasure.experiment import FloatParameter

    from procedures import procedure_class, procedure_names

    for name in procedure_names():
        for key, parameter in procedure_class(name).parameter_definitions().items():
            if isinstance(parameter, FloatParameter) and parameter.units in ("s", "h", "min"):
                assert parameter.minimum >= 0 and parameter.maximum <= 1e6, (name, key, parameter.maximum)
