"""What a command imports, and the CIE tables: from colour-science once, then from the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from station.core import cie, photometry
from station.data.reader import read_run

from .sweep_helpers import config_for, jvl, run_sweep


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_help_imports_nothing_heavy():
    result = python("import sys; from station.cli import main\n"
                    "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
                    "heavy = [m for m in ('numpy', 'h5py', 'pymeasure', 'pyvisa', 'colour', 'matplotlib', 'scipy',"
                    " 'pandas') if type(sys.modules.get(m)).__name__ == 'module']\nprint('HEAVY', heavy)")
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout and "run" in result.stdout


def test_a_run_never_imports_colour_or_pandas_or_scipy_optimize_once_the_cache_exists(tmp_path):
    code = ("import sys\nfrom station.cli import main\n"
            f"main(['run', 'jvl', '--stop-voltage', '3', '--step-voltage', '0.5', '--out', r'{tmp_path / 'r.h5'}'])\n"
            "print('LOADED', sorted(m for m in ('colour', 'matplotlib', 'scipy.optimize', 'pandas.core') "
            "if m in sys.modules))")
    cache = str(tmp_path / "cache")
    first = python(code, LEDSTATION_CACHE_DIR=cache)
    assert first.returncode == 0, first.stderr
    assert "'colour'" in first.stdout  # the first run on a machine builds the cache (before any instrument)
    (tmp_path / "r.h5").unlink()
    second = python(code, LEDSTATION_CACHE_DIR=cache)
    assert second.returncode == 0, second.stderr
    assert "LOADED []" in second.stdout


def test_cached_tables_are_colour_sciences_tables_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    import colour

    monkeypatch.setenv("LEDSTATION_CACHE_DIR", str(tmp_path))
    cie.source_tables.cache_clear()
    try:
        tables = cie.source_tables()
        cmfs = colour.colorimetry.MSDS_CMFS[cie.CMFS_NAME]
        photopic = colour.colorimetry.SDS_LEFS_PHOTOPIC[cie.PHOTOPIC_NAME]
        np.testing.assert_array_equal(tables.xyz, np.asarray(cmfs.values).T)
        np.testing.assert_array_equal(tables.photopic_v, np.asarray(photopic[cmfs.wavelengths]))
        files = list(tmp_path.glob("cie-tables-colour-science-*.npz"))
        assert len(files) == 1 and colour.__version__ in files[0].name
        provenance = cie.provenance()
        assert provenance["cie_tables_source"] == f"colour-science {colour.__version__}"

        files[0].write_bytes(b"not an npz file")  # a damaged cache is derived again, not trusted
        cie.source_tables.cache_clear()
        again = cie.source_tables()
        np.testing.assert_array_equal(again.xyz, tables.xyz)
        assert again.provenance["cie_tables_sha256"] == provenance["cie_tables_sha256"]
        with np.load(files[0]) as data:
            assert json.loads(str(data["provenance"]))["cie_tables_sha256"] == provenance["cie_tables_sha256"]
    finally:
        cie.source_tables.cache_clear()
    assert photometry.photometric_total(np.ones(3), np.array([554.0, 555.0, 556.0])) > 0


def test_run_files_say_where_their_cie_tables_came_from(tmp_path):
    run_sweep(jvl(stop_voltage=4.0, step_voltage=0.5), config_for("deep-red-cspbi3-fret"), tmp_path / "r.h5")
    provenance = read_run(tmp_path / "r.h5").metadata["provenance"]
    assert provenance["cie_tables_source"].startswith("colour-science ")
    assert provenance["cie_cmfs"] == "CIE 1931 2 Degree Standard Observer"
    assert provenance["cie_tables_sha256"] == cie.provenance()["cie_tables_sha256"]


@pytest.mark.parametrize("name", ["pandas", "scipy"])
def test_a_deferred_module_loads_on_first_use_and_for_its_submodules(name):
    submodule = {"pandas": "pandas.api.types", "scipy": "scipy.interpolate"}[name]
    result = python(f"import sys\nfrom station.core.lazy_import import defer\nassert defer('{name}')\n"
                    f"import {name}\nprint('deferred', type(sys.modules['{name}']).__name__)\n"
                    f"import {submodule}\nprint('real', type(sys.modules['{name}']).__name__, "
                    f"sys.modules['{name}'].__version__)")
    assert result.returncode == 0, result.stderr
    assert "deferred DeferredModule" in result.stdout and "real module" in result.stdout
