"""Clocks that procedures read time from.

Procedures never call :mod:`time` directly; they take a :class:`Clock`. On hardware that
is :class:`WallClock`. On the simulated bench it is :class:`VirtualClock`, whose
``sleep`` advances virtual time at once, so a 500-hour lifetime test runs in seconds
while the simulated LED ages by the full 500 hours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What procedures and drivers need from a clock."""

    def now(self) -> float:
        """Seconds since the Unix epoch (wall time or its virtual equivalent)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals."""

    def sleep(self, seconds: float) -> None:
        """Wait for ``seconds``."""


class WallClock:
    """Real time, for hardware."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Simulated time: ``sleep`` advances time immediately.

    Observers registered with :meth:`on_advance` are called after each advance, which is
    how the simulated LED ages with virtual time.
    """

    def __init__(self, start_epoch_s: float | None = None) -> None:
        self._start = time.time() if start_epoch_s is None else float(start_epoch_s)
        self._elapsed_s = 0.0
        self._lock = threading.Lock()
        self._observers: list[Callable[[float], None]] = []

    @property
    def elapsed_s(self) -> float:
        """Virtual seconds since the clock was created."""
        return self._elapsed_s

    def now(self) -> float:
        return self._start + self._elapsed_s

    def monotonic(self) -> float:
        return self._elapsed_s

    def sleep(self, seconds: float) -> None:
        if seconds != seconds or seconds < 0:  # NaN or negative
            raise ValueError(f"cannot sleep for {seconds!r} s")
        with self._lock:
            self._elapsed_s += float(seconds)
            elapsed = self._elapsed_s
        for observer in list(self._observers):
            observer(elapsed)

    def on_advance(self, observer: Callable[[float], None]) -> None:
        """Call ``observer(elapsed_s)`` after every advance of virtual time."""
        self._observers.append(observer)
