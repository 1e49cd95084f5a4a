"""A run's documents (JSON lines) written into an HDF5 run file, as the run itself would have
written it: the same writer, the same analysis, the same end. What crosses a process or a
network can become the file."""

from __future__ import annotations

from pathlib import Path

from station.core.errors import DataFileError
from station.core.signals import INTERRUPTS
from station.data.documents_file import read_documents
from station.data.file_claim import RunFileClaim
from station.data.reader import RunFile
from station.data.writer import HDF5RunWriter, finish_file
from station.run.records import FAILED, Event, RunStart, RunStop

from . import RunOutcome, analyze_run


def replay_documents(documents: str | Path, out: str | Path, overwrite: bool = False) -> RunOutcome:
    """Write the run held in ``documents`` into ``out`` (claimed as a run's ``--out`` is)."""
    claim = RunFileClaim(out, overwrite)
    with claim:
        writer = HDF5RunWriter(claim.partial_path, finalise=False, claim=claim)
        start: RunStart | None = None
        stop: RunStop | None = None
        rows: dict[str, int] = {}
        last_s = float("nan")
        try:
            for record in read_documents(documents):
                if stop is not None:
                    raise DataFileError(f"{documents}: records after the run's stop")
                writer(record)
                if isinstance(record, RunStart):
                    start, last_s = record, record.start_time_s
                elif isinstance(record, Event):
                    rows[record.stream] = rows.get(record.stream, 0) + 1
                    last_s = max(last_s, record.values.get("time_s", last_s))
                elif isinstance(record, RunStop):
                    stop = record
            if stop is None and start is not None:  # a run killed (or still going): said so, as `recover` does
                stop = RunStop(FAILED, "the documents end before the run's stop (killed, or still running)", last_s,
                               rows, start.main.stream, "", False)
                writer(stop)
        finally:
            with INTERRUPTS.shielded():
                writer.abort_file()
                final = claim.end(keep_unpublished=True)
        if start is None or final is None:
            raise DataFileError(f"{documents}: the run has no start document, or no point")
        analysis = analyze_run(RunFile.written_by(final, start, stop.status, stop.reason))
        finish_file(final, stop, analysis)
    return RunOutcome(final, stop, analysis, "", stop.output_confirmed_off, stop.output)
