"""How honest and how early the lifetime prediction is, over many seeds.

Run: python benchmarks/bench_lifetime_prediction.py [--seeds 20] [--cases a,b]

Each case runs a lifetime test on the simulated bench (virtual clock, instrument noise as
the simulated sphere gives it) for every seed, with the stop rule "T50 predicted to
within +-10 %" (``--stop-when-predicted-within 0.1``), and compares the prediction with the
model's own T50 (the device alone, aged in small steps, L0 at the run's L0 time):

* fired: the seeds whose run the stop rule ended (the others measured T50: the interval
  never came within +-10 %, which is the rule being honest about a decay it cannot yet
  forecast);
* coverage: of the runs the rule ended, the fraction whose stated 95 % interval holds the
  truth (target >= 90 %);
* bias: the mean relative error of the prediction when the rule stopped the run (target
  within +-3 %);
* stopped at: the run's duration as a fraction of the true T50, median over all seeds (the
  time it frees);
* first within 10 %: replaying one seed's full decay point by point, the earliest time
  (fraction of T50) from which every later prediction stays within +-10 % of the truth.

Cases (preset, drive, light instrument, monitor interval): the red QD control (no initial
rise, T50 ~5 h) at constant current on the sphere every 60 s and every 300 s, at a constant
voltage, and with the calibrated photodiode instead of the sphere; the red QD device (T50
~88 h); the p-i-n device (it brightens 20 % over its first ten minutes; T50 from the initial
luminance) at a constant 3.5 V and at constant current. The photodiode is calibrated once
per preset (``ledstation calibrate-photodiode``, drives 1-100 mA/cm^2) on a device that is
then replaced by a fresh one for every run.
"""

from __future__ import annotations

import argparse
import math
import subprocess
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
CONTROL, QD, PIN = "red-cspbbri-qd-control", "red-cspbbri-qd", "deep-red-cspbi3-pin"
CC_5 = {"drive_mode": "current", "current_density": 5.0}
CASES = {
    "control-cc-60s": (CONTROL, "sphere", {**CC_5, "monitor_interval": 60.0}),
    "control-cc-300s": (CONTROL, "sphere", {**CC_5, "monitor_interval": 300.0}),
    "control-cv-60s": (CONTROL, "sphere", {"drive_mode": "voltage", "voltage": 2.8, "compliance_current": 0.1,
                                           "monitor_interval": 60.0}),
    "control-cc-60s-photodiode": (CONTROL, "photodiode", {**CC_5, "monitor_interval": 60.0}),
    "qd-cc-600s": (QD, "sphere", {**CC_5, "monitor_interval": 600.0}),
    "pin-cv-60s": (PIN, "sphere", {"drive_mode": "voltage", "voltage": 3.5, "compliance_current": 0.1,
                                   "monitor_interval": 60.0}),
    "pin-cc-300s": (PIN, "sphere", {"drive_mode": "current", "current_density": 640.0, "monitor_interval": 300.0}),
}


def config_file(preset: str, light: str, directory: Path) -> Path:
    """The station configuration of a case; a photodiode is calibrated first (once per preset)."""
    path = directory / f"{preset}-{light}.toml"
    if path.exists():
        return path
    text = f'[simulation]\npreset = "{preset}"\n'
    if light == "photodiode":
        sphere = directory / f"{preset}-sphere-for-calibration.toml"
        sphere.write_text(text)
        calibration = directory / f"{preset}-photodiode.json"
        made = subprocess.run([sys.executable, "-m", "station.cli", "calibrate-photodiode", "--config", str(sphere),
                               "--out", str(calibration)], cwd=ROOT, capture_output=True, text=True)
        if made.returncode:
            raise SystemExit(f"calibrate-photodiode failed: {made.stderr.strip()}")
        text += f'[light]\ngeometry = "photodiode"\n[photodiode]\ncalibration_file = "{calibration.as_posix()}"\n'
    path.write_text(text)
    return path


def run_once(case: str, seed: int, directory: Path, stop: bool) -> tuple[dict, Path]:
    preset, light, parameters = CASES[case]
    config = load_config(config_file(preset, light, directory))
    extra = {"stop_when_predicted_within": 0.1} if stop else {}
    procedure = Lifetime(stop_at_percent=50, spectrum_interval=1e5, max_duration=1000.0, **parameters, **extra)
    procedure.validate(config)
    path = directory / f"{case}-{seed}-{int(stop)}.h5"
    with open_station(config, bench=SimulatedBench(preset, seed=seed)) as station:
        return run_to_file(procedure, station, path).analysis, path


def model_t50_h(case: str, l0_time_s: float) -> float:
    """The device's own T50 under the case's drive, L0 at the run's L0 time."""
    preset, _, parameters = CASES[case]
    drive = (Drive("current", parameters["current_density"] * 1e-3 * AREA_CM2, 10.0)
             if parameters["drive_mode"] == "current" else Drive("voltage", parameters["voltage"], 0.1))
    return time_to_percent_s(PRESETS[preset], drive, 50, l0_time_s, step_s=30.0) / 3600


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
    print("| case | seeds | rule fired | coverage of the 95 % interval | bias at the stop | stopped at (x T50) | "
          "first within 10 % (x T50) | T50 (model) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.cases.split(","):
        with tempfile.TemporaryDirectory() as work:
            d = Path(work)
            rows, truth_h = [], math.nan
            for seed in range(args.seeds):
                a, _ = run_once(name, seed, d, stop=True)
                if not math.isfinite(truth_h):
                    truth_h = model_t50_h(name, a["L0_time_h"] * 3600)
                fired = a.get("T50_extrapolated_h") is not None and a.get("T50_h") is None
                t = a["T50_extrapolated_h"] if fired else math.nan
                rows.append((t, a.get("T50_extrapolated_low_h", math.nan), a.get("T50_extrapolated_high_h", math.nan),
                             a["duration_h"], fired))
            r = np.array(rows, float)
            fired = r[:, 4] > 0
            f = r[fired]
            covered = np.mean((f[:, 1] <= truth_h) & (truth_h <= f[:, 2])) if len(f) else math.nan
            bias = np.mean(f[:, 0] / truth_h - 1) if len(f) else math.nan
            stopped = np.median(r[:, 3]) / truth_h
            _, full = run_once(name, 0, d, stop=False)
            early = first_within(full, truth_h) / truth_h
            print(f"| {name} | {args.seeds} | {int(fired.sum())} | {covered:.0%} | {bias:+.2%} | {stopped:.3f} | "
                  f"{early:.3f} | "
                  f"{truth_h:.3g} h |", flush=True)


if __name__ == "__main__":
    main()
