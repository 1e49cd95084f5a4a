"""Kills and signal bursts at random moments of real runs (a child process talking to the
simulated instruments over sockets, as to hardware, at wall-clock pace).

After every SIGKILL the file opens and holds every point the run printed (durability
interval 0 on hardware). After every burst of 2-4 SIGINT/SIGTERM 10-120 ms apart the
simulated source meter's output - read in this process, not as the child claims - is
off, the child says "output confirmed off", exits 130 or 143, and its file says
"aborted". The default run does a few of each; ``-m slow`` does 50 kills and 30 bursts
(figures in docs/reliability.md).
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.core.clock import WallClock
from station.data.file_claim import is_hdf5
from station.data.reader import read_run

from .socket_bridge import hardware_config, served_bench

PROGRESS = re.compile(r"%\s+(\d+)\s")


def station_config(tmp_path: Path, smu_port: int, radiometer_port: int) -> Path:
    return hardware_config(tmp_path, smu_port, radiometer_port, "[safety]\noutput_off_timeout_s = 5\n")


def start_run(config: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(config), "--out",
                             str(out), "--settle-time", "0.01", "--start-voltage", "3", "--step-voltage", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_points(out: Path, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and is_hdf5(out):
            return
        time.sleep(0.05)


def printed_points(stderr: str) -> int:
    found = PROGRESS.findall(stderr)
    return int(found[-1]) if found else 0


def run_file(out: Path) -> Path | None:
    """The run's file: its name once published, else its partial file (killed before the first point)."""
    if out.exists() and is_hdf5(out):
        return out
    partial = list(out.parent.glob(f".{out.name}.*.partial"))
    return partial[0] if partial else None


def disturbed_runs(tmp_path: Path, name: str, runs: int, seed: int, disturb) -> list:
    """``runs`` runs against one served bench; ``disturb(process, rng)`` is called once the
    run's first point is in its file and returns what it sent. Per run: (exit code, the
    simulated output really on, what was sent, the child's stderr, its run file or None)."""
    rng = random.Random(seed)
    results = []
    with served_bench(clock=WallClock(), latency=True) as (bench, smu_port, radiometer_port):
        config = station_config(tmp_path, smu_port, radiometer_port)
        for i in range(runs):
            out = tmp_path / f"{name}{i}.h5"
            process = start_run(config, out)
            wait_for_points(out, process)
            sent = disturb(process, rng)
            _, stderr = process.communicate(timeout=60)
            results.append((process.returncode, bench.keithley.output_on, sent, stderr, run_file(out)))
    return results


def kills(tmp_path: Path, runs: int, seed: int) -> list[tuple[int, int]]:
    """(points printed, rows in the file) of each killed run."""
    def kill(process: subprocess.Popen, rng: random.Random) -> list[int]:
        time.sleep(rng.uniform(0.0, 4.0))
        process.send_signal(signal.SIGKILL)
        return [signal.SIGKILL]

    return [(printed_points(stderr), read_run(path).points if path is not None else 0)
            for _, _, _, stderr, path in disturbed_runs(tmp_path, "kill", runs, seed, kill)]


def bursts(tmp_path: Path, runs: int, seed: int) -> list[dict]:
    def burst(process: subprocess.Popen, rng: random.Random) -> list[int]:
        time.sleep(rng.uniform(0.0, 3.0))
        signals = [rng.choice((signal.SIGINT, signal.SIGTERM)) for _ in range(rng.randint(2, 4))]
        for number in signals:
            process.send_signal(number)
            time.sleep(rng.uniform(0.010, 0.120))
        return signals

    results = []
    for code, really_on, signals, stderr, path in disturbed_runs(tmp_path, "burst", runs, seed, burst):
        run = read_run(path) if path is not None else None
        results.append({"code": code, "first": signals[0], "stderr": stderr, "really_on": really_on,
                        "printed": printed_points(stderr), "rows": run.points if run else 0,
                        "status": run.status if run else None})
    return results


def check_kills(results: list[tuple[int, int]]) -> None:
    for printed, rows in results:
        assert rows >= printed, results  # no point shown on screen is missing from the file


def check_bursts(results: list[dict]) -> None:
    for r in results:
        expected = 130 if r["first"] == signal.SIGINT else 143
        assert r["code"] == expected, r["stderr"]
        assert not r["really_on"], r["stderr"]  # the instrument itself: output off
        assert "output confirmed off" in r["stderr"].strip().splitlines()[-1], r["stderr"]
        assert "Traceback" not in r["stderr"]
        assert r["status"] in ("aborted", None) and r["rows"] >= r["printed"], r


def test_kills_and_signal_bursts_at_random_moments(tmp_path):
    pytest.importorskip("pyvisa_py")
    check_kills(kills(tmp_path, runs=3, seed=1))
    check_bursts(bursts(tmp_path, runs=3, seed=2))


@pytest.mark.slow
def test_fifty_kills_and_thirty_bursts(tmp_path):
    pytest.importorskip("pyvisa_py")
    killed = kills(tmp_path, runs=50, seed=11)
    check_kills(killed)
    burst = bursts(tmp_path, runs=30, seed=12)
    check_bursts(burst)
    print(f"\n50 SIGKILLs: {sum(r >= p for p, r in killed)}/50 files with every printed point "
          f"({sum(p for p, _ in killed)} points printed, {sum(r for _, r in killed)} in the files); "
          f"30 bursts: {sum(not r['really_on'] for r in burst)}/30 outputs off, "
          f"{sum(r['status'] == 'aborted' for r in burst)}/30 files 'aborted'")


def test_a_second_station_on_the_same_instruments_is_refused_naming_the_holder(tmp_path):
    """Issue 23, item 10: two runs on one instrument address were not refused (through a
    GPIB-like bridge both failed after a few points)."""
    pytest.importorskip("pyvisa_py")
    with served_bench(clock=WallClock(), latency=True) as (bench, smu_port, radiometer_port):
        config = station_config(tmp_path, smu_port, radiometer_port)
        first = start_run(config, tmp_path / "first.h5")
        wait_for_points(tmp_path / "first.h5", first)
        second = subprocess.run([sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(config), "--out",
                                 str(tmp_path / "second.h5")], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert "is in use by another station" in second.stderr and f"process {first.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1 and not (tmp_path / "second.h5").exists()
        first.send_signal(signal.SIGKILL)  # the system releases a dead process's claims
        first.communicate(timeout=30)
        third = start_run(config, tmp_path / "third.h5")
        wait_for_points(tmp_path / "third.h5", third)
        third.send_signal(signal.SIGINT)
        _, stderr = third.communicate(timeout=60)
        assert third.returncode == 130 and "in use" not in stderr, stderr


def test_one_instrument_is_one_claim_however_its_address_is_spelled():
    from station.core.errors import InstrumentError
    from station.setup.address_claims import AddressClaims

    with AddressClaims([("smu", "GPIB0::24::INSTR"), ("light", "sim")]).acquire():
        for spelling in ("gpib0::24::instr", "GPIB::24", "GPIB0::24"):
            with pytest.raises(InstrumentError, match="in use by another station"):
                AddressClaims([("smu", spelling)]).acquire()
        with AddressClaims([("smu", "GPIB0::25::INSTR")]).acquire():  # another instrument
            pass
    with AddressClaims([("smu", "GPIB::24")]).acquire():  # released with the first station
        pass
