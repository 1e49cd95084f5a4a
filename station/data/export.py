"""A stream's scalar columns as CSV, with units, written in chunks."""

from __future__ import annotations

import csv
from pathlib import Path

from .reader import RunFile

CHUNK_ROWS = 65536


def export_csv(run: RunFile, out: str | Path, stream: str | None = None) -> int:
    """Write ``stream`` (default: the main stream) of ``run`` to ``out``; returns the rows written."""
    stream = stream or run.main_stream
    names = run.column_names(stream)
    units = run.column_units(stream)
    rows = 0
    with open(out, "w", newline="") as f:
        f.write(f"# {Path(run.path).name}: {run.procedure}, stream {stream}, status {run.status} ({run.reason})\n")
        writer = csv.writer(f)
        writer.writerow([f"{name} ({units.get(name, '')})" for name in names])
        for chunk in run.iter_chunks(names, stream, CHUNK_ROWS):
            text = [[repr(float(v)) for v in chunk[name]] if chunk[name].dtype.kind == "f"
                    else [str(int(v)) for v in chunk[name]] for name in names]
            writer.writerows(zip(*text, strict=True))
            rows += len(text[0]) if text else 0
    return rows

