"""The command line: results, one-line errors with exit codes, output off on every path."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sim_instruments import bench as bench_module
from sim_instruments.simulated_led import Drive
from station import cli
from station.setup import station as instruments


def run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_measure_prints_v_i_luminance_and_eqe():
    result = run("measure")
    assert result.returncode == 0, result.stderr
    assert "EQE =" in result.stdout and "cd/m^2" in result.stdout and "V   =" in result.stdout


def test_measure_json_eqe_matches_the_model_within_half_a_percent():
    result = run("measure", "--json", "--voltage", "3.5")
    data = json.loads(result.stdout)
    bench = bench_module.SimulatedBench()  # a fresh device, switched on once like the CLI's
    bench.led.set_drive(Drive("voltage", data["figures"]["voltage_V"], 0.1))
    truth, _ = bench.led.solve()
    assert data["figures"]["eqe"] == pytest.approx(truth.eqe, rel=0.005)


@pytest.mark.parametrize("args,message", [
    (["measure", "--voltage", "50"], "exceeds [safety] max_voltage_V"),
    (["measure", "--voltage", "nan"], "finite"),
    (["measure", "--compliance-current", "5"], "--compliance-current 5 A must be within"),
    (["measure", "--current-density", "-1"], "must be positive"),
    (["measure", "--current-density", "1e6"], "above [safety] max_current_A"),
    (["measure", "--config", "/nonexistent/station.toml"], "no such file"),
    (["measure", "--voltage", "abc"], "invalid float value"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_gives_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unreachable_smu_address_is_named(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text('[smu]\naddress = "GPIB0::99::INSTR"\nvisa_library = "@sim"\n'
                      '[simulation]\nmix_with_hardware = true\n')
    result = run("measure", "--config", str(config))
    assert result.returncode == 2
    assert "[smu] address 'GPIB0::99::INSTR'" in result.stderr and "Traceback" not in result.stderr


def test_malformed_calibration_file_is_named(tmp_path):
    (tmp_path / "cal.csv").write_text("nonsense\n")
    config = tmp_path / "station.toml"
    config.write_text('[spectrometer]\ncalibration_file = "cal.csv"\n')
    result = run("measure", "--config", str(config))
    assert result.returncode == 2
    assert str(tmp_path / "cal.csv") in result.stderr and "line 1" in result.stderr


def test_calibrate_sphere_writes_a_file_and_never_overwrites_silently(tmp_path):
    out = tmp_path / "resp.csv"
    assert run("calibrate-sphere", "--out", str(out)).returncode == 0
    assert out.read_text().startswith("# ledstation sphere responsivity calibration")
    again = run("calibrate-sphere", "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr


def interrupt_measure(monkeypatch, action):
    original = instruments.Station.measure_light

    def measure_light(self, drive_mA_cm2=float("nan")):
        assert self.smu.output_on and self.bench.keithley.output_on
        action()
        return original(self)

    monkeypatch.setattr(instruments.Station, "measure_light", measure_light)


def test_ctrl_c_switches_the_output_off_and_exits_130(monkeypatch, recorded):
    def ctrl_c():
        raise KeyboardInterrupt

    interrupt_measure(monkeypatch, ctrl_c)
    assert cli.main(["measure"]) == 130
    assert not recorded[0].keithley.output_on and recorded[0].led.drive is None


def test_sigterm_switches_the_output_off_and_exits_143(monkeypatch, recorded):
    def sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1.0)  # the handler raises during this sleep

    interrupt_measure(monkeypatch, sigterm)
    assert cli.main(["measure"]) == 143
    assert not recorded[0].keithley.output_on and recorded[0].led.drive is None


def test_instrument_failure_switches_the_output_off_and_exits_1(monkeypatch, recorded, capsys):
    def fail_next_read():
        recorded[0].keithley.fail_at_measurement = recorded[0].keithley.measurements + 1

    interrupt_measure(monkeypatch, fail_next_read)
    assert cli.main(["measure"]) == 1
    assert "SimulatedInstrumentFault" in capsys.readouterr().err
    assert not recorded[0].keithley.output_on and recorded[0].led.drive is None


def test_sigterm_from_outside_stops_a_running_sweep_and_closes_its_file(tmp_path):
    from station.data.reader import read_run

    config = tmp_path / "station.toml"
    config.write_text("[smu]\nnplc = 0.01\n[simulation]\nrealtime = true\n"
                      "[spectrometer]\nmax_integration_s = 0.01\ndark_scans = 1\n")
    out = tmp_path / "run.h5"
    process = subprocess.Popen([sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(config),
                                "--out", str(out), "--settle-time", "0.2", "--breakdown-drop", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    points = 0
    while time.monotonic() < deadline and points < 3:  # signal handlers are installed by then
        time.sleep(0.2)
        try:
            points = read_run(out).points
        except Exception:
            points = 0
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert "terminated (SIGTERM); output confirmed off" in stderr
    run = read_run(out)
    assert run.status == "aborted" and run.reason == "terminated (SIGTERM)" and run.points >= 3
