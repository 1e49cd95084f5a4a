"""Terminal sink: a progress bar while a run goes, one line per point when not a TTY."""

from __future__ import annotations

import math
import sys
from typing import TextIO

from .records import Point, Progress, Record, RunStart, RunStop


def _fmt(value: float, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "—"


class TerminalProgress:
    """Progress bar on stderr (or any stream)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.fraction = 0.0
        self.last = ""
        self.points = 0
        self._width_written = 0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, record: Record) -> None:
        if isinstance(record, RunStart):
            self.stream.write(f"{record.procedure} run {record.run_id[:8]} — {record.geometry} geometry\n")
        elif isinstance(record, Point):
            v = record.values
            self.points = record.index + 1
            self.last = f"V={_fmt(v['voltage_V'], '.3f')} V  J={_fmt(v['current_density_mA_cm2'], '.4g')} mA/cm^2  "
            if v.get("low_light"):
                self.last += "light below detection"
            else:
                self.last += f"L={_fmt(v['luminance_cd_m2'], '.4g')} cd/m^2  EQE={_fmt(100 * v['eqe'], '.2f')} %"
        elif isinstance(record, Progress):
            self.fraction = record.fraction
            filled = int(round(self.width * min(max(self.fraction, 0.0), 1.0)))
            bar = "#" * filled + "." * (self.width - filled)
            line = f"[{bar}] {100 * self.fraction:5.1f}%  {self.points:4d}  {self.last}"
            if self.tty:  # overwrite the previous bar, padding over any longer line
                self.stream.write("\r" + line.ljust(self._width_written))
                self._width_written = max(self._width_written, len(line))
            else:
                self.stream.write(line + "\n")
        elif isinstance(record, RunStop):
            self.stream.write(("\n" if self.tty else "") + f"{record.status}: {record.reason} "
                              f"({record.points} points)\n")
        self.stream.flush()
