"""A sink that writes the run's documents (:mod:`station.run.documents`) as JSON lines: one
document a line, standard JSON (no NaN tokens), flushed at every line, so a reader on
another machine (or :func:`station.data.documents_file.read_documents`) follows the run
as it goes and can rebuild its HDF5 file (:func:`station.session.replay.replay_documents`).

It is an essential sink (``essential = True``): it gets every record in order, on the
run's own thread, and a failure to write ends the run as a full disk would; it is never
fed through a queue that could drop events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from station.run.documents import documents_of
from station.run.records import Record, RunStop


class JsonLinesSink:
    """Documents as JSON lines into ``target`` (a path, created new; or an open text stream)."""

    essential = True

    def __init__(self, target: str | Path | IO[str]) -> None:
        if isinstance(target, (str, Path)):
            self._stream: IO[str] = open(target, "x", encoding="utf-8")  # never over an existing file
            self._owned = True
        else:
            self._stream, self._owned = target, False
        self.documents = 0

    def __call__(self, record: Record) -> None:
        for document in documents_of(record):
            self._stream.write(json.dumps(document, allow_nan=False, separators=(",", ":")) + "\n")
            self.documents += 1
        self._stream.flush()
        if isinstance(record, RunStop) and self._owned:
            self._stream.close()

    def close(self) -> None:
        if self._owned and not self._stream.closed:
            self._stream.close()

    def __enter__(self) -> JsonLinesSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def documents_path(run_file: Path) -> Path:
    """Where a run's documents go when the configuration asks for them: beside its file."""
    return run_file.with_name(run_file.name + ".jsonl")


def for_run(run_file: Path, overwrite: bool) -> JsonLinesSink:
    """The registry's factory (``[sinks] extra = ["json_lines"]``): documents beside the run file."""
    path = documents_path(run_file)
    if overwrite and path.is_file() and not path.is_symlink():
        path.unlink()
    return JsonLinesSink(path)


for_run.outputs = lambda run_file: [documents_path(run_file)]  # type: ignore[attr-defined]
