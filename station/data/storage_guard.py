"""Disk space for a run file: checked before the run, reserved while it runs.

HDF5 cannot be trusted to leave a consistent file when a write fails half-way (a full
disk used to crash the process and could leave the file unreadable), so the writer
never lets the disk fill under it:

* before a run, the free space must hold the run's estimated size plus the reserve;
* while it runs, :class:`StorageGuard` keeps :data:`RESERVE_BYTES` of disk allocated
  beyond the file's end (``fallocate`` with ``FALLOC_FL_KEEP_SIZE``: the file's size does
  not change, the blocks are its own). When that reservation can no longer be renewed
  the disk is full: the guard raises :class:`StorageError`, the run stops, and the
  last writes (status, reason) go into the blocks still reserved. Where the file system
  cannot reserve (no ``fallocate``) the guard compares the free space with the reserve.
* it also notices the file being removed or replaced under the run.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from pathlib import Path

from station.core.errors import ConfigError, StorageError

#: disk kept allocated beyond the end of a run file while it is written
RESERVE_BYTES = 8 * 2**20
#: the reservation is renewed once the file has grown into this much of it, or this often
RENEW_AFTER_BYTES = 256 * 1024
RENEW_INTERVAL_S = 1.0
#: size estimate of one point with spectra (2048-pixel calibrated + compressed raw, a row)
SPECTRUM_POINT_BYTES = 2048 * 4 * 2 + 1024
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


def free_bytes(directory: str | Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def estimated_run_bytes(points: int | None) -> int:
    """A run's file size from its planned points (None: open-ended, only the layout)."""
    return LAYOUT_BYTES + (points or 0) * SPECTRUM_POINT_BYTES


def check_free_space(path: str | Path, points: int | None) -> None:
    """Refuse (one line, before any instrument) a run whose file cannot fit on the disk."""
    directory = Path(path).parent if str(Path(path).parent) else Path(".")
    needed = estimated_run_bytes(points) + RESERVE_BYTES
    free = free_bytes(directory)
    if free < needed:
        raise ConfigError(f"only {free / 2**20:.1f} MB free in {directory}; the run needs about "
                           f"{needed / 2**20:.1f} MB (its estimated size and an {RESERVE_BYTES / 2**20:.0f} MB "
                           "reserve)")


class StorageGuard:
    """Keeps the reserve allocated beyond a run file's end; see the module docstring."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path  # where the file is (the writer updates it when the file is published)
        self.can_reserve = True
        self.removed = False  # the file was removed or replaced under the run
        self.reserved_to = 0  # file offset up to which disk is allocated
        self._next_check = 0.0
        self._inode = os.fstat(fd).st_ino
        self.check()

    def check(self, upcoming_bytes: int = 0) -> None:
        """Renew the reserve if due; :class:`StorageError` if the disk is full or the file gone.

        Cheap enough for every event: it acts only every :data:`RENEW_INTERVAL_S` or when
        the file has grown into the reserve.
        """
        size = os.fstat(self.fd).st_size
        now = time.monotonic()
        if now < self._next_check and size + upcoming_bytes + RESERVE_BYTES - RENEW_AFTER_BYTES < self.reserved_to:
            return
        self._next_check = now + RENEW_INTERVAL_S
        self._check_still_there()
        wanted = upcoming_bytes + RESERVE_BYTES
        if self.can_reserve:
            try:
                _fallocate_keep_size(self.fd, size, wanted)
                self.reserved_to = size + wanted
                return
            except OSError as exc:
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    self.can_reserve = False
                elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise StorageError(f"disk full: {self.path.parent} has no room for the run to go on "
                                       f"({free_bytes(self.path.parent) / 2**20:.1f} MB free); run stopped with "
                                       "every point so far in the file") from None
                else:
                    raise StorageError(f"cannot write {self.path}: {exc.strerror}") from None
        free = free_bytes(self.path.parent)
        if free < wanted:
            raise StorageError(f"disk nearly full: {free / 2**20:.1f} MB free in {self.path.parent}; run stopped "
                               "with every point so far in the file")

    def remaining_reserve(self) -> int:
        return max(0, self.reserved_to - os.fstat(self.fd).st_size)

    def _check_still_there(self) -> None:
        try:
            same = os.stat(self.path).st_ino == self._inode
        except FileNotFoundError:
            same = False
        if not same:
            self.removed = True
            raise StorageError(f"{self.path} was removed or replaced while the run was writing it")
