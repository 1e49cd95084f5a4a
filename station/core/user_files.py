"""Files the user names for the station to read: regular files only, of bounded size.

A FIFO, a device or a socket given as a configuration, a calibration or a reference
would block the reader for ever or feed it without end; a directory cannot be read.
Each is refused in one line before anything is read (the error class is the caller's:
:class:`~station.core.errors.ConfigError`, :class:`~station.core.errors.CalibrationError`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError, StationError

#: a configuration, a calibration, a certificate or a reference is text of a few hundred kB at most
MAX_USER_FILE_BYTES = 64 * 2**20


def regular_file_problem(path: str | Path) -> str:
    """Why ``path`` is not an existing regular file the station may read ("" if it is)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "cannot read (no such file)"
    except OSError as exc:
        return f"cannot read ({exc.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, FIFO or socket)"
    return ""


def read_user_file(path: str | Path, what: str, error: type[StationError] = ConfigError,
                   max_bytes: int = MAX_USER_FILE_BYTES) -> bytes:
    """The bytes of a regular file the user named; ``error`` (one line naming ``what``) otherwise."""
    problem = regular_file_problem(path)
    if problem:
        raise error(f"{what} {path}: {problem}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the check and the open
            raise error(f"{what} {path}: is not a regular file (a device, FIFO or socket)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise error(f"{what} {path}: larger than {max_bytes // 2**20} MB; not a file of this kind")
    return data
