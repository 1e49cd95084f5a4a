"""Past runs: open run files (or drop them on the window), see their figures of merit,
overlay their main curves, export a stream as CSV, and the batch statistics of the
ticked files (one file a device, grouped by batch).

Files are read lazily and in chunks (:mod:`station.data.reader`); an overlaid curve is
kept as a bounded min/max series, so a 10^6-point lifetime file costs the same memory
as a short sweep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from station.core.errors import StationError, one_line
from station.data.export import export_csv
from station.data.file_claim import is_hdf5
from station.data.reader import RunFile, read_run
from station.sinks.live_data import DecimatedSeries, axis_label

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


#: what the browser asks of the layer that knows the procedures (the window passes
#: ``station.session.analyze_run`` and ``batch_devices``; the browser itself imports no procedure)
Analyze = Callable[[RunFile], dict[str, Any]]
BatchDevices = Callable[[Sequence[str]], list[Any]]


def figures_of_merit(run: RunFile, analyze: Analyze | None = None) -> dict[str, Any]:
    """The figures stored in the file, or computed from its columns by ``analyze`` if it has
    none (a file left by a crash)."""
    analysis = dict(run.analysis) if run.analysis or analyze is None else analyze(run)
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
    axis, signal = run.metadata.get("axis", ""), run.metadata.get("signal", "")  # the file's own NXdata
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

    def __init__(self, parent: QtWidgets.QWidget | None = None, analyze: Analyze | None = None,
                 batch_devices: BatchDevices | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.analyze, self.batch_devices = analyze, batch_devices
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
        batch_button = QtWidgets.QPushButton("Batch statistics...")
        batch_button.setToolTip("mean, std, median, min/max, outliers and champion over the ticked files")
        batch_button.clicked.connect(self.show_batch)

        left = QtWidgets.QVBoxLayout()
        buttons = QtWidgets.QHBoxLayout()
        for b in (open_button, remove_button, export_button, batch_button):
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
            figures = figures_of_merit(run, self.analyze)
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

    def ticked_paths(self) -> list[str]:
        return [self.runs[item.data(QtCore.Qt.ItemDataRole.UserRole)].path
                for item in (self.files.item(i) for i in range(self.files.count()))
                if item.checkState() == QtCore.Qt.CheckState.Checked]

    def show_batch(self) -> BatchDialog | None:
        """The batch statistics of the ticked files in a dialog (returned; None if none)."""
        from station.analysis.batch import batch_statistics

        paths = self.ticked_paths()
        if not paths or self.batch_devices is None:
            self.message.setText("tick the run files of the batch" if not paths else "no batch analysis here")
            return None
        try:
            batches = batch_statistics(self.batch_devices(paths))
        except Exception as exc:  # noqa: BLE001 - a damaged file: say so, keep the window
            self.message.setText(f"batch statistics: {one_line(exc)}")
            return None
        dialog = BatchDialog(batches, self)
        dialog.show()
        return dialog

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


class BatchDialog(QtWidgets.QDialog):
    """Statistics per batch and figure, the figure (histograms and box plots), and saving both."""

    COLUMNS = ("batch", "figure", "n", "mean", "std", "median", "min", "max", "best", "outliers")

    def __init__(self, batches: list[Any], parent: QtWidgets.QWidget | None = None) -> None:
        import io

        from station.data.batch_report import plot_batches

        super().__init__(parent)
        self.setWindowTitle("Batch statistics")
        self.batches = batches
        rows = [(b, name, s) for b in batches for name, s in b.figures.items()]
        self.table = QtWidgets.QTableWidget(len(rows), len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        for i, (b, name, s) in enumerate(rows):
            cells = (b.batch, name, str(s.n), figure_text(name, s.mean), figure_text(name, s.std),
                     figure_text(name, s.median), figure_text(name, s.minimum), figure_text(name, s.maximum), s.best,
                     ", ".join(s.outliers))
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        lines = [f"{b.batch}: {len(b.devices)} devices" + (f", champion {b.champion} ({b.lead_figure})"
                                                           if b.champion else "")
                 + "".join(f"; left out {d.label} ({d.reason})" for d in b.failed) for b in batches]
        self.summary = QtWidgets.QLabel("\n".join(lines))
        image = io.BytesIO()
        plot_batches(batches, image, image_format="png")
        self.picture = QtWidgets.QLabel()
        self.picture.setPixmap(QtGui.QPixmap.fromImage(QtGui.QImage.fromData(image.getvalue())).scaledToWidth(
            700, QtCore.Qt.TransformationMode.SmoothTransformation))
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.picture)
        save_csv = QtWidgets.QPushButton("Save CSV...")
        save_csv.clicked.connect(self._save_csv)
        save_figure = QtWidgets.QPushButton("Save figure...")
        save_figure.clicked.connect(self._save_figure)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(save_csv)
        buttons.addWidget(save_figure)
        buttons.addStretch(1)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.summary)
        left.addWidget(self.table, 1)
        left.addLayout(buttons)
        layout = QtWidgets.QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(scroll, 1)
        self.resize(1500, 800)

    def save_csv(self, target: Path) -> str:
        from station.data.batch_report import write_statistics_csv

        if target.exists() and is_hdf5(target):
            return f"{target}: a run file is never replaced"
        write_statistics_csv(self.batches, target)
        return f"wrote {target}"

    def _save_csv(self) -> None:
        target, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the statistics", "batch.csv", "CSV (*.csv)")
        if target:
            self.summary.setText(self.save_csv(Path(target)))

    def _save_figure(self) -> None:
        from station.data.batch_report import plot_batches

        target, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the figure", "batch.png",
                                                          "Images (*.png *.pdf *.svg)")
        if target and not (Path(target).exists() and is_hdf5(Path(target))):
            plot_batches(self.batches, Path(target))
            self.summary.setText(f"wrote {target}")
