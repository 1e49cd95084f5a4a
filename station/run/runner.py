"""Run one procedure against a station, streaming records to sinks.

The runner plays pymeasure's Worker (``startup``/``execute``/``shutdown``, an abort
flag the procedure polls) but it sends records to any number of sinks instead of a CSV
file, and it guarantees the order: CIE tables loaded and darks recorded with the output
off, the start record (every stream declared), the events, then - whatever happened -
the output off and a stop record with the run's status and reason. It keeps no data:
only a row counter per stream.
"""

from __future__ import annotations

import logging
import signal
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

import station
from drivers.light_meter import DarkLibrary, LightDescription
from drivers.spectral_result import SpectralResult
from station.analysis.stored_run import StoredRun
from station.core import cie
from station.core.errors import ConfigError, RunAborted, StationError
from station.core.errors import one_line as _one_line
from station.core.signals import INTERRUPTS, REASONS, Terminated
from station.core.stop_flag import StopFlag
from station.setup.station import Station

from .record_stream import RecordStream
from .records import ABORTED, FAILED, FINISHED, Event, MainCurve, Notice, Progress, RunStart, RunStop, Sink, Stream

log = logging.getLogger(__name__)


class RunnableProcedure(Protocol):
    """What the runner needs of a procedure (``procedures.base.StationProcedure``)."""

    NAME: str
    stop_reason: str

    def streams(self) -> Sequence[Stream]: ...
    def main_curve(self) -> MainCurve: ...
    def parameters_with_units(self) -> dict[str, tuple[Any, str]]: ...
    def bind(self, run: ProcedureRunner) -> None: ...
    def startup(self) -> None: ...
    def execute(self) -> None: ...
    def shutdown(self) -> None: ...
    def noticed(self, message: str, level: str) -> None: ...
    def ending(self, status: str, reason: str) -> None: ...


@dataclass(frozen=True)
class Resume:
    """What continuing a stored run needs: its start record, the rows per stream it holds,
    a function that copies those rows into the new file (before any new row), the stored
    run (the procedure rebuilds its state from it) and the gap since it ended."""

    start: RunStart
    counts: Mapping[str, int]
    replay: Callable[[], None]
    stored: StoredRun
    gap_s: float
    output_left_on: bool


class ProcedureRunner:
    """Runs one procedure once. ``abort()`` may be called from another thread."""

    def __init__(self, procedure: RunnableProcedure, station: Station,
                 sinks: Sequence[Sink | tuple[Sink, bool]] = (), title: str = "",
                 resume: Resume | None = None, run_id: str = "") -> None:
        """``run_id``: the run's identity in its file and documents (default: a new one; the
        agent gives the one its registry knows the run by)."""
        self.procedure = procedure
        self.run_id = run_id or uuid.uuid4().hex
        self.resume = resume
        self._dark_offset = 0  # a resumed run's dark spectra follow the stored run's
        self.station = station
        self.title = title
        self.stream = RecordStream()
        for entry in sinks:
            sink, essential = entry if isinstance(entry, tuple) else (entry, False)
            self.stream.subscribe(sink, essential)
        self._abort = StopFlag()  # lock-free: a signal handler sets it (see station.core.signals)
        self._emergency = False
        self._abort_reason = ""
        self._signal: int | None = None  # the signal that stopped the run (re-raised after its end)
        self._streams: dict[str, Stream] = {}
        self._columns: dict[str, frozenset[str]] = {}
        self._counts: dict[str, int] = {}
        self.start_record: RunStart | None = None
        self.stop_record: RunStop | None = None

    # --- what the procedure calls ---------------------------------------------------
    def abort(self, reason: str = "aborted by the operator", emergency: bool = False) -> None:
        """Stop the run (from any thread): every wait of the station ends at once (a light
        reading in progress is left to finish on its own thread), then the end of the run
        as always. ``emergency``: no ramp to zero, the output straight off."""
        self._abort_reason = self._abort_reason or reason
        self._emergency = self._emergency or emergency
        self._abort.set()
        self.station.stop_requested.set()

    def should_stop(self) -> bool:
        return self._abort.is_set()

    def _on_signal(self, signum: int) -> None:
        """From the signal handler: stop as the window's Abort does (flags only, no lock)."""
        if self._signal is None:
            self._signal = signum
            self._abort_reason = self._abort_reason or REASONS.get(signum, f"signal {signum}")
        self._abort.set()
        self.station.stop_requested.set()

    def record(self, stream: str, values: Mapping[str, float], spectrum: SpectralResult | None = None) -> int:
        """Emit one row of ``stream``; returns its row number."""
        declared = self._columns.get(stream)
        if declared is None:
            raise ValueError(f"procedure recorded to undeclared stream {stream!r}")
        unknown = [name for name in values if name not in declared]
        if unknown:
            raise ValueError(f"stream {stream!r} has no columns {unknown}")
        if spectrum is not None and not self._streams[stream].spectra:
            raise ValueError(f"stream {stream!r} was not declared with spectra")
        index = self._counts[stream]
        if self._dark_offset and values.get("dark_index", -1) >= 0:
            values = {**values, "dark_index": values["dark_index"] + self._dark_offset}
        self.stream.emit(Event(stream, index, values, spectrum))
        self._counts[stream] = index + 1  # counted once the file (the essential sink) has it
        return index

    def progress(self, fraction: float, message: str = "", values: Mapping[str, float] | None = None) -> None:
        self.stream.emit(Progress(fraction, message, dict(values or {})))

    def notice(self, message: str, level: str = "warning") -> None:
        """Something the run met and went on from; stored in the file, shown on screen."""
        self.stream.emit(Notice(self.station.clock.now(), message, level))

    def _driver_notice(self, message: str) -> None:
        """A notice a driver posts (a retried reading); the procedure may record it too."""
        self.notice(message)
        self.procedure.noticed(message, "warning")

    # --- the run --------------------------------------------------------------------
    def _declare(self) -> tuple[tuple[Stream, ...], MainCurve]:
        streams = tuple(self.procedure.streams())
        names = [s.name for s in streams]
        if not streams or len(set(names)) != len(names):
            raise ValueError(f"procedure {self.procedure.NAME} must declare uniquely named streams, got {names}")
        main = self.procedure.main_curve()
        if main.stream not in names:
            raise ValueError(f"main curve stream {main.stream!r} is not declared")
        missing = [c for c in main.columns if c not in streams[names.index(main.stream)].column_names]
        if missing:
            raise ValueError(f"main curve columns {missing} are not in stream {main.stream!r}")
        self._streams = {s.name: s for s in streams}
        self._columns = {s.name: frozenset(s.column_names) for s in streams}
        self._counts = dict.fromkeys(names, 0)
        return streams, main

    def _start(self, streams: tuple[Stream, ...], main: MainCurve, provenance: dict[str, str]) -> RunStart:
        st = self.station
        light = st.light.describe() if st.light is not None else None
        return RunStart(
            run_id=self.run_id, procedure=self.procedure.NAME, title=self.title,
            parameters=self.procedure.parameters_with_units(), streams=streams, main=main, light=light,
            geometry=st.geometry, pixel_area_cm2=st.config.pixel_area_cm2, config_text=st.config.text,
            config_source=st.config.source, instruments=st.identities(), software_version=station.__version__,
            start_time_s=st.clock.now(), durability_interval_s=st.config.durability_interval_s,
            provenance=provenance, sample=st.config.sample_metadata(),
            second_channel=st.photodiode.describe() if st.photodiode is not None else None,
            plots=type(self.procedure).plots(), figure_set=type(self.procedure).FIGURE_SET)

    def run(self) -> RunStop:
        """Run to the end. Ctrl-C and SIGTERM stop it as an abort does (at the procedure's
        next stop check or station wait) and are re-raised after the stop record.

        Whatever ends the run, the end runs shielded from further signals: the procedure's
        shutdown, the output switched off and read back, the stop record (status, reason,
        what the shutdown confirmed) to every sink.
        """
        procedure, st = self.procedure, self.station
        streams, main = self._declare()
        provenance = cie.provenance()  # CIE tables loaded now, never at the first lit point
        procedure.bind(self)
        st.smu.notice = self._driver_notice  # transient faults the driver retried
        status, reason, interrupt = FINISHED, "", None
        listener = INTERRUPTS.listen(self._on_signal)  # a signal already held stops the run at once
        if not self._abort.is_set():
            st.stop_requested.clear()  # a station reused after an aborted run waits again
        try:
            st.prepare_light()  # darks need the output off, so before startup
            if self.resume is None:
                self.start_record = self._start(streams, main, provenance)
                self.stream.emit(self.start_record)
            else:
                self._continue(streams)
            if self._abort.is_set():  # aborted while the station opened or took its darks: never switch on
                raise RunAborted("aborted before the drive went on")
            st.verify_pixel()  # the switch still connects this run's pixel, read back before the output goes on
            procedure.startup()
            procedure.execute()
            reason = procedure.stop_reason or "completed"
            if self._abort.is_set():
                status, reason = ABORTED, self._abort_reason
        except KeyboardInterrupt as exc:
            status, reason, interrupt = ABORTED, REASONS[signal.SIGINT], exc
        except Terminated as exc:
            status, reason, interrupt = ABORTED, REASONS[signal.SIGTERM], exc
        except Exception as exc:
            status, reason = FAILED, _one_line(exc)
            log.debug("procedure failed", exc_info=True)
            if self._abort.is_set():  # the abort ended a wait (RunAborted) or what followed it
                status, reason = ABORTED, self._abort_reason
                exc = None if isinstance(exc, RunAborted) else exc
            if exc is not None and not isinstance(exc, StationError):  # unexpected: keep its traceback in the file
                self._emit_quietly(Notice(st.clock.now(), "".join(traceback.format_exception(exc))[-4000:], "error"))
        finally:
            INTERRUPTS.unlisten(listener)
            with INTERRUPTS.shielded():
                try:
                    self._end(status, reason, main)
                finally:
                    st.smu.notice = _log_notice  # the run's stream is closed; later notices go to the log
        if interrupt is None and self._signal is not None:
            interrupt = INTERRUPTS.take_held()  # the signal stopped the run: the caller learns of it now
        if interrupt is not None:
            raise interrupt
        assert self.stop_record is not None
        return self.stop_record

    def _continue(self, streams: tuple[Stream, ...]) -> None:
        """A resumed run: the stored start (the darks of both sessions), the stored rows copied,
        then the procedure's state rebuilt from them."""
        resume = self.resume
        assert resume is not None
        if tuple(s.column_names for s in streams) != tuple(s.column_names for s in resume.start.streams):
            raise ConfigError("the stored run's streams differ from this version's procedure: it cannot be resumed")
        light = _merged_light(resume.start.light, self.station.light.describe()) if self.station.light else None
        old_darks = resume.start.light.darks if resume.start.light is not None else None
        self._dark_offset = len(old_darks.integration_time_s) if old_darks is not None else 0
        self.start_record = replace(resume.start, light=light, instruments={**resume.start.instruments,
                                                                            **self.station.identities()},
                                    durability_interval_s=self.station.config.durability_interval_s)
        # the state first: once the copy holds the stored rows it replaces the stored file
        self.procedure.resume_from(resume.stored, resume.gap_s, resume.output_left_on)  # type: ignore[attr-defined]
        self.stream.emit(self.start_record)
        resume.replay()
        self._counts.update(resume.counts)

    def _end(self, status: str, reason: str, main: MainCurve) -> None:
        st = self.station
        if self.start_record is not None:
            try:
                self.procedure.ending(status, reason)
            except Exception as exc:  # noqa: BLE001 - the file may be what failed; the stop record still goes out
                log.debug("procedure end hook failed: %s", _one_line(exc))
        if not self._emergency:
            try:
                self.procedure.shutdown()
            except Exception as exc:  # noqa: BLE001 - the station switches the output off below anyway
                log.warning("procedure shutdown failed (%s); switching the output off directly", _one_line(exc))
        report = st.ensure_output_off(ramp=not self._emergency)
        if not report.confirmed:
            status, reason = FAILED, f"{reason}; OUTPUT NOT CONFIRMED OFF"
        self.stop_record = RunStop(status, reason, st.clock.now(), dict(self._counts), main.stream,
                                   output=report.summary(), output_confirmed_off=report.confirmed)
        self.stream.emit(self.stop_record)

    def _emit_quietly(self, record: Notice) -> None:
        try:
            self.stream.emit(record)
        except Exception:  # noqa: BLE001 - the file may be what failed
            log.debug("could not record the notice", exc_info=True)


def _merged_light(stored: LightDescription | None, now: LightDescription) -> LightDescription:
    """The light instrument of a resumed run: the stored axis and calibration, the dark
    library of both sessions (the new readings' dark rows follow the stored ones)."""
    if stored is None:
        return now
    if len(stored.axis.wavelength_nm) != len(now.axis.wavelength_nm) or stored.axis.quantity != now.axis.quantity:
        raise ConfigError(f"the light instrument ({now.identity}) is not the one the run used ({stored.identity})")
    if stored.darks is None or now.darks is None:
        return replace(stored, darks=stored.darks or now.darks)
    darks = DarkLibrary(np.concatenate([stored.darks.integration_time_s, now.darks.integration_time_s]),
                        np.vstack([stored.darks.spectra, now.darks.spectra]), stored.darks.units)
    return replace(stored, darks=darks)


def _log_notice(message: str) -> None:
    log.warning("%s", message)
