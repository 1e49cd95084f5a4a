"""The run file: layout, metadata, crash safety, and the commands that read it."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from drivers.calibration import ResponsivityCalibration
from sim_instruments.calibration_lamp import SIM_CALIBRATION_PATH
from station.core import photometry
from station.data.reader import read_run

from .sweep_helpers import config_for, jvl, run_sweep


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "jvl.h5"
    stop, _ = run_sweep(jvl(stop_voltage=6.0, step_voltage=0.1), config_for("deep-red-cspbi3-fret"), path)
    return path, stop


def test_every_dataset_has_units_and_nexus_groups_are_complete(finished_run):
    path, _ = finished_run
    missing = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: missing.append(name)
                     if isinstance(obj, h5py.Dataset) and "units" not in obj.attrs else None)
        assert f.attrs["default"] == "entry"
        entry = f["entry"]
        assert entry.attrs["NX_class"] == "NXentry" and entry.attrs["default"] == "data"
        data = entry["data"]
        assert data.attrs["NX_class"] == "NXdata"
        assert data.attrs["signal"] in data and all(axis in data for axis in data.attrs["axes"])
        spectra = entry["spectra"]
        assert spectra.attrs["signal"] == "spectral" and spectra["spectral"].ndim == 2
        assert spectra["spectral"].shape[1] == spectra["wavelength_nm"].shape[0]
    assert missing == []


def test_metadata_is_all_there(finished_run):
    path, stop = finished_run
    run = read_run(path)
    assert run.status == "finished" and run.reason == "completed" and run.points == 61
    assert run.metadata["software_version"] and run.metadata["start_time"] and run.metadata["end_time"]
    assert run.metadata["end_time_s"] >= run.metadata["start_time_s"]
    assert "MODEL 2400" in run.metadata["instruments"]["smu"]
    assert "[smu]" in run.metadata["station_config_toml"]
    assert run.parameters["step_voltage"] == (0.1, "V")
    calibration = run.metadata["calibration"]
    assert calibration["sha256"] == ResponsivityCalibration.load(SIM_CALIBRATION_PATH).sha256
    assert run.analysis["peak_eqe"] == pytest.approx(stop.analysis["figures"]["peak_eqe"])
    assert run.units["luminance_cd_m2"] == "cd/m^2"


def test_derived_columns_recompute_from_the_raw_data(finished_run):
    path, _ = finished_run
    run = read_run(path)
    spectra, c = run.spectra, run.columns
    responsivity = np.interp(spectra.wavelength_nm, run.metadata["calibration"]["wavelength_nm"],
                             run.metadata["calibration"]["responsivity"])
    area = run.metadata["pixel_area_cm2"]
    checked = 0
    for i in np.nonzero(np.isfinite(c["eqe"]))[0]:
        dark = spectra.dark_library[c["dark_index"][i]]
        band = (spectra.wavelength_nm >= c["band_start_nm"][i]) & (spectra.wavelength_nm <= c["band_stop_nm"][i])
        wl = spectra.wavelength_nm[band]  # every figure integrates over the stored emission band
        flux = ((spectra.raw[i] - dark) / c["integration_time_s"][i] * responsivity)[band]
        photons = photometry.photon_rate(flux, wl)
        eqe = photons / (c["current_A"][i] / photometry.ELEMENTARY_CHARGE_C)
        assert eqe == pytest.approx(c["eqe"][i], rel=1e-5)
        luminance = photometry.photometric_total(flux, wl) / (np.pi * area * 1e-4)
        assert luminance == pytest.approx(c["luminance_cd_m2"][i], rel=1e-5, abs=1e-6)
        checked += 1
    assert checked > 20


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_export_csv_has_every_scalar_column_with_units(finished_run, tmp_path):
    path, _ = finished_run
    out = tmp_path / "jvl.csv"
    result = cli("export", str(path), "--csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(line for line in out.read_text().splitlines() if not line.startswith("#")))
    assert "voltage_V (V)" in rows[0] and "eqe (1)" in rows[0]
    run = read_run(path)
    assert len(rows) - 1 == run.points
    column = rows[0].index("luminance_cd_m2 (cd/m^2)")
    assert float(rows[30][column]) == pytest.approx(run.columns["luminance_cd_m2"][29])
    assert cli("export", str(path), "--csv", "-o", str(out)).returncode == 2  # no silent overwrite


def test_analyze_recomputes_the_stored_figures(finished_run):
    path, stop = finished_run
    result = cli("analyze", str(path), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)["figures"]
    for name in ("turn_on_voltage_V", "peak_eqe", "max_luminance_cd_m2", "voltage_at_1000_cd_m2_V"):
        assert figures[name] == pytest.approx(stop.analysis["figures"][name])
    text = cli("analyze", str(path)).stdout
    assert "peak_eqe" in text and "%" in text


def test_plot_writes_an_image(finished_run, tmp_path):
    path, _ = finished_run
    out = tmp_path / "fig.png"
    assert cli("plot", str(path), "-o", str(out)).returncode == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    refused = cli("plot", str(path), "-o", str(path))  # a slip must not replace the data file
    assert refused.returncode == 2 and "figure file needs" in refused.stderr
    assert read_run(path).points == 61


def slow_bench_config(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text("[smu]\nnplc = 0.01\n[simulation]\nrealtime = true\n"
                      "[spectrometer]\nmax_integration_s = 0.01\ndark_scans = 1\n")
    return config


def test_sigkill_leaves_every_written_point_readable_and_correct(tmp_path):
    out = tmp_path / "killed.h5"
    process = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(slow_bench_config(tmp_path)),
         "--out", str(out), "--stop-voltage", "8", "--step-voltage", "0.02", "--settle-time", "0.05",
         "--breakdown-drop", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline and seen < 15:
            time.sleep(0.2)
            if out.exists():
                try:
                    seen = read_run(out).points
                except Exception:
                    seen = 0
        assert seen >= 15, "the run did not get going"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    run = read_run(out)
    assert run.status == "running"  # it never got to write an end status
    n = run.points
    assert n >= seen
    assert run.columns["index"].tolist() == list(range(n))
    assert run.columns["set_voltage_V"] == pytest.approx(np.arange(n) * 0.02)
    assert run.columns["voltage_V"] == pytest.approx(run.columns["set_voltage_V"], abs=1e-3)
    assert run.spectra.spectral.shape[0] >= n - 1  # a spectrum row may trail its table row by one write
    lit = np.nonzero(run.columns["luminance_cd_m2"][: run.spectra.spectral.shape[0]] > 10)[0]
    for i in lit:
        total = photometry.radiometric_total(run.spectra.spectral[i], run.spectra.wavelength_nm)
        area_sr_m2 = np.pi * run.metadata["pixel_area_cm2"] * 1e-4
        assert total / area_sr_m2 == pytest.approx(run.columns["radiance_W_sr_m2"][i], rel=1e-5)

    recovered_path = tmp_path / "recovered.h5"
    result = cli("recover", str(out), "-o", str(recovered_path))
    assert result.returncode == 0, result.stderr
    recovered = read_run(recovered_path)
    assert recovered.status == "failed" and "writer died" in recovered.reason
    n_rec = recovered.points
    assert n_rec >= n - 1
    for name in ("voltage_V", "current_A", "luminance_cd_m2", "eqe"):
        np.testing.assert_array_equal(recovered.columns[name], run.columns[name][:n_rec])
    np.testing.assert_array_equal(recovered.spectra.raw, run.spectra.raw[:n_rec])
    assert "turn_on_voltage_V" in recovered.analysis
    assert recovered.plots == run.plots and recovered.figure_set == run.figure_set == "sweep"  # its figures kept
    with h5py.File(recovered_path, "r") as f:
        assert f["entry/data/voltage_V"].shape == (n_rec,)
    assert cli("recover", str(recovered_path), "-o", str(tmp_path / "again.h5")).returncode == 2
