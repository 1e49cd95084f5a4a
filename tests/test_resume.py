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
    while not (out.exists() and out.stat().st_size > 0) and time.monotonic() < deadline:
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

    resumed = ledstation("resume", str(out), "--status-interval", "0")
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
