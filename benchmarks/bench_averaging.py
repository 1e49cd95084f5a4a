"""Scan averaging: the relative uncertainty a point reaches against the time it costs.

Run: python benchmarks/bench_averaging.py [--readings 20]

For the USB4000 and QE Pro models on the simulated bench (latency on: scans spend their
integration time on the bench clock, as on the instrument), the red QD preset held at a
dim and a bright drive, and the spectrometer driver:

* fixed averages 1, 4, 16, 64;
* automatic averaging to a requested relative uncertainty (1 %, 0.5 %, 0.2 %, 0.1 %) in a
  60 s budget.

Reported per row (medians over ``--readings`` readings): scans, instrument time per point
(bench clock), the stated relative 1 sigma of the luminance, the measured scatter of the
luminance over the readings (relative standard deviation of reading / truth), and the
error of their mean against the model's truth (the device's own, at each reading: it ages).
The stated sigma includes the subtracted dark's noise, which every reading shares (one
dark library): it shows in the error of the mean, not in the scatter. Like is compared
with like: one device, one drive, one spectrometer per block.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.calibration import ResponsivityCalibration  # noqa: E402
from drivers.keithley2400 import SafetyLimits, StationKeithley2400  # noqa: E402
from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from sim_instruments.calibration_lamp import sim_calibration_path  # noqa: E402
from station.analysis.point_figures import device_figures  # noqa: E402

DRIVES_MA_CM2 = (0.1, 3.0)
FIXED = (1, 4, 16, 64)
TARGETS = (0.01, 0.005, 0.002, 0.001)


def block(model: str, j_mA_cm2: float, settings: IntegrationSettings, readings: int) -> dict[str, float]:
    bench = SimulatedBench("red-cspbbri-qd", seed=21, spectrometer_model=model)
    spectrometer = SphereSpectrometer(bench.spectrometer, ResponsivityCalibration.load(sim_calibration_path(model)),
                                      settings, window_nm=(350.0, 1009.0))
    spectrometer.record_dark_library()
    smu = StationKeithley2400(bench.smu_address, SafetyLimits(10.0, 0.1), clock=bench.clock,
                              visa_library=bench.visa_library, read_termination="\n", write_termination="\n",
                              timeout=500)
    smu.configure_current_source(10.0)
    smu.enable_source()
    area = bench.led.parameters.pixel_area_cm2
    smu.source_current = j_mA_cm2 * 1e-3 * area
    values, sigmas, times, scans = [], [], [], []
    for _ in range(readings):
        reading = smu.read_point()
        before = bench.led.solve()[0].luminance_cd_m2
        start = bench.clock.now()
        result = spectrometer.measure()
        times.append(bench.clock.now() - start)
        truth = 0.5 * (before + bench.led.solve()[0].luminance_cd_m2)  # the device ages while it is measured
        f = device_figures(result, reading.voltage_V, reading.current_A, area)
        values.append(f.luminance_cd_m2 / truth)
        sigmas.append(f.luminance_uncertainty_cd_m2 / f.luminance_cd_m2)
        scans.append(result.extras.get("scans_averaged", 1))
    smu.safe_shutdown()
    ratios = np.array(values)  # reading / truth
    return {"scans": float(np.median(scans)), "time_s": float(np.median(times)),
            "stated": float(np.median(sigmas)), "scatter": float(np.std(ratios, ddof=1)),
            "bias": float(np.mean(ratios) - 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20)
    args = parser.parse_args()
    print(f"{'model':8} {'J mA/cm2':>8} {'mode':>14} {'scans':>6} {'time s':>8} {'stated %':>9} "
          f"{'scatter %':>9} {'bias %':>7}")
    for model in ("USB4000", "QEPRO"):
        for j in DRIVES_MA_CM2:
            rows = [(f"avg {n}", IntegrationSettings(averages=n)) for n in FIXED]
            rows += [(f"target {t * 100:g} %", IntegrationSettings(target_relative_uncertainty=t,
                                                                   max_time_per_point_s=60.0)) for t in TARGETS]
            for label, settings in rows:
                r = block(model, j, settings, args.readings)
                print(f"{model:8} {j:8g} {label:>14} {r['scans']:6.0f} {r['time_s']:8.3f} {r['stated'] * 100:9.3f} "
                      f"{r['scatter'] * 100:9.3f} {r['bias'] * 100:7.3f}")


if __name__ == "__main__":
    main()
