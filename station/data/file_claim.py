"""Who may write a run file, and how a new run replaces an old one without risking it.

A run **claims** its ``--out`` before any instrument is opened: a new name is created
empty (``O_EXCL``, so of two runs started together one is refused at once) and locked;
an existing file (``--overwrite``) is locked as it is. The run writes into a hidden
partial file next to it (``.NAME.<token>.partial``) and **publishes** it - one atomic
``rename`` over the name - once its first point is flushed and fsync'd. A run that fails
before that leaves an old file untouched (and a new name holding a record of the failed
run). Readers that have the old file open keep reading the old file.

Locks are Linux open-file-description record locks (``F_OFD_SETLK``): they belong to
this claim's open file, are released by the kernel when the process dies (kill -9
included), and do not interfere with HDF5's own ``flock`` locks. Another ledstation
process sees them: it refuses to write, overwrite or ``recover`` a file being written.
An empty, unlocked file is what a run killed before its first point leaves: a new run
may take it over without ``--overwrite``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import struct
from pathlib import Path

from station.core.errors import ConfigError, StorageError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Linux open-file-description locks (fcntl(2)); Python names them from 3.9 on some builds
F_OFD_GETLK = getattr(fcntl, "F_OFD_GETLK", 36)
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)


def _flock(lock_type: int) -> bytes:
    # struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding)
    return struct.pack("hhqqi4x", lock_type, os.SEEK_SET, 0, 0, 0)


def try_lock(fd: int) -> bool:
    """Take this open file's exclusive lock; False if another open file holds one."""
    try:
        fcntl.fcntl(fd, F_OFD_SETLK, _flock(fcntl.F_WRLCK))
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def being_written(path: str | Path) -> bool:
    """Whether a run (of any ledstation process) holds the lock on ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        reply = fcntl.fcntl(fd, F_OFD_GETLK, _flock(fcntl.F_WRLCK))
        return struct.unpack("hhqqi4x", reply)[0] != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


def is_hdf5(path: str | Path) -> bool:
    """Whether ``path`` starts like an HDF5 file (a run file, or another)."""
    try:
        with open(path, "rb") as f:
            return f.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def check_writable_path(path: Path, option: str) -> None:
    """A file name that can be created: not empty, not a directory, in a writable directory."""
    text = str(path)
    if not text.strip() or text.endswith(os.sep):
        raise ConfigError(f"{option}: a file name is needed, got {text!r}")
    if "\x00" in text:
        raise ConfigError(f"{option}: the file name contains a NUL character")
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory")
    if len(path.name.encode("utf-8", "surrogateescape")) > 200:
        raise ConfigError(f"{option} {path}: file name too long")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {parent} is not writable")


class RunFileClaim:
    """The claim of one run on its output name; see the module docstring."""

    def __init__(self, path: str | Path, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.partial_path = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        self.published = False
        self._fd: int | None = None  # the claimed name's file (new placeholder, or the file replaced)
        self._partial_fd: int | None = None  # the run's own file; its lock follows it when published
        self._replaces = False  # the name held a file worth keeping
        self._take()

    def _take(self) -> None:
        path, option = self.path, "--out"
        check_writable_path(path, option)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            new = True
        except FileExistsError:
            new = False
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError as exc:
                raise ConfigError(f"{option} {path}: cannot open ({exc.strerror})") from None
        except OSError as exc:
            raise ConfigError(f"{option} {path}: cannot create ({exc.strerror})") from None
        if not try_lock(fd):
            os.close(fd)
            raise ConfigError(f"{path} is being written by another ledstation run; choose another --out")
        stale = not new and os.fstat(fd).st_size == 0  # left by a run killed before its first point
        if not new and not stale and not self.overwrite:
            os.close(fd)
            raise ConfigError(f"{path} exists; pass --overwrite to replace it")
        self._fd, self._replaces = fd, not new and not stale

    def lock_partial(self) -> None:
        """Lock the partial file the writer has created; the lock follows it when published
        and is held until :meth:`release`."""
        fd = os.open(self.partial_path, os.O_RDWR)
        if not try_lock(fd):
            os.close(fd)
            raise ConfigError(f"{self.partial_path} is locked by another process")
        self._partial_fd = fd

    def publish(self) -> None:
        """Put the partial file under the claimed name (atomic rename) and sync the directory."""
        if self.published:
            return
        if not self.partial_path.exists():
            raise StorageError(f"{self.partial_path}: the run's file was removed while it was being written")
        os.replace(self.partial_path, self.path)
        self.published = True
        _sync_directory(self.path.parent)
        self._drop_name_lock()

    def end(self, keep_unpublished: bool) -> Path | None:
        """At the end of the run: where its file is (None: no file kept).

        An unpublished partial file (no point was written) replaces a new name (a record
        of the failed run) but never an existing file: then it is removed.
        """
        try:
            if self.published:
                return self.path
            if not self.partial_path.exists():
                return None
            if keep_unpublished and not self._replaces:
                self.publish()
                return self.path
            self.partial_path.unlink()
            return None
        finally:
            self._drop_name_lock()
            if not self.published and not self._replaces:
                _remove_if_empty(self.path)

    def release(self) -> None:
        """The run and its file are complete: drop every lock."""
        self._drop_name_lock()
        if self._partial_fd is not None:
            os.close(self._partial_fd)
            self._partial_fd = None

    def __enter__(self) -> RunFileClaim:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.published and self._partial_fd is None:  # the run never started
            self.end(keep_unpublished=False)
        self.release()

    def _drop_name_lock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _remove_if_empty(path: Path) -> None:
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory if str(directory) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
