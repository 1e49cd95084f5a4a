import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# one CIE table cache for the test session and its subprocesses, not the user's
os.environ.setdefault("LEDSTATION_CACHE_DIR", tempfile.mkdtemp(prefix="ledstation-test-cache-"))
# the tests' instrument-address claims apart from a station the user may be running
os.environ.setdefault("LEDSTATION_RUNTIME_DIR", tempfile.mkdtemp(prefix="ledstation-test-runtime-"))
# the agents' data (the window's local agent) apart from the user's
os.environ.setdefault("LEDSTATION_DATA_DIR", tempfile.mkdtemp(prefix="ledstation-test-data-"))

import pytest  # noqa: E402

from drivers.keithley2400 import SafetyLimits, StationKeithley2400  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from station.data.file_claim import is_hdf5


@pytest.fixture
def recorded(monkeypatch):
    """The simulated benches that ``open_station`` creates during the test, in order."""
    from sim_instruments import bench as bench_module

    instances: list[SimulatedBench] = []

    class RecordingBench(SimulatedBench):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            instances.append(self)

    monkeypatch.setattr(bench_module, "SimulatedBench", RecordingBench)
    return instances


@pytest.fixture
def bench():
    b = SimulatedBench()
    yield b
    b.close()


def make_bench(preset: str = "deep-red-cspbi3-fret", **kwargs) -> SimulatedBench:
    return SimulatedBench(preset, **kwargs)


def station_smu(bench: SimulatedBench, max_voltage_V: float = 10.0, max_current_A: float = 0.1) -> StationKeithley2400:
    return StationKeithley2400(bench.smu_address, SafetyLimits(max_voltage_V, max_current_A), clock=bench.clock,
                               visa_library=bench.visa_library, read_termination="\n", write_termination="\n",
                               timeout=500)


@pytest.fixture
def headless_lifetime(tmp_path):
    """Start ``ledstation run lifetime`` in another process on the simulated bench (virtual
    clock: 1000 h at a point a minute, minutes of real time); returns (process, run file)
    once the file's name exists, or once it holds data with ``written=True``. Killed at the end."""
    import subprocess
    import sys
    import time

    processes = []

    def start(written: bool = False):
        out = tmp_path / "headless.h5"
        process = subprocess.Popen([sys.executable, "-m", "station.cli", "run", "lifetime", "--out", str(out),
                                    "--monitor-interval", "60", "--max-duration", "1000"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + 60
        while not (out.exists() and (not written or is_hdf5(out))) and time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the headless run ended: {process.stderr.read().decode()}")
            time.sleep(0.05)
        assert out.exists(), "the headless run wrote no file within 60 s"
        return process, out

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()
