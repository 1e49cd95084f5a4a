"""Live plots drawn from a :class:`~station.sinks.live_data.LiveRunData` snapshot.

The panel builds one pyqtgraph plot per :class:`~station.run.records.Plot` the procedure
declares, and redraws on a timer (never per point) only when the data changed. Curves
are already bounded (min/max bins); pyqtgraph's peak downsampling and clip-to-view keep
a redraw cheap when zoomed out on the widest curve.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from station.run.records import CURVE, SPECTROGRAM, SPECTRUM
from station.sinks.live_data import LiveRunData, PlotData, Snapshot

#: one plot is redrawn per tick (a plot's turn comes every TICK_MS x plots: 5 plots at 5 Hz)
TICK_MS = 40
CURVE_PEN = pg.mkPen("#1f77b4", width=1)
FIT_PEN = pg.mkPen("#d62728", width=1, style=QtCore.Qt.PenStyle.DashLine)
MARK_PEN = pg.mkPen("#2ca02c", width=1)
GRID_PEN = pg.mkPen("#dcdcdc", width=1)


def _configure(plot_item: pg.PlotItem, data: PlotData) -> None:
    plot = data.plot
    plot_item.setTitle(plot.title)
    for side in ("bottom", "left"):  # an opaque light grid: a translucent one is blended pixel by pixel, and cost
        plot_item.getAxis(side).setGrid(255)  # half of every paint (twice the lateness of the window's event loop)
        plot_item.getAxis(side).setTickPen(GRID_PEN)
    if plot.kind == CURVE:
        plot_item.setLogMode(x=plot.log_x, y=plot.log_y)
        for side, log in (("bottom", plot.log_x), ("left", plot.log_y)):
            if log:  # label the decades only: minor labels pile up on a log axis
                plot_item.getAxis(side).setStyle(maxTextLevel=0)
    for side, text in (("bottom", data.x_label), ("left", data.y_label)):
        plot_item.setLabel(side, text)
        axis = plot_item.getAxis(side)
        axis.enableAutoSIPrefix(False)  # "(x0.001)" on a log axis only confuses
        axis.setStyle(maxTickLevel=1)  # grid at major and minor ticks only: a third level costs 3x the paint


def _log_image(image: np.ndarray) -> np.ndarray:
    """log10 of the spectra, floored 2.5 decades below the brightest: a sweep's dim first
    spectra and its bright last ones both show."""
    top = float(np.nanmax(image)) if np.isfinite(image).any() else 0.0
    if not top > 0:
        return np.zeros_like(image)
    return np.log10(np.clip(np.nan_to_num(image), top * 3e-3, None))


class _PlotView:
    """One plot widget and the items it redraws."""

    def __init__(self, data: PlotData) -> None:
        self.kind = data.plot.kind
        self.widget = pg.PlotWidget()
        self.widget.setMinimumSize(260, 180)
        self.item: pg.PlotItem = self.widget.getPlotItem()
        _configure(self.item, data)
        self.marks: list[tuple[float, str]] = []
        self._mark_lines: list[pg.InfiniteLine] = []
        self.fit_curve: pg.PlotDataItem | None = None
        self.interval: pg.LinearRegionItem | None = None
        self.predicted: pg.InfiniteLine | None = None
        if self.kind == SPECTROGRAM:
            self.image = pg.ImageItem()
            self.image.setColorMap(pg.colormap.get("viridis"))
            self.item.addItem(self.image)
        else:
            self.curve = self.item.plot(pen=CURVE_PEN, connect="finite")
            self.curve.setDownsampling(auto=True, method="peak")
            self.curve.setClipToView(True)
            if self.kind == CURVE and data.plot.prediction:
                self.fit_curve = self.item.plot(pen=FIT_PEN, name="running fit")

    def reset(self) -> None:
        """A new run on the same plots: no marks, no prediction yet."""
        for line in self._mark_lines:
            self.item.removeItem(line)
        self._mark_lines, self.marks = [], []
        for item in (self.interval, self.predicted):
            if item is not None:
                item.hide()

    def update(self, data: PlotData, prediction: dict[str, float]) -> None:
        if self.kind == SPECTROGRAM:
            if data.image is not None and len(data.x) > 0 and data.wavelength_nm is not None:
                self.image.setImage(_log_image(data.image), autoLevels=True)  # rows: x, columns: wavelength
                x0 = float(data.x[0]) if math.isfinite(data.x[0]) else 0.0
                x1 = float(data.x[-1]) if math.isfinite(data.x[-1]) and data.x[-1] > x0 else x0 + 1.0
                w = data.wavelength_nm
                self.image.setRect(QtCore.QRectF(x0, w[0], x1 - x0, w[-1] - w[0]))
            return
        self.curve.setData(data.x, data.y)
        if self.kind == SPECTRUM:
            return
        for x, label in data.marks[len(self.marks):]:
            line = pg.InfiniteLine(pos=math.log10(x) if data.plot.log_x and x > 0 else x, angle=90, pen=MARK_PEN,
                                   label=label, labelOpts={"position": 0.9, "color": "#2ca02c"})
            self.item.addItem(line)
            self._mark_lines.append(line)
            self.marks.append((x, label))
        if self.fit_curve is not None:
            self._draw_prediction(data, prediction)

    def _draw_prediction(self, data: PlotData, p: dict[str, float]) -> None:
        """The running stretched-exponential fit to the predicted T_x, with its 95 % interval."""
        if not p or not math.isfinite(p.get("predicted_s", math.nan)):
            self.fit_curve.setData([], [])
            for item in (self.interval, self.predicted):
                if item is not None:
                    item.hide()
            return
        scale = 1 / 3600 if data.plot.x_in_hours else 1.0
        t_peak, t_x = p["fit_t_peak_s"], p["predicted_s"]
        t = np.linspace(t_peak, t_x, 200)
        y = p["fit_amplitude"] * np.exp(-(((t - t_peak) / p["fit_tau_s"]) ** p["fit_beta"]))
        self.fit_curve.setData(t * scale, y)
        low, high = p["predicted_low_s"] * scale, p["predicted_high_s"] * scale
        if self.interval is None:
            self.interval = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(214, 39, 40, 40))
            self.item.addItem(self.interval)
            self.predicted = pg.InfiniteLine(angle=90, pen=FIT_PEN, label="", labelOpts={"position": 0.75,
                                                                                        "color": "#d62728"})
            self.item.addItem(self.predicted)
        high = high if math.isfinite(high) else t_x * scale * 3
        self.interval.setRegion((low, high))
        self.predicted.setValue(t_x * scale)
        self.predicted.label.setFormat(f"T{p['predicted_percent']:g} predicted")
        self.interval.show()
        self.predicted.show()


class PlotPanel(QtWidgets.QWidget):
    """A grid of the live plots of one run; follows ``data`` on a timer.

    Each tick redraws one plot whose data changed (round robin), so the event loop is
    never held for more than one plot's paint; :meth:`refresh` redraws them all at once."""

    def __init__(self, data: LiveRunData, columns: int = 2, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self.columns = columns
        self._layout = QtWidgets.QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._views: list[_PlotView] = []
        self._titles: tuple[str, ...] = ()
        self._run = float("nan")
        self._version = -1
        self.last_snapshot: Snapshot | None = None
        self.redraws = 0
        self._pending: list[int] = []  # plots whose data changed since they were drawn
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def follow(self, data: LiveRunData) -> None:
        self.data, self._version = data, -1
        self.refresh()

    def tick(self) -> None:
        """Redraw the next plot that changed (a new snapshot once all are drawn)."""
        if not self._pending:
            if self.data.version == self._version:
                return
            if not self._take_snapshot() or not self._views:
                self.redraws += 1
                return
            self._pending = list(range(len(self._views)))
        index = self._pending.pop(0)
        snapshot = self.last_snapshot
        assert snapshot is not None
        self._views[index].update(snapshot.plots[index], snapshot.status.prediction)
        if not self._pending:
            self.redraws += 1

    def refresh(self) -> None:
        """Redraw every plot now if the data changed since the last redraw."""
        if self.data.version == self._version and not self._pending:
            return
        self._take_snapshot()
        snapshot = self.last_snapshot
        assert snapshot is not None
        for view, data in zip(self._views, snapshot.plots, strict=True):
            view.update(data, snapshot.status.prediction)
        self._pending = []
        self.redraws += 1

    def _take_snapshot(self) -> bool:
        """A new snapshot; False if the plots were rebuilt (and drawn) from it."""
        snapshot = self.data.snapshot()
        self._version = snapshot.version
        self.last_snapshot = snapshot
        titles = tuple(f"{p.plot.title}/{p.plot.stream}/{p.plot.kind}" for p in snapshot.plots)
        rebuilt = titles != self._titles or len(self._views) != len(snapshot.plots)
        if rebuilt:
            self._rebuild(snapshot)  # another procedure: other plots
            self._titles = titles
            for view, data in zip(self._views, snapshot.plots, strict=True):
                view.update(data, snapshot.status.prediction)
        elif snapshot.status.started_monotonic != self._run:
            for view in self._views:
                view.reset()
        self._run = snapshot.status.started_monotonic
        return not rebuilt

    def _rebuild(self, snapshot: Snapshot) -> None:
        for view in self._views:
            self._layout.removeWidget(view.widget)
            view.widget.hide()
            view.widget.deleteLater()
        self._views = [_PlotView(d) for d in snapshot.plots]
        for i, view in enumerate(self._views):
            self._layout.addWidget(view.widget, i // self.columns, i % self.columns)
