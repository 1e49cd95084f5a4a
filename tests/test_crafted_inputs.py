"""Crafted inputs: nothing read from a run file, a configuration, a calibration, a reference
or a window pattern may load a library, write outside the place the user named, change a
safety limit, or hang the station (issue 23). Each case is one line and exit 2 (or, for
values that are data, a run that treats them as data).

More of the same elsewhere: a run file's stored station (``test_resume.py``), files a
command reads and writes (``test_storage_safety.py``), window patterns and titles
(``test_gui.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from h5py import h5d, h5p, h5s, h5t, h5z

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "station.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def one_line_exit_2(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ledstation: error:"), result.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crafted") / "run.h5"
    result = cli("run", "jvl", "--out", str(path), "--stop-voltage", "4", "--step-voltage", "0.5")
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def plugin_folder(tmp_path_factory) -> tuple[Path, Path]:
    """A folder for HDF5_PLUGIN_PATH holding a library whose constructor writes a marker file."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler to build the library")
    folder = tmp_path_factory.mktemp("plugins")
    marker = folder / "LOADED"
    source = folder / "evil.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void evil(void) {\n'
                      f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("loaded", f); fclose(f); }}\n}}\n')
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(folder / "libevil.so"), str(source)], check=True)
    return folder, marker


def _crafted(run_file: Path, tmp_path: Path, name: str, build) -> Path:
    path = tmp_path / name
    shutil.copy(run_file, path)
    with h5py.File(path, "r+") as f:
        build(f, tmp_path)
    return path


def _filter_plugin(f: h5py.File, _tmp: Path) -> None:
    """A dataset whose chunk says it went through filter 32004 (LZ4): reading it needs a plugin."""
    plist = h5p.create(h5p.DATASET_CREATE)
    plist.set_chunk((4,))
    plist.set_filter(32004, h5z.FLAG_OPTIONAL, (0,))
    dataset = h5d.create(f["entry"].id, b"crafted", h5t.NATIVE_DOUBLE, h5s.create_simple((4,), (4,)), dcpl=plist)
    dataset.write_direct_chunk((0,), np.arange(4.0).tobytes(), filter_mask=0)


def _external_link(f: h5py.File, tmp: Path) -> None:
    other = tmp / "other.h5"
    with h5py.File(other, "w") as g:
        g["x"] = 1.0
    f["entry/parameters/elsewhere"] = h5py.ExternalLink(str(other), "/x")


def _soft_link(f: h5py.File, _tmp: Path) -> None:
    f["entry/parameters/alias"] = h5py.SoftLink("/entry/status")


def _external_storage(f: h5py.File, tmp: Path) -> None:
    """Raw data read from a FIFO named by the file: reading it would block for ever."""
    fifo = tmp / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    f["entry"].create_dataset("outside", shape=(1000,), dtype="f8", external=[(str(fifo), 0, 8000)])


def _virtual(f: h5py.File, tmp: Path) -> None:
    other = tmp / "source.h5"
    with h5py.File(other, "w") as g:
        g["x"] = np.arange(4.0)
    layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
    layout[:] = h5py.VirtualSource(str(other), "x", shape=(4,))
    f["entry"].create_virtual_dataset("mapped", layout)


CRAFTED = {"filter plugin": (_filter_plugin, "needs filter 32004"),
           "external link": (_external_link, "a link into another file"),
           "soft link": (_soft_link, "a soft link"),
           "external storage (a FIFO)": (_external_storage, "stores its data outside the file"),
           "virtual dataset": (_virtual, "virtual dataset")}


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_a_run_file_whose_data_lives_elsewhere_or_needs_a_library_is_refused_by_every_command(
        kind, run_file, tmp_path, plugin_folder):
    folder, marker = plugin_folder
    build, words = CRAFTED[kind]
    crafted = _crafted(run_file, tmp_path, "crafted.h5", build)
    env = {"HDF5_PLUGIN_PATH": str(folder)}
    commands = [["analyze", str(crafted)], ["plot", str(crafted), "-o", str(tmp_path / "f.png")],
                ["export", str(crafted), "--csv", "-o", str(tmp_path / "e.csv")],
                ["recover", str(crafted), "-o", str(tmp_path / "r.h5")], ["resume", str(crafted)],
                ["batch", str(crafted), str(run_file)]]
    for command in commands:
        result = cli(*command, env=env, timeout=30)  # a FIFO read would hang: the time-out fails the test
        one_line_exit_2(result, words)
    assert not marker.exists(), "a library was loaded for a crafted run file"
    assert not (tmp_path / "r.h5").exists() and not (tmp_path / "e.csv").exists()


def test_the_station_loads_no_filter_plugin_in_any_process_that_reads_or_writes_run_files():
    script = "import h5py, station.data.reader; print(h5py.h5pl.size())"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "HDF5_PLUGIN_PATH": "/somewhere", "PYTHONPATH": str(ROOT)})
    assert result.stdout.strip() == "0", result.stderr


def test_stored_figures_and_parameters_are_data(run_file, tmp_path):
    """A stored threshold of 0 (log scale) gives no turn-on voltage, not a traceback."""
    path = tmp_path / "zero.h5"
    shutil.copy(run_file, path)
    with h5py.File(path, "r+") as f:
        f["entry/parameters/turn_on_luminance"][()] = 0.0
    result = cli("analyze", str(path), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["figures"]["turn_on_voltage_V"] is None or "NaN" in result.stdout


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "directory"])
def test_a_configuration_calibration_or_reference_that_is_not_a_regular_file_is_refused_at_once(
        tmp_path, special):
    if special == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
    elif special == "directory":
        target = tmp_path
    else:
        target = Path(special)
    config = tmp_path / "cal.toml"
    config.write_text(f'[spectrometer]\ncalibration_file = "{target}"\n')
    for args in (["run", "jvl", "--config", str(target)], ["run", "jvl", "--config", str(config)],
                 ["reference", "check", str(target)], ["config", "--check", str(target)]):
        result = cli(*args, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
        assert "directory" in result.stderr or "not a regular file" in result.stderr, result.stderr


@pytest.mark.parametrize(("change", "words"), [
    ({"parameters": {"stop_voltage": 50.0}}, "max_voltage_V"),
    ({"parameters": {"max_voltage_V": 50.0}}, "no parameter --max-voltage-V"),
    ({"parameters": {"compliance_current": 5.0}}, "compliance"),
    ({"pixel": "../../etc"}, "pixel"),
    ({"figures": {}}, "no figures"),
    ({"figures": {"peak_eqe": {"value": "NaN", "units": "1", "compare": "relative"}}}, "cannot be compared"),
    ({"tolerance_percent": "lots"}, "tolerance_percent must be a number"),
    ({"name": "x" * 100_000}, "name must be text"),
])
def test_a_reference_file_cannot_change_a_safety_limit_or_pass_without_figures(tmp_path, change, words):
    """Issue 23, item 11: a reference with no figures printed "PASS: 0 of 0" and exited 0."""
    reference = {"format": "ledstation-reference/1", "parameters": {}, "tolerance_percent": 2.0,
                 "figures": {"peak_eqe": {"value": 0.25, "units": "1", "compare": "relative"}}, **change}
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(reference))
    one_line_exit_2(cli("reference", "check", str(path)), words)
    assert not list(tmp_path.glob("*.h5"))  # refused before a sweep


def test_a_photodiode_calibration_with_impossible_numbers_is_refused(tmp_path):
    from sim_instruments.photodiode_sim import RESPONSIVITY_PATH  # noqa: F401 - the simulated photodiode exists

    good = tmp_path / "pd.json"
    made = cli("calibrate-photodiode", "--out", str(good))
    assert made.returncode == 0, made.stderr
    document = json.loads(good.read_text())
    for key, value in (("responsivity_A_W", [float("nan")] * len(document["wavelength_nm"])),
                       ("geometry_factor", -1.0), ("geometry_factor_relative_sigma", float("inf"))):
        bad = tmp_path / f"bad-{key}.json"
        bad.write_text(json.dumps({**document, key: value}))
        config = tmp_path / "pd.toml"
        config.write_text(f'[light]\ngeometry = "photodiode"\n[photodiode]\ncalibration_file = "{bad}"\n')
        one_line_exit_2(cli("config", "--check", str(config)), "photodiode calibration")


def test_the_fill_disk_fault_never_writes_into_an_existing_file(tmp_path):
    from sim_instruments.faults import fill_disk, parse_faults
    from station.core.errors import ConfigError

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    with pytest.raises(ConfigError, match="existing folder"):
        parse_faults([{"kind": "fill_disk", "path": str(victim)}])
    written = fill_disk(tmp_path, limit_bytes=3 << 20)
    assert written == 3 << 20 and victim.read_text() == "keep me\n"
    fillers = [p for p in tmp_path.iterdir() if p.name.startswith("ledstation-sim-filler-")]
    assert len(fillers) == 1 and fillers[0].stat().st_size == written
