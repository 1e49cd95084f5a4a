"""What the analysis needs from a stored run: its parameters and columns, by stream.

``station.data.reader.RunFile`` implements it for run files (format 1 and 2); tests may
implement it in memory. Analysis reads only the columns it needs, and long streams in
chunks, so its memory does not grow with the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class StoredRun(Protocol):
    procedure: str
    parameters: Mapping[str, tuple[Any, str]]  # name -> (value, units)
    main_stream: str

    def stream_names(self) -> list[str]:
        """The run's streams, in the order they were declared."""

    def column_names(self, stream: str | None = None) -> list[str]:
        """The columns of a stream (default: the main stream)."""

    def column_units(self, stream: str | None = None) -> dict[str, str]:
        """Column name -> units."""

    def rows(self, stream: str | None = None) -> int:
        """Rows stored in a stream."""

    def read_columns(self, names: Sequence[str], stream: str | None = None,
                     rows: slice | None = None) -> dict[str, np.ndarray]:
        """Whole columns, or the ``rows`` asked for (float64, or int64 for integer columns)."""

    def iter_chunks(self, names: Sequence[str], stream: str | None = None,
                    chunk_rows: int = 65536) -> Iterator[dict[str, np.ndarray]]:
        """The columns ``chunk_rows`` rows at a time."""


def last_row(run: StoredRun, names: Sequence[str], stream: str) -> dict[str, Any] | None:
    """The last stored row of ``stream`` (None when it has none), read alone."""
    rows = run.rows(stream)
    if not rows:
        return None
    return {name: values[0].item() for name, values in run.read_columns(names, stream, slice(rows - 1, rows)).items()}


def parameter_values(run: StoredRun) -> dict[str, Any]:
    """Parameter name -> value."""
    return {name: value for name, (value, _units) in run.parameters.items()}
