"""A measurement session: run a procedure into a run file, then its figures of merit.

The one place that puts the pieces together for the command line, the tests and (later)
the window: the runner with the data file as its essential sink and any other sinks
behind queues; at the end the figures of merit computed from the stored columns by the
procedure's own ``analyze`` (the same routine ``ledstation analyze`` and ``recover``
use) and stored in the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procedures import procedure_class
from procedures.base import StationProcedure
from station.analysis.stored_run import StoredRun
from station.analysis.summary import run_summary
from station.data.reader import RunFile
from station.data.writer import HDF5RunWriter, finish_file
from station.run.record_stream import QueuedSink
from station.run.records import RunStop, Sink
from station.run.runner import ProcedureRunner
from station.setup.station import Station

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """How a run ended and what its stored data gives."""

    path: Path
    stop: RunStop
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.stop.status

    @property
    def reason(self) -> str:
        return self.stop.reason

    @property
    def points(self) -> int:
        return self.stop.points


def analyze_run(run: StoredRun) -> dict[str, Any]:
    """Figures of merit of a stored run, by its procedure's ``analyze``.

    A run of a procedure this installation does not know gets the chunked summary.
    """
    try:
        cls = procedure_class(run.procedure)
    except KeyError:
        return {"summary": run_summary(run)}
    return cls.analyze(run)


def run_to_file(procedure: StationProcedure, station: Station, path: str | Path, *, overwrite: bool = False,
                sinks: Sequence[Sink] = (), title: str = "", queue_sinks: bool = True) -> RunOutcome:
    """Run ``procedure`` on ``station`` into a new run file and analyse it.

    ``sinks`` (terminal, plot ...) get the records through a :class:`QueuedSink` unless
    ``queue_sinks`` is false. Ctrl-C and SIGTERM are re-raised after the file is closed
    with its status and its figures.
    """
    path = Path(path)
    writer = HDF5RunWriter(path, overwrite=overwrite, finalise=False)
    extra = [(QueuedSink(s) if queue_sinks else s, False) for s in sinks]
    the_runner = ProcedureRunner(procedure, station, [(writer, True), *extra], title)
    analysis: dict[str, Any] = {}
    try:
        stop = the_runner.run()
    finally:
        the_runner.stream.close()
        writer.abort_file()
        start, end = the_runner.start_record, the_runner.stop_record
        if start is not None and end is not None and path.exists():
            try:
                analysis = analyze_run(RunFile.written_by(path, start, end.status, end.reason))
            except Exception:  # the data are safe; `ledstation analyze` can try again
                log.exception("could not analyse %s", path)
            finish_file(path, end, analysis)
    return RunOutcome(path, stop, analysis)


def recover_and_analyze(path: str | Path, out: str | Path, overwrite: bool = False) -> RunOutcome:
    """``ledstation recover``: a complete copy of a crashed file, with its figures."""
    from station.data.recovery import recover

    copy = recover(path, out, overwrite=overwrite)
    analysis = analyze_run(copy) if copy.points else {}
    stop = RunStop(copy.status, copy.reason, copy.metadata["end_time_s"],
                   {s: copy.rows(s) for s in copy.stream_names()}, copy.main_stream)
    finish_file(out, stop, analysis if copy.points else None)
    return RunOutcome(Path(out), stop, analysis)
