"""No command writes over a run file it was not told to replace; runs claim their file;
readers and the writer's last step coexist; truncated files are refused at once."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from procedures.jvl_sweep import JVLSweep
from station.core.errors import ConfigError, DataFileError
from station.data.file_claim import PLACEHOLDER, RunFileClaim, being_written, is_placeholder
from station.data.reader import read_run
from station.session import run_to_file
from station.setup.config import load_config
from station.setup.station import open_station


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    """A finished run (a short sweep), copied by each test that changes anything."""
    path = tmp_path_factory.mktemp("run") / "j.h5"
    result = cli("run", "jvl", "--out", str(path), "--stop-voltage", "4", "--step-voltage", "0.5")
    assert result.returncode == 0, result.stderr
    return path


def short_sweep(config):
    procedure = JVLSweep(start_voltage=2.0, stop_voltage=4.0, step_voltage=0.5, settle_time=0.0)
    procedure.validate(config)
    return procedure


def test_no_command_writes_over_its_input_or_a_run_file(run_file, tmp_path):
    data = tmp_path / "j.h5"
    shutil.copy(run_file, data)
    before = data.read_bytes()
    image_named = tmp_path / "j.png"  # a run file with an image's name
    shutil.copy(run_file, image_named)
    cases = [
        (["run", "jvl", "--out", str(tmp_path / "fig.png"), "--plot", str(tmp_path / "fig.png")], "own input"),
        (["run", "jvl", "--out", str(tmp_path / "new.h5"), "--plot", str(image_named)], "HDF5 data file"),
        (["plot", str(image_named), "-o", str(image_named)], "own input"),
        (["recover", str(data), "-o", str(data), "--overwrite"], "own input"),
        (["export", str(data), "--csv", "-o", str(data), "--overwrite"], "own input"),
        (["export", str(data), "--csv", "-o", str(image_named), "--overwrite"], "HDF5 data file"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert data.read_bytes() == before and read_run(image_named).status == "finished"
    assert not (tmp_path / "fig.png").exists() and not (tmp_path / "new.h5").exists()
    csv = tmp_path / "j.csv"
    assert cli("export", str(data), "--csv").returncode == 0
    result = cli("export", str(csv), "--csv", "--overwrite")  # a CSV given as the run file
    assert result.returncode == 2 and "own input" in result.stderr


def test_a_truncated_file_is_refused_at_once(run_file, tmp_path):
    for size in (2048, 100_000, os.path.getsize(run_file) - 1):
        cut = tmp_path / f"t{size}.h5"
        cut.write_bytes(run_file.read_bytes()[:size])
        for command in (["analyze", str(cut)], ["plot", str(cut), "-o", str(tmp_path / "t.png")],
                        ["export", str(cut), "--csv", "-o", str(tmp_path / "t.csv")],
                        ["recover", str(cut), "-o", str(tmp_path / "r.h5")]):
            start = time.monotonic()
            result = cli(*command, timeout=30)
            assert result.returncode == 2 and "truncated" in result.stderr, (command, result.stderr)
            assert time.monotonic() - start < 10  # start-up of the interpreter included


def test_overwrite_replaces_only_after_the_first_point_and_a_failed_run_keeps_the_old_file(run_file, tmp_path):
    config = load_config()
    target = tmp_path / "j.h5"
    shutil.copy(run_file, target)
    old = target.read_bytes()

    class FailsAtOnce(JVLSweep):
        def startup(self):
            raise RuntimeError("nothing connected")

    procedure = FailsAtOnce(start_voltage=2.0, stop_voltage=4.0, step_voltage=0.5, settle_time=0.0)
    with open_station(config) as station:
        outcome = run_to_file(procedure, station, target, overwrite=True)
    assert outcome.status == "failed" and outcome.path is None
    assert target.read_bytes() == old  # the failed run destroyed nothing
    assert not list(tmp_path.glob(".*.partial"))
    with open_station(config) as station:
        outcome = run_to_file(short_sweep(config), station, target, overwrite=True)
    assert outcome.path == target and read_run(target).points == outcome.points == 5


def test_a_file_being_written_cannot_be_claimed_overwritten_or_recovered(run_file, tmp_path):
    target = tmp_path / "busy.h5"
    with RunFileClaim(target) as claim:
        assert being_written(target)
        with pytest.raises(ConfigError, match="being written by another"):
            RunFileClaim(target, overwrite=True)
        result = cli("run", "jvl", "--out", str(target), "--overwrite")
        assert result.returncode == 2 and "being written by another" in result.stderr
        assert "jvl run" not in result.stderr  # refused before any instrument was opened
        del claim
    assert not target.exists()  # an unused claim leaves nothing behind
    shutil.copy(run_file, target)
    with h5py.File(target, "r+") as f:  # make it look like a run that is still going
        f["entry/status"][0] = b"running"
    with RunFileClaim(target, overwrite=True):
        result = cli("recover", str(target), "-o", str(tmp_path / "copy.h5"))
        assert result.returncode == 2 and "still being written" in result.stderr


def test_two_runs_started_together_on_one_new_name(tmp_path):
    target = tmp_path / "race.h5"
    runs = [subprocess.Popen([sys.executable, "-m", "station.cli", "run", "jvl", "--out", str(target),
                              "--stop-voltage", "3", "--step-voltage", "0.5"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "jvl run" not in loser  # refused before instruments and darks
    assert read_run(target).status == "finished" and read_run(target).points == 7


def test_a_placeholder_left_by_a_run_killed_before_its_first_point_is_taken_over(tmp_path):
    target = tmp_path / "stale.h5"
    target.write_bytes(PLACEHOLDER)  # what a claim leaves when its run is killed before its first point
    with RunFileClaim(target) as claim:  # no --overwrite needed
        assert claim.path == target


def test_a_new_claim_marks_its_name_and_removes_only_its_own_mark(tmp_path):
    target = tmp_path / "new.h5"
    with RunFileClaim(target):
        assert target.read_bytes() == PLACEHOLDER and is_placeholder(target)
    assert not target.exists()  # the run never started: its own placeholder goes
    with RunFileClaim(target):
        target.unlink()
        target.write_bytes(PLACEHOLDER)  # another file now (another inode), though it holds the mark
    assert target.exists()  # not the file this claim created: left alone


def _cannot_open_config(tmp_path: Path) -> Path:
    """A station whose source meter cannot be reached (the claim is taken before it is opened)."""
    config = tmp_path / "unreachable.toml"
    config.write_text('[smu]\naddress = "TCPIP::127.0.0.1::9::SOCKET"\nvisa_library = "@py"\n'
                      '[simulation]\nmix_with_hardware = true\n')
    return config


def test_out_never_takes_a_device_a_fifo_or_an_unrelated_empty_file(tmp_path):
    """Issue 23, item 2: --out took over device nodes, FIFOs and empty files without --overwrite,
    and a run that failed to open its instrument deleted an empty file it never created."""
    fifo = tmp_path / "ff"
    os.mkfifo(fifo)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"")
    cases = [(fifo, "not a regular file"), (notes, "exists; pass --overwrite")]
    try:
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        cases.append((tmp_path / "null", "not a regular file"))
    except (PermissionError, AttributeError):
        pass  # mknod needs root
    for target, message in cases:
        result = cli("run", "jvl", "--stop-voltage", "2", "--out", str(target), timeout=60)
        assert result.returncode == 2 and message in result.stderr, (target, result.stderr)
        assert "jvl run" not in result.stderr  # refused before any instrument
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and notes.read_bytes() == b""
    if len(cases) == 3:
        assert stat.S_ISCHR(os.stat(tmp_path / "null").st_mode)
    # told to overwrite, a run that cannot open its instrument leaves the old file as it was
    config = _cannot_open_config(tmp_path)
    for overwrite in ([], ["--overwrite"]):
        result = cli("run", "jvl", "--config", str(config), "--out", str(notes), *overwrite, timeout=60)
        assert result.returncode != 0 and notes.exists() and notes.read_bytes() == b"", result.stderr
    result = cli("run", "jvl", "--config", str(config), "--out", str(tmp_path / "fresh.h5"), timeout=60)
    assert result.returncode == 2 and not (tmp_path / "fresh.h5").exists()  # its own placeholder removed


HOLD_OPEN = """
import sys, time, h5py
f = h5py.File(sys.argv[1], "r", swmr=True)  # HDF5's default: with its file lock, as a viewer would
print("open", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_the_writer_finishes_the_file_while_another_program_holds_it_open(tmp_path):
    config = dataclasses.replace(load_config(), durability_interval_s=0.0)  # the name is taken at point 1
    target = tmp_path / "watched.h5"
    readers: list[subprocess.Popen] = []

    class Watched(JVLSweep):
        def measure_point(self, *args, **kwargs):
            values = super().measure_point(*args, **kwargs)
            if not readers:  # like a GUI watching the run from another process
                reader = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(target), "30"],
                                          stdout=subprocess.PIPE, text=True)
                assert reader.stdout.readline().strip() == "open"
                readers.append(reader)
            return values

    procedure = Watched(start_voltage=2.0, stop_voltage=4.0, step_voltage=0.5, settle_time=0.0)
    try:
        with open_station(config) as station:
            outcome = run_to_file(procedure, station, target)
        assert readers and readers[0].poll() is None and outcome.status == "finished"
    finally:
        for reader in readers:
            reader.kill()
    run = read_run(target)
    assert run.analysis["max_luminance_cd_m2"] > 0  # the analysis group was written
    with h5py.File(target, "r") as f:
        assert f["entry/data/voltage_V"].shape == (5,)  # and the NXdata copies


def test_the_run_file_records_the_output_state_and_notices(tmp_path):
    from sim_instruments.bench import SimulatedBench
    from sim_instruments.faults import Fault

    config = load_config()
    target = tmp_path / "n.h5"
    with open_station(config, bench=SimulatedBench(faults=(Fault("smu_timeout", 3),))) as station:
        run_to_file(short_sweep(config), station, target)
    with h5py.File(target, "r") as f:
        assert f["entry/output_state"][0] == b"output confirmed off"
        levels = [level.decode() for level in f["entry/notices/level"][:]]
        messages = [m.decode() for m, level in zip(f["entry/notices/message"][:], levels, strict=True)
                    if level != "info"]  # info: the light quantity judged
        assert len(messages) == 1 and "VI_ERROR_TMO" in messages[0] and "reading repeated" in messages[0]


def test_a_malformed_run_file_is_bad_input(tmp_path, run_file):
    broken = tmp_path / "b.h5"
    shutil.copy(run_file, broken)
    with h5py.File(broken, "r+") as f:
        del f["entry/parameters"]
    result = cli("analyze", str(broken), timeout=30)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    foreign = tmp_path / "f.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    result = cli("analyze", str(foreign), timeout=30)
    assert result.returncode == 2 and "not an ledstation run file" in result.stderr
    with pytest.raises(DataFileError):
        read_run(tmp_path)


def test_a_file_removed_during_the_run_ends_the_run_and_its_points_are_rescued(tmp_path):
    config = dataclasses.replace(load_config(), durability_interval_s=0.0)
    target = tmp_path / "gone.h5"

    class Removes(JVLSweep):
        def measure_point(self, *args, **kwargs):
            values = super().measure_point(*args, **kwargs)
            if self.measured == 3:
                target.unlink()  # someone cleans the directory
            if self.measured >= 3:
                time.sleep(0.4)  # the writer looks at its file every second
            return values

    procedure = Removes(start_voltage=2.0, stop_voltage=6.0, step_voltage=0.25, settle_time=0.0)
    with open_station(config) as station:
        outcome = run_to_file(procedure, station, target)
        assert not station.bench.keithley.output_on
    assert outcome.status == "failed" and "removed or replaced" in outcome.reason
    assert outcome.path == target and read_run(target).points == outcome.points >= 4


def test_overwrite_of_a_file_another_program_holds_open_replaces_it_whole(run_file, tmp_path):
    target = tmp_path / "held.h5"
    shutil.copy(run_file, target)
    old_inode = target.stat().st_ino
    reader = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(target), "60"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        result = cli("run", "jvl", "--out", str(target), "--overwrite", "--stop-voltage", "3", "--step-voltage", "1")
        assert result.returncode == 0, result.stderr
        assert reader.poll() is None  # the reader still reads the old file, untouched
    finally:
        reader.kill()
    assert target.stat().st_ino != old_inode and read_run(target).points == 4


def test_no_command_writes_over_a_file_it_reads_or_writes_twice(tmp_path):
    """Issue 23, item 3: reference and calibrate commands wrote over their own files."""
    from sim_instruments.calibration_lamp import sim_calibration_path

    config = tmp_path / "c.toml"
    config.write_text("[device]\npixel_area_cm2 = 0.04\n")
    calibration = tmp_path / "resp.csv"
    shutil.copy(sim_calibration_path("generic"), calibration)
    shutil.copy(calibration, tmp_path / "resp.png")  # a calibration with an image's name
    calibrated = tmp_path / "cal.toml"
    calibrated.write_text('[spectrometer]\ncalibration_file = "resp.csv"\n')
    image_named = tmp_path / "cal-png.toml"
    image_named.write_text('[spectrometer]\ncalibration_file = "resp.png"\n')
    reference = tmp_path / "ref.json"
    reference.write_text('{"format": "ledstation-reference/1", "parameters": {}, "tolerance_percent": 2, '
                         '"figures": {"peak_eqe": {"value": 0.25, "units": "1", "compare": "relative"}}}')
    log = tmp_path / "history.csv"
    cases = [
        ["reference", "save", "--out", str(tmp_path / "r.h5"), "--run-out", str(tmp_path / "r.h5")],
        ["reference", "check", str(reference), "--run-out", str(reference), "--overwrite"],
        ["reference", "check", str(reference), "--run-out", str(log), "--log", str(log)],
        ["reference", "save", "--out", str(config), "--config", str(config), "--overwrite"],
        ["calibrate-photodiode", "--out", str(config), "--config", str(config), "--overwrite"],
        ["run", "jvl", "--out", str(config), "--config", str(config), "--overwrite"],
        ["run", "jvl", "--out", str(calibration), "--config", str(calibrated), "--overwrite"],
        ["run", "jvl", "--out", str(tmp_path / "x.h5"), "--plot", str(tmp_path / "resp.png"), "--config",
         str(image_named)],
        ["calibrate-sphere", "--out", str(config), "--config", str(config), "--overwrite"],
    ]
    before = {p: p.read_bytes() for p in (config, calibration, calibrated, reference, tmp_path / "resp.png")}
    for args in cases:
        result = cli(*args, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        assert "never writes over a file it reads" in last or "own input" in last, (args, last)
        assert "geometry" not in result.stderr  # refused before any instrument
    assert {p: p.read_bytes() for p in before} == before
    assert not log.exists() and not (tmp_path / "r.h5").exists()


def test_the_free_space_estimate_counts_only_the_spectra_a_run_stores():
    """Issue 23, item 11: the estimate counted a spectrum for every point of runs that store none."""
    from procedures.dark_jv import DarkJV
    from procedures.lifetime import Lifetime
    from station.data.storage_guard import LAYOUT_BYTES, estimated_run_bytes

    dark = DarkJV(points=1000)
    row = dark.planned_row_bytes()
    assert dark.planned_spectra() == 0 and row == 8 * len(dark.STREAMS[0].column_names)
    assert estimated_run_bytes([dark], 2048) == LAYOUT_BYTES + 1000 * row  # no spectrum, whatever the instrument
    life = Lifetime(max_duration=10.0, monitor_interval=60.0, spectrum_interval=600.0)
    assert life.planned_points() == 601 and life.planned_spectra() == 61  # the spectra stream, every 10 min
    with_spectra = estimated_run_bytes([life], 2048) - estimated_run_bytes([life], 0)
    assert with_spectra == 61 * 2048 * 8  # float32 calibrated + raw per point of each stored spectrum
    config = load_config()
    assert config.stored_spectrum_points == 2048  # the simulated generic spectrometer
    assert dataclasses.replace(config, geometry="photodiode").stored_spectrum_points == 0
