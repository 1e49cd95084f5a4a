"""Follow a run file that another process is writing (SWMR), for a live display.

:class:`RunWatcher` keeps the file open read-only in SWMR mode and, at each
:meth:`~RunWatcher.poll`, refreshes the stream tables and returns the rows written since
the last poll (only the columns asked for), the newest spectrum of each stream with
spectra, and the file's status. It never takes HDF5's file lock, so the writer is never
held up, and it reads a bounded number of rows per poll so a display catching up with a
long run stays responsive. The writer works in SWMR mode until its very end and then
reopens the file to store the figures: a poll that meets the file in between, or a file
replaced by a resumed run, reopens it and carries on from the rows already seen.

Over a network file system (NFS, SMB, sshfs: a folder shared with the machine that
measures) HDF5 does not promise SWMR's ordering; there the watcher opens the file afresh
at every poll, which such file systems keep consistent from one open to the next
(close-to-open), and reads what the writer has flushed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from station.core.errors import DataFileError

from .reader import RunFile, check_complete_hdf5, open_for_reading, read_run

#: file systems on which the file is reopened at every poll instead of kept open in SWMR mode
NETWORK_FILE_SYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph",
                                  "fuse.glusterfs", "glusterfs", "lustre"})
#: rows read per stream and poll (a display catching up reads the rest at the next polls)
ROWS_PER_POLL = 50_000


@dataclass
class WatchUpdate:
    rows: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # stream -> new rows by column
    spectra: dict[str, tuple[dict[str, float], np.ndarray]] = field(default_factory=dict)  # newest per stream
    status: str = ""
    reason: str = ""


class RunWatcher:
    """New rows of a run file at every :meth:`poll` (see the module docstring)."""

    def __init__(self, path: str | Path, columns: Mapping[str, Sequence[str]] | None = None,
                 reopen: bool | None = None) -> None:
        self.path = Path(path)
        #: open the file afresh at every poll (default: on a network file system)
        self.reopen = on_network_file_system(self.path) if reopen is None else reopen
        self.run: RunFile = read_run(self.path)
        #: stream -> columns to read (default: every column)
        self.columns = {name: list(columns.get(name, ())) if columns is not None else self.run.column_names(name)
                        for name in self.run.stream_names()}
        self.seen = dict.fromkeys(self.run.stream_names(), 0)
        self._file: h5py.File | None = None
        self._inode = 0
        self.wavelength_nm: np.ndarray | None = None

    def _open(self) -> h5py.File:
        if self._file is None:
            swmr = check_complete_hdf5(self.path)
            self._file = open_for_reading(self.path, swmr)
            self._inode = os.stat(self.path).st_ino
        return self._file

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - closing a file the writer replaced
                pass
            self._file = None

    def __enter__(self) -> RunWatcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def poll(self) -> WatchUpdate:
        """What was written since the last poll."""
        try:
            if self.reopen:
                self.close()
            if self._file is not None and os.stat(self.path).st_ino != self._inode:
                self.close()  # a resumed run replaced the file: the rows seen are in the new one too
            return self._poll(self._open())
        except (OSError, KeyError, RuntimeError, ValueError, DataFileError):
            self.close()  # the writer's last step (reopen for the figures) or a replaced file: try once more
            try:
                return self._poll(self._open())
            except (OSError, KeyError, RuntimeError, ValueError, DataFileError):
                self.close()
                return WatchUpdate(status="unreadable", reason="the file cannot be read just now; retrying")

    def _poll(self, f: h5py.File) -> WatchUpdate:
        update = WatchUpdate()
        entry = f["entry"]
        for name in ("status", "reason"):
            entry[name].refresh()
        update.status = _text(entry["status"][0])
        update.reason = _text(entry["reason"][0])
        for name, info in self.run.streams.items():
            table = f[info.table_path]
            table.refresh()
            total = int(table.shape[0])
            first = self.seen[name]
            if total <= first or not self.columns.get(name):
                continue
            last = min(total, first + ROWS_PER_POLL)
            indices = [info.columns.index(c) for c in self.columns[name]]
            block = table[first:last]
            update.rows[name] = {c: block[:, k].astype(float) for c, k in zip(self.columns[name], indices,
                                                                                strict=True)}
            self.seen[name] = last
            if info.spectra_path is not None:
                spectrum = self._newest_spectrum(f, info.spectra_path, table, info.columns, first, last)
                if spectrum is not None:
                    update.spectra[name] = spectrum
        return update

    def _newest_spectrum(self, f: h5py.File, path: str, table: h5py.Dataset, columns: Sequence[str], first: int,
                         last: int) -> tuple[dict[str, float], np.ndarray] | None:
        g = f[path]
        for key in ("spectral", "row"):
            if key in g:
                g[key].refresh()
        if "row" not in g:
            return None
        available = min(g["spectral"].shape[0], g["row"].shape[0])
        if available == 0:
            return None
        row = int(g["row"][available - 1])
        if not first <= row < last:
            return None
        if self.wavelength_nm is None:
            self.wavelength_nm = np.asarray(self.run.metadata["light"]["wavelength_nm"], float)
        values = dict(zip(columns, (float(v) for v in table[row]), strict=True))
        return values, np.asarray(g["spectral"][available - 1], float)


def file_system_type(path: Path) -> str:
    """The type of the file system holding ``path`` (Linux: /proc/self/mounts; "" elsewhere)."""
    try:
        target = os.path.realpath(path)
        best, kind = "", ""
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                    best, kind = point, fields[2]
        return kind
    except OSError:
        return ""


def on_network_file_system(path: Path) -> bool:
    return file_system_type(path) in NETWORK_FILE_SYSTEMS


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
