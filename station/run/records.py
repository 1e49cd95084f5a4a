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
    fraction: float
    message: str = ""


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

    @property
    def points(self) -> int:
        """Rows of the main stream."""
        return self.events.get(self.main_stream, 0)


Record = RunStart | Event | Progress | Notice | RunStop
Sink = Callable[[Record], None]
