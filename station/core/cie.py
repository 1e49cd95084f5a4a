"""CIE tables (1924 photopic V(lambda), 1931 2-degree colour matching functions).

The tables come from ``colour-science``, a maintained source. Importing ``colour``
takes about a second (it pulls in matplotlib), so the tables are derived from it once
per installed version and cached as a small ``.npz`` file; every later process loads
the cache in a few milliseconds and never imports ``colour``. The cache is keyed by
colour-science's version and checked against a sha256 of its arrays; a missing, stale
or damaged cache is rebuilt. :func:`provenance` says where the tables came from and is
stored in every run file.

The cache lives in ``$LEDSTATION_CACHE_DIR``, else ``$XDG_CACHE_HOME/ledstation``, else
``~/.cache/ledstation``; if no cache can be written the tables are used from memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SOURCE_PACKAGE = "colour-science"
CMFS_NAME = "CIE 1931 2 Degree Standard Observer"
PHOTOPIC_NAME = "CIE 1924 Photopic Standard Observer"


@dataclass(frozen=True)
class SourceTables:
    """The CIE tables on their own 1 nm grid, with where they came from."""

    wavelength_nm: NDArray[np.float64]
    photopic_v: NDArray[np.float64]
    xyz: NDArray[np.float64]  # [3, n]: x-bar, y-bar, z-bar
    provenance: dict[str, str]


def cache_dir() -> Path:
    explicit = os.environ.get("LEDSTATION_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ledstation"


def _source_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(SOURCE_PACKAGE)
    except PackageNotFoundError:
        return "unknown"


def _checksum(wavelength_nm: np.ndarray, photopic_v: np.ndarray, xyz: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (wavelength_nm, photopic_v, xyz):
        digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
    return digest.hexdigest()


def _derive(source_version: str) -> SourceTables:
    """Read the tables out of colour-science (slow: imports it)."""
    import colour

    cmfs = colour.colorimetry.MSDS_CMFS[CMFS_NAME]
    photopic = colour.colorimetry.SDS_LEFS_PHOTOPIC[PHOTOPIC_NAME]
    wl = np.asarray(cmfs.wavelengths, dtype=float)
    v = np.asarray(photopic[wl], dtype=float)
    xyz = np.ascontiguousarray(np.asarray(cmfs.values, dtype=float).T)
    provenance = {
        "cie_tables_source": f"{SOURCE_PACKAGE} {source_version}",
        "cie_cmfs": CMFS_NAME,
        "cie_photopic": PHOTOPIC_NAME,
        "cie_tables_range_nm": f"{wl[0]:g}-{wl[-1]:g} nm, {len(wl)} samples",
        "cie_tables_sha256": _checksum(wl, v, xyz),
    }
    return SourceTables(wl, v, xyz, provenance)


def _cache_path(source_version: str) -> Path:
    return cache_dir() / f"cie-tables-{SOURCE_PACKAGE}-{source_version}.npz"


def _load_cache(path: Path, source_version: str) -> SourceTables | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            wl, v, xyz = data["wavelength_nm"], data["photopic_v"], data["xyz"]
            provenance = json.loads(str(data["provenance"]))
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    if (provenance.get("cie_tables_source") != f"{SOURCE_PACKAGE} {source_version}"
            or xyz.shape != (3, len(wl)) or v.shape != wl.shape
            or provenance.get("cie_tables_sha256") != _checksum(wl, v, xyz)):
        log.warning("CIE table cache %s does not match colour-science %s; rebuilding", path, source_version)
        return None
    return SourceTables(wl, v, xyz, provenance)


def _write_cache(path: Path, tables: SourceTables) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
            np.savez(tmp, wavelength_nm=tables.wavelength_nm, photopic_v=tables.photopic_v, xyz=tables.xyz,
                     provenance=np.array(json.dumps(tables.provenance)))
        os.replace(tmp.name, path)  # atomic: a concurrent reader sees the old file or the new one
        return True
    except OSError as exc:
        log.warning("cannot write the CIE table cache %s (%s); using the tables from memory", path, exc)
        return False


@lru_cache(maxsize=1)
def source_tables() -> SourceTables:
    """The CIE tables: from the cache, or derived from colour-science (and cached)."""
    version = _source_version()
    path = _cache_path(version)
    cached = _load_cache(path, version) if path.exists() else None
    if cached is not None:
        return cached
    tables = _derive(version)
    _write_cache(path, tables)
    return tables


def provenance() -> dict[str, str]:
    """Where the CIE tables in use came from (stored in run files)."""
    return dict(source_tables().provenance)
