"""Crash-safe HDF5 sink: one file per run, written while the run goes.

Recipe (ENGINEERING_NOTES): every group and dataset is created before SWMR starts
(``libver=("v110", "v110")``, chunked, unlimited first dimension), then
``swmr_mode = True``; each point is appended, the file flushed and ``os.fsync``'d, so
a kill -9 or a power cut leaves a file that opens (``swmr=True``) with every point up
to the last. Appends use h5py's low-level API (about 20 us a dataset instead of 70).
Nothing is created after SWMR starts; the run's end status lives in datasets made at
the start. The analysis group is added after the SWMR writer has closed, by reopening
the file normally. The layout is documented in ``docs/file-format.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np

from .records import RUNNING, Point, Progress, Record, RunStart, RunStop

log = logging.getLogger(__name__)

FILE_FORMAT = "ledstation-run/1"
#: columns written as 1-D datasets too, for the NXdata main curve
NXDATA_COLUMNS = ("voltage_V", "current_density_mA_cm2", "luminance_cd_m2", "radiance_W_sr_m2", "eqe")
SPECTRUM_DTYPE = "f4"
STATUS_DTYPE = "S16"
REASON_DTYPE = "S512"

_DTYPE_OF = {"f8": np.float64, "i8": np.int64, "i4": np.int32, "i1": np.int8, "u1": np.uint8}


def iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="milliseconds")


def _append(dataset: h5py.Dataset, index: int, row: np.ndarray) -> None:
    """Write ``row`` as element ``index`` of an extendible dataset (low-level, fast)."""
    dsid = dataset.id
    row = np.asarray(row)
    if not row.flags.c_contiguous:
        row = row.copy()
    dsid.set_extent((index + 1,) + row.shape)
    file_space = dsid.get_space()
    file_space.select_hyperslab((index,) + (0,) * row.ndim, (1,) + row.shape)
    memory_space = h5py.h5s.create_simple((1,) + row.shape)
    dsid.write(memory_space, file_space, row.reshape((1,) + row.shape))


class HDF5RunWriter:
    """Record sink writing one run file. Call it with each record of the run."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self._file: h5py.File | None = None
        self._fd: int | None = None
        self.points = 0

    def __call__(self, record: Record) -> None:
        if isinstance(record, RunStart):
            self._start(record)
        elif isinstance(record, Point):
            self._point(record)
        elif isinstance(record, RunStop):
            self._stop(record)
        elif isinstance(record, Progress):
            pass

    # --- start: the whole layout, then SWMR ----------------------------------------
    def _start(self, start: RunStart) -> None:
        mode = "w" if self.overwrite else "w-"
        f = h5py.File(self.path, mode, libver=("v110", "v110"))
        self._file = f
        f.attrs.update({"default": "entry", "file_format": FILE_FORMAT,
                        "creator": f"ledstation {start.software_version}"})
        entry = f.create_group("entry")
        entry.attrs.update({"NX_class": "NXentry", "default": "data", "procedure": start.procedure,
                            "title": start.title, "run_id": start.run_id, "start_time": iso(start.start_time_s),
                            "software_version": start.software_version, "geometry": start.geometry})
        entry.create_dataset("status", data=np.array([RUNNING.encode()], dtype=STATUS_DTYPE))
        entry.create_dataset("reason", data=np.array([b""], dtype=REASON_DTYPE))
        entry.create_dataset("end_time_s", data=np.array([np.nan])).attrs["units"] = "s since 1970-01-01 UTC"
        entry.create_dataset("start_time_s", data=start.start_time_s).attrs["units"] = "s since 1970-01-01 UTC"

        self._columns = start.columns
        dtype = np.dtype([(c.name, _DTYPE_OF[c.dtype]) for c in start.columns])
        self._row = np.zeros(1, dtype=dtype)
        measurement = entry.create_group("measurement")
        measurement.attrs["NX_class"] = "NXcollection"
        table = measurement.create_dataset("points", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(64,))
        table.attrs["units"] = json.dumps({c.name: c.units for c in start.columns})
        table.attrs["descriptions"] = json.dumps({c.name: c.description for c in start.columns})
        self._table = table

        data = entry.create_group("data")
        units = {c.name: c.units for c in start.columns}
        data.attrs.update({"NX_class": "NXdata", "signal": start.signal, "axes": [start.axis],
                           "auxiliary_signals": [n for n in NXDATA_COLUMNS if n not in (start.signal, start.axis)]})
        self._nx = {}
        for name in NXDATA_COLUMNS:
            ds = data.create_dataset(name, shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
            ds.attrs["units"] = units.get(name, "")
            self._nx[name] = ds
        data.attrs[f"{start.axis}_indices"] = 0

        self._spectra = None
        if start.spectrum is not None:
            self._create_spectra(entry, start)
        self._write_metadata(entry, start)
        f.swmr_mode = True
        self._fd = f.id.get_vfd_handle()
        self._sync()

    def _create_spectra(self, entry: h5py.Group, start: RunStart) -> None:
        axis = start.spectrum
        assert axis is not None
        pixels = len(axis.wavelength_nm)
        spectra = entry.create_group("spectra")
        spectra.attrs.update({"NX_class": "NXdata", "signal": "spectral", "axes": [".", "wavelength_nm"],
                              "wavelength_nm_indices": 1, "quantity": axis.quantity})
        spectra.create_dataset("wavelength_nm", data=axis.wavelength_nm).attrs["units"] = "nm"
        options = {"shape": (0, pixels), "maxshape": (None, pixels), "chunks": (1, pixels), "dtype": SPECTRUM_DTYPE,
                   "compression": "gzip", "compression_opts": 4, "shuffle": True}
        spectral = spectra.create_dataset("spectral", **options)
        spectral.attrs.update({"units": axis.units, "quantity": axis.quantity,
                               "long_name": f"{axis.quantity.replace('_', ' ')} ({axis.units})"})
        raw = spectra.create_dataset("raw", **options)
        raw.attrs["units"] = axis.raw_units
        if axis.dark_library is not None and axis.dark_integration_times_s is not None:
            spectra.create_dataset("dark_library", data=axis.dark_library.astype(SPECTRUM_DTYPE),
                                   compression="gzip").attrs["units"] = axis.raw_units
            spectra.create_dataset("dark_integration_time_s",
                                   data=axis.dark_integration_times_s).attrs["units"] = "s"
        self._spectra = (spectral, raw)

    def _write_metadata(self, entry: h5py.Group, start: RunStart) -> None:
        parameters = entry.create_group("parameters")
        parameters.attrs["NX_class"] = "NXparameters"
        for name, (value, units) in start.parameters.items():
            ds = parameters.create_dataset(name, data=value if not isinstance(value, str) else value.encode())
            ds.attrs["units"] = units
        sample = entry.create_group("sample")
        sample.attrs["NX_class"] = "NXsample"
        sample.create_dataset("pixel_area_cm2", data=start.pixel_area_cm2).attrs["units"] = "cm^2"
        instrument = entry.create_group("instrument")
        instrument.attrs["NX_class"] = "NXinstrument"
        for role, identity in start.instruments.items():
            instrument.attrs[role] = identity
        config = instrument.create_dataset("station_config_toml", data=start.config_text)
        config.attrs.update({"units": "", "source": start.config_source})
        if start.calibration:
            calibration = instrument.create_group("calibration")
            calibration.attrs["NX_class"] = "NXcollection"
            for key, value in start.calibration.items():
                if isinstance(value, np.ndarray):
                    unit = "nm" if key == "wavelength_nm" else "W/nm per count/s"
                    calibration.create_dataset(key, data=value).attrs["units"] = unit
                else:
                    calibration.attrs[key] = value

    # --- per point ------------------------------------------------------------------
    def _point(self, point: Point) -> None:
        assert self._file is not None, "RunStart first"
        row = self._row
        for column in self._columns:
            row[column.name][0] = point.values.get(column.name, np.nan if column.dtype == "f8" else 0)
        n = self.points
        _append(self._table, n, row[0:1].reshape(()))
        for name, ds in self._nx.items():
            _append(ds, n, np.asarray(point.values.get(name, np.nan), dtype=np.float64))
        if self._spectra is not None:
            spectral, raw = self._spectra
            if point.spectrum is not None:
                _append(spectral, n, point.spectrum.spectral.astype(SPECTRUM_DTYPE))
                _append(raw, n, point.spectrum.raw.astype(SPECTRUM_DTYPE))
            else:
                nan = np.full(spectral.shape[1], np.nan, dtype=SPECTRUM_DTYPE)
                _append(spectral, n, nan)
                _append(raw, n, nan)
        self.points = n + 1
        self._sync()

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        if self._fd is not None:
            os.fsync(self._fd)

    # --- stop -----------------------------------------------------------------------
    def _stop(self, stop: RunStop) -> None:
        f = self._file
        if f is None:
            return
        entry = f["entry"]
        entry["status"][0] = stop.status.encode()
        entry["reason"][0] = stop.reason.encode("utf-8")[:511]
        entry["end_time_s"][0] = stop.end_time_s
        self._sync()
        f.close()
        self._file = None
        try:
            self._finalise(stop)
        except Exception:  # the points are safe; a missing analysis group is not fatal
            log.exception("could not add the analysis to %s", self.path)

    def _finalise(self, stop: RunStop) -> None:
        with h5py.File(self.path, "r+", libver=("v110", "v110")) as f:
            entry = f["entry"]
            entry.attrs["end_time"] = iso(stop.end_time_s)
            entry.attrs["status"] = stop.status
            if "signal" in stop.analysis:
                entry["data"].attrs["signal"] = stop.analysis["signal"]
            analysis = entry.create_group("analysis")
            analysis.attrs["NX_class"] = "NXcollection"
            for name, value in stop.analysis.get("figures", {}).items():
                if isinstance(value, str):
                    analysis.attrs[name] = value
                else:
                    analysis.create_dataset(name, data=float(value)).attrs["units"] = \
                        stop.analysis.get("units", {}).get(name, "")

    def abort_file(self) -> None:
        """Close the file if the run dies before RunStop (the points stay readable)."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

