"""A stop flag that a signal handler may set: no lock, ever.

``threading.Event`` takes a lock in ``set`` and ``clear``; a signal handler runs in the
main thread between two bytecodes, possibly while that thread holds the same lock, and
would then wait for itself for ever. Every wait of the station polls its stop flag
(:data:`station.core.clock.WAIT_SLICE_S`, :data:`station.core.watchdog.STOP_POLL_S`), so a
plain attribute, read and written atomically under the GIL, is all a stop needs.
"""

from __future__ import annotations


class StopFlag:
    """Set from any thread or a signal handler; polled by whoever waits."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set
