"""Ctrl-C and SIGTERM: the first one ends the run, none can hang or cut the shutdown short.

The command line installs :data:`INTERRUPTS` for the length of a command. What a signal
does depends on what the process holds at that instant:

* **Nothing that needs a clean end** (no station, run file or writer open): the first
  SIGINT or SIGTERM raises ``KeyboardInterrupt`` or :class:`Terminated` in the main thread
  at once, as Python's own handler would.
* **A station, a run file claim or a writer** (each *holds* the process while it lives,
  :meth:`Interrupts.hold`): the handler raises nothing. CPython raises a signal's
  exception at an arbitrary bytecode, also just after ``with lock:`` has taken a lock and
  before the block that releases it is entered, so a raise there could leave a lock held
  for ever that the shutdown needs (the simulated clock's, the writer's condition). The
  handler only records the signal and sets the stop flags of its listeners
  (:meth:`Interrupts.listening`, lock-free :class:`~station.core.stop_flag.StopFlag`
  objects): every station wait ends within its poll interval, and the run raises the
  signal's exception itself at a safe point (:meth:`Interrupts.check`) or ends as
  aborted and re-raises it after the output is off and the file closed.

From the first signal on every further signal is only counted (and acknowledged on
stderr), never raised, so a second Ctrl-C cannot escape the ramp to zero or the
output-off read-back. Code that must finish once begun (the end of a run) runs inside
:meth:`Interrupts.shielded`; a signal held there is raised when the outermost shield is
left.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread like KeyboardInterrupt."""

    exit_code = 143


EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
#: the run's end reason for each signal
REASONS = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}


def exception_for(signum: int) -> BaseException:
    """The exception a signal becomes: ``KeyboardInterrupt`` or :class:`Terminated`."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


class Interrupts:
    """The process's SIGINT/SIGTERM policy (one instance: :data:`INTERRUPTS`)."""

    def __init__(self) -> None:
        self.received: list[int] = []  # every signal, in order
        self._raised = False  # the first signal has been raised: all later ones are held
        self._depth = 0  # nesting of shielded sections
        self._holders: set[int] = set()  # ids of what holds the process (no raise in the handler)
        self._listeners: dict[int, Callable[[int], None]] = {}
        self._keys = itertools.count()
        self._raising = 0  # nesting of prompts a signal must end (:meth:`raising`)
        self._installed = False

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def exit_code(self) -> int | None:
        """130 or 143 for the first signal received, None if none."""
        return EXIT_CODES.get(self.first) if self.first is not None else None

    @property
    def active(self) -> bool:
        """The handlers are installed (a command is running)."""
        return self._installed

    @property
    def held(self) -> bool:
        """A signal has arrived and its exception has not been raised yet."""
        return bool(self.received) and not self._raised

    def _handler(self, signum: int, frame) -> None:  # noqa: ARG002
        # runs in the main thread between two bytecodes: no lock, no allocation worth the name
        self.received.append(signum)
        for listener in tuple(self._listeners.values()):
            listener(signum)
        if self._raised or self._depth or (self._holders and not self._raising):
            first = len(self.received) == 1
            # os.write, not print: a handler may run inside another write to stderr
            os.write(2, (f"\nledstation: {NAMES.get(signum, signum)} received; "
                         + ("stopping: " if first else "") + "switching the output off and closing the file "
                         "first\n").encode())
            return
        self._raised = True
        raise exception_for(signum)

    @contextmanager
    def installed(self, hold_after: bool = False) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM this way while the block runs (main thread only).

        ``hold_after`` (a program about to exit): signals are ignored after the block, so
        the rest of a burst (or a late Ctrl-C) cannot change the exit code or print a
        traceback while the interpreter shuts down.
        """
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self.received, self._raised, self._depth = [], False, 0
        previous = {s: signal.signal(s, self._handler) for s in (signal.SIGINT, signal.SIGTERM)}
        self._installed = True
        try:
            yield self
        finally:
            self._installed = False
            for s, handler in previous.items():
                signal.signal(s, signal.SIG_IGN if hold_after else handler)

    # --- what holds the process, and who listens -------------------------------------
    def hold(self, holder: object) -> None:
        """``holder`` (a station, a claim, a writer) needs a clean end: until :meth:`release`,
        a signal raises nothing in the handler (see the module docstring)."""
        self._holders.add(id(holder))  # set.add is one bytecode: atomic for the handler

    def release(self, holder: object) -> None:
        self._holders.discard(id(holder))

    @property
    def holding(self) -> bool:
        return bool(self._holders)

    def listen(self, on_signal: Callable[[int], None]) -> int:
        """Call ``on_signal(signum)`` from the handler at every signal (and at once for a
        signal already held) until :meth:`unlisten`. It must take no lock: set flags."""
        key = next(self._keys)
        self._listeners[key] = on_signal
        if self.held and self.first is not None:
            on_signal(self.first)
        return key

    def unlisten(self, key: int) -> None:
        self._listeners.pop(key, None)

    @contextmanager
    def listening(self, on_signal: Callable[[int], None]) -> Iterator[None]:
        """:meth:`listen` while the block runs."""
        key = self.listen(on_signal)
        try:
            yield
        finally:
            self.unlisten(key)

    # --- safe points ------------------------------------------------------------------
    def check(self) -> None:
        """A safe point: raise the held signal's exception here (outside any shield)."""
        if self._installed and self.held and not self._depth:
            self._raised = True
            raise exception_for(self.received[0])

    def take_held(self) -> BaseException | None:
        """The held signal's exception, for the caller to raise (None if none is held)."""
        if not self.held:
            return None
        self._raised = True
        return exception_for(self.received[0])

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Hold signals while the block runs; raise the first held one when the outermost
        shield is left (unless one was raised already)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._installed and self.held:
            self._raised = True
            raise exception_for(self.received[0])

    @contextmanager
    def raising(self) -> Iterator[None]:
        """A blocking wait for the user (a prompt) that a signal must be able to end even
        while the process is held: nothing of ours holds a lock here."""
        self.check()
        self._raising += 1
        try:
            yield
        finally:
            self._raising -= 1


#: the process-wide instance the command line installs and the runner shields with
INTERRUPTS = Interrupts()
