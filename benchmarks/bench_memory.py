"""Memory stays flat however long a run is.

Run: python benchmarks/bench_memory.py [--points 1000000] [--spectrum-every 100]

Records ``--points`` rows of a scalar stream (a source-meter reading every second of the
simulated bench's clock, at constant voltage: 10^6 points is 278 hours of device time)
plus a spectrum every ``--spectrum-every`` points, through the real runner and HDF5
writer (durability interval 1 s), then runs ``ledstation analyze`` on the file in a
separate process. Reported: resident memory (RSS) at start-up, sampled during the run,
its peak growth beyond start-up (target: under 50 MB), bytes of file per point, the
rows per second, and the peak RSS of ``ledstation analyze`` on this file against the
same command on a file of 1 % of the points.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the two-stream test procedure lives with the tests

from station.data.writer import HDF5RunWriter  # noqa: E402
from station.run.records import Event, RunStop  # noqa: E402
from station.run.runner import ProcedureRunner  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402
from tests.two_stream_procedure import TwoStreamProcedure  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def record_run(path: Path, points: int, spectrum_every: int, samples: int = 10) -> dict:
    """Run the two-stream procedure into ``path``; memory figures as a dict."""
    config = dataclasses.replace(load_config(), durability_interval_s=1.0)
    procedure = TwoStreamProcedure(steps=points, spectrum_every=spectrum_every, interval=1.0, voltage=3.0)
    sampled: list[tuple[int, float]] = []
    every = max(1, points // samples)

    def sampler(record):
        if isinstance(record, Event) and record.stream == "samples" and (record.index + 1) % every == 0:
            sampled.append((record.index + 1, rss_mb()))

    with open_station(config) as station:
        station.prepare_light()
        station.prepare_light = lambda: None
        writer = HDF5RunWriter(path, overwrite=True)
        runner = ProcedureRunner(procedure, station, [(writer, True), (sampler, False)])
        start_rss, start_peak = rss_mb(), peak_rss_mb()
        started = time.perf_counter()
        stop: RunStop = runner.run()
        elapsed = time.perf_counter() - started
    end_peak = peak_rss_mb()
    return {"points": stop.events["samples"], "spectra": stop.events["spectra"], "seconds": elapsed,
            "rows_per_s": stop.events["samples"] / elapsed, "start_rss_mb": start_rss,
            "peak_growth_mb": max(end_peak - start_peak, max(r for _, r in sampled) - start_rss, 0.0),
            "rss_samples_mb": sampled, "file_bytes": path.stat().st_size,
            "bytes_per_point": path.stat().st_size / stop.events["samples"]}


def analyze_peak_rss_mb(path: Path) -> tuple[float, dict]:
    """Peak RSS of ``ledstation analyze --json`` on ``path`` (a separate process)."""
    code = ("import resource, sys\nfrom station.cli import main\nrc = main(['analyze', sys.argv[1], '--json'])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nraise SystemExit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024, json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--spectrum-every", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small.h5", Path(tmp) / "large.h5"
        record_run(small, max(args.points // 100, 1000), args.spectrum_every)
        figures = record_run(large, args.points, args.spectrum_every)
        small_rss, _ = analyze_peak_rss_mb(small)
        large_rss, analysis = analyze_peak_rss_mb(large)
    print(f"{figures['points']} points + {figures['spectra']} spectra through the runner and the HDF5 writer "
          f"in {figures['seconds']:.0f} s ({figures['rows_per_s']:.0f} rows/s)")
    print(f"  RSS at start {figures['start_rss_mb']:.0f} MB; during the run (points: MB): "
          + ", ".join(f"{n}: {mb:.0f}" for n, mb in figures["rss_samples_mb"]))
    print(f"  peak RSS growth beyond start-up   {figures['peak_growth_mb']:.1f} MB  (target < 50 MB)")
    print(f"  file {figures['file_bytes'] / 2**20:.0f} MiB = {figures['bytes_per_point']:.0f} bytes per point")
    print(f"  ledstation analyze, peak RSS: {large_rss:.0f} MB on this file, {small_rss:.0f} MB on one of 1 % "
          f"of the points (rows: {analysis['rows']})")


if __name__ == "__main__":
    main()
