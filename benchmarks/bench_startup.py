"""Start-up cost of the command line, as a user meets it.

Run: python benchmarks/bench_startup.py [--repeat N]

Times, as separate processes (best and median of N, wall clock):

1. ``ledstation --help``
2. the smallest J-V-L run on the simulated bench (0 and 0.1 V), file and analysis included
   (``ledstation run jvl --stop-voltage 0.1 --step-voltage 0.1 --out X --overwrite``)
3. ``python -c pass`` with the same interpreter: the floor no program goes below

and, for that run, which imports cost most (``python -X importtime``, one run).
The CIE table cache is warmed first (a fresh installation pays about a second for
colour-science once, before its first run touches an instrument).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(command: list[str], repeat: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return times


def import_costs(command: list[str], env: dict[str, str], top: int = 12) -> list[tuple[float, str]]:
    result = subprocess.run([sys.executable, "-X", "importtime", *command], capture_output=True, text=True, env=env)
    costs = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative_us, name = line.split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # " name" at the top, two more spaces a level
        if depth <= 1:
            costs.append((int(cumulative_us) / 1e3, ("  " * depth) + name.strip()))
    return sorted(costs, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "one.h5")
        ledstation = [sys.executable, "-m", "station.cli"]
        one_point = [*ledstation, "run", "jvl", "--stop-voltage", "0.1", "--step-voltage", "0.1", "--out", out,
                     "--overwrite"]
        subprocess.run(one_point, check=True, capture_output=True, env=env)  # warm the CIE cache and the OS
        rows = {
            "python -c pass": timed([sys.executable, "-c", "pass"], args.repeat, env),
            "ledstation --help": timed([*ledstation, "--help"], args.repeat, env),
            "smallest simulated run": timed(one_point, args.repeat, env),
        }
        print(f"start-up, best of {args.repeat} (median in brackets)")
        for name, times in rows.items():
            print(f"  {name:<26} {min(times):6.3f} s  ({statistics.median(times):.3f} s)")
        print("largest imports of that run (cumulative, ms, one run):")
        for ms, name in import_costs(one_point[1:], env):
            print(f"  {ms:8.1f}  {name}")


if __name__ == "__main__":
    main()
