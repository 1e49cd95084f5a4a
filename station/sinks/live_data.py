"""What a live display shows of a run, in memory that does not grow with the run.

:class:`LiveRunData` is a sink (fed by the record stream, on its own queued thread) or
is fed rows read from a file being written (watch mode). It keeps, per
:class:`~station.run.records.Plot` the procedure declares:

* a curve as a :class:`DecimatedSeries`: at most ``capacity`` bins, each the first x and
  the lowest and highest y of the points it covers; when full, neighbouring bins merge
  (the envelope a screen of a few thousand pixels can show is kept exactly);
* the latest spectrum, and the spectra as an image of at most ``IMAGE_ROWS`` rows and
  ``IMAGE_COLUMNS`` wavelength columns (rows merge by pairs when full);
* marks (T_x), the procedure's running prediction, the status (progress, elapsed,
  compliance) and the last notices.

A display reads a consistent copy with :meth:`LiveRunData.snapshot` on a timer; it
never runs per point. No Qt here: the window and the tests use the same object.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.run.records import (
    CURVE,
    SPECTROGRAM,
    SPECTRUM,
    Event,
    Notice,
    Plot,
    Progress,
    RunStart,
    RunStop,
    Stream,
    default_plots,
)

#: bins a curve keeps (each: x, lowest y, highest y)
CURVE_CAPACITY = 4096
#: spectra kept in the image (rows merge by pairs when full) and wavelength columns
IMAGE_ROWS, IMAGE_COLUMNS = 512, 512
#: notices kept for the log panel
LOG_LINES = 1000
#: marks kept per plot
MAX_MARKS = 200


class DecimatedSeries:
    """x, y points kept as at most ``capacity`` min/max bins (see the module docstring).

    NaN y (a value a flag hides, a non-positive value on a log axis) is kept as a gap.
    """

    def __init__(self, capacity: int = CURVE_CAPACITY) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self.capacity = capacity
        self.width = 1  # points per full bin
        self.count = 0  # points seen
        self._x = np.empty(capacity)
        self._low = np.empty(capacity)
        self._high = np.empty(capacity)
        self._bins = 0  # full bins
        self._open = 0  # points in the open (last, partial) bin

    def __len__(self) -> int:
        return self.count

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._low.nbytes + self._high.nbytes

    def extend(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> None:
        """Add points in order (arrays: watch mode and the browser add many at once)."""
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        start = 0
        while start < len(x):
            if self._open == 0 and self._bins == self.capacity:
                self._merge()
            if self._open == 0 and self.width > 1 and len(x) - start >= self.width:
                # whole bins at once
                room = self.capacity - self._bins
                n = min(room, (len(x) - start) // self.width)
                stop = start + n * self.width
                bx = x[start:stop:self.width]
                by = y[start:stop].reshape(n, self.width)
                self._x[self._bins:self._bins + n] = bx
                self._low[self._bins:self._bins + n] = np.fmin.reduce(by, axis=1)  # NaN-ignoring
                self._high[self._bins:self._bins + n] = np.fmax.reduce(by, axis=1)
                self._bins += n
                start = stop
                continue
            self._add_one(x[start], y[start])
            start += 1
        self.count += len(x)

    def _add_one(self, x: float, y: float) -> None:
        i = self._bins
        if self._open == 0:
            self._x[i], self._low[i], self._high[i] = x, y, y
        else:
            self._low[i] = _nanmin2(self._low[i], y)
            self._high[i] = _nanmax2(self._high[i], y)
        self._open += 1
        if self._open == self.width:
            self._bins += 1
            self._open = 0

    def _merge(self) -> None:
        """Halve the bins: neighbours merge, the bin width doubles."""
        n = self._bins // 2
        self._x[:n] = self._x[0:2 * n:2]
        self._low[:n] = np.fmin(self._low[0:2 * n:2], self._low[1:2 * n:2])
        self._high[:n] = np.fmax(self._high[0:2 * n:2], self._high[1:2 * n:2])
        self._bins = n
        self.width *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """x, y to draw: every point while bins hold one point each, else each bin as its
        lowest then its highest value at the bin's x (the envelope)."""
        n = self._bins + (1 if self._open else 0)
        x, low, high = self._x[:n], self._low[:n], self._high[:n]
        if self.width == 1:
            return x.copy(), low.copy()
        return np.repeat(x, 2), np.column_stack((low, high)).ravel()


def _nanmin2(a: float, b: float) -> float:
    return b if a != a else a if b != b else min(a, b)


def _nanmax2(a: float, b: float) -> float:
    return b if a != a else a if b != b else max(a, b)


class SpectrumImage:
    """The spectra of a stream as an image of bounded size: rows against an x column,
    wavelength columns averaged down to at most ``IMAGE_COLUMNS``."""

    def __init__(self, wavelength_nm: np.ndarray, rows: int = IMAGE_ROWS, columns: int = IMAGE_COLUMNS) -> None:
        wavelength_nm = np.asarray(wavelength_nm, float)
        self.group = max(1, math.ceil(len(wavelength_nm) / columns))
        usable = len(wavelength_nm) // self.group * self.group
        self.wavelength_nm = wavelength_nm[:usable].reshape(-1, self.group).mean(axis=1)
        self.usable = usable  # wavelength samples used (a whole number of groups)
        self.capacity = rows
        self.width = 1  # spectra per full row
        self._image = np.zeros((rows, len(self.wavelength_nm)), dtype=np.float32)
        self._x = np.empty(rows)
        self._rows = 0
        self._open = 0

    def add(self, x: float, spectrum: np.ndarray) -> None:
        if self._open == 0 and self._rows == self.capacity:
            n = self._rows // 2
            self._image[:n] = 0.5 * (self._image[0:2 * n:2] + self._image[1:2 * n:2])
            self._x[:n] = self._x[0:2 * n:2]
            self._rows, self.width = n, self.width * 2
        row = np.asarray(spectrum, float)[:self.usable].reshape(-1, self.group).mean(axis=1)
        i = self._rows
        if self._open == 0:
            self._image[i], self._x[i] = row, x
        else:
            self._image[i] += (row - self._image[i]) / (self._open + 1)
        self._open += 1
        if self._open == self.width:
            self._rows, self._open = self._rows + 1, 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        n = self._rows + (1 if self._open else 0)
        return self._x[:n].copy(), self._image[:n].copy()


@dataclass
class PlotData:
    """A consistent copy of one plot's data (what :meth:`LiveRunData.snapshot` hands out)."""

    plot: Plot
    x: np.ndarray = field(default_factory=lambda: np.empty(0))
    y: np.ndarray = field(default_factory=lambda: np.empty(0))
    points: int = 0
    marks: list[tuple[float, str]] = field(default_factory=list)
    wavelength_nm: np.ndarray | None = None
    image: np.ndarray | None = None
    x_label: str = ""
    y_label: str = ""


@dataclass
class RunStatus:
    procedure: str = ""
    title: str = ""
    status: str = ""  # "" before the start record, running, finished, aborted, failed
    reason: str = ""
    fraction: float = 0.0
    message: str = ""
    started_monotonic: float = math.nan
    ended_monotonic: float = math.nan
    in_compliance: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    prediction: dict[str, float] = field(default_factory=dict)

    def elapsed_s(self, now: float | None = None) -> float:
        if not math.isfinite(self.started_monotonic):
            return 0.0
        end = self.ended_monotonic if math.isfinite(self.ended_monotonic) else (now or time.monotonic())
        return end - self.started_monotonic

    def remaining_s(self, now: float | None = None) -> float:
        """Estimated from the progress so far (NaN before any progress or after the end)."""
        if self.status != "running" or not 0 < self.fraction < 1:
            return math.nan
        return self.elapsed_s(now) * (1 - self.fraction) / self.fraction


@dataclass
class Snapshot:
    version: int
    status: RunStatus
    plots: list[PlotData]
    log: list[str]


class _CurveState:
    def __init__(self, plot: Plot, stream: Stream, capacity: int) -> None:
        self.plot = plot
        self.series = DecimatedSeries(capacity)
        columns = {c.name: c for c in stream.columns}
        self.y_column = columns[plot.y]
        self.x_column = columns[plot.x]
        self.hidden_by = tuple(n for n in self.y_column.hidden_by if n in columns)
        self.x_scale = 1 / 3600 if plot.x_in_hours else 1.0
        self.marks: deque[tuple[float, str]] = deque(maxlen=MAX_MARKS)

    def y_values(self, y: np.ndarray, flags: list[np.ndarray]) -> np.ndarray:
        if self.y_column.display_units == "%" and self.y_column.units == "1":
            y = 100.0 * y
        if self.plot.absolute:
            y = np.abs(y)
        y = np.where(np.isfinite(y), y, np.nan)
        if self.plot.log_y:
            y = np.where(y > 0, y, np.nan)
        for flag in flags:
            y = np.where(flag > 0, np.nan, y)
        return y

    def x_values(self, x: np.ndarray) -> np.ndarray:
        x = x * self.x_scale
        return np.where(x > 0, x, np.nan) if self.plot.log_x else x


#: unit suffixes of column names, left out of axis labels (the units follow in brackets)
_UNIT_SUFFIX = re.compile(r"_(s|h|V|A|nm|W|lm|K|mA_cm2|cd_m2|W_sr_m2|cd_A|lm_W|per_s)$")


def axis_label(name: str, units: str, label: str = "") -> str:
    """"current density (mA/cm^2)" for a column ``current_density_mA_cm2`` in mA/cm^2."""
    text = label or _UNIT_SUFFIX.sub("", name).replace("_", " ")
    return f"{text} ({units})" if units and units != "1" else text


def _label(column: Any, in_hours: bool = False) -> str:
    if column is None:
        return ""
    units = "h" if in_hours else (column.display_units or column.units)
    return axis_label(column.name, units, column.label)


class LiveRunData:
    """Sink and store of what a live display shows (see the module docstring). Thread-safe:
    records arrive on a sink thread, snapshots are taken on the display's thread."""

    def __init__(self, plots: Sequence[Plot] | None = None, capacity: int = CURVE_CAPACITY) -> None:
        self._lock = threading.Lock()
        self._wanted = tuple(plots) if plots is not None else None
        self._capacity = capacity
        self.version = 0
        self._reset()

    def _reset(self) -> None:
        self.status = RunStatus()
        self._curves: list[_CurveState] = []
        self._plots: list[Plot] = []
        self._streams: dict[str, Stream] = {}
        self._latest: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._images: dict[str, SpectrumImage] = {}
        self._image_x: dict[str, tuple[str, float]] = {}
        self._marks_for: dict[str, list[_CurveState]] = {}
        self._needed: dict[str, set[str]] = {}
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._spectrum_label = "spectrum"

    # --- set-up -----------------------------------------------------------------------
    def begin(self, procedure: str, streams: Sequence[Stream], plots: Sequence[Plot], title: str = "",
              status: str = "running", spectrum_label: str = "") -> None:
        """Start afresh for a run of ``procedure`` with these streams and plots."""
        with self._lock:
            self._reset()
            self._spectrum_label = spectrum_label or "spectrum"
            self.status = RunStatus(procedure=procedure, title=title, status=status,
                                    started_monotonic=time.monotonic())
            self._streams = {s.name: s for s in streams}
            for plot in (self._wanted if self._wanted is not None else plots):
                plot.check(self._streams)
                self._plots.append(plot)
                if plot.kind == CURVE:
                    curve = _CurveState(plot, self._streams[plot.stream], self._capacity)
                    self._curves.append(curve)
                    for stream in dict.fromkeys(mark.stream for mark in plot.marks):
                        self._marks_for.setdefault(stream, []).append(curve)
                elif plot.kind == SPECTROGRAM:
                    self._image_x[plot.stream] = (plot.x, 1 / 3600 if plot.x_in_hours else 1.0)
            self._needed = self._columns_needed()
            self.version += 1

    def _columns_needed(self) -> dict[str, set[str]]:
        needed: dict[str, set[str]] = {}
        for curve in self._curves:
            needed.setdefault(curve.plot.stream, set()).update((curve.plot.x, curve.plot.y, *curve.hidden_by))
            for mark in curve.plot.marks:
                needed.setdefault(mark.stream, set()).update((mark.x, mark.where, mark.value))
        for plot in self._plots:  # a spectrum plot's stream is read too (a watcher skips a stream with no columns)
            if plot.kind != CURVE:
                columns = self._streams[plot.stream].column_names
                needed.setdefault(plot.stream, set()).add(plot.x if plot.x in columns else columns[0])
        main = self._main_stream()
        if main and "in_compliance" in self._streams[main].column_names:
            needed[main].add("in_compliance")
        return needed

    def needed_columns(self) -> dict[str, list[str]]:
        """Per stream, the columns the plots and the status use (all a watcher need read)."""
        with self._lock:
            return {stream: sorted(names) for stream, names in self._needed.items()}

    # --- the sink ---------------------------------------------------------------------
    def __call__(self, record: Any) -> None:
        if isinstance(record, RunStart):
            plots = record.plots or default_plots(record.streams, record.main)  # they travel with the run
            light = record.light
            label = f"{light.axis.quantity.replace('_', ' ')} ({light.axis.units})" if light is not None else ""
            self.begin(record.procedure, record.streams, plots, record.title, spectrum_label=label)
        elif isinstance(record, Event):
            values, needed = record.values, self._needed.get(record.stream, ())
            self.add_rows(record.stream, {k: np.asarray([values[k]], float) for k in needed if k in values}, rows=1)
            if record.spectrum is not None:
                self.add_spectrum(record.stream, record.values, record.spectrum.wavelength_nm,
                                  record.spectrum.spectral)
        elif isinstance(record, Progress):
            with self._lock:
                self.status.fraction, self.status.message = record.fraction, record.message
                if record.values or not record.message:
                    self.status.prediction = dict(record.values)
                self.version += 1
        elif isinstance(record, Notice):
            self.log(f"{time.strftime('%H:%M:%S', time.localtime(record.time_s))} {record.level}: "
                     f"{record.message.strip().splitlines()[-1] if record.message.strip() else ''}")
        elif isinstance(record, RunStop):
            with self._lock:
                self.status.status, self.status.reason = record.status, record.reason
                self.status.ended_monotonic = time.monotonic()
                self.version += 1
            self.log(f"run {record.status}: {record.reason}" + (f"; {record.output}" if record.output else ""))

    def log(self, line: str) -> None:
        with self._lock:
            self._log.append(line)
            self.version += 1

    def set_status(self, status: str, reason: str = "") -> None:
        """A watched file's status (the file says running, finished ...)."""
        with self._lock:
            if status != "running" and self.status.status == "running":
                self.status.ended_monotonic = time.monotonic()
            self.status.status, self.status.reason = status, reason
            self.version += 1

    def set_prediction(self, values: Mapping[str, float]) -> None:
        """A running prediction computed outside the run (watch mode computes it from the file)."""
        with self._lock:
            self.status.prediction = dict(values)
            self.version += 1

    def add_rows(self, stream: str, columns: Mapping[str, np.ndarray], rows: int | None = None) -> None:
        """``rows`` rows of ``stream`` (default: the length of the columns), the columns a
        plot needs as arrays of equal length, by name."""
        with self._lock:
            n = rows if rows is not None else len(next(iter(columns.values()))) if columns else 0
            if n == 0:
                return
            self.status.rows[stream] = self.status.rows.get(stream, 0) + n
            for curve in self._curves:
                plot = curve.plot
                if plot.stream != stream or plot.x not in columns or plot.y not in columns:
                    continue
                flags = [np.asarray(columns[f], float) for f in curve.hidden_by if f in columns]
                curve.series.extend(curve.x_values(np.asarray(columns[plot.x], float)),
                                    curve.y_values(np.asarray(columns[plot.y], float), flags))
            for curve in self._marks_for.get(stream, ()):
                for mark in curve.plot.marks:
                    if mark.stream != stream or not {mark.x, mark.where, mark.value} <= set(columns):
                        continue
                    hit = np.asarray(columns[mark.where], float) == mark.equals
                    for x, value in zip(np.asarray(columns[mark.x], float)[hit],
                                        np.asarray(columns[mark.value], float)[hit], strict=True):
                        curve.marks.append((x * curve.x_scale, mark.label.format(value=value)))
            if stream == self._main_stream() and "in_compliance" in columns:
                self.status.in_compliance = bool(np.asarray(columns["in_compliance"])[-1] > 0)
            self.version += 1

    def _main_stream(self) -> str:
        return self._curves[0].plot.stream if self._curves else ""

    def add_spectrum(self, stream: str, values: Mapping[str, float], wavelength_nm: np.ndarray,
                     spectral: np.ndarray) -> None:
        with self._lock:
            wavelength_nm = np.asarray(wavelength_nm, float)
            spectral = np.asarray(spectral, float)
            self._latest[stream] = (wavelength_nm, spectral)
            if stream in self._image_x:
                column, scale = self._image_x[stream]
                image = self._images.get(stream)
                if image is None or image.usable > len(wavelength_nm):
                    image = self._images[stream] = SpectrumImage(wavelength_nm)
                image.add(float(values.get(column, math.nan)) * scale, spectral)
            self.version += 1

    # --- the display ------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """A copy of everything to draw, taken under the lock (bounded size)."""
        with self._lock:
            plots = []
            curves = iter(self._curves)
            for plot in self._plots:
                data = PlotData(plot)
                stream = self._streams[plot.stream]
                if plot.kind == CURVE:
                    curve = next(curves)
                    data.x, data.y = curve.series.arrays()
                    data.points = curve.series.count
                    data.marks = list(curve.marks)
                    data.x_label = _label(curve.x_column, plot.x_in_hours)
                    data.y_label = _label(curve.y_column)
                elif plot.kind == SPECTRUM:
                    latest = self._latest.get(plot.stream)
                    if latest is not None:
                        data.x, data.y = latest[0].copy(), latest[1].copy()
                        data.points = self.status.rows.get(plot.stream, 0)
                    data.x_label = "wavelength (nm)"
                    data.y_label = self._spectrum_label
                elif plot.kind == SPECTROGRAM:
                    image = self._images.get(plot.stream)
                    if image is not None:
                        data.x, data.image = image.arrays()
                        data.wavelength_nm = image.wavelength_nm.copy()
                    column = next((c for c in stream.columns if c.name == plot.x), None)
                    data.x_label = _label(column, plot.x_in_hours)
                    data.y_label = "wavelength (nm)"
                plots.append(data)
            status = RunStatus(**{**self.status.__dict__, "rows": dict(self.status.rows),
                                  "prediction": dict(self.status.prediction)})
            return Snapshot(self.version, status, plots, list(self._log))

    def memory_bytes(self) -> int:
        """Bytes held by the curves and images (bounded by the capacities)."""
        with self._lock:
            return (sum(c.series.nbytes for c in self._curves)
                    + sum(i._image.nbytes + i._x.nbytes for i in self._images.values()))
