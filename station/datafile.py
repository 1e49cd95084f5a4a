"""Read a run file: columns, spectra and metadata (works on running and crashed files)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .errors import StationError


class DataFileError(StationError):
    exit_code = 2


@dataclass
class Spectra:
    wavelength_nm: np.ndarray
    spectral: np.ndarray  # [points, pixels]
    raw: np.ndarray
    quantity: str
    units: str
    raw_units: str
    dark_library: np.ndarray | None = None
    dark_integration_time_s: np.ndarray | None = None


@dataclass
class RunData:
    """Everything of one run, as numpy arrays and plain values."""

    path: str
    procedure: str
    status: str
    reason: str
    columns: dict[str, np.ndarray]
    units: dict[str, str]
    spectra: Spectra | None
    parameters: dict[str, tuple[Any, str]]
    metadata: dict[str, Any]
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == (1,):
        return _text(value[0])
    return str(value)


def read_run(path: str | Path) -> RunData:
    """Read a run file. SWMR mode, so a file being written or left by a crash reads too."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r", swmr=True)
    except OSError as exc:
        raise DataFileError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if "entry" not in f or "measurement/points" not in f["entry"]:
            raise DataFileError(f"{path}: not an ledstation run file")
        entry = f["entry"]
        table = entry["measurement/points"]
        table.refresh()
        rows = table[()]
        n = len(rows)
        names = [_text(x) for x in table.attrs["columns"]]
        dtypes = [_text(x) for x in table.attrs["dtypes"]]
        columns = {name: rows[:, k] if dtype == "f8" else rows[:, k].astype(np.int64)
                   for k, (name, dtype) in enumerate(zip(names, dtypes, strict=True))}
        units = dict(zip(names, (_text(x) for x in table.attrs["units"]), strict=True))
        spectra = None
        if "spectra" in entry:
            s = entry["spectra"]
            for name in ("spectral", "raw"):
                s[name].refresh()
            m = min(n, s["spectral"].shape[0], s["raw"].shape[0])
            spectra = Spectra(s["wavelength_nm"][()], s["spectral"][:m].astype(float), s["raw"][:m].astype(float),
                              _text(s.attrs.get("quantity", "")), _text(s["spectral"].attrs["units"]),
                              _text(s["raw"].attrs["units"]),
                              s["dark_library"][()].astype(float) if "dark_library" in s else None,
                              s["dark_integration_time_s"][()] if "dark_integration_time_s" in s else None)
        parameters = {name: (_decode(ds[()]), _text(ds.attrs.get("units", "")))
                      for name, ds in entry["parameters"].items()}
        instrument = entry["instrument"]
        metadata: dict[str, Any] = {k: _text(v) for k, v in entry.attrs.items()}
        metadata["instruments"] = {k: _text(v) for k, v in instrument.attrs.items() if k != "NX_class"}
        metadata["station_config_toml"] = _text(instrument["station_config_toml"][()])
        metadata["config_source"] = _text(instrument["station_config_toml"].attrs.get("source", ""))
        metadata["column_dtypes"] = dict(zip(names, dtypes, strict=True))
        metadata["column_descriptions"] = dict(zip(names, (_text(x) for x in table.attrs["descriptions"]),
                                                   strict=True))
        metadata["signal"] = _text(entry["data"].attrs.get("signal", ""))
        metadata["axis"] = _text(entry["data"].attrs["axes"][0])
        metadata["pixel_area_cm2"] = float(entry["sample/pixel_area_cm2"][()])
        metadata["start_time_s"] = float(entry["start_time_s"][()])
        metadata["end_time_s"] = float(entry["end_time_s"][0])
        if "calibration" in instrument:
            cal = instrument["calibration"]
            metadata["calibration"] = {**{k: _text(v) for k, v in cal.attrs.items() if k != "NX_class"},
                                       **{k: cal[k][()] for k in cal}}
        analysis: dict[str, Any] = {}
        if "analysis" in entry:
            a = entry["analysis"]
            analysis = {k: float(a[k][()]) for k in a}
            analysis.update({k: _text(v) for k, v in a.attrs.items() if k != "NX_class"})
        return RunData(str(path), _text(entry.attrs.get("procedure", "")), _text(entry["status"][0]),
                       _text(entry["reason"][0]), columns, units, spectra, parameters, metadata, analysis)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value
