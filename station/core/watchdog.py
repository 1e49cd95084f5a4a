"""Calls to an instrument that may hang, made on a worker thread with a time-out.

A hung USB or serial call cannot be cancelled from Python. The caller stops waiting
after the time-out (and can switch the source off); the worker thread stays blocked
(a daemon thread: it never keeps the process alive) and the worker refuses further
calls. A caller that is told to stop (``stop()`` true, looked at every
:data:`STOP_POLL_S`) stops waiting at once and raises :class:`RunAborted`; the call
goes on on the worker, which later calls wait for (:meth:`idle`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import InstrumentFault, RunAborted

T = TypeVar("T")

#: how often a waiting caller looks at its stop flag, s
STOP_POLL_S = 0.05


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

    def call(self, function: Callable[[], T], timeout_s: float, stop: Callable[[], bool] | None = None) -> T:
        """``function()`` on the worker; :class:`InstrumentFault` if it takes longer than
        ``timeout_s``, :class:`RunAborted` as soon as ``stop()`` is true."""
        if self.hung:
            raise InstrumentFault(f"{self.name} is not answering (an earlier call never returned)")
        if not self.idle(timeout_s):  # an aborted caller left a call running
            self.hung = True
            raise InstrumentFault(f"{self.name} did not finish an earlier reading within {timeout_s:g} s")
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"watchdog-{self.name}", daemon=True)
            self._thread.start()
        call = _Call(function)
        self._busy = call
        self._requests.put(call)
        if not self._wait(call, timeout_s, stop):
            self.hung = True
            raise InstrumentFault(f"{self.name} did not answer within {timeout_s:g} s")
        self._busy = None
        if call.error is not None:
            raise call.error
        return call.value

    def _wait(self, call: _Call, timeout_s: float, stop: Callable[[], bool] | None) -> bool:
        if stop is None:
            return call.done.wait(timeout_s)
        deadline = time.monotonic() + timeout_s
        while not call.done.wait(min(STOP_POLL_S, max(deadline - time.monotonic(), 0.0))):
            if stop():
                raise RunAborted(f"aborted while {self.name} was measuring (its reading is left to finish)")
            if time.monotonic() >= deadline:
                return False
        return True

    def idle(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) for a call left running by an interrupted caller."""
        call = self._busy
        return call is None or call.done.wait(timeout_s)

    def close(self) -> None:
        if self._thread is not None and not self.hung:
            self._requests.put(None)
