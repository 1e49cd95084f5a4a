"""The same J-V-L sweep three ways, in one process, on fresh simulated benches.

Run: python benchmarks/bench_jvl_sweep.py [--points N] [--repeat R]

Like with like:

* **Same traffic.** Our run is done first with the instrument traffic logged (for each
  point: set V, :READ?, the spectrometer scans with their integration times, :READ?).
  The other variants replay exactly that traffic on a fresh bench.
* **Same work and stored data.** Every variant subtracts the dark, calibrates, computes
  the same figures (the emission band and every integral over it, EQE, L, L_e, CE, PE,
  peak, FWHM, centroid, CIE, the uncertainties and every flag) and
  stores the scalar row *and* both spectra (raw counts and calibrated) of every point.
* **Same timed region.** From the first point to the data being in its file (closed);
  darks, file creation and instrument set-up are before it for everyone, and the ramp
  down is instantaneous for everyone (pymeasure's ``Keithley2400.shutdown`` ramps with
  ``time.sleep``; the benchmark's procedure only switches the output off).

Variants:

1. **raw floor**: raw pyvisa + numpy + h5py, no framework: the table row and the spectra
   (float32, one row per chunk, the raw ones with shuffle + gzip, as ours) appended with
   h5py, flushed and fsync'd per the durability interval S (fsync on a helper thread when
   S = 0; every S seconds in one batch otherwise).
2. **pymeasure**: its own ``Procedure`` + ``Worker`` + CSV ``Results`` with its own
   ``Keithley2400`` driver, each point's spectra in a CSV file of their own (how the
   open-source LED stations store them); pymeasure flushes lines, never fsyncs.
3. **ours**: ``JVLSweep`` + ``ProcedureRunner`` + ``HDF5RunWriter`` (format 2).

Each variant runs a short and a long sweep over the same voltages (default 300 and 1200
points, so the mix of dark and bright points is the same). The time per point is the
slope between the two (best of R each, variants interleaved): one-off costs at either
end (the final flush and fsync, the status, the NXdata copies) are left out of it and
shown as the fixed cost per run. Printed: per point, fixed per run, points per second
of both lengths, and the ratios from the same run. Machines here are noisy: quote ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Procedure, Results, Worker
from pymeasure.instruments.keithley import Keithley2400

from procedures.jvl_sweep import JVLSweep
from station.core import emission_band, photometry
from station.data.writer import HDF5RunWriter
from station.run.records import Event, RunStart
from station.run.runner import ProcedureRunner
from station.setup.config import load_config
from station.setup.station import open_station

START_V, STOP_V = 0.0, 5.98  # every sweep covers this range, in as many points as asked
AREA_CM2 = 0.04
COLUMNS = 48  # as ours stores


# --- the traffic of our run -------------------------------------------------------------
class TrafficLog:
    """Per point: the integration times (s) of the spectrometer scans between the two :READ?."""

    def __init__(self, bench) -> None:
        self.points: list[list[float]] = []
        self._reads = 0
        spectrometer, keithley = bench.spectrometer, bench.keithley
        original_scan, original_measure = spectrometer.intensities, keithley._measure

        def scan(*args, **kwargs):
            if self._reads % 2 == 1:  # between the two readings of a point
                self.points[-1].append(round(spectrometer._integration_s, 9))
            return original_scan(*args, **kwargs)

        def measure():
            self._reads += 1
            if self._reads % 2 == 1:
                self.points.append([])
            return original_measure()

        spectrometer.intensities = scan
        keithley._measure = measure


def fresh_station(durability_s: float):
    config = dataclasses.replace(load_config(), durability_interval_s=durability_s)
    station = open_station(config)
    station.prepare_light()
    return station


def step_for(points: int) -> float:
    return (STOP_V - START_V) / (points - 1)


def ours(points: int, folder: Path, durability_s: float, log: bool = False):
    station = fresh_station(durability_s)
    traffic = TrafficLog(station.bench) if log else None
    procedure = JVLSweep(start_voltage=START_V, stop_voltage=STOP_V, step_voltage=step_for(points),
                         settle_time=0.0, breakdown_drop=1.0)
    marks: dict[str, float] = {}

    def clock_sink(record):
        if isinstance(record, RunStart):
            marks["first"] = time.perf_counter()
        elif isinstance(record, Event):
            marks["events"] = marks.get("events", 0) + 1

    writer = HDF5RunWriter(folder / "ours.h5", overwrite=True)
    runner = ProcedureRunner(procedure, station, [(writer, True), (clock_sink, False)])
    station.prepare_light = lambda: None  # darks already recorded, as for the other variants
    runner.run()
    elapsed = time.perf_counter() - marks["first"]
    station.close()
    assert marks["events"] == points
    return elapsed, traffic


# --- the same work in plain numpy -----------------------------------------------------
class PlainFigures:
    """Dark subtraction, calibration, flags and figures without the station's classes
    (the same numbers: the spectral integrals by the same weights, the peak and FWHM by
    the same numpy functions)."""

    def __init__(self, station) -> None:
        light = station.light
        self.wl = light.wavelength_nm
        self.window = light._window
        self.responsivity = light._responsivity
        self.darks = {t: light._darks[t][0] for t in light.ladder}
        self.noise = {t: light._darks[t][1] for t in light.ladder}
        self.matrix = photometry.grid_weights(self.wl).matrix
        self.max_counts = light.max_intensity

    def point(self, counts: np.ndarray, t: float, v: float, i_before: float, i_after: float) -> tuple[np.ndarray, ...]:
        counts = counts[self.window]
        per_count = self.responsivity / t
        flux = (counts - self.darks[t]) * per_count
        noise = self.noise[t] * math.sqrt(1 + 1 / 5) * per_count
        saturated = counts.max() >= 0.999 * self.max_counts
        band = emission_band.find_emission_band(self.wl, flux, noise)  # the same band, flags and integrals
        if not band.detected:
            return np.concatenate([[v], np.full(COLUMNS - 1, math.nan)]), flux, counts
        totals, variances = photometry.band_totals(flux, self.wl, band.pixels, noise)
        sigma = np.sqrt(variances)
        total, photons, luminous, x_, y_, z_, first = totals
        low = not total > 5 * sigma[0]
        current = 0.5 * (i_before + i_after)
        area_m2 = AREA_CM2 * 1e-4
        eqe = photons / (current / photometry.ELEMENTARY_CHARGE_C) if current > 0 else math.nan
        luminance, radiance = luminous / (math.pi * area_m2), total / (math.pi * area_m2)
        s, wl = flux[band.pixels], self.wl[band.pixels]
        peak, fwhm = photometry.peak_wavelength_nm(s, wl), photometry.fwhm_nm(s, wl)
        xyz = x_ + y_ + z_
        xy_sigma = max(photometry.chromaticity_sigma(self.wl, band.pixels, noise, totals))
        luminance_sigma = sigma[2] / (math.pi * area_m2)
        colour_doubtful = (not luminance > 10 * luminance_sigma or not 3 * xy_sigma <= 0.001
                           or not photometry.inside_spectral_locus(x_ / xyz, y_ / xyz))
        row = np.array([v, current, current / AREA_CM2 * 1e3, photons, eqe, total, luminous, luminance, radiance,
                        luminance * area_m2 / current if current > 0 else math.nan,
                        luminous / (current * v) if current > 0 and v > 0 else math.nan,
                        peak, fwhm, first / total if total else math.nan, x_ / xyz, y_ / xyz,
                        4 * x_ / (x_ + 15 * y_ + 3 * z_), 9 * y_ / (x_ + 15 * y_ + 3 * z_), t,
                        float(saturated), float(low), float(band.runs_off), band.start_nm, band.stop_nm,
                        sigma[0] / (math.pi * area_m2), luminance_sigma, eqe * sigma[1] / photons, xy_sigma,
                        float(not luminance > 3 * luminance_sigma), float(colour_doubtful),
                        float(not total > 100 * sigma[0])])
        return np.concatenate([row, np.zeros(max(COLUMNS - len(row), 0))]), flux, counts


def replay_point(read_smu, spectrometer, scans: list[float], current_t: list[float]):
    """One point's traffic: :READ?, the logged scans, :READ?."""
    before = read_smu()
    counts = None
    for t in scans:
        if t != current_t[0]:
            spectrometer.integration_time_micros(int(round(t * 1e6)))
            current_t[0] = t
        counts = spectrometer.intensities()
    after = read_smu()
    return before, counts, after


def raw_floor(traffic: TrafficLog, folder: Path, durability_s: float) -> float:
    station = fresh_station(durability_s)
    plain = PlainFigures(station)
    bench = station.bench
    resource = bench.resource_manager().open_resource(bench.smu_address, read_termination="\n",
                                                      write_termination="\n")
    resource.write(":SOUR:FUNC VOLT;:SENS:CURR:PROT 0.1;:SOUR:VOLT 0;:OUTP 1")
    spectrometer = bench.spectrometer
    pixels = len(plain.wl)
    f = h5py.File(folder / "raw.h5", "w", libver=("v110", "v110"))
    rows_per_chunk = (8 if durability_s == 0 else 64) * 1024 // (8 * COLUMNS)  # as ours
    table = f.create_dataset("points", (0, COLUMNS), maxshape=(None, COLUMNS), chunks=(rows_per_chunk, COLUMNS),
                             dtype="f8")
    options = {"shape": (0, pixels), "maxshape": (None, pixels), "chunks": (1, pixels), "dtype": "f4"}
    spectral = f.create_dataset("spectral", **options)
    raw = f.create_dataset("raw", **options, compression="gzip", compression_opts=1, shuffle=True)
    f.swmr_mode = True
    fd = f.id.get_vfd_handle()
    wanted, stop = threading.Event(), [False]

    def syncer():
        while True:
            wanted.wait()
            wanted.clear()
            os.fsync(fd)
            if stop[0]:
                return

    thread = threading.Thread(target=syncer, daemon=True)
    thread.start()
    current_t = [round(spectrometer._integration_s, 9)]
    rows, spectra_rows, raw_rows = [], [], []
    written = 0

    def append(ds, first: int, block: np.ndarray) -> None:  # h5py's low-level calls: ~20 us a write
        ds.id.set_extent((first + len(block), block.shape[1]))
        space = ds.id.get_space()
        space.select_hyperslab((first, 0), block.shape)
        ds.id.write(h5py.h5s.create_simple(block.shape), space, block)

    def write_batch():
        nonlocal written
        n = written + len(rows)
        for ds, block in ((table, rows), (spectral, spectra_rows), (raw, raw_rows)):
            append(ds, written, np.array(block, dtype=ds.dtype))
        written = n
        rows.clear()
        spectra_rows.clear()
        raw_rows.clear()
        f.flush()

    start = time.perf_counter()
    last_sync = start
    step = step_for(len(traffic.points))
    for i, scans in enumerate(traffic.points):
        v = START_V + i * step
        resource.write(f":SOUR:VOLT {v:g}")
        before, counts, after = replay_point(lambda: resource.query(":READ?"), spectrometer, scans, current_t)
        b, a = before.split(","), after.split(",")
        row, flux, window_counts = plain.point(counts, current_t[0], float(b[0]), float(b[1]), float(a[1]))
        rows.append(row)
        spectra_rows.append(flux.astype("f4"))
        raw_rows.append(window_counts.astype("f4"))
        if durability_s == 0:
            write_batch()
            wanted.set()
        elif time.perf_counter() - last_sync >= durability_s:
            write_batch()
            os.fsync(fd)
            last_sync = time.perf_counter()
    if rows:
        write_batch()
    stop[0] = True
    wanted.set()
    thread.join()
    os.fsync(fd)
    f.close()
    elapsed = time.perf_counter() - start
    resource.write(":OUTP 0")
    station.close()
    return elapsed


# --- pymeasure ------------------------------------------------------------------------
class PymeasureJVL(Procedure):
    """The same sweep the usual pymeasure way, spectra in one CSV file per point."""

    start_voltage = FloatParameter("Start voltage", units="V", default=START_V)
    step_voltage = FloatParameter("Voltage step", units="V", default=0.02)
    points = IntegerParameter("Points", default=100)
    DATA_COLUMNS = ["Voltage (V)", "Current (A)", "Current density (mA/cm^2)", "Photon rate (1/s)", "EQE",
                    "Radiant flux (W)", "Luminous flux (lm)", "Luminance (cd/m^2)", "Radiance (W/(sr m^2))",
                    "CE (cd/A)", "PE (lm/W)", "Peak (nm)", "FWHM (nm)", "Centroid (nm)", "CIE x", "CIE y",
                    "CIE u'", "CIE v'", "Integration (s)", "Saturated", "Low light", "Truncated",
                    "Band start (nm)", "Band stop (nm)", "Radiance sigma (W/(sr m^2))", "Luminance sigma (cd/m^2)",
                    "EQE sigma", "CIE xy sigma", "Luminance unreliable", "Colour unreliable", "Shape unreliable"]
    station = traffic = folder = None
    marks: dict = {}

    def startup(self):
        bench = self.station.bench
        self.smu = Keithley2400(bench.smu_address, visa_library=bench.visa_library, read_termination="\n",
                                write_termination="\n")
        self.smu.source_mode = "voltage"
        self.smu.compliance_current = 0.1
        self.smu.enable_source()
        self.plain = PlainFigures(self.station)

    def execute(self):
        spectrometer = self.station.bench.spectrometer
        current_t = [round(spectrometer._integration_s, 9)]
        self.marks["first"] = time.perf_counter()
        for i, scans in enumerate(self.traffic.points):
            v = self.start_voltage + i * self.step_voltage
            self.smu.source_voltage = v
            before, counts, after = replay_point(lambda: self.smu.ask(":READ?"), spectrometer, scans, current_t)
            b, a = before.split(","), after.split(",")
            row, flux, window_counts = self.plain.point(counts, current_t[0], float(b[0]), float(b[1]),
                                                        float(a[1]))
            np.savetxt(self.folder / f"spectrum-{i:05d}.csv",
                       np.column_stack([self.plain.wl, window_counts, flux]), delimiter=",",
                       header="wavelength_nm,raw_counts,spectral_flux_W_nm", comments="")
            self.emit("results", dict(zip(self.DATA_COLUMNS, row[:len(self.DATA_COLUMNS)], strict=True)))
            self.emit("progress", 100 * (i + 1) / self.points)
            if self.should_stop():
                break

    def shutdown(self):
        self.smu.source_enabled = False  # no ramp: the ramps are left out of every variant


def pymeasure_worker(traffic: TrafficLog, folder: Path) -> float:
    station = fresh_station(0.0)
    spectra_folder = folder / f"pymeasure-spectra-{time.monotonic_ns()}"
    spectra_folder.mkdir()
    procedure = PymeasureJVL(points=len(traffic.points), step_voltage=step_for(len(traffic.points)))
    procedure.station, procedure.traffic, procedure.folder, procedure.marks = station, traffic, spectra_folder, {}
    csv_path = folder / f"pymeasure-{time.monotonic_ns()}.csv"
    worker = Worker(Results(procedure, str(csv_path)))
    worker.start()
    worker.join(timeout=3600)  # pymeasure's Worker.join defaults to timeout=0: it would not wait
    elapsed = time.perf_counter() - procedure.marks["first"]
    station.close()
    rows = sum(1 for line in csv_path.read_text().splitlines() if line and not line.startswith("#")) - 1
    assert rows == len(traffic.points), f"pymeasure wrote {rows} of {len(traffic.points)} rows"
    assert len(list(spectra_folder.iterdir())) == len(traffic.points)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs=2, default=[300, 1200], metavar=("SHORT", "LONG"),
                        help="points of the short and the long sweep over the same voltages")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    short, long_ = args.points
    if not 2 <= short < long_ or args.repeat < 1:
        parser.error("need 2 <= SHORT < LONG and --repeat >= 1")
    variants = {
        "raw floor, S=0": lambda traffic, folder, n: raw_floor(traffic, folder, 0.0),
        "ours, S=0": lambda traffic, folder, n: ours(n, folder, 0.0)[0],
        "raw floor, S=1 s": lambda traffic, folder, n: raw_floor(traffic, folder, 1.0),
        "ours, S=1 s": lambda traffic, folder, n: ours(n, folder, 1.0)[0],
        "pymeasure (CSV, no fsync)": lambda traffic, folder, n: pymeasure_worker(traffic, folder),
    }
    times: dict[tuple[str, int], list[float]] = {(name, n): [] for name in variants for n in (short, long_)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        traffic = {n: ours(n, folder, 0.0, log=True)[1] for n in (short, long_)}  # also warms caches
        scans = {n: sum(len(p) for p in traffic[n].points) for n in (short, long_)}
        for _ in range(args.repeat):  # interleaved: the machine's noise hits every variant alike
            for n in (short, long_):
                for name, run in variants.items():
                    times[(name, n)].append(run(traffic[n], folder, n))
    best = {key: min(values) for key, values in times.items()}
    print(f"J-V-L sweep over {START_V:g}-{STOP_V:g} V in {short} and in {long_} points "
          f"({scans[short]} and {scans[long_]} spectrometer scans), best of {args.repeat}")
    print(f"  {'':<27} {'per point':>10} {'fixed/run':>10} {f'{short} pts/s':>11} {f'{long_} pts/s':>11}"
          f"   (median {long_} pts/s)")
    per_point = {}
    for name in variants:
        per_point[name] = (best[(name, long_)] - best[(name, short)]) / (long_ - short)
        fixed = best[(name, short)] - short * per_point[name]
        print(f"  {name:<27} {1e3 * per_point[name]:7.3f} ms {1e3 * fixed:7.1f} ms {short / best[(name, short)]:11.0f}"
              f" {long_ / best[(name, long_)]:11.0f}   ({long_ / statistics.median(times[(name, long_)]):.0f})")
    print("  per point (the slope between the two lengths: one-off costs at either end left out):")
    for s in ("S=0", "S=1 s"):
        print(f"    ours / floor, {s:<6}  {per_point[f'ours, {s}'] / per_point[f'raw floor, {s}']:.2f}")
    pymeasure = per_point["pymeasure (CSV, no fsync)"]
    for s in ("S=0", "S=1 s"):
        print(f"    ours ({s}) / pymeasure  {per_point[f'ours, {s}'] / pymeasure:.2f}")
    whole = {s: best[(f"ours, {s}", short)] / best[(f"raw floor, {s}", short)] for s in ("S=0", "S=1 s")}
    print(f"  whole {short}-point run, ours / floor: S=0 {whole['S=0']:.2f}, S=1 s {whole['S=1 s']:.2f}")


if __name__ == "__main__":
    main()
