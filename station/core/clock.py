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

    def wait(self, seconds: float, should_stop: Callable[[], bool]) -> bool:
        """Wait for ``seconds`` unless ``should_stop()`` becomes true (checked at least every
        :data:`WAIT_SLICE_S` of real time); False when stopped early."""


#: longest a waiting procedure goes without looking at its abort flag, in real time
WAIT_SLICE_S = 0.2


class WallClock:
    """Real time, for hardware."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, seconds: float, should_stop: Callable[[], bool]) -> bool:
        end = time.monotonic() + seconds
        while (remaining := end - time.monotonic()) > 0:
            if should_stop():
                return False
            time.sleep(min(remaining, WAIT_SLICE_S))
        return not should_stop()


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

    def wait(self, seconds: float, should_stop: Callable[[], bool]) -> bool:
        """Virtual time passes at once: one advance (the abort flag is looked at before)."""
        if should_stop():
            return False
        if seconds > 0:
            self.sleep(seconds)
        return True

    def on_advance(self, observer: Callable[[float], None]) -> None:
        """Call ``observer(elapsed_s)`` after every advance of virtual time."""
        self._observers.append(observer)
