"""Crash-safe HDF5 sink: one file per run, written while the run goes.

Recipe (ENGINEERING_NOTES): every group and dataset is created before SWMR starts
(``libver=("v110", "v110")``, chunked, unlimited first dimension), then
``swmr_mode = True``. Each point appends one row to the points table and one to each
spectrum dataset (h5py's low-level API: ~20 us a row instead of ~70), flushes the file
(survives kill -9) and has it fsync'd on a helper thread (survives a power cut), so
the file opens (``swmr=True``) with every point up to the last. Nothing is created
after SWMR starts; the run's end status lives in datasets made at the start. The
NXdata copies and the analysis are added after the SWMR writer has closed, by
reopening the file normally. The layout is documented in ``docs/file-format.md``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path

import h5py
import numpy as np

from .records import RUNNING, Point, Progress, Record, RunStart, RunStop

log = logging.getLogger(__name__)

FILE_FORMAT = "ledstation-run/1"
#: columns copied into 1-D datasets for the NXdata main curve when the run ends
NXDATA_COLUMNS = ("voltage_V", "current_density_mA_cm2", "luminance_cd_m2", "radiance_W_sr_m2", "eqe")
SPECTRUM_DTYPE = "f4"
STATUS_DTYPE = "S16"
REASON_DTYPE = "S512"


def iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="milliseconds")


class BackgroundSync:
    """fsync a file descriptor from a helper thread, as often as it is asked to.

    The writer flushes every point itself (that alone survives kill -9: the data is in
    the OS page cache); the fsync that makes it survive a power cut takes ~0.7 ms on
    this machine's disk, so it runs here, overlapped with the next measurement. Every
    point is fsync'd; at most the one written in the last fsync's duration is not yet
    durable. ``close`` waits for the last fsync.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.syncs = 0
        self.error: OSError | None = None
        self._wanted = threading.Event()
        self._done = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="hdf5-fsync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        if self.error is not None:
            raise self.error
        self._wanted.set()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stop:
                return
            try:
                os.fsync(self.fd)
                self.syncs += 1
            except OSError as exc:  # reported to the writer at its next request
                self.error = exc

    def close(self) -> None:
        """Stop the thread, then one last fsync in the caller's thread."""
        self._stop = True
        self._wanted.set()
        self._thread.join()
        os.fsync(self.fd)
        if self.error is not None:
            raise self.error


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
        self._syncer: BackgroundSync | None = None
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
        status = entry.create_dataset("status", data=np.array([RUNNING.encode()], dtype=STATUS_DTYPE))
        status.attrs.update({"units": "", "values": "running, finished, aborted, failed"})
        entry.create_dataset("reason", data=np.array([b""], dtype=REASON_DTYPE)).attrs["units"] = ""
        entry.create_dataset("end_time_s", data=np.array([np.nan])).attrs["units"] = "s since 1970-01-01 UTC"
        entry.create_dataset("start_time_s", data=start.start_time_s).attrs["units"] = "s since 1970-01-01 UTC"

        self._columns = start.columns
        self._row = np.zeros(len(start.columns))
        measurement = entry.create_group("measurement")
        measurement.attrs["NX_class"] = "NXcollection"
        # one float64 row per point: a 2-D append costs ~20 us, a compound row ~120 us
        table = measurement.create_dataset("points", shape=(0, len(start.columns)),
                                           maxshape=(None, len(start.columns)), dtype="f8",
                                           chunks=(64, len(start.columns)))
        table.attrs.update({"columns": [c.name for c in start.columns], "units": [c.units for c in start.columns],
                            "dtypes": [c.dtype for c in start.columns],
                            "descriptions": [c.description for c in start.columns]})
        self._table = table

        data = entry.create_group("data")
        units = {c.name: c.units for c in start.columns}
        data.attrs.update({"NX_class": "NXdata", "signal": start.signal, "axes": [start.axis],
                           "auxiliary_signals": [n for n in NXDATA_COLUMNS if n not in (start.signal, start.axis)]})
        for name in NXDATA_COLUMNS:  # filled from the points table when the run ends
            ds = data.create_dataset(name, shape=(0,), maxshape=(None,), dtype="f8", chunks=(256,))
            ds.attrs["units"] = units.get(name, "")
        data.attrs[f"{start.axis}_indices"] = 0

        self._spectra = None
        if start.spectrum is not None:
            self._create_spectra(entry, start)
        self._write_metadata(entry, start)
        f.swmr_mode = True
        f.flush()
        self._syncer = BackgroundSync(f.id.get_vfd_handle())
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
                   "compression": "gzip", "compression_opts": 1, "shuffle": True}
        spectral = spectra.create_dataset("spectral", **options)
        spectral.attrs.update({"units": axis.units, "quantity": axis.quantity,
                               "long_name": f"{axis.quantity.replace('_', ' ')} ({axis.units})"})
        raw = spectra.create_dataset("raw", **options)
        raw.attrs["units"] = axis.raw_units
        if axis.dark_library is not None and axis.dark_integration_times_s is not None:
            spectra.create_dataset("dark_library", data=axis.dark_library,
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
        values = point.values
        for k, column in enumerate(self._columns):
            row[k] = values.get(column.name, np.nan)
        n = self.points
        _append(self._table, n, row)
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
        assert self._file is not None and self._syncer is not None
        self._file.flush()
        self._syncer.request()

    def _close(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
            if self._syncer is not None:
                self._syncer.close()
        finally:
            self._syncer = None
            self._file.close()
            self._file = None

    # --- stop -----------------------------------------------------------------------
    def _stop(self, stop: RunStop) -> None:
        f = self._file
        if f is None:
            return
        entry = f["entry"]
        entry["status"][0] = stop.status.encode()
        entry["reason"][0] = stop.reason.encode("utf-8")[:511]
        entry["end_time_s"][0] = stop.end_time_s
        self._close()
        try:
            self._finalise(stop)
        except Exception:  # the points are safe; a missing analysis group is not fatal
            log.exception("could not add the analysis to %s", self.path)

    def _finalise(self, stop: RunStop) -> None:
        with h5py.File(self.path, "r+", libver=("v110", "v110")) as f:
            entry = f["entry"]
            entry.attrs["end_time"] = iso(stop.end_time_s)
            entry.attrs["status"] = stop.status
            fill_nxdata(entry)
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
            self._close()
            try:
                with h5py.File(self.path, "r+", libver=("v110", "v110")) as f:
                    fill_nxdata(f["entry"])
            except Exception:
                log.exception("could not fill the NXdata group of %s", self.path)


def fill_nxdata(entry: h5py.Group) -> None:
    """Copy the main-curve columns from the points table into the NXdata group.

    Per point only the table is written (one append instead of six); the 1-D copies
    that generic viewers plot are made when the run ends. After a kill -9 they stay
    empty; the table, and ``ledstation analyze/export/plot``, hold every point.
    """
    table = entry["measurement/points"]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in table.attrs["columns"]]
    rows = table[()]
    for name in NXDATA_COLUMNS:
        ds = entry["data"][name]
        ds.resize((len(rows),))
        ds[:] = rows[:, names.index(name)]

