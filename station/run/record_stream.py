"""Fan records out to sinks.

Essential sinks (the data file) are called synchronously, in order, and their failure
stops the run. Any other sink should be wrapped in :class:`QueuedSink`, which hands it
records through a bounded queue drained on its own thread, so a slow consumer (a
terminal on a slow link, a live plot, a network publisher) never delays a measurement;
when it cannot keep up, events and progress notes are dropped (counted), never the
start and stop records. A sink that raises is dropped with one log line.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from .records import Event, Notice, Record, RunStart, RunStop, Sink

log = logging.getLogger(__name__)

_CLOSE = object()


class RecordStream:
    """The sinks of one run."""

    def __init__(self) -> None:
        self._sinks: list[tuple[Sink, bool]] = []

    def subscribe(self, sink: Sink, essential: bool = False) -> None:
        self._sinks.append((sink, essential))

    def emit(self, record: Record) -> None:
        """Give ``record`` to every sink. An essential sink's failure is raised: at once for
        events (the point is not stored: nothing else shows it), after every other sink
        has it for the start, notices and the stop (the screen shows how the run ended)."""
        failure: Exception | None = None
        for entry in list(self._sinks):
            sink, essential = entry
            try:
                sink(record)
            except Exception as exc:
                if essential:
                    if isinstance(record, Event):
                        raise
                    failure = failure or exc
                    continue
                log.warning("sink %r failed (%s); removed", sink, exc)
                self._sinks.remove(entry)
        if failure is not None:
            raise failure

    def close(self, timeout_s: float = 5.0) -> None:
        """Let queued sinks finish what they were given (at most ``timeout_s`` each)."""
        for sink, _ in self._sinks:
            if isinstance(sink, QueuedSink):
                sink.close(timeout_s)


#: a queued sink's thread delivers what has come, then waits this long (bounds its wake-ups)
BATCH_INTERVAL_S = 0.02


class QueuedSink:
    """Give records to ``sink`` on its own thread; calling this never blocks."""

    def __init__(self, sink: Sink, max_records: int = 10_000, name: str = "") -> None:
        self.sink = sink
        self.name = name or getattr(sink, "__name__", type(sink).__name__)
        self.dropped = 0
        self.failed = False
        self._queue: queue.Queue = queue.Queue(max_records)
        self._thread = threading.Thread(target=self._drain, name=f"sink-{self.name}", daemon=True)
        self._thread.start()

    def __call__(self, record: Record) -> None:
        if self.failed:
            return
        if isinstance(record, (RunStart, Notice, RunStop)):
            try:  # the start, the notices and the end must arrive; wait a moment for room
                self._queue.put(record, timeout=1.0)
            except queue.Full:
                self.dropped += 1
                log.warning("sink %s is stuck; its %s record was dropped", self.name, type(record).__name__)
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1  # a slow consumer loses events, the measurement never waits

    def _drain(self) -> None:
        """Deliver in batches: after a record, whatever else is queued, then a pause of
        :data:`BATCH_INTERVAL_S`. Waking for every record made this thread take the interpreter
        from the measurement hundreds of times a second (about 10 % per point of a fast sweep,
        ``benchmarks/bench_publish.py``); a batch costs a record at most that much latency."""
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            closing = _CLOSE in batch
            records = [r for r in batch if r is not _CLOSE]
            if records and not self.failed:
                try:
                    deliver = getattr(self.sink, "deliver_batch", None)
                    if deliver is not None:  # a sink that takes several records at once (one send for all)
                        deliver(records)
                    else:
                        for record in records:
                            self.sink(record)
                except Exception as exc:
                    self.failed = True
                    log.warning("sink %s failed (%s); it gets no more records", self.name, exc)
                    log.debug("sink failure", exc_info=True)
            if closing:
                return
            time.sleep(BATCH_INTERVAL_S)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(_CLOSE, timeout=timeout_s)
        except queue.Full:
            log.warning("sink %s did not drain in %.1f s", self.name, timeout_s)
            return
        self._thread.join(timeout_s)
        if self.dropped:
            log.info("sink %s dropped %d records it could not keep up with", self.name, self.dropped)

