"""A process's identity and whether it still lives, on every platform (psutil).

A pid alone is no identity: the OS reuses it. With the process's start time it is one
(:func:`started_at`); :func:`same_process` checks both. (On Windows ``os.kill`` with any
signal but the console events *terminates* a process, so nothing here signals anything.)
"""

from __future__ import annotations

import psutil


def started_at(pid: int) -> float | None:
    """When the process ``pid`` started (seconds since the epoch, as the OS keeps it), or None
    when there is no such process."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def same_process(pid: int, started: float | None) -> bool:
    """The process ``pid`` lives, has not ended (a zombie has), and is the one that started at
    ``started`` (None: any process with that pid)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def detached() -> dict:
    """Keyword arguments for ``subprocess.Popen`` that start a process outside the caller's
    terminal: its own session on POSIX (a Ctrl-C or a hang-up of the terminal does not reach it),
    its own process group on Windows (nor does a console's Ctrl+C)."""
    import subprocess
    import sys

    if sys.platform == "win32":  # pragma: no cover - Windows only
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}
