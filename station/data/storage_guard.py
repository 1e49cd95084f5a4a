"""Disk space for a run file: checked before the run, reserved while it runs.

HDF5 cannot be trusted to leave a consistent file when a write fails half-way (a full
disk used to crash the process and could leave the file unreadable), so the writer
never lets the disk fill under it:

* before a run, the free space must hold the run's estimated size plus the reserve;
* while it runs, :class:`StorageGuard` keeps :data:`RESERVE_BYTES` of disk allocated
  beyond the file's end (``fallocate`` with ``FALLOC_FL_KEEP_SIZE``: the file's size does
  not change, the blocks are its own). HDF5 truncates the file to its own end when it
  flushes, and a truncation frees every block beyond the new end, the reserve with it; so
  the guard never trusts what it reserved last: at every check it measures the blocks
  the file holds beyond its end (``st_blocks``) and renews the reserve when they fall
  short, and the writer checks again right after each flush. When the reserve can no
  longer be renewed the disk is full: the guard raises :class:`StorageError`, the run
  stops, and the last writes (status, reason) go into the blocks still reserved. Where
  the file system cannot reserve (no ``fallocate``) the guard compares the free space
  with the reserve.
* after the run, the file is reopened for the figures and the NXdata copies only once
  :func:`reserve_for` has reserved what they take (else they are left out: ``ledstation
  analyze`` computes the figures from the columns).
* it also notices the file being removed or replaced under the run.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError, StorageError

#: disk kept allocated beyond the end of a run file while it is written
RESERVE_BYTES = 8 * 2**20
#: the reservation is renewed once the file has grown into this much of it, or this often
RENEW_AFTER_BYTES = 256 * 1024
RENEW_INTERVAL_S = 1.0
#: bytes a stored spectrum takes per point of it (float32 calibrated + float32 raw, before compression)
SPECTRUM_BYTES_PER_POINT = 4 * 2
#: and per spectrum (its row index, chunk index)
SPECTRUM_OVERHEAD_BYTES = 1024
#: layout, light description, dark library ...
LAYOUT_BYTES = 2 * 2**20
FALLOC_FL_KEEP_SIZE = 1

_libc = None


def _fallocate_keep_size(fd: int, offset: int, length: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, ctypes.c_int64(offset), ctypes.c_int64(length)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def allocated_beyond_end(fd: int) -> int:
    """Bytes of disk the open file holds beyond its end (negative: holes inside it), measured."""
    st = os.fstat(fd)
    blocks = getattr(st, "st_blocks", None)
    return -st.st_size if blocks is None else blocks * 512 - st.st_size


def _reserve(fd: int, path: Path, nbytes: int, full: Callable[[], str]) -> bool:
    """Allocate ``nbytes`` beyond the open file's end: True when done, False where the file
    system cannot reserve (then compare the free space); :class:`StorageError` with the
    message ``full()`` when the disk has no room, another one for any other failure."""
    try:
        _fallocate_keep_size(fd, os.fstat(fd).st_size, nbytes)
        return True
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return False
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(full()) from None
        raise StorageError(f"cannot write {path}: {exc.strerror}") from None


def reserve_for(fd: int, path: Path, nbytes: int) -> None:
    """Reserve ``nbytes`` beyond the open file's end before writing them; :class:`StorageError`
    (nothing written yet) when the disk cannot hold them."""
    room = f"no room in {path.parent} for {nbytes / 2**20:.1f} MB"
    if not _reserve(fd, path, nbytes, lambda: f"disk full: {room}") and free_bytes(path.parent) < nbytes:
        raise StorageError(f"disk nearly full: {room}")


def free_bytes(directory: str | Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def estimated_run_bytes(procedures: Iterable[Any], spectrum_points: int) -> int:
    """The file size of runs of ``procedures`` (their planned rows and spectra) with spectra
    of ``spectrum_points`` points; an open-ended run counts its layout only."""
    total = LAYOUT_BYTES
    for p in procedures:
        total += (p.planned_points() or 0) * p.planned_row_bytes()
        total += p.planned_spectra() * (spectrum_points * SPECTRUM_BYTES_PER_POINT + SPECTRUM_OVERHEAD_BYTES)
    return total


def check_free_space(path: str | Path, procedures: Iterable[Any], spectrum_points: int) -> None:
    """Refuse (one line, before any instrument) runs whose files cannot fit on the disk."""
    _require_free(path, estimated_run_bytes(procedures, spectrum_points) + RESERVE_BYTES,
                  "the run needs", "its estimated size")


def _require_free(path: str | Path, needed: int, who: str, what: str) -> None:
    directory = Path(path).parent if str(Path(path).parent) else Path(".")
    free = free_bytes(directory)
    if free < needed:
        raise ConfigError(f"only {free / 2**20:.1f} MB free in {directory}; {who} about {needed / 2**20:.1f} MB "
                          f"({what} and an {RESERVE_BYTES / 2**20:.0f} MB reserve)")


def check_free_space_for_copy(path: str | Path) -> None:
    """Refuse (one line, before any instrument) to resume a run whose file cannot be copied:
    a resumed run writes a copy of its file next to it before it replaces it."""
    _require_free(path, os.path.getsize(path) + LAYOUT_BYTES + RESERVE_BYTES, f"resuming {Path(path).name} needs",
                  "a copy of the file")


class StorageGuard:
    """Keeps the reserve allocated beyond a run file's end; see the module docstring."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path  # where the file is (the writer updates it when the file is published)
        self.can_reserve = True
        self.removed = False  # the file was removed or replaced under the run
        self._next_check = 0.0
        self._inode = os.fstat(fd).st_ino
        self.check()

    def check(self, upcoming_bytes: int = 0) -> None:
        """Renew the reserve if due; :class:`StorageError` if the disk is full or the file gone.

        Cheap enough for every event (one ``fstat``): it acts every :data:`RENEW_INTERVAL_S`,
        and whenever the blocks measured beyond the file's end fall short of the upcoming
        bytes and the reserve (the file grew into it, or a truncation freed it).
        """
        now = time.monotonic()
        wanted_beyond = upcoming_bytes + RESERVE_BYTES - RENEW_AFTER_BYTES
        if now < self._next_check and (not self.can_reserve or allocated_beyond_end(self.fd) >= wanted_beyond):
            return
        self._next_check = now + RENEW_INTERVAL_S
        self._check_still_there()
        wanted = upcoming_bytes + RESERVE_BYTES
        if self.can_reserve:
            if _reserve(self.fd, self.path, wanted, self._full_message):
                return
            self.can_reserve = False
        free = free_bytes(self.path.parent)
        if free < wanted:
            raise StorageError(f"disk nearly full: {free / 2**20:.1f} MB free in {self.path.parent}; run stopped "
                               "with every point so far in the file")

    def _full_message(self) -> str:
        return (f"disk full: {self.path.parent} has no room for the run to go on "
                f"({free_bytes(self.path.parent) / 2**20:.1f} MB free); run stopped with every point so far in the "
                "file")

    def remaining_reserve(self) -> int:
        """Bytes still reserved beyond the file's end, measured."""
        return max(0, allocated_beyond_end(self.fd)) if self.can_reserve else 0

    def _check_still_there(self) -> None:
        try:
            same = os.stat(self.path).st_ino == self._inode
        except FileNotFoundError:
            same = False
        if not same:
            self.removed = True
            raise StorageError(f"{self.path} was removed or replaced while the run was writing it")
