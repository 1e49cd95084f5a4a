"""Ctrl-C and SIGTERM: the first one ends the run, none can interrupt the shutdown.

The command line installs :data:`INTERRUPTS` for the length of a command. The first
SIGINT or SIGTERM raises ``KeyboardInterrupt`` or :class:`Terminated` in the main
thread, so every ``finally`` (output off, file closed) runs; from that moment every
further signal is only counted (and acknowledged on stderr), never raised, so a second
Ctrl-C cannot escape the ramp to zero or the output-off read-back.

Code that must finish once begun (the end of a run: output off and confirmed, the
file's final status) runs inside :meth:`Interrupts.shielded`: a signal arriving there is
held and raised when the outermost shield is left, after the work is done.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread like KeyboardInterrupt."""

    exit_code = 143


EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


class Interrupts:
    """The process's SIGINT/SIGTERM policy (one instance: :data:`INTERRUPTS`)."""

    def __init__(self) -> None:
        self.received: list[int] = []  # every signal, in order
        self._raised = False  # the first signal has been raised: all later ones are held
        self._depth = 0  # nesting of shielded sections
        self._installed = False

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    def exit_code(self) -> int | None:
        """130 or 143 for the first signal received, None if none."""
        return EXIT_CODES.get(self.first) if self.first is not None else None

    def _handler(self, signum: int, frame) -> None:  # noqa: ARG002
        self.received.append(signum)
        if self._raised or self._depth:
            # os.write, not print: a handler may run inside another write to stderr
            os.write(2, f"\nledstation: {NAMES.get(signum, signum)} received; switching the output off "
                        "and closing the file first\n".encode())
            return
        self._raised = True
        raise _exception(signum)

    @contextmanager
    def installed(self, hold_after: bool = False) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM this way while the block runs (main thread only).

        ``hold_after`` (a program about to exit): once a signal has arrived, later ones
        are ignored after the block too, so the rest of a burst cannot change the exit code.
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
                signal.signal(s, signal.SIG_IGN if hold_after and self.received else handler)

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Hold signals while the block runs; raise the first held one when the outermost
        shield is left (unless one was raised already)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._installed and self.received and not self._raised:
            self._raised = True
            raise _exception(self.received[0])


#: the process-wide instance the command line installs and the runner shields with
INTERRUPTS = Interrupts()

