"""Run a procedure against a station, streaming records to sinks.

The runner plays pymeasure's Worker: it patches ``emit`` and ``should_stop`` into the
procedure and calls ``startup``/``execute``/``shutdown``. Unlike the Worker it sends
records to any number of sinks (HDF5 file, terminal, live plot) instead of a CSV file,
and it guarantees the order: darks with the output off, the start record, the points,
then - whatever happened - the output off and a stop record with the run's status.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from drivers.spectral_result import SPECTRAL_FLUX, UNITS, SpectralResult
from drivers.sphere_spectrometer import SphereSpectrometer
from station import __version__
from station.instruments import Station
from station.records import (
    ABORTED,
    FAILED,
    FINISHED,
    Point,
    Progress,
    RecordStream,
    RunStart,
    RunStop,
    Sink,
    SpectrumAxis,
)
from station.signals import Terminated

from .sweep_base import SweepProcedure

log = logging.getLogger(__name__)


class ProcedureRunner:
    """Runs one procedure once. ``abort()`` may be called from another thread."""

    def __init__(self, procedure: SweepProcedure, station: Station, sinks: list[tuple[Sink, bool]],
                 title: str = "") -> None:
        self.procedure = procedure
        self.station = station
        self.title = title
        self.stream = RecordStream()
        for sink, essential in sinks:
            self.stream.subscribe(sink, essential)
        self._abort = threading.Event()
        self.stop_record: RunStop | None = None

    def abort(self) -> None:
        self._abort.set()

    def _emit_from_procedure(self, topic: str, data: Any) -> None:
        if topic == "results":
            values = dict(data)
            spectrum: SpectralResult | None = values.pop("_spectrum", None)
            self.stream.emit(Point(int(values["index"]), values, spectrum))
        elif topic == "progress":
            self.stream.emit(Progress(float(data) / 100.0))

    def start_record(self) -> RunStart:
        station, procedure = self.station, self.procedure
        light = station.light
        calibration: dict[str, Any] = {}
        if isinstance(light, SphereSpectrometer):
            times, darks = light.dark_library()
            axis = SpectrumAxis(light.wavelength_nm, SPECTRAL_FLUX, UNITS[SPECTRAL_FLUX], "counts", times, darks)
            if light.calibration is not None:
                c = light.calibration
                calibration = {"path": c.path, "sha256": c.sha256, "metadata": repr(c.metadata),
                               "wavelength_nm": c.wavelength_nm, "responsivity": c.responsivity_W_nm_per_count_s}
        else:
            axis = SpectrumAxis(light.wavelength_nm, "spectral_radiance", "W/(sr m^2 nm)", "W/(sr m^2 nm)")
            calibration = {"source": f"{light.model} factory calibration"}
        return RunStart(
            run_id=uuid.uuid4().hex, procedure=procedure.NAME, title=self.title,
            parameters=procedure.parameters_with_units(), columns=procedure.COLUMNS, spectrum=axis,
            geometry=station.geometry, pixel_area_cm2=station.config.pixel_area_cm2,
            config_text=station.config.text, config_source=station.config.source, calibration=calibration,
            instruments=station.identities(), software_version=__version__, start_time_s=station.clock.now(),
            signal=procedure.SIGNAL, axis=procedure.AXIS)

    def run(self) -> RunStop:
        """Run to the end. Ctrl-C and SIGTERM are re-raised after the file is closed."""
        procedure, station = self.procedure, self.station
        procedure.station = station
        procedure.emit = self._emit_from_procedure
        procedure.should_stop = self._abort.is_set
        station.prepare_light()  # darks need the output off, so before startup
        self.stream.emit(self.start_record())
        status, reason, interrupt = FINISHED, "", None
        try:
            procedure.startup()
            procedure.execute()
            reason = procedure.stop_reason or "completed"
            if self._abort.is_set():
                status = ABORTED
        except KeyboardInterrupt as exc:
            status, reason, interrupt = ABORTED, "interrupted (Ctrl-C)", exc
        except Terminated as exc:
            status, reason, interrupt = ABORTED, "terminated (SIGTERM)", exc
        except Exception as exc:
            log.exception("procedure failed")
            detail = str(exc).strip().splitlines()
            status, reason = FAILED, f"{type(exc).__name__}: {detail[-1] if detail else ''}"
        finally:
            try:
                procedure.shutdown()
            except Exception:
                log.exception("procedure shutdown failed; switching the output off directly")
                station.smu.safe_shutdown()
            analysis = {}
            try:
                analysis = procedure.analysis()
            except Exception:
                log.exception("analysis failed")
            self.stop_record = RunStop(status, reason, station.clock.now(), len(procedure.points), analysis)
            self.stream.emit(self.stop_record)
        if interrupt is not None:
            raise interrupt
        return self.stop_record
