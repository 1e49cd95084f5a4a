"""Terminal sink: a progress bar while a run goes, one line per progress note when not a TTY.

It shows the columns each stream declares for display (with their labels and units) and
names the flags that are set; it knows nothing of any particular procedure.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from station.run.records import Event, Notice, Progress, Record, RunStart, RunStop, Stream


def _fmt(value: float) -> str:
    return format(value, ".4g") if isinstance(value, (int, float)) and math.isfinite(value) else "—"


class TerminalProgress:
    """Progress bar on stderr (or any stream)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval_s: float = 0.0) -> None:
        """``interval_s``: when not a terminal, a progress line at most this often (wall time)."""
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self._last_line_s = -math.inf
        self.width = width
        self.fraction = 0.0
        self.last = ""
        self.points = 0
        self._streams: dict[str, Stream] = {}
        self._main = ""
        self._width_written = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, record: Record) -> None:
        if isinstance(record, Event):
            self._event(record)
            return
        if isinstance(record, RunStart):
            self._streams = {s.name: s for s in record.streams}
            self._main = record.main.stream
            mixed = record.instruments.get("simulated_instruments")
            simulated = f" (SIMULATED: {mixed})" if mixed else ""
            self.stream.write(f"{record.procedure} run {record.run_id[:8]} — {record.geometry} geometry{simulated}\n")
        elif isinstance(record, Progress):
            self.fraction = record.fraction
            filled = int(round(self.width * min(max(self.fraction, 0.0), 1.0)))
            bar = "#" * filled + "." * (self.width - filled)
            line = f"[{bar}] {100 * self.fraction:5.1f}%  {self.points:4d}  {record.message or self.last}"
            if self.tty:  # overwrite the previous bar, padding over any longer line
                self.stream.write("\r" + line.ljust(self._width_written))
                self._width_written = max(self._width_written, len(line))
            elif time.monotonic() - self._last_line_s >= self.interval_s:  # a log: a line per interval
                self._last_line_s = time.monotonic()
                self.stream.write(line + "\n")
        elif isinstance(record, Notice):
            first = record.message.strip().splitlines()[-1:] or [""]
            self.stream.write(("\n" if self.tty else "") + f"{record.level}: {first[0]}\n")
        elif isinstance(record, RunStop):
            self.stream.write(("\n" if self.tty else "") + f"{record.status}: {record.reason} "
                              f"({record.points} points)" + (f"; {record.output}" if record.output else "") + "\n")
        self.stream.flush()

    def _event(self, event: Event) -> None:
        stream = self._streams.get(event.stream)
        if stream is None:
            return
        if event.stream == self._main:
            self.points = event.index + 1
        parts = []
        for name in stream.display:
            column = stream.column(name)
            if any(event.values.get(flag) for flag in column.hidden_by):
                continue
            value = event.values.get(name, math.nan)
            units = column.display_units or column.units
            parts.append(f"{column.label or name}={_fmt(column.display_value(value))}"
                         + (f" {units}" if units not in ("", "1") else ""))
        flags = [stream.column(name).label or name for name in stream.flags if event.values.get(name)
                 and not any(event.values.get(flag) for flag in stream.column(name).hidden_by)]
        self.last = "  ".join(parts + flags)
