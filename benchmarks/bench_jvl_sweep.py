"""The same J-V-L sweep three ways, in one process, on fresh simulated benches.

Run: python benchmarks/bench_jvl_sweep.py [--points N] [--repeat R]

1. raw pyvisa: the instrument traffic of one of our points (set V, :READ?, spectrometer
   scans, :READ?) with nothing else - the floor.
2. pymeasure: its own Procedure + Worker + CSV Results, doing the same traffic and the
   same figures (spectra cannot go into its CSV, so they are dropped).
3. ours: JVLSweep + ProcedureRunner + crash-safe HDF5 (spectra, raw counts, flush and
   fsync every point).

Quoted: points per second of each, and our ratio to each; our overhead per point over
raw pyvisa. Machines here are noisy: compare the ratios, which come from one run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from procedures.runner import ProcedureRunner
from pymeasure.experiment import FloatParameter, Procedure, Results, Worker
from pymeasure.instruments.keithley import Keithley2400
from station.config import load_config
from station.device_figures import device_figures
from station.hdf5_writer import HDF5RunWriter
from station.instruments import open_station

from procedures.jvl_sweep import JVLSweep

START_V, STEP_V = 0.0, 0.02


def fresh_station():
    station = open_station(load_config())
    station.prepare_light()
    return station


def ours(points: int, folder: Path, with_file: bool = True) -> tuple[float, int]:
    station = fresh_station()
    procedure = JVLSweep(start_voltage=START_V, stop_voltage=START_V + STEP_V * (points - 1), step_voltage=STEP_V,
                         settle_time=0.0, breakdown_drop=1.0)
    sinks = [(HDF5RunWriter(folder / "ours.h5", overwrite=True), True)] if with_file else []
    runner = ProcedureRunner(procedure, station, sinks)
    scans_before = station.bench.spectrometer.scans
    start = time.perf_counter()
    runner.run()
    elapsed = time.perf_counter() - start
    scans = station.bench.spectrometer.scans - scans_before
    station.close()
    return elapsed, scans


def raw_pyvisa(points: int, scans: int) -> float:
    station = fresh_station()
    bench = station.bench
    resource = bench.resource_manager().open_resource(bench.smu_address, read_termination="\n",
                                                      write_termination="\n")
    resource.write(":SOUR:FUNC VOLT;:SENS:CURR:PROT 0.1;:SOUR:VOLT 0;:OUTP 1")
    spectrometer = bench.spectrometer
    per_point = np.diff(np.linspace(0, scans, points + 1).round()).astype(int)
    start = time.perf_counter()
    for i in range(points):
        resource.write(f":SOUR:VOLT {START_V + i * STEP_V:g}")
        resource.query(":READ?")
        for _ in range(per_point[i]):
            spectrometer.intensities()
        resource.query(":READ?")
    elapsed = time.perf_counter() - start
    resource.write(":OUTP 0")
    station.close()
    return elapsed


class PymeasureJVL(Procedure):
    """The same sweep written the usual pymeasure way."""

    start_voltage = FloatParameter("Start voltage", units="V", default=START_V)
    step_voltage = FloatParameter("Voltage step", units="V", default=STEP_V)
    points = FloatParameter("Points", default=100)
    DATA_COLUMNS = ["Voltage (V)", "Current (A)", "Current density (mA/cm^2)", "Luminance (cd/m^2)",
                    "Radiance (W/(sr m^2))", "EQE", "Peak (nm)", "FWHM (nm)", "CIE x", "CIE y"]
    station = None

    def startup(self):
        bench = self.station.bench
        self.smu = Keithley2400(bench.smu_address, visa_library=bench.visa_library, read_termination="\n",
                                write_termination="\n")
        self.smu.source_mode = "voltage"
        self.smu.compliance_current = 0.1
        self.smu.enable_source()

    def execute(self):
        light = self.station.light
        for i in range(int(self.points)):
            v = self.start_voltage + i * self.step_voltage
            self.smu.source_voltage = v
            before = self.smu.values(":READ?")
            spectrum = light.measure()
            after = self.smu.values(":READ?")
            f = device_figures(spectrum, before[0], 0.5 * (before[1] + after[1]), 0.04)
            self.emit("results", {"Voltage (V)": f.voltage_V, "Current (A)": f.current_A,
                                  "Current density (mA/cm^2)": f.current_density_mA_cm2,
                                  "Luminance (cd/m^2)": f.luminance_cd_m2, "Radiance (W/(sr m^2))": f.radiance_W_sr_m2,
                                  "EQE": f.eqe, "Peak (nm)": f.peak_wavelength_nm, "FWHM (nm)": f.fwhm_nm,
                                  "CIE x": f.cie_x, "CIE y": f.cie_y})
            self.emit("progress", 100 * (i + 1) / self.points)
            if self.should_stop():
                break

    def shutdown(self):
        self.smu.shutdown()


def pymeasure_worker(points: int, folder: Path) -> float:
    station = fresh_station()
    procedure = PymeasureJVL(points=points)
    procedure.station = station
    csv_path = folder / f"pymeasure-{time.monotonic_ns()}.csv"
    results = Results(procedure, str(csv_path))
    worker = Worker(results)
    start = time.perf_counter()
    worker.start()
    worker.join(timeout=3600)  # pymeasure's Worker.join defaults to timeout=0: it would not wait
    elapsed = time.perf_counter() - start
    station.close()
    rows = sum(1 for line in csv_path.read_text().splitlines() if line and not line.startswith("#")) - 1
    assert rows == points, f"pymeasure wrote {rows} of {points} rows"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.points
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours(20, folder)  # warm up imports and caches
        pymeasure_worker(20, folder)
        runs: dict[str, list[float]] = {"raw pyvisa": [], "pymeasure Procedure+Worker+CSV": [], "ours (HDF5)": [],
                                        "ours, no file (figures only)": []}
        for _ in range(args.repeat):
            t_ours, scans = ours(n, folder)
            runs["ours (HDF5)"].append(t_ours)
            runs["ours, no file (figures only)"].append(ours(n, folder, with_file=False)[0])
            runs["raw pyvisa"].append(raw_pyvisa(n, scans))
            runs["pymeasure Procedure+Worker+CSV"].append(pymeasure_worker(n, folder))
    best = {name: min(times) for name, times in runs.items()}
    print(f"J-V-L sweep, {n} points, best of {args.repeat} (median in brackets)")
    for name, times in runs.items():
        print(f"  {name:<32} {n / best[name]:8.0f} points/s   ({n / statistics.median(times):.0f})")
    print(f"  ours / raw pyvisa speed         {best['raw pyvisa'] / best['ours (HDF5)']:.2f}")
    print(f"  ours / pymeasure speed          {best['pymeasure Procedure+Worker+CSV'] / best['ours (HDF5)']:.2f}")
    overhead_ms = (best["ours (HDF5)"] - best["raw pyvisa"]) / n * 1e3
    figures_ms = (best["ours, no file (figures only)"] - best["raw pyvisa"]) / n * 1e3
    print(f"  our overhead over raw pyvisa    {overhead_ms:.3f} ms/point, of which")
    print(f"    procedure + spectrum processing + figures   {figures_ms:.3f} ms/point")
    print(f"    HDF5 append + SWMR flush + fsync            {overhead_ms - figures_ms:.3f} ms/point")


if __name__ == "__main__":
    main()
