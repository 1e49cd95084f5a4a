"""The Python API (issue 26, item 7): ``import station`` plans and runs procedures through the
same code as the command line; the worked example script and notebook in docs/examples run
as they are (J-V-L on three pixels, then lifetime on the best), so they cannot rot."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import station
from station.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"


def test_the_example_script_runs_and_picks_the_pixel_with_the_highest_peak_eqe(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / "jvl_then_lifetime.py"), run_name="__main__")
    printed = capsys.readouterr().out
    eqe = {line.split()[1].rstrip(":"): float(line.split("peak EQE ")[1].split()[0])
           for line in printed.splitlines() if line.startswith("pixel ") and "peak EQE" in line}
    assert set(eqe) == {"A", "B", "C"}
    best = max(eqe, key=eqe.get)
    assert f"best pixel: {best}" in printed and f"lifetime of pixel {best}: finished" in printed
    life = station.read(tmp_path / "example-lifetime.h5")
    assert life.metadata["sample"]["pixel"] == best and life.status == "finished"


def test_the_example_notebook_runs_cell_by_cell(tmp_path, monkeypatch):
    """Every code cell in order, in one namespace, as a kernel would (no kernel needed)."""
    notebook = json.loads((EXAMPLES / "jvl_then_lifetime.ipynb").read_text())
    assert notebook["nbformat"] == 4
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "substrate-example.toml").write_text((ROOT / "docs" / "substrate-example.toml").read_text())
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "notebook-cell", "exec"), namespace)  # noqa: S102 - our own file
    assert namespace["life"].status == "finished" and namespace["life"].figures["T90_h"] > 0
    assert namespace["live"].drawings >= 2 and (tmp_path / "notebook-lifetime.png").stat().st_size > 1000
    assert namespace["best"].pixel in {"A", "B", "C"}


def test_the_api_checks_before_it_opens_and_names_what_is_wrong(tmp_path):
    with pytest.raises(ConfigError, match="stop-voltage"):
        station.plan("jvl", tmp_path / "x.h5", stop_voltage=1e9)
    with pytest.raises(ConfigError, match="unknown procedure"):
        station.plan("nope", tmp_path / "x.h5")
    with pytest.raises(ValueError, match=r"\{pixel\}"):
        station.run_pixels("jvl", ["A", "B"], str(tmp_path / "same.h5"))
    assert not list(tmp_path.iterdir())


def test_a_simulated_config_and_a_run_give_figures(tmp_path):
    config = station.simulated_config("red-cspbbri-qd", seed=3)
    result = station.run_procedure("jvl", tmp_path / "q.h5", config=config, progress=False, stop_voltage=4.0)
    assert result.status == "finished" and result.output_confirmed_off
    assert result.figures["peak_eqe"] == pytest.approx(0.22, abs=0.01)  # the preset's published 22 %
    assert station.figures(result.path)["peak_eqe"] == pytest.approx(result.figures["peak_eqe"])


def test_import_station_stays_light():
    """``import station`` alone loads neither the API nor h5py (the command line starts fast)."""
    code = "import sys, station; print('h5py' in sys.modules, 'station.api' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.stdout.split() == ["False", "False"]
