"""`ledstation run`: exit codes, one-line errors, output off and file status on every path."""

import subprocess
import sys

import pytest

from station import cli
from station.core.signals import Terminated
from station.data.reader import read_run
from station.run.runner import ProcedureRunner
from station.setup import station as instruments


def cli_run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "station.cli", "run", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_jvl_run_writes_the_file_and_figure_and_prints_the_figures(tmp_path):
    out, figure = tmp_path / "jvl.h5", tmp_path / "jvl.png"
    result = cli_run("jvl", "--out", str(out), "--plot", str(figure), "--step-voltage", "0.1")
    assert result.returncode == 0, result.stderr
    assert "peak_eqe" in result.stdout and "turn_on_voltage_V" in result.stdout
    assert read_run(out).status == "finished" and figure.stat().st_size > 20_000
    again = cli_run("jvl", "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert read_run(out).status == "finished"  # the existing file is untouched


@pytest.mark.parametrize("args,message", [
    (["jvl", "--step-voltage", "0"], "step_voltage 0 V must be non-zero"),
    (["jvl", "--step-voltage", "-0.1"], "must be non-zero and point from"),
    (["jvl", "--stop-voltage", "50"], "beyond [safety] max_voltage_V"),
    (["jvl", "--compliance-current", "2"], "bad parameter --compliance-current 2.0: allowed 0 to 1.05 A"),
    (["jvl", "--compliance-current", "0.5"], "beyond [safety] max_current_A"),
    (["jvl", "--start-voltage", "nan"], "NaN"),
    (["jvl", "--pixel-area", "0"], "--pixel-area must be a pixel area in cm^2"),
    (["jvl", "--pixel-area", "-0.04"], "--pixel-area must be a pixel area in cm^2"),
    (["jvl", "--pixel-area", "101"], "at most 100"),
    (["jvl", "--pixel-area", "1e308"], "at most 100"),
    (["jvl", "--fine-step-voltage", "1e-9", "--fine-stop-voltage", "5"], "a sweep takes at most 100000"),
    (["jvl", "--fine-step-voltage", "1e-5", "--fine-stop-voltage", "5"], "a sweep takes at most 100000"),
    (["eqe", "--start-current-density", "5e-324"], "<= start_current_density"),
    (["jvl", "--settle-time", "-1"], "bad parameter"),
    (["jvl", "--out", "/nonexistent-dir/x.h5"], "does not exist"),
    (["eqe", "--start-current-density", "0"], "<= start_current_density"),
    (["eqe", "--stop-current-density", "1e5"], "beyond [safety] max_current_A"),
    (["eqe", "--compliance-voltage", "300"], "bad parameter"),
    (["eqe", "--points-per-decade", "0"], "bad parameter"),
])
def test_bad_parameters_exit_2_with_one_line_before_any_instrument(tmp_path, args, message, monkeypatch):
    out = tmp_path / "run.h5"
    if "--out" not in args:
        args = [*args, "--out", str(out)]
    result = cli_run(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("exception,code,reason", [
    (KeyboardInterrupt, 130, "interrupted (Ctrl-C)"),
    (Terminated, 143, "terminated (SIGTERM)"),
])
def test_interrupts_switch_the_output_off_and_close_the_file_aborted(tmp_path, monkeypatch, recorded, exception,
                                                                      code, reason):
    original = instruments.Station.measure_light
    calls = []

    def measure_light(self, drive_mA_cm2=float("nan")):
        calls.append(1)
        if len(calls) == 12:
            raise exception()
        return original(self)

    monkeypatch.setattr(instruments.Station, "measure_light", measure_light)
    out = tmp_path / "run.h5"
    assert cli.main(["run", "jvl", "--out", str(out)]) == code
    bench = recorded[0]
    assert not bench.keithley.output_on and bench.led.drive is None
    run = read_run(out)
    assert run.status == "aborted" and run.reason == reason and run.points == 11


def test_abort_from_another_thread_stops_between_points(tmp_path, monkeypatch):
    from station.data.writer import HDF5RunWriter

    from .sweep_helpers import config_for, jvl

    config = config_for("deep-red-cspbi3-fret")
    procedure = jvl()
    writer = HDF5RunWriter(tmp_path / "run.h5")
    with instruments.open_station(config) as station:
        runner = ProcedureRunner(procedure, station, [(writer, True)])

        def abort_at_point_5(record):
            if getattr(record, "index", None) == 4:
                runner.abort()

        runner.stream.subscribe(abort_at_point_5)
        stop = runner.run()
        assert not station.smu.output_on
    assert stop.status == "aborted" and stop.points == 5
    assert read_run(tmp_path / "run.h5").status == "aborted"


def test_the_last_line_says_what_the_shutdown_confirmed_even_after_a_hung_light_instrument(tmp_path):
    """Issue 23, item 11: with a hung spectrometer the last line was a log warning, not the
    confirmation."""
    config = tmp_path / "hang.toml"
    config.write_text('[spectrometer]\nmax_integration_s = 0.5\n'
                      '[simulation]\nfaults = [{kind = "spectrometer_hang", at = 5}]\n')
    result = cli_run("jvl", "--config", str(config), "--out", str(tmp_path / "h.h5"), "--stop-voltage", "3")
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert "not answering" in result.stderr and "did not answer" in result.stderr
    assert lines[-1] == "ledstation: output confirmed off", lines[-3:]
