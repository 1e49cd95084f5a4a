"""How honest and how early the lifetime prediction is, over many seeds.

Run: python benchmarks/bench_lifetime_prediction.py [--seeds 20] [--cases a,b]

Each case runs a lifetime test on the simulated bench (virtual clock, instrument noise as
the simulated sphere gives it) for every seed, with the stop rule "T50 predicted to
within +-10 %" (``--stop-when-predicted-within 0.1``), and compares the prediction with the
model's own T50 (the device alone, aged in small steps, L0 at the run's L0 time):

* coverage: the fraction of seeds whose stated 95 % interval holds the truth (target
  >= 90 %);
* bias: the mean relative error of the prediction when the rule stopped the run (target
  within +-3 %);
* stopped at: the run's duration as a fraction of the true T50 (the time it frees);
* first within 10 %: replaying one seed's full decay point by point, the earliest time
  (fraction of T50) from which every later prediction stays within +-10 % of the truth.

Cases: the red QD control (no initial rise, T50 ~5 h) at constant current with two
monitor intervals, the red QD device (T50 ~88 h), and the p-i-n device at a constant
3.5 V (it brightens 20 % first; T50 from the initial luminance).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.lifetime import Lifetime  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from sim_instruments.presets import PRESETS  # noqa: E402
from sim_instruments.simulated_led import Drive, time_to_percent_s  # noqa: E402
from station.analysis.decay import DecayTracker  # noqa: E402
from station.data.reader import read_run  # noqa: E402
from station.session import run_to_file  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402

AREA_CM2 = 0.04
CASES = {
    "control-cc-60s": ("red-cspbbri-qd-control", {"drive_mode": "current", "current_density": 5.0,
                                                  "monitor_interval": 60.0}),
    "control-cc-300s": ("red-cspbbri-qd-control", {"drive_mode": "current", "current_density": 5.0,
                                                   "monitor_interval": 300.0}),
    "qd-cc-600s": ("red-cspbbri-qd", {"drive_mode": "current", "current_density": 5.0, "monitor_interval": 600.0}),
    "pin-cv-60s": ("deep-red-cspbi3-pin", {"drive_mode": "voltage", "voltage": 3.5, "compliance_current": 0.1,
                                           "monitor_interval": 60.0}),
}


def run_once(preset: str, parameters: dict, seed: int, directory: Path, stop: bool) -> tuple[dict, Path]:
    config = load_config()
    extra = {"stop_when_predicted_within": 0.1} if stop else {}
    procedure = Lifetime(stop_at_percent=50, spectrum_interval=1e5, max_duration=1000.0, **parameters, **extra)
    procedure.validate(config)
    path = directory / f"{seed}-{int(stop)}.h5"
    with open_station(config, bench=SimulatedBench(preset, seed=seed)) as station:
        return run_to_file(procedure, station, path).analysis, path


def first_within(path: Path, truth_h: float, tolerance: float = 0.1) -> float:
    """Replaying a full run: the earliest time (h) from which there is a prediction and
    every later one is within ``tolerance`` of the truth."""
    c = read_run(path).read_columns(["elapsed_s", "luminance_cd_m2"], stream="monitor")
    tracker = DecayTracker("initial", 0.0, (50,))
    last_bad, first = 0.0, math.nan
    for t, light in zip(c["elapsed_s"], c["luminance_cd_m2"], strict=True):
        tracker.add(float(t), float(light))
        if 50 in tracker.crossings:
            break
        predicted = tracker.prediction(50)
        if predicted is None:
            continue
        if not math.isfinite(first):
            first = float(t) / 3600
        if abs(predicted[0] / 3600 / truth_h - 1) > tolerance:
            last_bad = float(t) / 3600
    return max(first, last_bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    print("| case | seeds | coverage of the 95 % interval | bias at the stop | stopped at (x T50) | "
          "first within 10 % (x T50) | T50 (model) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.cases.split(","):
        preset, parameters = CASES[name]
        with tempfile.TemporaryDirectory() as work:
            d = Path(work)
            rows, truth_h = [], math.nan
            for seed in range(args.seeds):
                a, _ = run_once(preset, parameters, seed, d, stop=True)
                if not math.isfinite(truth_h):
                    drive = (Drive("current", parameters["current_density"] * 1e-3 * AREA_CM2, 10.0)
                             if parameters["drive_mode"] == "current" else Drive("voltage", parameters["voltage"], 0.1))
                    truth_h = time_to_percent_s(PRESETS[preset], drive, 50, a["L0_time_h"] * 3600, step_s=30.0) / 3600
                t = a.get("T50_extrapolated_h") or a.get("T50_h")
                low = a.get("T50_extrapolated_low_h", t)
                high = a.get("T50_extrapolated_high_h", t)
                rows.append((t, low, high, a["duration_h"]))
            r = np.array(rows, float)
            covered = np.mean((r[:, 1] <= truth_h) & (truth_h <= r[:, 2]))
            bias = np.mean(r[:, 0] / truth_h - 1)
            stopped = np.median(r[:, 3]) / truth_h
            _, full = run_once(preset, parameters, 0, d, stop=False)
            early = first_within(full, truth_h) / truth_h
            print(f"| {name} | {args.seeds} | {covered:.0%} | {bias:+.2%} | {stopped:.3f} | {early:.3f} | "
                  f"{truth_h:.3g} h |", flush=True)


if __name__ == "__main__":
    main()
