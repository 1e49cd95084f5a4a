"""The window's queue of runs, run one after another on a worker thread (no Qt here).

Each queued run is a procedure name and its parameter values, checked when it is added
(:func:`procedures.parameters.build_procedure`, the command line's check) and again when
it starts. Each run writes its own file, named by the queue's pattern in its folder,
and never over an existing file (a name taken gets ``-2``, ``-3`` ...). A failed run does not stop the queue unless
``stop_on_failure``; an abort stops the run and the queue.

The station is opened for each run and closed after it, as the command line does, so
whatever ends a run (finish, failure, abort, emergency stop, window close) leaves the
output switched off and read back before the next run or the window's exit.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procedures import procedure_class
from procedures.parameters import build_procedure
from station.core.errors import ConfigError, StationError, one_line
from station.data.name_pattern import format_name, inside, pattern_fields
from station.run.runner import ProcedureRunner
from station.session.plan import execute, plan_run
from station.setup.config import StationConfig
from station.setup.station import Station
from station.sinks.live_data import LiveRunData

log = logging.getLogger(__name__)

#: the default file name pattern: fields {procedure}, {n}, {date}, {time}, {title} and any parameter
DEFAULT_PATTERN = "{date}-{time}-{n:03d}-{procedure}.h5"
QUEUED, RUNNING, FINISHED, ABORTED, FAILED, SKIPPED = "queued", "running", "finished", "aborted", "failed", "skipped"


@dataclass
class QueuedRun:
    procedure: str
    values: dict[str, Any]
    title: str = ""
    state: str = QUEUED
    path: Path | None = None
    reason: str = ""

    def describe(self) -> str:
        where = f" -> {self.path.name}" if self.path is not None else ""
        reason = f" ({self.reason})" if self.reason and self.state != QUEUED else ""
        return f"[{self.state}] {self.procedure} {self.title}".rstrip() + where + reason


PATTERN_OPTION = "file name pattern"


def check_pattern(pattern: str, procedure: str, values: dict[str, Any]) -> None:
    """ConfigError unless ``pattern`` names only known fields, plainly formatted, and gives a
    .h5 name inside the folder (:mod:`station.data.name_pattern`)."""
    pattern_fields(pattern, {"procedure", "n", "date", "time", "title", *values}, PATTERN_OPTION)
    for title in ("", "a title"):
        name = _format(pattern, procedure, values, 1, title, dt.datetime(2000, 1, 1))
        if not name.endswith(".h5"):
            raise ConfigError(f"{PATTERN_OPTION} {pattern!r} must give a name ending in .h5")
        inside(Path("folder"), name, PATTERN_OPTION)


def _format(pattern: str, procedure: str, values: dict[str, Any], n: int, title: str, now: dt.datetime) -> str:
    fields = {k: v for k, v in values.items() if v is not None}
    return format_name(pattern, {**fields, "procedure": procedure, "n": n, "date": f"{now:%Y%m%d}",
                                 "time": f"{now:%H%M%S}", "title": title}, PATTERN_OPTION)


def free_name(path: Path) -> Path:
    """``path``, or ``name-2.h5``, ``name-3.h5`` ... if it exists: the window never
    replaces a file, and a queue left to run must not stop on a name taken."""
    candidate, k = path, 1
    while candidate.exists() or candidate.is_symlink():
        k += 1
        candidate = path.with_name(f"{path.stem}-{k}{path.suffix}")
    return candidate


class RunQueue:
    """Runs queued procedures in order on a worker thread (see the module docstring)."""

    def __init__(self, config: StationConfig, folder: str | Path, pattern: str = DEFAULT_PATTERN,
                 stop_on_failure: bool = False,
                 opener: Callable[[StationConfig], Station] | None = None,
                 on_station_closed: Callable[[Station], None] | None = None) -> None:
        self.config = config
        self.folder = Path(folder)
        self.pattern = pattern
        self.stop_on_failure = stop_on_failure
        self.items: list[QueuedRun] = []
        self.live = LiveRunData()
        self.current: QueuedRun | None = None
        self.station: Station | None = None
        self.runs_started = 0
        self._opener = opener
        self._on_station_closed = on_station_closed  # the command line keeps what each shutdown confirmed
        self._lock = threading.Lock()
        self._runner: ProcedureRunner | None = None
        self._abort: tuple[str, bool] | None = None
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()
        self.finished.set()

    # --- editing ----------------------------------------------------------------------
    def check(self, procedure: str, values: dict[str, Any]) -> None:
        """ConfigError (one line) if the run cannot be queued: parameters, pattern, folder."""
        build_procedure(procedure_class(procedure), values, self.config)
        check_pattern(self.pattern, procedure, values)

    def add(self, procedure: str, values: dict[str, Any], title: str = "") -> QueuedRun:
        self.check(procedure, values)
        item = QueuedRun(procedure, dict(values), title)
        with self._lock:
            self.items.append(item)
        return item

    def duplicate(self, index: int, changes: dict[str, Any] | None = None) -> QueuedRun:
        """A copy of item ``index`` with some values changed, queued right after it."""
        source = self.items[index]
        values = {**source.values, **(changes or {})}
        self.check(source.procedure, values)
        item = QueuedRun(source.procedure, values, source.title)
        with self._lock:
            self.items.insert(index + 1, item)
        return item

    def remove(self, index: int) -> None:
        with self._lock:
            if self.items[index].state == RUNNING:
                raise ConfigError("the running run cannot be removed; abort it first")
            del self.items[index]

    def move(self, index: int, to: int) -> None:
        with self._lock:
            item = self.items.pop(index)
            self.items.insert(max(0, min(to, len(self.items))), item)

    def pending(self) -> list[QueuedRun]:
        return [i for i in self.items if i.state == QUEUED]

    # --- running ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def start(self) -> None:
        """Run the queued runs in order (returns at once)."""
        if self.running:
            return
        self._abort = None
        self.finished.clear()
        self._thread = threading.Thread(target=self._work, name="run-queue", daemon=True)
        self._thread.start()

    def abort(self, emergency: bool = False) -> None:
        """Stop the current run (output off: ramped, or at once for ``emergency``) and the queue."""
        reason = "emergency stop by the operator" if emergency else "aborted by the operator"
        with self._lock:
            self._abort = (reason, emergency) if self._abort is None or emergency else self._abort
            runner = self._runner
        if runner is not None:
            runner.abort(reason, emergency)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the queue to stop; True if it did."""
        return self.finished.wait(timeout_s)

    def _attach(self, runner: ProcedureRunner) -> None:
        with self._lock:
            self._runner = runner
            abort = self._abort
        if abort is not None:
            runner.abort(*abort)

    def _next(self) -> QueuedRun | None:
        with self._lock:
            if self._abort is not None:
                return None
            for item in self.items:
                if item.state == QUEUED:
                    item.state = RUNNING
                    self.current = item
                    return item
        return None

    def _work(self) -> None:
        try:
            while (item := self._next()) is not None:
                try:
                    self._run(item)
                except StationError as exc:
                    item.state, item.reason = FAILED, one_line(exc)
                except Exception as exc:  # noqa: BLE001 - one run's failure is reported, the window goes on
                    log.exception("run failed")
                    item.state, item.reason = FAILED, one_line(exc)
                self.live.log(f"{item.procedure}: {item.state}" + (f" ({item.reason})" if item.reason else "")
                              + (f"; {item.path}" if item.path else ""))
                if item.state == FAILED and self.stop_on_failure:
                    break
        finally:
            with self._lock:
                self.current, self._runner = None, None
            self.finished.set()

    def file_for(self, item: QueuedRun, n: int) -> Path:
        """The run's file: the pattern filled in, inside the folder (or ConfigError)."""
        name = _format(self.pattern, item.procedure, item.values, n, item.title, dt.datetime.now())
        return inside(self.folder, name, PATTERN_OPTION)

    def _run(self, item: QueuedRun) -> None:
        self.runs_started += 1
        out = free_name(self.file_for(item, self.runs_started))
        item.path = out
        plan = plan_run(item.procedure, item.values, self.config, out, title=item.title, out_option=PATTERN_OPTION)

        def opened(station: Station) -> None:
            self.station = station

        def closed(station: Station) -> None:
            with self._lock:
                self._runner = None
            if self._on_station_closed is not None:
                self._on_station_closed(station)

        outcome = execute(plan, [self.live], opener=self._opener, on_station=opened, on_station_closed=closed,
                          on_runner=self._attach)
        item.path = outcome.path
        item.state, item.reason = outcome.status, outcome.reason
        if outcome.path is None:
            item.reason = f"{item.reason}; no point was measured, no file kept"
