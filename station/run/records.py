"""Records a run emits and sinks consume (data file, terminal, live plot).

Modelled on the bluesky event model: a :class:`RunStart` (the start document, with the
stream declarations that event-model puts in descriptors: every column with its units,
dtype and description), one :class:`Event` per recorded row, :class:`Progress` notes,
and a :class:`RunStop` with the exit status and the number of events per stream.
Procedures know nothing of sinks; sinks know nothing of procedures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.light_meter import LightDescription
from drivers.spectral_result import SpectralResult

FINISHED, ABORTED, FAILED, RUNNING = "finished", "aborted", "failed", "running"


@dataclass(frozen=True)
class Column:
    """One scalar column of a stream. ``label`` and ``display_units`` are for displays
    ("EQE" in "%" for a column stored as a fraction with units "1")."""

    name: str
    units: str
    description: str = ""
    dtype: str = "f8"
    label: str = ""
    display_units: str = ""
    hidden_by: tuple[str, ...] = ()  # flag columns that make a live display leave this value (or flag) out

    def display_value(self, value: float) -> float:
        return 100.0 * value if self.display_units == "%" and self.units == "1" else value


@dataclass(frozen=True)
class Stream:
    """A named stream of rows, declared before the run starts (the crash-safe file
    cannot create datasets later). ``spectra``: rows may carry a spectrum, which is
    stored only for the rows that have one."""

    name: str
    columns: tuple[Column, ...]
    spectra: bool = False
    description: str = ""
    display: tuple[str, ...] = ()  # columns a live display shows, in order
    flags: tuple[str, ...] = ()  # 0/1 columns a live display names (by their label) when set

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"stream {self.name!r} declares a column twice")
        if not self.name.isidentifier():
            raise ValueError(f"stream name {self.name!r} must be an identifier")
        missing = [n for n in (*self.display, *self.flags) if n not in names]
        if missing:
            raise ValueError(f"stream {self.name!r} displays unknown columns {missing}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class MainCurve:
    """The curve generic viewers plot: ``signal`` against ``axis`` of one stream."""

    stream: str
    axis: str
    signal: str
    auxiliary: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.axis, self.signal, *[n for n in self.auxiliary if n not in (self.axis, self.signal)])


#: kinds of :class:`Plot`
CURVE, SPECTRUM, SPECTROGRAM = "curve", "spectrum", "spectrogram"


@dataclass(frozen=True)
class Marks:
    """Vertical marks on a curve from rows of another stream: the rows whose ``where``
    column equals ``equals``, at their ``x``, labelled ``label.format(value=row[value])``
    (T_x on a lifetime curve from the ``events`` stream)."""

    stream: str
    x: str
    where: str
    equals: float
    value: str
    label: str


@dataclass(frozen=True)
class Plot:
    """A live plot a procedure asks for, so that a window needs no code per procedure.

    ``curve``: ``y`` against ``x`` of ``stream`` (log axes as asked; values a flag column
    hides, see :attr:`Column.hidden_by`, are left out). ``spectrum``: the latest spectrum
    of ``stream``. ``spectrogram``: the spectra of ``stream`` as an image against ``x``.
    ``prediction``: also draw the procedure's running prediction (:class:`Progress` values).
    """

    title: str
    stream: str
    kind: str = CURVE
    x: str = ""
    y: str = ""
    log_x: bool = False
    log_y: bool = False
    absolute: bool = False  # plot |y| (a current on a log axis)
    x_in_hours: bool = False  # an x column in s shown in h (long runs)
    marks: tuple[Marks, ...] = ()
    prediction: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (CURVE, SPECTRUM, SPECTROGRAM):
            raise ValueError(f"plot {self.title!r}: kind must be curve, spectrum or spectrogram, not {self.kind!r}")
        if self.kind == CURVE and not (self.x and self.y):
            raise ValueError(f"plot {self.title!r}: a curve needs x and y columns")

    def check(self, streams: Mapping[str, Stream]) -> None:
        """ValueError if the plot names a stream or column the procedure does not declare."""
        stream = streams.get(self.stream)
        if stream is None:
            raise ValueError(f"plot {self.title!r}: no stream {self.stream!r}")
        wanted = [c for c in (self.x, self.y) if c]
        if self.kind != CURVE and not stream.spectra:
            raise ValueError(f"plot {self.title!r}: stream {self.stream!r} has no spectra")
        for mark in self.marks:
            if mark.stream not in streams:
                raise ValueError(f"plot {self.title!r}: marks from undeclared stream {mark.stream!r}")
            missing = [c for c in (mark.x, mark.where, mark.value) if c not in streams[mark.stream].column_names]
            if missing:
                raise ValueError(f"plot {self.title!r}: marks name unknown columns {missing}")
        missing = [c for c in wanted if c not in stream.column_names]
        if missing:
            raise ValueError(f"plot {self.title!r}: stream {self.stream!r} has no columns {missing}")


def default_plots(streams: tuple[Stream, ...], main: MainCurve | None) -> tuple[Plot, ...]:
    """Plots made from the main curve: the signal against the axis, and the main stream's
    spectra (latest, and against the axis) when it has them."""
    if main is None:
        return ()
    plots = [Plot(main.signal, main.stream, CURVE, main.axis, main.signal)]
    if any(s.name == main.stream and s.spectra for s in streams):
        plots += [Plot("Latest spectrum", main.stream, SPECTRUM),
                  Plot("Spectra", main.stream, SPECTROGRAM, x=main.axis)]
    return tuple(plots)


@dataclass(frozen=True)
class RunStart:
    run_id: str
    procedure: str
    title: str
    parameters: Mapping[str, tuple[Any, str]]  # name -> (value, units)
    streams: tuple[Stream, ...]
    main: MainCurve
    light: LightDescription | None
    geometry: str
    pixel_area_cm2: float
    config_text: str
    config_source: str
    instruments: Mapping[str, str]
    software_version: str
    start_time_s: float
    durability_interval_s: float = 0.0  # the file holds every point older than this after a crash
    provenance: Mapping[str, str] = field(default_factory=dict)  # where tables (CIE) came from
    #: the sample: batch, substrate, pixel, switch channel, device structure (searchable)
    sample: Mapping[str, str] = field(default_factory=dict)
    #: the photodiode read beside the light instrument: its calibration and dark current
    second_channel: LightDescription | None = None
    #: the live plots the procedure declares: they travel with the run (file, documents), so a
    #: viewer draws them without knowing the procedure
    plots: tuple[Plot, ...] = ()
    #: the publication figure set that suits the run ("sweep", "dark_jv", "lifetime",
    #: "cycling", "stress_recovery"; "" = the main curve)
    figure_set: str = ""

    def stream(self, name: str) -> Stream:
        for s in self.streams:
            if s.name == name:
                return s
        raise KeyError(f"no stream {name!r}")


@dataclass(frozen=True, slots=True)
class Event:
    """One row of one stream. Values missing from ``values`` are stored as NaN."""

    stream: str
    index: int  # row number within the stream
    values: Mapping[str, float]
    spectrum: SpectralResult | None = None


@dataclass(frozen=True)
class Progress:
    """How far the run is (0..1), its status line, and numbers a live display may draw
    (the lifetime procedure's running prediction: ``fit_*`` and ``predicted_*`` keys)."""

    fraction: float
    message: str = ""
    values: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """Something the run met and went on from (a retried time-out), or the detail behind
    a failure (its traceback); stored in the file's ``entry/notices``."""

    time_s: float
    message: str
    level: str = "warning"  # "info", "warning" or "error"


@dataclass(frozen=True)
class RunStop:
    status: str
    reason: str
    end_time_s: float
    events: Mapping[str, int]  # rows recorded per stream
    main_stream: str = ""
    output: str = ""  # what the shutdown confirmed: "output confirmed off", or the loud warning
    output_confirmed_off: bool = True  # the shutdown read the output back as off

    @property
    def points(self) -> int:
        """Rows of the main stream."""
        return self.events.get(self.main_stream, 0)


Record = RunStart | Event | Progress | Notice | RunStop
Sink = Callable[[Record], None]
