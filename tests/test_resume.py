"""A lifetime run killed with SIGKILL at a random moment, then ``ledstation resume``: no
point the durability policy promised is lost, none is duplicated, the gap is an event,
and the simulated device went on ageing (it outlives the program, as a real one does)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from station.data.file_claim import is_hdf5
from station.data.reader import read_run

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--monitor-interval", "60", "--spectrum-interval", "600", "--stop-at-percent", "0", "--max-duration", "12",
        "--current-density", "20", "--status-interval", "0"]


def ledstation(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "station.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kwargs)


def printed_points(stderr: str) -> int:
    """The highest point count the terminal printed (it prints a point after the file holds it)."""
    counts = [int(line.split("%", 1)[1].split()[0]) for line in stderr.splitlines()
              if line.startswith("[") and "%" in line]
    return max(counts, default=0)


def kill_and_resume(tmp_path: Path, seed: int, durability_s: float) -> None:
    config = tmp_path / "station.toml"
    config.write_text(f'[simulation]\npreset = "red-cspbbri-qd"\n[data]\ndurability_interval_s = {durability_s}\n')
    out = tmp_path / "life.h5"
    child = ledstation("run", "lifetime", "--config", str(config), "--out", str(out), *ARGS)
    deadline = time.monotonic() + 60
    while not (out.exists() and is_hdf5(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3 + random.Random(seed).random() * 1.5)  # a random moment of the run
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate(timeout=30)
    killed_at = time.monotonic()
    before = read_run(out)
    assert before.status == "running"
    shown = printed_points(stderr)
    assert before.rows("monitor") >= shown - (1 if durability_s == 0 else 10**6)  # S = 0: all shown are stored
    stored_before = before.read_columns(["index", "time_s"], "monitor")

    resumed = ledstation("resume", str(out), "--config", str(config), "--status-interval", "0")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    after = read_run(out)
    assert after.status == "finished" and "maximum duration" in after.reason
    columns = after.read_columns(["index", "time_s", "elapsed_s", "relative_light"], "monitor")
    rows = len(columns["index"])
    np.testing.assert_array_equal(columns["index"], np.arange(rows))  # none lost, none duplicated
    assert np.all(np.diff(columns["time_s"]) > 0) and np.all(np.diff(columns["elapsed_s"]) > 0)
    k = len(stored_before["index"])
    np.testing.assert_array_equal(columns["time_s"][:k], stored_before["time_s"])  # the stored points kept as they were
    events = after.read_columns(["kind", "value"], "events")
    assert list(events["kind"]).count(7) == 1  # one resume, with its gap
    gap = float(events["value"][list(events["kind"]).index(7)])
    # the real time since the kill, plus at most the monitor interval the killed run had already waited
    assert 0 < gap < time.monotonic() - killed_at + 60 + 5
    # the device kept its age: L/L0 goes on from where it was (the gap was seconds, not hours)
    rel = columns["relative_light"]
    assert rel[k] == pytest.approx(rel[k - 1], abs=0.01)
    assert columns["elapsed_s"][-1] >= 12 * 3600
    assert after.rows("spectra") >= 12 * 3600 / 600 - 1


@pytest.mark.parametrize("durability_s", [0.0])
def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path, durability_s):
    kill_and_resume(tmp_path, seed=int(time.time()) % 1000, durability_s=durability_s)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_sigkill_then_resume_at_many_moments(tmp_path, seed):
    kill_and_resume(tmp_path, seed, durability_s=0.0)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "station.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _stopped_lifetime_run(tmp_path: Path) -> Path:
    """A lifetime run stopped by SIGTERM (a scheduler): resumable."""
    config = tmp_path / "sigterm.toml"
    config.write_text('[simulation]\nfaults = [{kind = "sigterm", at = 40}]\n')
    out = tmp_path / "t.h5"
    result = _cli("run", "lifetime", "--config", str(config), "--out", str(out), "--max-duration", "3",
                  "--monitor-interval", "60", "--spectrum-interval", "600", "--stop-at-percent", "0")
    assert result.returncode == 143, result.stderr
    assert read_run(out).status == "aborted"
    return out


def _evil_library(tmp_path: Path, marker: Path) -> Path:
    """A shared library whose constructor writes ``marker`` when it is loaded (a path only,
    when there is no C compiler: loading it then fails instead)."""
    import shutil as _shutil

    library = tmp_path / "libevil.so"
    compiler = _shutil.which("cc") or _shutil.which("gcc")
    if compiler is not None:
        source = tmp_path / "evil.c"
        source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void evil(void) {\n'
                          f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("loaded", f); fclose(f); }}\n}}\n')
        subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def _replace_stored(path: Path, dataset: str, value) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        attrs = dict(f[dataset].attrs)
        del f[dataset]
        f[dataset] = value
        f[dataset].attrs.update(attrs)


def test_resume_takes_nothing_of_its_station_from_the_file(tmp_path):
    """Issue 23, item 1: a stored configuration chose the VISA library, faults (a disk filled, a
    SIGKILL), addresses and safety limits of every resume."""
    out = _stopped_lifetime_run(tmp_path)
    victim, marker = tmp_path / "victim.txt", tmp_path / "loaded.txt"
    victim.write_text("keep me\n")
    library = _evil_library(tmp_path, marker)
    crafted = (f'[smu]\naddress = "TCPIP::192.0.2.1::INSTR"\nvisa_library = "{library}"\n'
               "[safety]\nmax_voltage_V = 0.001\nmax_current_A = 1e-9\n"
               f'[simulation]\nfaults = [{{kind = "fill_disk", at = 1, path = "{victim}"}}, '
               '{kind = "sigkill", at = 2}]\n')
    _replace_stored(out, "entry/instrument/station_config_toml", crafted)
    rows = read_run(out).rows("monitor")
    result = _cli("resume", str(out), "--status-interval", "0")
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "the stored visa_library was loaded"
    assert victim.read_text() == "keep me\n"
    after = read_run(out)
    assert after.status == "finished" and after.rows("monitor") > rows  # driven within the present limits


def test_resume_refuses_another_station_unless_told(tmp_path):
    out = _stopped_lifetime_run(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text('[simulation]\npreset = "red-cspbbri-qd"\n')
    refused = _cli("resume", str(out), "--config", str(other))
    assert refused.returncode == 2 and "not the one the run used" in refused.stderr, refused.stderr
    assert "simulated_device" in refused.stderr and refused.stderr.strip().splitlines()[-1].endswith("confirmed off")
    assert read_run(out).status == "aborted"  # untouched
    accepted = _cli("resume", str(out), "--config", str(other), "--accept-station-change", "--status-interval", "0")
    assert accepted.returncode == 0 and "changed station (accepted)" in accepted.stderr, accepted.stderr


@pytest.mark.parametrize(("dataset", "value", "message"), [
    ("entry/parameters/max_duration", -1.0, "max-duration"),
    ("entry/parameters/monitor_interval", float("nan"), "monitor"),
    ("entry/sample/pixel_area_cm2", float("nan"), "pixel area"),
    ("entry/sample/pixel_area_cm2", 1e300, "pixel area"),
])
def test_resume_checks_every_stored_value_as_the_command_line_would(tmp_path, dataset, value, message):
    """Issue 23, item 11: a stored max_duration of -1 was accepted."""
    out = _stopped_lifetime_run(tmp_path)
    _replace_stored(out, dataset, value)
    result = _cli("resume", str(out))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "geometry" not in result.stderr


def test_a_copy_left_by_a_resume_killed_while_copying_is_removed_by_the_next_resume(tmp_path):
    """Issue 23, item 11: a kill during resume's copy left a partial copy as large as the run file."""
    import shutil as _shutil

    out = _stopped_lifetime_run(tmp_path)
    stale = tmp_path / f".{out.name}.0badc0de.resume-partial"  # what the killed resume left
    _shutil.copy(out, stale)
    unrelated = tmp_path / f".{out.name}.0badc0de.partial"  # a plain run's record: not a resume's copy
    unrelated.write_bytes(b"")
    result = _cli("resume", str(out), "--status-interval", "0")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and unrelated.exists()
    assert not list(tmp_path.glob("*.resume-partial")) and read_run(out).status == "finished"
