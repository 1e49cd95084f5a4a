"""A measurement session: run a procedure into a run file, then its figures of merit.

Front ends plan and execute runs with :mod:`station.session.plan` (``plan_run``,
``execute``); this module holds what that uses: the runner with the data file as its
essential sink and any other sinks behind queues; at the end the figures of merit
computed from the stored columns by the procedure's own ``analyze`` (the same routine
``ledstation analyze`` and ``recover`` use) and stored in the file.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from procedures import procedure_class
from procedures.base import StationProcedure
from station.analysis import figure_units
from station.analysis.stored_run import StoredRun, last_row
from station.analysis.summary import run_summary
from station.core.errors import StorageError
from station.core.signals import INTERRUPTS
from station.data.file_claim import RunFileClaim
from station.data.reader import RunFile
from station.data.writer import HDF5RunWriter, finish_file
from station.run.record_stream import QueuedSink
from station.run.records import FAILED, Notice, RunStop, Sink
from station.run.runner import ProcedureRunner, Resume
from station.setup.config import StationConfig
from station.setup.station import Station

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """How a run ended and what its stored data gives (``path`` None: no file was kept,
    e.g. a failed ``--overwrite`` run that left the old file as it was)."""

    path: Path | None
    stop: RunStop
    analysis: dict[str, Any] = field(default_factory=dict)
    #: the file failed after the run's own end (a full disk at the last write): why the
    #: outcome is "failed" although the run's stop record said otherwise ("" if not)
    file_problem: str = ""
    #: the output read back as off at the run's end and when the station closed (execute)
    output_confirmed_off: bool = True
    #: what the last shutdown confirmed, in words
    output: str = ""
    #: the pixel measured (a station with a pixel switch), by name
    pixel: str | None = None

    @property
    def status(self) -> str:
        return self.stop.status

    @property
    def reason(self) -> str:
        return self.stop.reason

    @property
    def points(self) -> int:
        return self.stop.points

    @property
    def figures(self) -> dict[str, Any]:
        """Figures of merit by name (units: :attr:`units`)."""
        return self.analysis.get("figures", {})

    @property
    def units(self) -> dict[str, str]:
        return self.analysis.get("units", {})


def simulated_device_state(run_file: Path) -> Path:
    """Where the simulated bench keeps the device of a resumable run (next to its file)."""
    return run_file.with_name(f".{run_file.name}.simulated-device")


def config_for_run(config: StationConfig, cls: type[StationProcedure], out: Path) -> StationConfig:
    """The configuration a run into ``out`` uses: on the simulated bench a resumable
    procedure's device outlives the program, in a state file next to the run file, and a
    new run starts with a fresh device (``resume``, or ``[simulation] keep_device``,
    continues the kept one); a dark procedure opens no light instrument."""
    if not cls.USES_LIGHT:
        config = config.without_light()
    if getattr(cls, "RESUMABLE", False) and config.uses_simulation:
        return dataclasses.replace(config, simulated_device_state=str(simulated_device_state(out)),
                                   simulated_device_fresh=True)
    return config


def analyze_run(run: StoredRun, regions: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Figures of merit of a stored run, by its procedure's ``analyze`` (``regions``: voltage
    ranges that replace the detected ones, for a procedure whose ``analyze`` takes them).

    A run of a procedure this installation does not know gets the chunked summary. A
    procedure whose analysis is a flat mapping (lifetime, cycling) also gets its scalars as
    ``figures`` with ``units`` (from their names), so they are printed, stored in the file
    and compared across a batch like a sweep's.
    """
    try:
        cls = procedure_class(run.procedure)
    except KeyError:
        return {"summary": run_summary(run)}
    analysis = cls.analyze(run, regions=regions) if regions else cls.analyze(run)  # type: ignore[call-arg]
    if "figures" not in analysis and "summary" not in analysis:
        figures = {k: (math.nan if v is None else float(v)) for k, v in analysis.items()
                   if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}
        figures.update({k: v for k, v in analysis.items() if isinstance(v, str) and not k.endswith("_units")})
        analysis = {**analysis, "figures": figures, "units": {k: units_from_name(k, analysis) for k in figures}}
    return analysis


def units_from_name(name: str, analysis: dict[str, Any]) -> str:
    """A figure's units from its name (``L0`` and ``peak_light`` in the run's light units)."""
    if name in ("L0", "peak_light") or name.startswith("light_"):
        return str(analysis.get("L0_units", ""))
    return figure_units.units_from_name(name)


#: sample fields a batch can be grouped by
GROUP_FIELDS = ("batch", "substrate", "device_structure")


def batch_device(path: str | Path, by: str = "batch") -> Any:
    """A run file as a device of a batch (:class:`station.analysis.batch.Device`), in the group
    its sample field ``by`` names; figures from the run's own analysis of its stored columns."""
    from station.analysis.batch import Device
    from station.data.reader import read_run

    run = read_run(path)
    sample = run.metadata.get("sample", {})
    analysis = analyze_run(run) if run.points else {}
    figures = {k: float(v) for k, v in analysis.get("figures", {}).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    label = "/".join(sample[k] for k in ("substrate", "pixel") if sample.get(k)) or Path(path).stem
    return Device(label, str(path), sample.get(by, "") or "(none)", run.status, run.reason, figures,
                  dict(analysis.get("units", {})))


def unique_labels(devices: Sequence[Any]) -> list[Any]:
    """The devices with labels told apart: a label two runs share (the same pixel measured
    twice) gets the file's name, or its path when the names are the same too."""
    labels = [d.label for d in devices]
    out = []
    for d in devices:
        if labels.count(d.label) > 1:
            names = [Path(e.path).name for e in devices if e.label == d.label]
            name = Path(d.path).name
            d = dataclasses.replace(d, label=f"{d.label} ({name if names.count(name) == 1 else d.path})")
        out.append(d)
    return out


def batch_devices(paths: Sequence[str | Path], by: str = "batch") -> list[Any]:
    """:func:`batch_device` of every file, with :func:`unique_labels`."""
    return unique_labels([batch_device(p, by) for p in paths])


def run_to_file(procedure: StationProcedure, station: Station, path: str | Path | RunFileClaim, *,
                overwrite: bool = False, sinks: Sequence[Sink] = (), title: str = "",
                queue_sinks: bool = True, resume_from: RunFile | None = None,
                on_runner: Callable[[ProcedureRunner], None] | None = None, run_id: str = "") -> RunOutcome:
    """Run ``procedure`` on ``station`` into a new run file and analyse it (``run_id``: its
    identity, default a new one).

    ``path`` is the file to write or a :class:`RunFileClaim` taken on it before the
    instruments were opened (the command line does that). The run writes a partial file
    that takes the name at its first point (see :mod:`station.data.file_claim`).
    ``sinks`` (terminal, plot ...) get the records through a :class:`QueuedSink` unless
    ``queue_sinks`` is false. Ctrl-C and SIGTERM are re-raised after the file is closed
    with its status and its figures; nothing after the run's end can be interrupted.
    ``on_runner`` gets the runner before it starts (the window keeps it to abort the run).
    """
    claim = path if isinstance(path, RunFileClaim) else RunFileClaim(path, overwrite)
    writer = HDF5RunWriter(claim.partial_path, finalise=False, claim=claim)
    # a sink that says it is essential (a documents file) gets every record on the run's thread;
    # the others go through a queue that never makes the measurement wait
    extra = [(s, True) if getattr(s, "essential", False) else (QueuedSink(s) if queue_sinks else s, False)
             for s in sinks]
    resume = _resume(resume_from, writer, station) if resume_from is not None else None
    the_runner = ProcedureRunner(procedure, station, [(writer, True), *extra], title, resume=resume, run_id=run_id)
    if on_runner is not None:
        on_runner(the_runner)
    analysis: dict[str, Any] = {}
    final: Path | None = None
    stop: RunStop | None = None
    try:
        stop = the_runner.run()
    except StorageError as exc:  # the file failed at the very end; the runner's stop record is out
        if the_runner.stop_record is None:
            raise
        stop = _failed(the_runner.stop_record, exc)
    finally:
        with INTERRUPTS.shielded():
            the_runner.stream.close()
            writer.abort_file()
            final = claim.end(keep_unpublished=True)
            if writer.rescued_path is not None:
                final = writer.rescued_path
            start, end = the_runner.start_record, the_runner.stop_record
            if final is not None and start is not None and end is not None:
                try:
                    analysis = analyze_run(RunFile.written_by(final, start, end.status, end.reason))
                except Exception:  # noqa: BLE001 - the data are safe; `ledstation analyze` can try again
                    log.warning("could not analyse %s", final, exc_info=True)
                if not writer.storage_failed:  # after a disk or file failure, nothing more is written
                    try:
                        finish_file(final, end, analysis)
                    except Exception as exc:  # noqa: BLE001 - the points are safe; figures were printed
                        log.warning("could not store the figures in %s: %s", final, exc)
            claim.release()
    assert stop is not None
    if writer.storage_failed and stop.status != FAILED:
        stop = _failed(stop, StorageError(f"{final or claim.path}: the disk or the file failed at the end"))
    said = the_runner.stop_record
    problem = stop.reason if said is not None and (stop.status, stop.reason) != (said.status, said.reason) else ""
    return RunOutcome(final, stop, analysis, problem, stop.output_confirmed_off, stop.output)


def resumable(run: RunFile) -> tuple[type[StationProcedure], bool]:
    """The procedure class of a stored run that can be resumed, and whether its process
    left the output on (it died before its shutdown); ConfigError (exit 2) if it cannot."""
    from station.core.errors import ConfigError

    try:
        cls = procedure_class(run.procedure)
    except KeyError:
        raise ConfigError(f"{run.path}: procedure {run.procedure!r} is unknown to this installation") from None
    if not getattr(cls, "RESUMABLE", False):
        raise ConfigError(f"{run.path}: a {run.procedure} run cannot be resumed (only lifetime and cycling runs)")
    if run.status == "finished":
        raise ConfigError(f"{run.path}: the run finished ({run.reason}); nothing to resume")
    return cls, "output confirmed off" not in run.output_state


def _resume(run: RunFile, writer: HDF5RunWriter, station: Station) -> Resume:
    from station.data.recovery import events_of, run_start_of

    _, left_on = resumable(run)
    streams = run.stream_names()
    counts = {s: run.rows(s) for s in streams}
    last = run.metadata["start_time_s"]
    for s in streams:
        row = last_row(run, ["time_s"], s) if "time_s" in run.column_names(s) else None
        if row is not None and np.isfinite(row["time_s"]):
            last = max(last, float(row["time_s"]))
    notices = stored_notices(run)

    def replay() -> None:
        writer.copy_events(itertools.chain.from_iterable(events_of(run, s) for s in streams), notices)

    gap_s = max(station.clock.now() - last, 0.0)
    return Resume(run_start_of(run), counts, replay, run, gap_s, left_on)


def stored_notices(run: RunFile) -> list[Notice]:
    return [Notice(t, message, level) for t, level, message in run.notices()]


def _failed(stop: RunStop, exc: BaseException) -> RunStop:
    return RunStop(FAILED, f"{exc} (after: {stop.reason})", stop.end_time_s, stop.events, stop.main_stream,
                   stop.output, stop.output_confirmed_off)


def recover_and_analyze(path: str | Path, out: str | Path, overwrite: bool = False) -> RunOutcome:
    """``ledstation recover``: a complete copy of a crashed file, with its figures."""
    from station.data.recovery import recover

    copy = recover(path, out, overwrite=overwrite)
    analysis = analyze_run(copy) if copy.points else {}
    stop = RunStop(copy.status, copy.reason, copy.metadata["end_time_s"],
                   {s: copy.rows(s) for s in copy.stream_names()}, copy.main_stream)
    finish_file(out, stop, analysis if copy.points else None)
    return RunOutcome(Path(out), stop, analysis)
