"""Identity (issue 26, item 8): the version the command prints is the package's, the package
runs as ``python -m station``, and the licence and citation files agree with pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_version_is_the_package_version_by_both_entry_points():
    for command in (["-m", "station", "--version"], ["-m", "station.cli", "--version"]):
        done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == f"ledstation {PROJECT['version']}", done.stderr


def test_licence_and_citation_agree_with_the_project():
    licence = (ROOT / "LICENSE").read_text()
    assert PROJECT["license"]["text"] == "MIT" and licence.startswith("MIT License")
    citation = (ROOT / "CITATION.cff").read_text()
    assert f'version: "{PROJECT["version"]}"' in citation and "license: MIT" in citation
    assert "cff-version: 1.2.0" in citation


def test_the_current_density_conversion_lives_in_one_place():
    """mA/cm^2 <-> A: station.core.units, nowhere else in the procedures and the analysis."""
    import re

    from station.core.units import current_A, current_density_mA_cm2

    assert current_A(5.0, 0.04) == 2e-4 and current_density_mA_cm2(2e-4, 0.04) == 5.0
    written = re.compile(r"\*\s*1e-3\s*\*\s*[\w.]*area|/\s*[\w.]*area[\w.]*\s*\*\s*1e3")
    offenders = [str(p.relative_to(ROOT)) for folder in ("procedures", "station/analysis", "station/session")
                 for p in (ROOT / folder).rglob("*.py") if written.search(p.read_text())]
    assert offenders == []
