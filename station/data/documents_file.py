"""Read a run's documents from JSON lines (:class:`station.sinks.json_lines.JsonLinesSink`)
back into records: data, never code (:mod:`station.run.documents` checks every field)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from station.core.errors import DataFileError
from station.core.user_files import regular_file_problem
from station.run.documents import RecordDecoder
from station.run.records import Record

#: the longest line read (a start document with a large calibration and dark library)
MAX_LINE_BYTES = 256 * 2**20


def read_documents(path: str | Path) -> Iterator[Record]:
    """The records of a documents file, in order; DataFileError (one line) on the first bad
    line. A last line cut short (the writer was killed mid-line) ends the records quietly."""
    decoder = RecordDecoder()
    problem = regular_file_problem(path)
    if problem:
        raise DataFileError(f"documents file {path}: {problem}")
    with open(path, "rb") as f:  # a regular file (checked): streamed line by line, memory stays flat
        for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(line) > MAX_LINE_BYTES:
                raise DataFileError(f"{path}: line {number} is longer than {MAX_LINE_BYTES} bytes")
            if not line.strip():
                continue
            try:
                document = json.loads(line, parse_constant=_no_constant)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                if not line.endswith(b"\n"):  # the last line, cut short by a killed writer: the run ends there
                    return
                raise DataFileError(f"{path}: line {number} is not JSON ({exc})") from None
            try:
                yield from decoder.feed(document)
            except DataFileError as exc:
                raise DataFileError(f"{path}: line {number}: {exc}") from None


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not standard JSON")
