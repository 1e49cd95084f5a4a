"""A 300-point dark J-V on the 2400's own sweep against the same sweep point by point.

Run: python benchmarks/bench_dark_jv.py [--points 300] [--repeats 3]

Both runs are ``ledstation run dark_jv`` of the hole-only preset with the same 300 log-spaced
levels (0.01-0.7 V: no compliance, so both take every point), the same integration
(0.01 NPLC), auto zero once, no dwell, and the same 300 rows stored in the run file;
only ``--mode`` differs. On a bench that runs on wall time (``realtime = true``) the
simulated 2400 spends its timing model in real time (per source-measure cycle: the
integration + 2 ms; per ``:READ?`` or ``:INIT``: 10 ms of trigger and command processing,
after the 2400 data sheet's reading rates), so the wall time is what a run takes at the
bench, plus this machine's Python. The instrument time (bench clock, virtual) is the
model alone. Ratios are taken within one run of this script (the machine is noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.dark_jv import DarkJV  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from station.cli import main as cli_main  # noqa: E402
from station.session import run_to_file  # noqa: E402
from station.setup.config import config_from_text  # noqa: E402
from station.setup.station import open_station  # noqa: E402


def quiet(args: list[str]) -> int:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli_main(args)


def instrument_time_s(mode: str, points: int, folder: Path) -> float:
    """The same run on a virtual clock: the bench clock's advance is the modelled instrument time."""
    config = config_from_text('[simulation]\npreset = "hole-only-nc"\n', "bench").without_light()
    bench = SimulatedBench.from_settings(config.simulation_settings(), pixel_area_cm2=config.pixel_area_cm2)
    procedure = DarkJV(mode=mode, points=points, stop_voltage=0.7)
    with open_station(config, bench=bench) as station:
        start = bench.clock.monotonic()
        outcome = run_to_file(procedure, station, folder / f"virtual-{mode}.h5", overwrite=True)
        assert outcome.points == points, outcome.reason
        return bench.clock.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        config = folder / "realtime.toml"
        config.write_text('[simulation]\npreset = "hole-only-nc"\nrealtime = true\n')
        sweep = ["--points", str(args.points), "--stop-voltage", "0.7", "--status-interval", "100000"]
        quiet(["run", "dark_jv", "--config", str(config), "--out", str(folder / "warm.h5"), "--points", "20"])
        wall: dict[str, list[float]] = {"buffered": [], "point": []}
        for i in range(args.repeats):
            for mode in ("buffered", "point"):  # interleaved: the machine's noise falls on both
                start = time.perf_counter()
                code = quiet(["run", "dark_jv", "--config", str(config), "--mode", mode, "--out",
                              str(folder / f"{mode}-{i}.h5"), *sweep])
                wall[mode].append(time.perf_counter() - start)
                assert code == 0, f"{mode} run failed"
        instrument = {mode: instrument_time_s(mode, args.points, folder) for mode in ("buffered", "point")}
    fast, slow = statistics.median(wall["buffered"]), statistics.median(wall["point"])
    print(f"{args.points}-point dark J-V, hole-only preset, 0.01 NPLC, no dwell (median of {args.repeats}):")
    print(f"  wall time, wall-clock bench:  buffered {fast:6.2f} s   point by point {slow:6.2f} s   "
          f"speed-up {slow / fast:.1f}x")
    print(f"  instrument time (model):      buffered {instrument['buffered']:6.2f} s   point by point "
          f"{instrument['point']:6.2f} s   speed-up {instrument['point'] / instrument['buffered']:.1f}x")
    print("  (wall time includes the command's start-up, the file and the analysis, the same for both)")


if __name__ == "__main__":
    main()
