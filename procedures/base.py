"""The contract every station procedure follows.

A procedure is a pymeasure :class:`~pymeasure.experiment.Procedure` (its ``Parameter``
objects, so pymeasure's input widgets work in a GUI; ``startup``/``execute``/
``shutdown``; ``should_stop``) that also:

* declares its **streams** (:class:`~station.run.records.Stream`: named columns with
  units, optionally spectra) and its **main curve** before the run starts;
* checks its parameters against the station configuration in :meth:`validate`, before
  any instrument is opened;
* records readings with :meth:`record` and progress with :meth:`report_progress`;
  it keeps no history of its own (stop checks keep running state only);
* computes its figures of merit from stored columns in :meth:`analyze`, which the end of
  a run, ``ledstation analyze`` and ``ledstation recover`` all use.

The runner binds the procedure to the station and the record stream (:meth:`bind`).
Procedures never touch files or plots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pymeasure.experiment import FloatParameter, Parameter, Procedure

from drivers.spectral_result import SpectralResult
from station.analysis.stored_run import StoredRun
from station.analysis.summary import run_summary
from station.core.errors import ConfigError
from station.run.records import MainCurve, Plot, Stream, default_plots
from station.setup.config import StationConfig

from .safety_limits import Limited, check_safety_limits

if TYPE_CHECKING:
    from station.run.runner import ProcedureRunner
    from station.setup.station import Station


class StationProcedure(Procedure):
    """Base of every procedure the station runs."""

    #: the parameters that fall under a [safety] limit (procedures.safety_limits), checked by validate
    SAFETY_LIMITED: ClassVar[dict[str, Limited]] = {}
    #: registry key and ``ledstation run`` sub-command
    NAME: ClassVar[str] = ""
    #: the streams the procedure records, declared before the run starts
    STREAMS: ClassVar[tuple[Stream, ...]] = ()
    #: the curve generic viewers plot
    MAIN: ClassVar[MainCurve | None] = None
    #: live plots (window, watch mode); empty: the main curve and, if its stream has
    #: spectra, the latest spectrum and the spectra against the main axis
    PLOTS: ClassVar[tuple[Plot, ...]] = ()
    #: the publication figure set of ``ledstation plot`` (stored with the run): "sweep",
    #: "dark_jv", "lifetime", "cycling", "stress_recovery"; "" = the main curve
    FIGURE_SET: ClassVar[str] = ""
    #: False: a dark electrical procedure; no light instrument is opened for it
    USES_LIGHT: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stop_reason = ""
        self.station: Station | None = None
        self._run: ProcedureRunner | None = None

    # --- declaration ------------------------------------------------------------------
    @classmethod
    def parameter_definitions(cls) -> dict[str, Parameter]:
        """Name -> pymeasure Parameter, in definition order."""
        found: dict[str, Parameter] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Parameter):
                    found.pop(name, None)
                    found[name] = value
        return found

    @classmethod
    def summary(cls) -> str:
        """The docstring's first sentence (``ledstation run --help``)."""
        text = " ".join((cls.__doc__ or cls.NAME).split())
        return text.split(". ", 1)[0].rstrip(".")

    def streams(self) -> Sequence[Stream]:
        return self.STREAMS

    def main_curve(self) -> MainCurve:
        if self.MAIN is None:
            raise NotImplementedError(f"{type(self).__name__} declares no main curve")
        return self.MAIN

    @classmethod
    def plots(cls) -> tuple[Plot, ...]:
        """The live plots of this procedure (:attr:`PLOTS`, or ones made from the main curve)."""
        return cls.PLOTS or default_plots(cls.STREAMS, cls.MAIN)

    def parameters_with_units(self) -> dict[str, tuple[Any, str]]:
        return {name: (getattr(self, name), getattr(p, "units", None) or "")
                for name, p in self.parameter_definitions().items()}

    def validate(self, config: StationConfig) -> None:
        """Refuse parameters the station cannot run, before any instrument is opened.

        The base checks that no number is NaN; subclasses add their own limits and call
        ``super().validate(config)``.
        """
        for name, parameter in self.parameter_definitions().items():
            value = getattr(self, name)
            if isinstance(parameter, FloatParameter) and isinstance(value, float) and math.isnan(value):
                raise ConfigError(f"parameter {name}: NaN is not a value")
        check_safety_limits(self, self.SAFETY_LIMITED, config)
        if self.USES_LIGHT and config.geometry == "none":
            raise ConfigError(f'{self.NAME} measures light, and [light] geometry is "none" (no light instrument)')

    def planned_points(self) -> int | None:
        """Rows of the main stream the run will record at most (None: open-ended); the
        free-space check before a run uses it."""
        return None

    def planned_spectra(self) -> int:
        """Spectra the run will store at most (the free-space check): a row of the main
        stream each when that stream carries spectra, none otherwise."""
        main = self.main_curve().stream
        with_spectra = any(s.name == main and s.spectra for s in self.streams())
        return (self.planned_points() or 0) if with_spectra and self.USES_LIGHT else 0

    def planned_row_bytes(self) -> int:
        """Bytes of one row of the main stream (8 a column)."""
        main = self.main_curve().stream
        return 8 * next((len(s.column_names) for s in self.streams() if s.name == main), 0)

    # --- bound by the runner ----------------------------------------------------------
    def bind(self, run: ProcedureRunner) -> None:
        """Attach the station and the record stream (the runner calls this)."""
        self._run = run
        self.station = run.station

    def should_stop(self) -> bool:
        """pymeasure's question, answered by the run this procedure is bound to (which
        pymeasure's own Worker would patch in)."""
        return self._run.should_stop() if self._run is not None else False

    def emit(self, topic: str, data: Any) -> None:
        """pymeasure's ``emit``, to the bound run (see :meth:`_emit`)."""
        self._emit(topic, data)

    def noticed(self, message: str, level: str) -> None:
        """A notice a driver posted during the run (a retried reading); nothing by default."""

    def ending(self, status: str, reason: str) -> None:
        """The run is ending with ``status``, before its shutdown; nothing by default."""

    def record(self, stream: str, values: Mapping[str, float], spectrum: SpectralResult | None = None) -> int:
        """Record one row of ``stream`` (and its spectrum); returns the row number."""
        assert self._run is not None, "the procedure is not bound to a run"
        return self._run.record(stream, values, spectrum)

    def report_progress(self, fraction: float, message: str = "", values: Mapping[str, float] | None = None) -> None:
        assert self._run is not None, "the procedure is not bound to a run"
        self._run.progress(fraction, message, values)

    def notice(self, message: str, level: str = "warning") -> None:
        """Something the run met and went on from: stored in the file, shown on screen."""
        assert self._run is not None, "the procedure is not bound to a run"
        self._run.notice(message, level)

    def _emit(self, topic: str, data: Any) -> None:
        """pymeasure's ``emit``: "progress" in per cent, "results" to the main stream."""
        if topic == "progress":
            self.report_progress(float(data) / 100.0)
        elif topic == "results":
            self.record(self.main_curve().stream, data)

    # --- figures of merit from stored columns -----------------------------------------
    @classmethod
    def analyze(cls, run: StoredRun) -> dict[str, Any]:
        """Figures of merit of a stored run. The default is a chunked summary of every
        stream (rows, min, max, mean per column); sweeps and the like override it."""
        return {"summary": run_summary(run)}
