"""Past runs: open run files (or drop them on the window), see their figures of merit,
overlay their main curves, export a stream as CSV.

Files are read lazily and in chunks (:mod:`station.data.reader`); an overlaid curve is
kept as a bounded min/max series, so a 10^6-point lifetime file costs the same memory
as a short sweep.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from station.core.errors import StationError, one_line
from station.data.export import export_csv
from station.data.file_claim import is_hdf5
from station.data.reader import RunFile, read_run
from station.session import analyze_run
from station.sinks.live_data import DecimatedSeries, axis_label

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def figures_of_merit(run: RunFile) -> dict[str, Any]:
    """The figures stored in the file, or computed from its columns if it has none (a
    file left by a crash)."""
    analysis = dict(run.analysis) if run.analysis else analyze_run(run)
    flat: dict[str, Any] = {}
    for key, value in analysis.items():
        if key == "summary":
            continue
        if isinstance(value, dict):
            for k, v in value.items():
                flat[f"{key}.{k}"] = v
        else:
            flat[key] = value
    return flat


def figure_text(key: str, value: Any) -> str:
    """A figure as the window shows it: EQE (stored as a fraction) in %."""
    if isinstance(value, float) and math.isfinite(value):
        if key.startswith(("eqe", "peak_eqe", "max_eqe")):
            return f"{100 * value:.4g} %"
        return f"{value:.5g}"
    return str(value)


def main_curve(run: RunFile, capacity: int = 4096) -> tuple[Any, Any, str, str]:
    """x, y of the run's main curve (bounded), and the axis and signal names."""
    from procedures import procedure_class

    try:
        main = procedure_class(run.procedure).MAIN
        axis, signal = (main.axis, main.signal) if main is not None else ("", "")
    except KeyError:
        axis, signal = "", ""
    names = run.column_names()
    axis = axis if axis in names else names[0]
    signal = signal if signal in names else names[1 if len(names) > 1 else 0]
    series = DecimatedSeries(capacity)
    for chunk in run.iter_chunks([axis, signal]):
        series.extend(chunk[axis], chunk[signal])
    x, y = series.arrays()
    return x, y, axis, signal


class RunBrowser(QtWidgets.QWidget):
    """The "Past runs" tab."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.runs: dict[str, RunFile] = {}
        self.files = QtWidgets.QListWidget()
        self.files.setToolTip("run files; tick to overlay their main curves")
        self.files.currentRowChanged.connect(self._show_selected)
        self.files.itemChanged.connect(lambda _item: self._overlay())
        self.figures = QtWidgets.QTableWidget(0, 2)
        self.figures.setHorizontalHeaderLabels(["figure of merit", "value"])
        self.figures.horizontalHeader().setStretchLastSection(True)
        self.figures.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.figures.verticalHeader().setVisible(False)
        self.plot = pg.PlotWidget(title="Main curves")
        self.plot.addLegend()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.log_y = QtWidgets.QCheckBox("log y")
        self.log_y.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        self.message = QtWidgets.QLabel("Open run files, or drop them here.")
        open_button = QtWidgets.QPushButton("Open...")
        open_button.clicked.connect(self._choose)
        export_button = QtWidgets.QPushButton("Export CSV...")
        export_button.clicked.connect(self._export)
        remove_button = QtWidgets.QPushButton("Close file")
        remove_button.clicked.connect(self._remove)

        left = QtWidgets.QVBoxLayout()
        buttons = QtWidgets.QHBoxLayout()
        for b in (open_button, remove_button, export_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        left.addWidget(self.files, 1)
        left.addWidget(self.figures, 2)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.plot, 1)
        right.addWidget(self.log_y)
        layout = QtWidgets.QHBoxLayout(self)
        side = QtWidgets.QWidget()
        side.setLayout(left)
        side.setMinimumWidth(440)
        side.setMaximumWidth(560)
        layout.addWidget(side)
        box = QtWidgets.QVBoxLayout()
        box.addLayout(right, 1)
        box.addWidget(self.message)
        layout.addLayout(box, 1)

    # --- files ------------------------------------------------------------------------
    def open_files(self, paths: list[str | Path]) -> list[str]:
        """Open run files; returns the errors (one line each) for those that are not."""
        errors = []
        for path in paths:
            key = str(Path(path).resolve())
            if key in self.runs:
                continue
            try:
                run = read_run(path)
            except StationError as exc:
                errors.append(one_line(exc))
                continue
            self.runs[key] = run
            item = QtWidgets.QListWidgetItem(f"{Path(path).name}  [{run.procedure}, {run.status}, {run.points} rows]")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked)
            self.files.addItem(item)
            self.files.setCurrentItem(item)
        self.message.setText("; ".join(errors) if errors else f"{len(self.runs)} run file(s) open")
        self._overlay()
        return errors

    def _choose(self) -> None:
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Open run files", "", "Run files (*.h5);;All (*)")
        if paths:
            self.open_files(paths)

    def _remove(self) -> None:
        item = self.files.currentItem()
        if item is not None:
            self.runs.pop(item.data(QtCore.Qt.ItemDataRole.UserRole), None)
            self.files.takeItem(self.files.row(item))
            self._overlay()

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802 - Qt's name
        self.open_files([u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()])

    # --- views ------------------------------------------------------------------------
    def selected(self) -> RunFile | None:
        item = self.files.currentItem()
        return None if item is None else self.runs.get(item.data(QtCore.Qt.ItemDataRole.UserRole))

    def _show_selected(self) -> None:
        run = self.selected()
        self.figures.setRowCount(0)
        if run is None:
            return
        try:
            figures = figures_of_merit(run)
        except Exception as exc:  # noqa: BLE001 - a damaged file: say so, keep the window
            self.message.setText(f"figures of {Path(run.path).name}: {one_line(exc)}")
            return
        rows = [("status", f"{run.status} ({run.reason})")] + list(figures.items())
        self.figures.setRowCount(len(rows))
        for i, (key, value) in enumerate(rows):
            text = figure_text(key, value)
            self.figures.setItem(i, 0, QtWidgets.QTableWidgetItem(key))
            self.figures.setItem(i, 1, QtWidgets.QTableWidgetItem(text))

    def _overlay(self) -> None:
        self.plot.clear()
        for i in range(self.files.count()):
            item = self.files.item(i)
            if item.checkState() != QtCore.Qt.CheckState.Checked:
                continue
            run = self.runs[item.data(QtCore.Qt.ItemDataRole.UserRole)]
            try:
                x, y, axis, signal = main_curve(run)
            except Exception as exc:  # noqa: BLE001 - a damaged file: say so, keep the others
                self.message.setText(f"{Path(run.path).name}: {one_line(exc)}")
                continue
            units = run.column_units()
            self.plot.setLabel("bottom", axis_label(axis, units.get(axis, "")))
            self.plot.setLabel("left", axis_label(signal, units.get(signal, "")))
            self.plot.plot(x, y, pen=pg.mkPen(COLOURS[i % len(COLOURS)]), name=Path(run.path).name,
                           connect="finite")

    def _export(self) -> None:
        run = self.selected()
        if run is None:
            self.message.setText("select a run file to export")
            return
        target, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export the main stream as CSV",
                                                          str(Path(run.path).with_suffix(".csv")), "CSV (*.csv)")
        if target:
            self.message.setText(self.export(run, Path(target)))

    @staticmethod
    def export(run: RunFile, target: Path) -> str:
        """Write the main stream as CSV (never over a run file or the run itself)."""
        if target.resolve() == Path(run.path).resolve() or (target.exists() and is_hdf5(target)):
            return f"{target}: a run file is never replaced by an export"
        try:
            rows = export_csv(run, target)
        except (StationError, OSError) as exc:
            return f"export failed: {one_line(exc)}"
        return f"wrote {rows} rows to {target}"
