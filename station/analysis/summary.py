"""Per-stream summary of any run, read in chunks: memory stays flat however long the run.

The default analysis of a procedure that defines no figures of merit of its own, and
the part of ``ledstation analyze`` every run has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .stored_run import StoredRun

#: rows read at a time
CHUNK_ROWS = 65536


@dataclass
class ColumnSummary:
    """Running statistics of one column (NaN values are counted, not used)."""

    units: str
    count: int = 0
    finite: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    total: float = 0.0
    first: float = math.nan
    last: float = math.nan

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        values = np.asarray(values, dtype=float)
        if self.count == 0:
            self.first = float(values[0])
        self.last = float(values[-1])
        self.count += len(values)
        finite = values[np.isfinite(values)]
        if len(finite):
            self.finite += len(finite)
            self.minimum = min(self.minimum, float(finite.min()))
            self.maximum = max(self.maximum, float(finite.max()))
            self.total += float(finite.sum())

    def as_dict(self) -> dict[str, Any]:
        has = self.finite > 0
        return {"units": self.units, "rows": self.count, "finite": self.finite,
                "min": self.minimum if has else math.nan, "max": self.maximum if has else math.nan,
                "mean": self.total / self.finite if has else math.nan, "first": self.first, "last": self.last}


def stream_summary(run: StoredRun, stream: str, chunk_rows: int = CHUNK_ROWS) -> dict[str, dict[str, Any]]:
    """Column name -> rows, finite values, min, max, mean, first and last value."""
    units = run.column_units(stream)
    names = run.column_names(stream)
    summaries = {name: ColumnSummary(units.get(name, "")) for name in names}
    for chunk in run.iter_chunks(names, stream, chunk_rows):
        for name, values in chunk.items():
            summaries[name].add(values)
    return {name: summary.as_dict() for name, summary in summaries.items()}


def run_summary(run: StoredRun, chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Rows per stream and the summary of every stream."""
    return {"rows": {stream: run.rows(stream) for stream in run.stream_names()},
            "streams": {stream: stream_summary(run, stream, chunk_rows) for stream in run.stream_names()}}
