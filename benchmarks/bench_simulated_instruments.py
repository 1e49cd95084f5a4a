"""How long one simulated 2400 query and one full sphere spectrum take.

Run: python benchmarks/bench_simulated_instruments.py [--repeat N]

Everything runs in one process on one simulated bench, and the figures that matter
are ratios measured in the same run (this machine is noisy): our driver against raw
pyvisa doing the same traffic, and each against pyvisa-sim's bare ``*IDN?``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pymeasure.instruments.keithley import Keithley2400

from drivers.calibration import ResponsivityCalibration
from drivers.keithley2400 import SafetyLimits, StationKeithley2400
from drivers.pr6xx import PR6xx
from drivers.sphere_spectrometer import SphereSpectrometer
from sim_instruments.bench import SimulatedBench
from sim_instruments.calibration_lamp import SIM_CALIBRATION_PATH
from station.analysis.point_figures import device_figures


def per_call_s(function, repeat: int) -> float:
    function()  # warm up
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat

    bench = SimulatedBench(latency=False)
    resource = bench.resource_manager().open_resource(bench.smu_address, read_termination="\n",
                                                      write_termination="\n")
    resource.write(":SOUR:FUNC VOLT;:SENS:CURR:PROT 0.1;:SOUR:VOLT 4;:OUTP 1")
    ours = StationKeithley2400(bench.smu_address, SafetyLimits(10, 0.1), clock=bench.clock,
                               visa_library=bench.visa_library, read_termination="\n", write_termination="\n")
    theirs = Keithley2400(bench.smu_address, visa_library=bench.visa_library, read_termination="\n",
                          write_termination="\n")
    spectrometer = SphereSpectrometer(bench.spectrometer, ResponsivityCalibration.load(SIM_CALIBRATION_PATH),
                                      window_nm=(350.0, 1009.0))
    radiometer = PR6xx(bench.radiometer_address, visa_library=bench.visa_library, timeout_s=2)
    radiometer.enter_remote()
    resource.write(":OUTP 0")
    spectrometer.record_dark_library()
    resource.write(":OUTP 1")
    spectrometer.measure()  # settle the auto integration

    rows = {
        "pyvisa-sim bare *IDN? (no model)": per_call_s(lambda: resource.query("*IDN?"), repeat),
        "raw pyvisa :READ? (model behind it)": per_call_s(lambda: resource.query(":READ?"), repeat),
        "ours StationKeithley2400.read_point()": per_call_s(ours.read_point, repeat),
        "pymeasure Keithley2400.measure_all()": per_call_s(theirs.measure_all, repeat),
        "raw seabreeze-interface intensities()": per_call_s(bench.spectrometer.intensities, repeat // 4),
        "ours sphere spectrum (auto-int, dark, calibrated)": per_call_s(spectrometer.measure, repeat // 4),
        "ours sphere spectrum + all device figures": per_call_s(
            lambda: device_figures(spectrometer.measure(), 4.0, 9e-3, 0.04), repeat // 4),
        "ours PR-655 measure (M5 + 101 lines + D1)": per_call_s(radiometer.measure, repeat // 10),
    }
    width = max(map(len, rows))
    print(f"{'operation':<{width}}  {'ms/call':>9}")
    for name, seconds in rows.items():
        print(f"{name:<{width}}  {seconds * 1e3:9.3f}")
    raw = rows["raw pyvisa :READ? (model behind it)"]
    print(f"\nours / raw pyvisa :READ?         = {rows['ours StationKeithley2400.read_point()'] / raw:.2f}")
    print(f"pymeasure measure_all / raw READ = {rows['pymeasure Keithley2400.measure_all()'] / raw:.2f}")
    sphere = rows["ours sphere spectrum (auto-int, dark, calibrated)"]
    print(f"ours sphere spectrum / raw scan  = {sphere / rows['raw seabreeze-interface intensities()']:.2f}")
    bench.close()


if __name__ == "__main__":
    main()
