"""Calls to an instrument that may hang, made on a worker thread with a time-out.

A hung USB or serial call cannot be cancelled from Python. The caller stops waiting
after the time-out (and can switch the source off); the worker thread stays blocked
(a daemon thread: it never keeps the process alive) and the worker refuses further
calls.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import InstrumentFault

T = TypeVar("T")


class _Call:
    __slots__ = ("function", "done", "value", "error")

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Watchdog:
    """One worker thread; :meth:`call` waits at most ``timeout_s`` for each call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hung = False
        self._requests: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._busy: _Call | None = None
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while True:
            call = self._requests.get()
            if call is None:
                return
            try:
                call.value = call.function()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                call.error = exc
            call.done.set()

    def call(self, function: Callable[[], T], timeout_s: float) -> T:
        """``function()`` on the worker; :class:`InstrumentFault` if it takes longer than ``timeout_s``."""
        if self.hung:
            raise InstrumentFault(f"{self.name} is not answering (an earlier call never returned)")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"watchdog-{self.name}", daemon=True)
            self._thread.start()
        call = _Call(function)
        self._busy = call
        self._requests.put(call)
        if not call.done.wait(timeout_s):
            self.hung = True
            raise InstrumentFault(f"{self.name} did not answer within {timeout_s:g} s")
        self._busy = None
        if call.error is not None:
            raise call.error
        return call.value

    def idle(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) for a call left running by an interrupted caller."""
        call = self._busy
        return call is None or call.done.wait(timeout_s)

    def close(self) -> None:
        if self._thread is not None and not self.hung:
            self._requests.put(None)
