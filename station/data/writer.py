"""Crash-safe HDF5 sink: one file per run, written while the run goes (``ledstation-run/2``).

Recipe (ENGINEERING_NOTES): every group and dataset of every declared stream is created
before SWMR starts (``libver=("v110", "v110")``, chunked, unlimited first dimension),
then ``swmr_mode = True``; nothing is created after that. A stream is one 2-D float64
table (one row per event, one column per declared column); a stream with spectra has
its own spectrum datasets holding only the rows that carried a spectrum, each with the
table row it belongs to. The run's end status lives in datasets made at the start.

Durability policy (``durability_interval_s`` = S, from the station configuration,
stored in the file): the file is flushed and fsync'd at least every S seconds of wall
time and at every run end, so after a kill or a power cut it holds every point older
than S seconds (plus the time one write takes).

* S = 0 (the default with real instruments): every event is written and flushed before
  the next sink sees it (a point shown on screen is in the file), and fsync'd on a
  helper thread overlapped with the next measurement.
* S > 0: events are collected and a file thread writes them every S seconds in one
  batch, compresses the spectra (zlib releases the GIL, so on the other core), flushes
  and fsyncs. The measurement thread only copies the values into a row; it waits only
  if the file thread falls more than :data:`MAX_PENDING_ROWS` rows or
  :data:`MAX_PENDING_SPECTRA` spectra behind (bounded memory).

Spectra are stored as float32 (a radiometer's as float64, the precision its figures were
computed from: ``SpectrumAxis.stored_dtype``), one spectrum per chunk: the calibrated ones uncompressed
(noise-like floats: deflate saves 10 % for 0.35 ms a spectrum), the raw ones with shuffle
+ gzip (a third of their size), written as pre-compressed chunks (``write_direct_chunk``)
that any HDF5 reader decompresses with the standard filters. When the run ends the file
is reopened normally to fill the NXdata main curve (copied in chunks). The layout is
documented in ``docs/file-format.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from drivers.light_meter import LightDescription
from station.core.errors import StorageError
from station.core.errors import one_line as _one_line
from station.core.signals import INTERRUPTS
from station.run.records import FAILED, RUNNING, Event, Notice, Progress, Record, RunStart, RunStop, Stream

from . import hdf5_safety  # noqa: F401 - HDF5 loads no filter plugin in a process that writes run files
from .file_claim import RunFileClaim
from .storage_guard import StorageGuard, reserve_for

log = logging.getLogger(__name__)

FILE_FORMAT = "ledstation-run/2"
STATUS_DTYPE = "S16"
REASON_DTYPE = "S512"
OUTPUT_STATE_DTYPE = "S256"
NOTICE_DTYPE = "S1024"
#: errors h5py raises when the disk or the file fails under it
WRITE_ERRORS = (OSError, RuntimeError, ValueError)
TIME_UNITS = "s since 1970-01-01 UTC"
#: target size of one chunk of a stream table (and of the spectra's row index). HDF5 writes
#: a dirty chunk whole at every flush: with S = 0 (a flush per event) small chunks keep the
#: bytes written per event low; with S > 0 a batch fills chunks, and larger ones index less
TABLE_CHUNK_BYTES = {True: 8 * 1024, False: 64 * 1024}  # keyed by "flush per event"
#: deflate level of the spectra (1: fast; noise-dominated spectra gain little from more)
DEFLATE_LEVEL = 1
#: with S > 0 the measurement thread waits for the file thread beyond this backlog
MAX_PENDING_ROWS = 200_000
MAX_PENDING_SPECTRA = 2_000
#: rows copied at a time when the run ends
COPY_CHUNK_ROWS = 16_384
#: what the end of a run writes besides the NXdata copies (attributes, analysis, HDF5's metadata)
FINISH_BYTES = 2 * 2**20
#: HDF5 caches per open file: raw chunks per dataset (a table chunk is 8 or 64 kB, a
#: spectrum 8 kB) and metadata; HDF5's defaults (1 MB per dataset, up to 32 MB of metadata) let a
#: long run's memory grow by tens of MB before it levels off
CHUNK_CACHE_BYTES = 256 * 1024
METADATA_CACHE_BYTES = 4 * 2**20


def open_h5(path: str | Path, mode: str, locking: bool = True) -> h5py.File:
    """A run file opened for writing, with small HDF5 caches (memory stays flat)."""
    f = h5py.File(path, mode, libver=("v110", "v110"), rdcc_nbytes=CHUNK_CACHE_BYTES, locking=locking)
    config = f.id.get_mdc_config()
    config.set_initial_size = True
    config.initial_size = min(config.initial_size, METADATA_CACHE_BYTES // 2)
    config.max_size = METADATA_CACHE_BYTES
    config.min_size = min(config.min_size, METADATA_CACHE_BYTES // 4)
    f.id.set_mdc_config(config)
    return f


def iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="milliseconds")


class BackgroundSync:
    """fsync a file descriptor from a helper thread, as often as it is asked to.

    Used with S = 0: the writer flushes every event itself (that alone survives kill -9:
    the data is in the OS page cache); the fsync that makes it survive a power cut runs
    here, overlapped with the next measurement. ``close`` waits for the last fsync.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.error: OSError | None = None
        self._wanted = threading.Event()
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


def _shuffled(rows: np.ndarray) -> np.ndarray:
    """Rows [k, pixels] through HDF5's shuffle filter: one numpy call for the batch."""
    k, pixels = rows.shape
    size = rows.dtype.itemsize
    return np.ascontiguousarray(rows.view(np.uint8).reshape(k, pixels, size).transpose(0, 2, 1))


def _extend_write(dataset: h5py.Dataset, start: int, rows: np.ndarray) -> None:
    """Write ``rows`` (first axis) at ``start`` of an extendible dataset (low-level, fast)."""
    dsid = dataset.id
    rows = np.ascontiguousarray(rows)
    dsid.set_extent((start + rows.shape[0],) + rows.shape[1:])
    file_space = dsid.get_space()
    file_space.select_hyperslab((start,) + (0,) * (rows.ndim - 1), rows.shape)
    dsid.write(h5py.h5s.create_simple(rows.shape), file_space, rows)


@dataclass
class _Batch:
    """Events of one stream not yet written."""

    rows: list[np.ndarray] = field(default_factory=list)
    spectrum_rows: list[int] = field(default_factory=list)
    spectra: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, row: np.ndarray, event: Event) -> bool:
        """Take one event's row (and spectrum); True if it had a spectrum."""
        self.rows.append(row)
        if event.spectrum is None:
            return False
        self.spectrum_rows.append(event.index)
        self.spectra.append((event.spectrum.spectral, event.spectrum.raw))
        return True


@dataclass
class _StreamFile:
    """The datasets of one stream and how far they are written."""

    stream: Stream
    table: h5py.Dataset
    spectra: tuple[h5py.Dataset, h5py.Dataset, h5py.Dataset] | None  # row, spectral, raw
    rows_written: int = 0
    spectra_written: int = 0
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.names = self.stream.column_names


class HDF5RunWriter:
    """Record sink writing one run file. Call it with each record of the run."""

    def __init__(self, path: str | Path, overwrite: bool = False,
                 durability_interval_s: float | None = None, finalise: bool = True,
                 claim: RunFileClaim | None = None) -> None:
        """``finalise=False``: leave the NXdata copies to the caller (:func:`finish_file`),
        which then adds them together with the analysis in one reopening.

        With a ``claim`` the run writes the claim's partial file and publishes it under
        the claimed name once the first event is flushed and fsync'd (``path`` is then
        ignored); :attr:`path` is always where the file is now.
        """
        self.claim = claim
        self.path = Path(claim.partial_path if claim is not None else path)
        self.overwrite = overwrite and claim is None
        #: the disk or the file failed: the file holds every point flushed before, and no more
        self.storage_failed = False
        self._guard: StorageGuard | None = None
        self._notices: list[Notice] = []
        #: where the run's data went when its file was removed under it (a copy of the open file)
        self.rescued_path: Path | None = None
        self.finalise = finalise
        self._interval_override = durability_interval_s
        self.durability_interval_s = 0.0
        self._file: h5py.File | None = None
        self._streams: dict[str, _StreamFile] = {}
        self._syncer: BackgroundSync | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Condition()
        self._pending: dict[str, _Batch] = {}
        self._pending_rows = 0
        self._pending_spectra = 0
        self._closing = False
        self._error: BaseException | None = None
        self._error_reported = False  # the run has been told of _error (at an event)
        self._write_failed = False  # a write itself failed: the file takes nothing more
        self.events = 0
        self.copied = 0  # rows of a stored run copied into this file (a resumed run)
        self.syncs = 0  # flush + fsync rounds of the file thread (S > 0)

    def __call__(self, record: Record) -> None:
        if isinstance(record, Event):
            self._event(record)
        elif isinstance(record, RunStart):
            self._start(record)
        elif isinstance(record, RunStop):
            self._stop(record)
        elif isinstance(record, Notice):
            self._notice(record)
        elif isinstance(record, Progress):
            pass

    # --- start: the whole layout, then SWMR ----------------------------------------
    def _start(self, start: RunStart) -> None:
        interval = start.durability_interval_s if self._interval_override is None else self._interval_override
        if not (math.isfinite(interval) and interval >= 0):
            raise ValueError(f"durability interval must be >= 0 s, got {interval!r}")
        self.durability_interval_s = float(interval)
        INTERRUPTS.hold(self)  # while the file is open a signal raises nothing at random (the condition below)
        try:
            f = open_h5(self.path, "w" if self.overwrite else "w-")
        except OSError as exc:
            INTERRUPTS.release(self)
            raise StorageError(f"cannot create {self.path}: {_one_line(exc)}") from None
        self._file = f
        try:
            if self.claim is not None:
                self.claim.lock_partial()
            self._guard = StorageGuard(f.id.get_vfd_handle(), self.path)
            write_layout(f, start, self.durability_interval_s)
            self._streams = {s.name: _stream_file(f["entry"], s) for s in start.streams}
            self._pending = {s.name: _Batch() for s in start.streams}
            f.swmr_mode = True
            f.flush()
            os.fsync(f.id.get_vfd_handle())
            self._guard.check()  # the flush truncated the file to its end, and the reserve with it
        except BaseException:
            f.close()
            self._file = None
            INTERRUPTS.release(self)
            raise
        if self.durability_interval_s == 0:
            self._syncer = BackgroundSync(f.id.get_vfd_handle())
        else:
            self._thread = threading.Thread(target=self._file_loop, name="hdf5-writer", daemon=True)
            self._thread.start()

    # --- per event ------------------------------------------------------------------
    def _event(self, event: Event) -> None:
        if self._error is not None:
            self._error_reported = True
            raise self._error
        sf = self._streams[event.stream]
        values = event.values
        row = np.fromiter([values.get(name, math.nan) for name in sf.names], dtype=float, count=len(sf.names))
        if self._syncer is not None:  # S = 0: written and flushed before the next sink sees it
            batch = _Batch()
            batch.add(row, event)
            self._guarded(self._guard.check, _batch_bytes(batch, sf))
            self._guarded(self._write, sf, batch)
            self._guarded(self._file.flush)
            if self.events == 0:  # the first point on the disk: the file takes its name
                self._guarded(os.fsync, self._file.id.get_vfd_handle())
                self._publish()
            self._syncer.request()
            self.events += 1
            return
        with self._lock:
            self._pending_rows += 1
            self._pending_spectra += self._pending[event.stream].add(row, event)
            self.events += 1
            if self._pending_rows > MAX_PENDING_ROWS or self._pending_spectra > MAX_PENDING_SPECTRA:
                self._lock.notify_all()  # wake the file thread now, and wait for it to take the batch
                while (self._pending_rows > MAX_PENDING_ROWS or self._pending_spectra > MAX_PENDING_SPECTRA) \
                        and self._error is None and self._thread is not None and self._thread.is_alive():
                    self._lock.wait(0.1)

    def _guarded(self, function, *args) -> Any:
        """Call a write step; a failure of the disk or file becomes :class:`StorageError`."""
        try:
            return function(*args)
        except StorageError:
            self.storage_failed = True
            raise
        except WRITE_ERRORS as exc:
            self.storage_failed = self._write_failed = True
            raise StorageError(f"writing {self.path} failed: {_one_line(exc)}") from None

    def _publish(self) -> None:
        if self.claim is None or self.claim.published:
            return
        self._guarded(self.claim.publish)
        self.path = self.claim.path
        if self._guard is not None:
            self._guard.path = self.path

    def _notice(self, notice: Notice) -> None:
        if self._file is None:
            return
        if self._syncer is not None:
            self._guarded(_write_notices, self._file, [notice])
            self._guarded(self._file.flush)
            return
        with self._lock:
            self._notices.append(notice)

    def _take_pending(self) -> dict[str, _Batch]:
        with self._lock:
            taken = self._pending
            self._pending = {name: _Batch() for name in taken}
            self._pending_rows = self._pending_spectra = 0
            self._lock.notify_all()
        return taken

    def _file_loop(self) -> None:
        """S > 0: write what has arrived every S seconds of wall time, until the run ends."""
        interval = self.durability_interval_s
        next_write = time.monotonic() + interval
        while True:
            with self._lock:
                while not self._closing and self._pending_rows <= MAX_PENDING_ROWS \
                        and self._pending_spectra <= MAX_PENDING_SPECTRA:
                    remaining = next_write - time.monotonic()
                    if remaining <= 0:
                        break
                    self._lock.wait(remaining)
                closing = self._closing
            next_write = time.monotonic() + interval
            try:
                self._write_all(self._take_pending())
            except BaseException as exc:  # reported to the run at its next event or at the stop
                self._error = exc
                with self._lock:
                    self._lock.notify_all()
                return
            if closing:
                return

    def _write_all(self, batches: dict[str, _Batch]) -> None:
        """One batch of every stream, flushed and fsync'd (S > 0, on the file thread).

        The storage guard is asked first; when the disk is full the batch is still
        written into the reserve, then the run is told (the error)."""
        with self._lock:
            notices, self._notices = self._notices, []
        upcoming = sum(_batch_bytes(b, self._streams[name]) for name, b in batches.items())
        full: StorageError | None = None
        try:
            self._guarded(self._guard.check, upcoming)
        except StorageError as exc:  # the reserve holds this batch (at most S seconds of points)
            full = exc
            log.debug("storage guard: %s; %d bytes still reserved for a %d-byte batch", exc,
                      self._guard.remaining_reserve(), upcoming)
        wrote = False
        for name, batch in batches.items():
            if batch.rows:
                self._guarded(self._write, self._streams[name], batch)
                wrote = True
        if notices:
            self._guarded(_write_notices, self._file, notices)
            wrote = True
        if wrote:
            assert self._file is not None
            self._guarded(self._file.flush)
            self._guarded(os.fsync, self._file.id.get_vfd_handle())
            self.syncs += 1
            if self.events:
                self._publish()
            if full is None:
                self._guarded(self._guard.check)  # renewed at once if the flush's truncation freed it
        if full is not None:
            raise full

    def _write_leftovers(self) -> None:
        """Events that arrived while the file thread met a full disk go into the reserve
        (unless a write itself failed: then the file takes nothing more)."""
        leftovers = self._take_pending()
        if self._write_failed or not any(b.rows for b in leftovers.values()):
            return
        try:
            self._write_all(leftovers)
        except StorageError:
            if self._write_failed:
                log.warning("%s: the last events could not be written", self.path)

    def _write(self, sf: _StreamFile, batch: _Batch) -> None:
        """Append a batch to one stream's datasets (table first, then its spectra)."""
        rows = np.vstack(batch.rows) if len(batch.rows) > 1 else batch.rows[0][np.newaxis, :]
        _extend_write(sf.table, sf.rows_written, rows)
        sf.rows_written += len(rows)
        if not batch.spectra:
            return
        assert sf.spectra is not None
        row_ds, spectral_ds, raw_ds = sf.spectra
        m, k = sf.spectra_written, len(batch.spectra)
        _extend_write(row_ds, m, np.asarray(batch.spectrum_rows, dtype="i8"))
        stored = spectral_ds.dtype.newbyteorder("<")  # the file's own: float32, or float64 (a radiometer)
        _extend_write(spectral_ds, m, np.array([spectral for spectral, _ in batch.spectra], dtype=stored))
        shuffled = _shuffled(np.array([raw for _, raw in batch.spectra], dtype=stored))
        raw_ds.id.set_extent((m + k, shuffled.shape[1] * shuffled.shape[2] // stored.itemsize))
        for i in range(k):  # zlib releases the GIL while it compresses
            raw_ds.id.write_direct_chunk((m + i, 0), zlib.compress(shuffled[i], DEFLATE_LEVEL), 0)
        sf.spectra_written = m + k

    def copy_events(self, events: Iterable[Event], notices: Iterable[Notice] = (), batch_rows: int = 4096) -> None:
        """Write a stored run's events (and notices) in batches, before any new event of a
        resumed run; flushed and fsync'd once at the end, and the file published."""
        if self._file is None or self.events:
            raise RuntimeError("stored events are copied right after the start, before any new event")
        batches: dict[str, _Batch] = {}
        held = 0
        for event in events:
            sf = self._streams[event.stream]
            row = np.fromiter([event.values.get(n, math.nan) for n in sf.names], dtype=float, count=len(sf.names))
            batches.setdefault(event.stream, _Batch()).add(row, event)
            held += 1
            if held >= batch_rows:
                self._copy_batches(batches)
                batches, held = {}, 0
        self._copy_batches(batches)
        notices = list(notices)
        if notices:
            self._guarded(_write_notices, self._file, notices)
        self._guarded(self._file.flush)
        self._guarded(os.fsync, self._file.id.get_vfd_handle())
        self.copied = sum(sf.rows_written for sf in self._streams.values())
        if self.copied:
            self._publish()

    def _copy_batches(self, batches: dict[str, _Batch]) -> None:
        for name, batch in batches.items():
            if batch.rows:
                self._guarded(self._guard.check, _batch_bytes(batch, self._streams[name]))
                self._guarded(self._write, self._streams[name], batch)

    # --- stop -----------------------------------------------------------------------
    def _finish_writing(self) -> None:
        """Everything given so far onto the disk (both policies)."""
        if self._thread is not None:
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            self._thread.join()
            self._thread = None
            if self._error is not None:
                self._write_leftovers()
                if not self._error_reported:
                    self._error_reported = True
                    raise self._error
        if self._syncer is not None:
            syncer, self._syncer = self._syncer, None
            syncer.close()

    def _stop(self, stop: RunStop) -> None:
        """Everything onto the disk, then the end status. A storage failure found here is
        stored as the run's status and raised (after the file is closed)."""
        f = self._file
        if f is None:
            return
        failure: BaseException | None = None
        try:
            self._finish_writing()
        except BaseException as exc:  # noqa: BLE001 - stored, then raised
            failure = exc
            self.storage_failed = True
        status, reason = stop.status, stop.reason
        if failure is not None:
            status, reason = FAILED, f"{_one_line(failure)} (after: {stop.reason})"
        try:
            entry = f["entry"]
            entry["status"][0] = status.encode()
            entry["reason"][0] = reason.encode("utf-8", "replace")[:511]
            entry["end_time_s"][0] = stop.end_time_s
            entry["output_state"][0] = stop.output.encode("utf-8", "replace")[:255]
            f.flush()
            os.fsync(f.id.get_vfd_handle())
            if self._guard is not None and self._guard.removed:
                self._rescue(f.id.get_vfd_handle())
        except WRITE_ERRORS as exc:
            self.storage_failed = True
            failure = failure or StorageError(f"writing the end of {self.path} failed: {_one_line(exc)}")
        finally:
            self._close_file()
        if failure is not None:
            raise failure if isinstance(failure, StorageError) else StorageError(_one_line(failure))
        if not self.finalise:
            return
        try:
            finish_file(self.path, stop)
        except Exception:  # the points are safe; missing NXdata copies are not fatal
            log.warning("could not finalise %s", self.path, exc_info=True)

    def _rescue(self, fd: int) -> None:
        """The file was removed (or replaced) under the run: copy the still-open file, every
        point in it, back to its name (or next to the file that replaced it)."""
        import shutil

        target = self.path
        if target.exists():
            target = target.with_name(f"{target.stem}.rescued{target.suffix}")
        if target.exists():
            return
        try:
            shutil.copyfile(f"/proc/self/fd/{fd}", target)
            self.rescued_path = target
            log.warning("%s was removed during the run; its data is rescued in %s", self.path, target)
        except OSError as exc:
            log.warning("could not rescue the data of the removed %s: %s", self.path, exc)

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except WRITE_ERRORS as exc:
                self.storage_failed = True
                log.warning("closing %s failed: %s", self.path, _one_line(exc))
            finally:
                self._file = None
                INTERRUPTS.release(self)

    def abort_file(self) -> None:
        """Close the file if the run died before its stop record (the points stay readable)."""
        if self._file is None:
            return
        try:
            self._finish_writing()
        except BaseException as exc:  # noqa: BLE001 - the points flushed before are safe
            self.storage_failed = True
            log.warning("could not write the last events of %s: %s", self.path, _one_line(exc))
        finally:
            self._close_file()
        if self.storage_failed or not self.finalise:
            return
        try:
            finish_file(self.path, None)
        except Exception:  # noqa: BLE001
            log.warning("could not fill the NXdata group of %s", self.path, exc_info=True)


# --- layout ---------------------------------------------------------------------------
def write_layout(f: h5py.File, start: RunStart, durability_interval_s: float) -> None:
    """Every group and dataset of the run, before SWMR starts."""
    from station.run.documents import plot_document, stream_document

    f.attrs.update({"default": "entry", "file_format": FILE_FORMAT, "creator": f"ledstation {start.software_version}"})
    entry = f.create_group("entry")
    entry.attrs.update({"NX_class": "NXentry", "default": "data", "procedure": start.procedure,
                        "title": start.title, "run_id": start.run_id, "start_time": iso(start.start_time_s),
                        "software_version": start.software_version, "geometry": start.geometry,
                        "main_stream": start.main.stream, "streams": [s.name for s in start.streams],
                        "durability_interval_s": durability_interval_s,
                        "durability": f"after a kill or power cut the file holds every point older than "
                                      f"{durability_interval_s:g} s",
                        # the declarations a viewer draws from without knowing the procedure
                        "plots_json": json.dumps([plot_document(p) for p in start.plots], allow_nan=False),
                        "stream_declarations_json": json.dumps([stream_document(s) for s in start.streams],
                                                               allow_nan=False),
                        "figure_set": start.figure_set})
    status = entry.create_dataset("status", data=np.array([RUNNING.encode()], dtype=STATUS_DTYPE))
    status.attrs.update({"units": "", "values": "running, finished, aborted, failed"})
    entry.create_dataset("reason", data=np.array([b""], dtype=REASON_DTYPE)).attrs["units"] = ""
    entry.create_dataset("end_time_s", data=np.array([np.nan])).attrs["units"] = TIME_UNITS
    entry.create_dataset("start_time_s", data=start.start_time_s).attrs["units"] = TIME_UNITS
    entry.create_dataset("output_state", data=np.array([b""], dtype=OUTPUT_STATE_DTYPE)).attrs.update(
        {"units": "", "description": "what the shutdown confirmed: the source output read back off, or not"})
    notices = entry.create_group("notices")
    notices.attrs.update({"NX_class": "NXcollection",
                          "description": "what the run met and went on from, and the detail behind a failure"})
    notices.create_dataset("time_s", shape=(0,), maxshape=(None,), dtype="f8", chunks=(64,)).attrs["units"] = \
        TIME_UNITS
    for name, dtype in (("level", "S8"), ("message", NOTICE_DTYPE)):
        notices.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(64,)).attrs["units"] = ""

    measurement = entry.create_group("measurement")
    measurement.attrs["NX_class"] = "NXcollection"
    chunk_bytes = TABLE_CHUNK_BYTES[durability_interval_s == 0]
    for stream in start.streams:
        n = len(stream.columns)
        table = measurement.create_dataset(stream.name, shape=(0, n), maxshape=(None, n), dtype="f8",
                                           chunks=(max(16, chunk_bytes // (8 * n)), n))
        table.attrs.update({"units": [c.units for c in stream.columns], "columns": list(stream.column_names),
                            "dtypes": [c.dtype for c in stream.columns],
                            "descriptions": [c.description for c in stream.columns],
                            "description": stream.description,
                            "spectra": spectra_group_path(stream.name, start.main.stream) if stream.spectra else ""})

    instrument = entry.create_group("instrument")
    instrument.attrs["NX_class"] = "NXinstrument"
    for role, identity in start.instruments.items():
        instrument.attrs[role] = identity
    config = instrument.create_dataset("station_config_toml", data=start.config_text)
    config.attrs.update({"units": "", "source": start.config_source})
    light = start.light
    if light is not None:
        _write_light(instrument, start)
    if start.second_channel is not None:
        _write_second_channel(instrument, start.second_channel)
    for stream in (s for s in start.streams if s.spectra):
        if light is None:
            raise ValueError("a stream with spectra needs a light instrument")
        _create_spectra(f, stream, instrument["light"], start, chunk_bytes // 8)

    data = entry.create_group("data")
    main = start.main
    units = {c.name: c.units for c in start.stream(main.stream).columns}
    data.attrs.update({"NX_class": "NXdata", "signal": main.signal, "axes": [main.axis],
                       "auxiliary_signals": [n for n in main.columns if n not in (main.signal, main.axis)],
                       f"{main.axis}_indices": 0, "stream": main.stream})
    for name in main.columns:  # filled from the stream table when the run ends
        ds = data.create_dataset(name, shape=(0,), maxshape=(None,), dtype="f8", chunks=(4096,))
        ds.attrs["units"] = units.get(name, "")

    parameters = entry.create_group("parameters")
    parameters.attrs["NX_class"] = "NXparameters"
    for name, (value, param_units) in start.parameters.items():
        ds = parameters.create_dataset(name, data=value if not isinstance(value, str) else value.encode())
        ds.attrs["units"] = param_units
    sample = entry.create_group("sample")
    sample.attrs["NX_class"] = "NXsample"
    sample.create_dataset("pixel_area_cm2", data=start.pixel_area_cm2).attrs["units"] = "cm^2"
    sample.attrs.update(dict(start.sample))
    process = entry.create_group("process")
    process.attrs.update({"NX_class": "NXprocess", "program": "ledstation", "version": start.software_version,
                          **start.provenance})


def _write_light(instrument: h5py.Group, start: RunStart) -> None:
    light = start.light
    assert light is not None
    group = instrument.create_group("light")
    group.attrs.update({"NX_class": "NXcollection", "identity": light.identity, "quantity": light.axis.quantity,
                        "units": light.axis.units, "raw_units": light.axis.raw_units})
    group.create_dataset("wavelength_nm", data=np.asarray(light.axis.wavelength_nm, float)).attrs["units"] = "nm"
    if light.darks is not None:
        group.create_dataset("dark_library", data=light.darks.spectra).attrs["units"] = light.darks.units
        group.create_dataset("dark_integration_time_s", data=light.darks.integration_time_s).attrs["units"] = "s"
    if light.calibration:
        _write_calibration(instrument.create_group("calibration"), light)


def _write_calibration(calibration: h5py.Group, light: LightDescription) -> None:
    calibration.attrs["NX_class"] = "NXcollection"
    for key, value in light.calibration.items():
        if isinstance(value, np.ndarray):
            calibration.create_dataset(key, data=value).attrs["units"] = light.calibration_units.get(key, "")
        else:
            calibration.attrs[key] = value


def _write_second_channel(instrument: h5py.Group, channel: LightDescription) -> None:
    """``/entry/instrument/second_channel``: the photodiode beside the light instrument,
    with its calibration and the dark current it subtracts (``calibration``)."""
    group = instrument.create_group("second_channel")
    group.attrs.update({"NX_class": "NXcollection", "identity": channel.identity,
                        "quantity": channel.axis.quantity, "units": channel.axis.units})
    _write_calibration(group.create_group("calibration"), channel)


def spectra_group_path(stream: str, main_stream: str) -> str:
    """Where a stream's spectra live: ``/entry/spectra`` for the main stream (as in format 1),
    ``/entry/spectra_<stream>`` for any other."""
    return "/entry/spectra" if stream == main_stream else f"/entry/spectra_{stream}"


def _create_spectra(f: h5py.File, stream: Stream, light: h5py.Group, start: RunStart, index_chunk: int) -> None:
    axis = start.light.axis  # type: ignore[union-attr]
    pixels = len(axis.wavelength_nm)
    group = f.create_group(spectra_group_path(stream.name, start.main.stream))
    group.attrs.update({"NX_class": "NXdata", "signal": "spectral", "axes": [".", "wavelength_nm"],
                        "wavelength_nm_indices": 1, "quantity": axis.quantity, "stream": stream.name})
    for name in ("wavelength_nm", "dark_library", "dark_integration_time_s"):
        if name in light:
            group[name] = light[name]  # hard links: one dataset, also where format 1 had it
    group.create_dataset("row", shape=(0,), maxshape=(None,), dtype="i8", chunks=(index_chunk,)).attrs.update(
        {"units": "1", "description": f"row of measurement/{stream.name} (and its time) this spectrum belongs to"})
    options: dict[str, Any] = {"shape": (0, pixels), "maxshape": (None, pixels), "chunks": (1, pixels),
                               "dtype": np.dtype(axis.stored_dtype).newbyteorder("<")}
    # calibrated spectra are noise-like floats: deflate keeps 90 % of their size for ~0.35 ms each
    spectral = group.create_dataset("spectral", **options)
    spectral.attrs.update({"units": axis.units, "quantity": axis.quantity,
                           "long_name": f"{axis.quantity.replace('_', ' ')} ({axis.units})"})
    # raw counts shrink to about a third with shuffle + deflate
    group.create_dataset("raw", **options, compression="gzip", compression_opts=DEFLATE_LEVEL,
                         shuffle=True).attrs["units"] = axis.raw_units


def _stream_file(entry: h5py.Group, stream: Stream) -> _StreamFile:
    table = entry["measurement"][stream.name]
    if not stream.spectra:
        return _StreamFile(stream, table, None)
    g = entry.file[table.attrs["spectra"]]
    return _StreamFile(stream, table, (g["row"], g["spectral"], g["raw"]))


def _write_notices(f: h5py.File, notices: list[Notice]) -> None:
    group = f["entry/notices"]
    start = group["time_s"].shape[0]
    _extend_write(group["time_s"], start, np.array([n.time_s for n in notices], dtype="f8"))
    _extend_write(group["level"], start, np.array([n.level.encode()[:8] for n in notices], dtype="S8"))
    _extend_write(group["message"], start, np.array([n.message.encode("utf-8", "replace")[:1024] for n in notices],
                                                    dtype=NOTICE_DTYPE))


def _batch_bytes(batch: _Batch, sf: _StreamFile) -> int:
    """What a batch adds to one stream's datasets, roughly (spectra in the file's own dtype)."""
    size = sf.spectra[1].dtype.itemsize if sf.spectra is not None else 0
    spectra = sum(size * (spectral.size + raw.size) for spectral, raw in batch.spectra)
    return spectra + sum(row.nbytes for row in batch.rows) + 4096


# --- end of run -----------------------------------------------------------------------
def finish_file(path: str | Path, stop: RunStop | None, analysis: dict[str, Any] | None = None) -> None:
    """After the SWMR writer closed: end attributes, the NXdata main curve (chunked copy)
    and, if given, the analysis, in one reopening."""
    try:
        f = open_h5(path, "r+")
    except OSError as exc:
        if "lock" not in str(exc).lower():
            raise
        # another program has the file open for reading (a viewer, a GUI watching the run):
        # HDF5's lock would refuse; the run's own claim lock keeps other writers out
        log.info("%s is open in another program; finishing it without HDF5's file lock", path)
        f = open_h5(path, "r+", locking=False)
    with f:
        entry = f["entry"]
        table = entry["measurement"][entry["data"].attrs.get("stream", "points")]
        # the NXdata copies and the analysis: reserved first, so HDF5 never meets a full disk
        reserve_for(f.id.get_vfd_handle(), Path(path), FINISH_BYTES + 8 * table.shape[0] * len(entry["data"]))
        if stop is not None:
            entry.attrs["end_time"] = iso(stop.end_time_s)
            entry.attrs["status"] = stop.status
        fill_nxdata(entry)
        if analysis is not None:
            _store_analysis(entry, analysis)


def fill_nxdata(entry: h5py.Group) -> None:
    """Copy the main-curve columns from the main stream's table into the NXdata group.

    Per event only the table is written; the 1-D copies that generic viewers plot are
    made when the run ends, in chunks. After a kill -9 they stay empty until
    ``ledstation recover``; the table holds every point.
    """
    data = entry["data"]
    table = entry["measurement"][data.attrs.get("stream", "points")]
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in table.attrs["columns"]]
    targets = [(data[name], names.index(name)) for name in data if isinstance(data[name], h5py.Dataset)
               and name in names]
    rows = table.shape[0]
    for ds, _ in targets:
        ds.resize((rows,))
    for first in range(0, rows, COPY_CHUNK_ROWS):
        block = table[first:first + COPY_CHUNK_ROWS]
        for ds, k in targets:
            ds[first:first + len(block)] = block[:, k]


def _store_analysis(entry: h5py.Group, analysis: dict[str, Any]) -> None:
    """The figures of merit in ``entry/analysis`` (replacing earlier ones) and the main-curve
    signal. Scalars become datasets with units; text and nested results (summaries) become
    attributes (JSON for nested ones)."""
    import json

    if "signal" in analysis and analysis["signal"] in entry["data"]:
        entry["data"].attrs["signal"] = analysis["signal"]
    if "analysis" in entry:
        del entry["analysis"]
    group = entry.create_group("analysis")
    group.attrs["NX_class"] = "NXcollection"
    units = analysis.get("units", {})
    for name, value in analysis.get("figures", {}).items():
        if isinstance(value, str):
            group.attrs[name] = value
        else:
            group.create_dataset(name, data=float(value)).attrs["units"] = units.get(name, "")
    if "summary" in analysis:
        group.attrs["summary_json"] = json.dumps(analysis["summary"], default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)
