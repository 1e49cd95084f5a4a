"""Absolute spectral responsivity of the sphere spectrometer, and lamp certificates.

Responsivity R(lambda) converts dark-subtracted counts per second into spectral flux:
Phi_e(lambda) = (counts - dark) / t_int * R(lambda), in (W/nm) per (count/s). It is
measured with a lamp of certified spectral flux: R = Phi_lamp / ((counts - dark) / t).

File format (CSV with ``#`` metadata lines)::

    # ledstation sphere responsivity calibration
    # key: value              (spectrometer, created, lamp certificate and its sha256, ...)
    wavelength_nm,responsivity_W_nm_per_count_s
    345.0000,1.234567e-10
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from station.core.errors import CalibrationError
from station.core.user_files import read_user_file

MAGIC = "# ledstation sphere responsivity calibration"
COLUMNS = ("wavelength_nm", "responsivity_W_nm_per_count_s")
MIN_POINTS = 10


@dataclass(frozen=True)
class ResponsivityCalibration:
    """A validated responsivity table with its provenance."""

    wavelength_nm: NDArray[np.float64]
    responsivity_W_nm_per_count_s: NDArray[np.float64]
    metadata: dict[str, str] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""

    @classmethod
    def load(cls, path: str | Path) -> ResponsivityCalibration:
        path = Path(path)
        data = read_user_file(path, "calibration file", CalibrationError)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CalibrationError(f"calibration file {path}: not a text file") from None
        metadata, wl, values = _parse_table(text, path, COLUMNS, MAGIC)
        if np.any(values <= 0):
            bad = int(np.argmax(values <= 0))
            raise CalibrationError(f"calibration file {path}: responsivity must be positive "
                                   f"(row at {wl[bad]:g} nm)")
        return cls(wl, values, metadata, hashlib.sha256(data).hexdigest(), str(path))

    def on_grid(self, wavelength_nm: ArrayLike, source: str = "") -> NDArray[np.float64]:
        """Responsivity interpolated onto an instrument grid that it must cover."""
        wl = np.asarray(wavelength_nm, float)
        low, high = self.wavelength_nm[0], self.wavelength_nm[-1]
        if not covers(self.wavelength_nm, wl):
            raise CalibrationError(
                f"calibration file {self.path or '?'} covers {low:g}-{high:g} nm but {source or 'the spectrometer'} "
                f"needs {wl.min():.1f}-{wl.max():.1f} nm")
        return np.interp(wl, self.wavelength_nm, self.responsivity_W_nm_per_count_s)

    def to_text(self) -> str:
        out = io.StringIO()
        out.write(MAGIC + "\n")
        for key, value in self.metadata.items():
            out.write(f"# {key}: {value}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for w, r in zip(self.wavelength_nm, self.responsivity_W_nm_per_count_s, strict=True):
            writer.writerow([repr(float(w)), repr(float(r))])  # shortest text that reads back bit for bit
        return out.getvalue()

    def save(self, path: str | Path) -> str:
        """Write the file; returns its sha256."""
        data = self.to_text().encode("utf-8")
        Path(path).write_bytes(data)
        return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class LampCertificate:
    """Certified spectral flux of a calibration lamp."""

    wavelength_nm: NDArray[np.float64]
    spectral_flux_W_nm: NDArray[np.float64]
    sha256: str
    path: str

    @classmethod
    def load(cls, path: str | Path) -> LampCertificate:
        wl, flux, sha256 = load_certificate(path, ("wavelength_nm", "spectral_flux_W_nm"), "lamp certificate")
        if np.any(flux <= 0):
            raise CalibrationError(f"lamp certificate {path}: spectral flux must be positive")
        return cls(wl, flux, sha256, str(path))

    def on_grid(self, wavelength_nm: ArrayLike) -> NDArray[np.float64]:
        """Certified flux on the instrument grid (cubic interpolation of the smooth lamp curve)."""
        from scipy.interpolate import CubicSpline

        wl = np.asarray(wavelength_nm, float)
        if not covers(self.wavelength_nm, wl):
            raise CalibrationError(
                f"lamp certificate {self.path} covers {self.wavelength_nm[0]:g}-{self.wavelength_nm[-1]:g} nm "
                f"but the spectrometer needs {wl.min():.1f}-{wl.max():.1f} nm")
        spline = CubicSpline(self.wavelength_nm, np.log(self.spectral_flux_W_nm))
        return np.exp(spline(np.clip(wl, self.wavelength_nm[0], self.wavelength_nm[-1])))


#: a table covers an instrument grid whose ends lie within this fraction of the grid's
#: smallest pixel step beyond the table's (rounding of a written wavelength is not a gap)
COVERAGE_TOLERANCE_PIXELS = 0.1


def covers(table_nm: ArrayLike, grid_nm: ArrayLike) -> bool:
    """The table's wavelengths cover the instrument grid, within a fraction of a pixel."""
    table, grid = np.asarray(table_nm, float), np.asarray(grid_nm, float)
    step = float(np.min(np.abs(np.diff(grid)))) if len(grid) > 1 else 0.0
    tolerance = COVERAGE_TOLERANCE_PIXELS * step
    return bool(grid.min() >= table[0] - tolerance and grid.max() <= table[-1] + tolerance)


def load_certificate(path: str | Path, columns: tuple[str, str],
                     what: str) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """(wavelengths, values, sha256) of a certificate table: a CSV with ``columns`` as header."""
    path = Path(path)
    data = read_user_file(path, what, CalibrationError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{what} {path}: cannot read ({exc})") from None
    _, wl, values = _parse_table(text, path, columns, None, what)
    return wl, values, hashlib.sha256(data).hexdigest()


def responsivity_from_lamp(net_counts_per_s: ArrayLike, certified_flux_W_nm: ArrayLike) -> NDArray[np.float64]:
    """R = Phi_lamp / (counts/s); pixels without signal get NaN."""
    rate = np.asarray(net_counts_per_s, float)
    flux = np.asarray(certified_flux_W_nm, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rate > 0, flux / rate, np.nan)


def _parse_table(text: str, path: Path, columns: tuple[str, str], magic: str | None,
                 what: str = "calibration file") -> tuple[dict[str, str], NDArray[np.float64], NDArray[np.float64]]:
    lines = text.splitlines()
    if magic is not None and (not lines or lines[0].strip() != magic):
        raise CalibrationError(f"{what} {path}: line 1: expected {magic!r}")
    metadata: dict[str, str] = {}
    header_seen = False
    wl: list[float] = []
    values: list[float] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                metadata[key.strip()] = value.strip()
            continue
        cells = [c.strip() for c in line.split(",")]
        if not header_seen:
            if tuple(cells) != columns:
                raise CalibrationError(f"{what} {path}: line {number}: expected header {','.join(columns)}")
            header_seen = True
            continue
        if len(cells) != 2:
            raise CalibrationError(f"{what} {path}: line {number}: expected 2 values, got {len(cells)}")
        try:
            w, v = float(cells[0]), float(cells[1])
        except ValueError:
            raise CalibrationError(f"{what} {path}: line {number}: not a number: {line!r}") from None
        if not (math.isfinite(w) and math.isfinite(v)):
            raise CalibrationError(f"{what} {path}: line {number}: value is not finite")
        if wl and w <= wl[-1]:
            raise CalibrationError(f"{what} {path}: line {number}: wavelengths must increase")
        wl.append(w)
        values.append(v)
    if not header_seen:
        raise CalibrationError(f"{what} {path}: no header line {','.join(columns)}")
    if len(wl) < MIN_POINTS:
        raise CalibrationError(f"{what} {path}: only {len(wl)} data rows (need at least {MIN_POINTS})")
    return metadata, np.array(wl), np.array(values)
