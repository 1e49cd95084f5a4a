"""The few numbers a rack view shows of a run, kept in a small JSON file beside it.

A run process started by the agent feeds this sink; the agent reads the file when a window
asks for its channels, so a rack of 64 channels costs each run one small write a second and
no network round trip. What it keeps (each NaN until the run gives it):

* ``fraction`` and ``message``: the run's last progress;
* ``relative_light``: the last L/L0 of the main stream, when the procedure has one
  (a lifetime's monitor, a cycling run's cycles);
* ``predicted_percent``, ``predicted_s``, ``predicted_low_s``, ``predicted_high_s``: the
  lifetime's running T_x prediction (its 95 % interval);
* ``elapsed_s``: the run's own time (its main stream's ``elapsed_s`` column, on the station
  clock, so an accelerated simulated bench reads true), else wall time since the start;
* ``remaining_s``: from the progress, ``elapsed * (1 - f) / f``; NaN before any progress.

It is not essential (the runner drops what it cannot take rather than slow the run), and the
file is replaced whole, never half-written. It is a display aid: the run file is the record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.core.json_files import write_json
from station.run.records import Event, Progress, Record, RunStart, RunStop

#: the file is rewritten at most this often, s (and at the start and the stop)
WRITE_INTERVAL_S = 1.0
#: the progress values the summary keeps (the lifetime's prediction)
PREDICTION_KEYS = ("predicted_percent", "predicted_s", "predicted_low_s", "predicted_high_s")


class RunSummarySink:
    """Keeps the run's summary and writes it to ``path`` (atomically) at most every ``interval_s``."""

    essential = False

    def __init__(self, path: str | Path, interval_s: float = WRITE_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.interval_s = interval_s
        self.clock = clock
        self.summary: dict[str, Any] = {}
        self._main_stream = self._signal = ""
        self._started = math.nan
        self._written = -math.inf

    def __call__(self, record: Record) -> None:
        if isinstance(record, RunStart):
            self._main_stream, self._signal = record.main.stream, record.main.signal
            self._started = self.clock()
            self.summary = {"procedure": record.procedure, "title": record.title, "status": "running",
                            "fraction": math.nan, "message": "", "relative_light": math.nan,
                            **dict.fromkeys(PREDICTION_KEYS, math.nan), "elapsed_s": 0.0, "remaining_s": math.nan}
            self._write()
            return
        if not self.summary:
            return
        if isinstance(record, Event):
            if record.stream != self._main_stream:
                return
            if self._signal == "relative_light":
                self.summary["relative_light"] = float(record.values.get("relative_light", math.nan))
            elapsed = record.values.get("elapsed_s", math.nan)
            if math.isfinite(elapsed):
                self.summary["run_elapsed_s"] = float(elapsed)
        elif isinstance(record, Progress):
            self.summary["fraction"], self.summary["message"] = float(record.fraction), record.message
            for key in PREDICTION_KEYS:
                self.summary[key] = float(record.values.get(key, math.nan))
        elif isinstance(record, RunStop):
            self.summary["status"] = record.status
            self.summary["reason"] = record.reason
            self._write()
            return
        if self.clock() - self._written >= self.interval_s:
            self._write()

    def _write(self) -> None:
        summary = self.summary
        elapsed = summary.get("run_elapsed_s", self.clock() - self._started)
        summary["elapsed_s"] = elapsed
        fraction = summary["fraction"]
        summary["remaining_s"] = (elapsed * (1 - fraction) / fraction
                                  if summary["status"] == "running" and 0 < fraction < 1 else math.nan)
        write_json(self.path, {k: _plain(v) for k, v in summary.items()}, durable=False)
        self._written = self.clock()


def _plain(value: Any) -> Any:
    """JSON has no NaN: a value that is not finite is None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
