"""Who may write a run file, and how a new run replaces an old one without risking it.

A run **claims** its ``--out`` before any instrument is opened: a new name is created
empty (``O_EXCL``, so of two runs started together one is refused at once) and locked;
an existing file (``--overwrite``) is locked as it is. The run writes into a hidden
partial file next to it (``.NAME.<token>.partial``) and **publishes** it - one atomic
``rename`` over the name - once its first point is flushed and fsync'd. A run that fails
before that leaves an old file untouched (and a new name holding a record of the failed
run). Readers that have the old file open keep reading the old file.

Only regular files are ever claimed or replaced: a device, a FIFO or a socket named by
``--out`` is refused before it is opened. A new name is created holding
:data:`PLACEHOLDER`, the station's own mark: an unlocked file holding exactly that is what
a run killed before its first point leaves, and a new run may take it over without
``--overwrite``; any other file, an empty one included, needs ``--overwrite``. A run that
ends without a point removes the name only if it created it and it still holds its mark.

Locks are Linux open-file-description record locks (``F_OFD_SETLK``): they belong to
this claim's open file, are released by the kernel when the process dies (kill -9
included), and do not interfere with HDF5's own ``flock`` locks. Another ledstation
process sees them: it refuses to write, overwrite or ``recover`` a file being written.
While a claim is held the process holds its signals (:mod:`station.core.signals`).
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import secrets
import stat
import struct
from collections.abc import Sequence
from pathlib import Path

from station.core.errors import ConfigError, StorageError
from station.core.signals import INTERRUPTS

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
PARTIAL_SUFFIX = ".partial"
#: the partial file of a resumed run: a copy of the file it resumes, then the new points
RESUME_COPY_SUFFIX = ".resume-partial"
#: what a claim writes into a name it creates, until the run's file takes the name
PLACEHOLDER = b"ledstation placeholder: the run that claimed this name has not written its first point\n"
#: open a name without blocking on a FIFO and without following it into a terminal
_OPEN_QUIETLY = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
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
    if not is_regular(path):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_QUIETLY)
    except OSError:
        return False
    try:
        reply = fcntl.fcntl(fd, F_OFD_GETLK, _flock(fcntl.F_WRLCK))
        return struct.unpack("hhqqi4x", reply)[0] != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


def is_regular(path: str | Path) -> bool:
    """Whether ``path`` is an existing regular file (symbolic links followed)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _head(path: str | Path, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file (None: not one, or unreadable)."""
    if not is_regular(path):
        return None
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return None


def is_hdf5(path: str | Path) -> bool:
    """Whether ``path`` is a regular file that starts like an HDF5 file (a run file, or another)."""
    return _head(path, 8) == HDF5_SIGNATURE


def is_placeholder(path: str | Path) -> bool:
    """Whether ``path`` holds a claim's mark and nothing else (a run before its first point)."""
    return _head(path, len(PLACEHOLDER) + 1) == PLACEHOLDER


def check_writable_path(path: Path, option: str) -> None:
    """A file name that can be created: not empty, not a directory or any other non-regular
    file (device, FIFO, socket), in a writable directory."""
    text = str(path)
    if not text.strip() or text.endswith(os.sep):
        raise ConfigError(f"{option}: a file name is needed, got {text!r}")
    if "\x00" in text:
        raise ConfigError(f"{option}: the file name contains a NUL character")
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory")
    if (path.exists() or path.is_symlink()) and not is_regular(path):
        raise ConfigError(f"{option} {path}: is not a regular file (a device, FIFO, socket or broken link); the "
                          "station writes only regular files")
    if len(path.name.encode("utf-8", "surrogateescape")) > 200:
        raise ConfigError(f"{option} {path}: file name too long")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {parent} is not writable")


class RunFileClaim:
    """The claim of one run on its output name; see the module docstring."""

    def __init__(self, path: str | Path, overwrite: bool = False, resume: bool = False) -> None:
        """``resume``: the run copies the file it replaces (``ledstation resume``); its partial
        file is a :data:`RESUME_COPY_SUFFIX` file, and such copies left by a resume killed
        before its copy took the name are removed (they hold nothing the file does not)."""
        self.path = Path(path)
        self.overwrite = overwrite
        suffix = RESUME_COPY_SUFFIX if resume else PARTIAL_SUFFIX
        self.partial_path = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}{suffix}")
        self.published = False
        self._fd: int | None = None  # the claimed name's file (new placeholder, or the file replaced)
        self._partial_fd: int | None = None  # the run's own file; its lock follows it when published
        self._replaces = False  # the name held a file worth keeping
        self._created: tuple[int, int] | None = None  # (device, inode) of the placeholder this claim made
        INTERRUPTS.hold(self)  # released with the claim: a signal stops the run at a safe point
        try:
            self._take()
        except BaseException:
            INTERRUPTS.release(self)
            raise

    def _take(self) -> None:
        path, option = self.path, "--out"
        check_writable_path(path, option)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            new = True
        except FileExistsError:
            new = False
            try:
                fd = os.open(path, os.O_RDWR | _OPEN_QUIETLY)
            except OSError as exc:
                raise ConfigError(f"{option} {path}: cannot open ({exc.strerror})") from None
        except OSError as exc:
            raise ConfigError(f"{option} {path}: cannot create ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # replaced by a device or FIFO since it was checked
                raise ConfigError(f"{option} {path}: is not a regular file; the station writes only regular files")
            if new:
                os.write(fd, PLACEHOLDER)
                self._created = (st.st_dev, st.st_ino)
            if not try_lock(fd):
                raise ConfigError(f"{path} is being written by another ledstation run; choose another --out")
            stale = not new and _holds_placeholder(fd)  # left by a run killed before its first point
            if not new and not stale and not self.overwrite:
                raise ConfigError(f"{path} exists; pass --overwrite to replace it")
        except BaseException:
            os.close(fd)
            if self._created is not None:
                _remove_own_placeholder(path, self._created)
            raise
        self._fd, self._replaces = fd, not new and not stale
        self._remove_stale_resume_copies()

    def _remove_stale_resume_copies(self) -> None:
        """Copies of this name made by a resume that died before its copy took the name: the
        name is locked by this claim now, so no living run writes them."""
        for copy in self.path.parent.glob(f".{glob.escape(self.path.name)}.*{RESUME_COPY_SUFFIX}"):
            if copy == self.partial_path or not is_regular(copy) or being_written(copy):
                continue
            head = _head(copy, 8)
            if head in (b"", HDF5_SIGNATURE):
                try:
                    copy.unlink()
                except OSError:
                    pass

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
            if not self.published and self._created is not None:
                _remove_own_placeholder(self.path, self._created)

    def release(self) -> None:
        """The run and its file are complete: drop every lock."""
        self._drop_name_lock()
        if self._partial_fd is not None:
            os.close(self._partial_fd)
            self._partial_fd = None
        INTERRUPTS.release(self)

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


def _holds_placeholder(fd: int) -> bool:
    """Whether the open file holds a claim's mark and nothing else."""
    try:
        if os.fstat(fd).st_size != len(PLACEHOLDER):
            return False
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, len(PLACEHOLDER)) == PLACEHOLDER
    except OSError:
        return False


def _remove_own_placeholder(path: Path, created: tuple[int, int]) -> None:
    """Remove the name only if it is still the placeholder this claim created (same file, its
    mark and nothing else): a run deletes only what it created."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == created and stat.S_ISREG(st.st_mode) and is_placeholder(path):
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


def check_files(writes: Sequence[tuple[str, Path | None]], reads: Sequence[tuple[str, Path | None]] = ()) -> None:
    """Every file a command writes is none of the files it reads and none of the others it
    writes (``(option, path)`` pairs; a path of None is left out): one line, exit 2."""
    written = [(o, p) for o, p in writes if p is not None]
    for i, (option, path) in enumerate(written):
        for other_option, other in [*[(o, p) for o, p in reads if p is not None], *written[:i]]:
            if same_file(path, other):
                raise ConfigError(f"{option} {path}: is also {other_option}; a command never writes over a file it "
                                  "reads or writes twice")


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False
