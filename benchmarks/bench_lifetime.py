"""A simulated long lifetime test through the real instrument chain.

Run: python benchmarks/bench_lifetime.py [--hours 1000] [--interval 60] [--spectrum-interval 600]

The red CsPbBrI QD preset at a constant 5 mA/cm^2 (T50 about 88 h, so 1000 h runs far past
it: the stop criterion is off and the run ends at its maximum duration) on the simulated
bench with its virtual clock: every monitor point is a Keithley 2400 reading, a sphere
spectrum (measured, calibrated, judged) and another reading, written to the run file
(durability interval 1 s); a stored spectrum every ``--spectrum-interval``. Reported: wall
time, points, peak RSS growth beyond the start (sampled on a thread), file size, bytes per
point, and the lifetime figures the run found.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.lifetime import Lifetime  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from station.session import run_to_file  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=1000.0)
    parser.add_argument("--interval", type=float, default=60.0, help="monitor interval, s")
    parser.add_argument("--spectrum-interval", type=float, default=600.0)
    args = parser.parse_args()
    config = dataclasses.replace(load_config(), durability_interval_s=1.0)
    procedure = Lifetime(drive_mode="current", current_density=5.0, monitor_interval=args.interval,
                         spectrum_interval=args.spectrum_interval, stop_at_percent=0, max_duration=args.hours)
    procedure.validate(config)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], rss_bytes())

    with tempfile.TemporaryDirectory() as work, open_station(config, bench=SimulatedBench("red-cspbbri-qd")) as st:
        path = Path(work) / "lifetime.h5"
        start_rss = rss_bytes()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        outcome = run_to_file(procedure, st, path)
        wall = time.perf_counter() - t0
        done.set()
        size = path.stat().st_size
    figures = outcome.analysis
    print(json.dumps({
        "hours": args.hours, "interval_s": args.interval, "spectrum_interval_s": args.spectrum_interval,
        "status": outcome.status, "points": outcome.points, "wall_s": round(wall, 1),
        "ms_per_point": round(1e3 * wall / max(outcome.points, 1), 2),
        "peak_rss_growth_MB": round((peak[0] - start_rss) / 2**20, 1), "file_MB": round(size / 2**20, 1),
        "bytes_per_point": round(size / max(outcome.points, 1)),
        "T50_h": figures.get("T50_h"), "T90_h": figures.get("T90_h"), "L0": figures.get("L0")}, indent=2))


if __name__ == "__main__":
    main()
