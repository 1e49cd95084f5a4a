"""Files written by the format-1 station (``tests/data/*-format1.h5``, committed with the
figures that station computed) still read, analyse, export, plot and recompute."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from station.core import photometry
from station.data.reader import read_run
from station.session import analyze_run

DATA = Path(__file__).with_name("data")
FILES = ["jvl-sphere-format1.h5", "eqe-radiometer-format1.h5"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "station.cli", *args], capture_output=True, text=True, timeout=120)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


#: figures added since these files were written, and figures whose definition changed
#: (spectral stability: a robust fit over well-measured points instead of last-minus-first;
#: the peak EQE: the vertex of a local fit instead of the largest point, and where it lies)
NEW_FIGURES = {"peak_wavelength_shift_uncertainty_nm", "fwhm_change_uncertainty_nm", "spectral_stability_points",
               "peak_eqe_uncertainty", "current_density_at_peak_eqe_uncertainty_mA_cm2",
               "luminance_at_peak_eqe_uncertainty_cd_m2", "radiance_at_peak_eqe_uncertainty_W_sr_m2",
               "voltage_at_peak_eqe_uncertainty_V"}
REDEFINED_FIGURES = {"peak_wavelength_shift_nm", "fwhm_change_nm", "peak_eqe", "current_density_at_peak_eqe_mA_cm2",
                     "luminance_at_peak_eqe_cd_m2", "radiance_at_peak_eqe_W_sr_m2", "voltage_at_peak_eqe_V"}


@pytest.mark.parametrize("name", FILES)
def test_format1_files_analyse_to_the_figures_their_station_printed(name):
    stored = json.loads((DATA / name).with_suffix(".analysis.json").read_text())
    run = read_run(DATA / name)
    assert run.file_format == "ledstation-run/1" and run.points == stored["points"]
    assert run.status == stored["status"] and run.stream_names() == ["points"]
    figures = analyze_run(run)["figures"]
    assert set(figures) == set(stored["figures"]) | NEW_FIGURES
    for key, value in stored["figures"].items():
        if key not in REDEFINED_FIGURES:
            assert same(figures[key], value if value is not None else float("nan")), key
    result = cli("analyze", str(DATA / name), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["file_format"] == "ledstation-run/1"
    assert printed["figures"]["peak_eqe"] == pytest.approx(figures["peak_eqe"], rel=1e-12)
    # the fitted peak lies near the largest point those stations printed
    assert printed["figures"]["peak_eqe"] == pytest.approx(stored["figures"]["peak_eqe"], rel=0.01)


def test_format1_sphere_file_recomputes_from_its_raw_counts():
    run = read_run(DATA / "jvl-sphere-format1.h5")
    spectra, c = run.spectra, run.columns
    cal = run.metadata["calibration"]
    responsivity = np.interp(spectra.wavelength_nm, cal["wavelength_nm"], cal["responsivity"])
    area = run.metadata["pixel_area_cm2"]
    lit = np.nonzero(np.isfinite(c["eqe"]) & (c["luminance_cd_m2"] > 1))[0]
    assert len(lit) > 5
    for i in lit:
        flux = (spectra.raw[i] - spectra.dark_library[c["dark_index"][i]]) / c["integration_time_s"][i] * responsivity
        eqe = photometry.photon_rate(flux, spectra.wavelength_nm) / (c["current_A"][i] / photometry.ELEMENTARY_CHARGE_C)
        assert eqe == pytest.approx(c["eqe"][i], rel=1e-5)
        luminance = photometry.photometric_total(flux, spectra.wavelength_nm) / (np.pi * area * 1e-4)
        assert luminance == pytest.approx(c["luminance_cd_m2"][i], rel=1e-5)


@pytest.mark.parametrize("name", FILES)
def test_format1_files_plot_and_export(tmp_path, name):
    figure, table = tmp_path / "fig.png", tmp_path / "points.csv"
    assert cli("plot", str(DATA / name), "-o", str(figure)).returncode == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 20_000
    result = cli("export", str(DATA / name), "--csv", "-o", str(table))
    assert result.returncode == 0, result.stderr
    rows = [line for line in table.read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 1 + read_run(DATA / name).points and "voltage_V (V)" in rows[0]
