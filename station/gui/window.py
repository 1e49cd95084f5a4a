"""The station window: procedure, parameters, queue, live plots, log, status; past runs;
watched files.

Everything that measures runs on the queue's worker thread; the window only reads
(snapshots of the live data, the queue's items, the source meter's last commanded and
confirmed output state) on timers. Abort and Emergency stop reach the run at once: every
wait of the station ends within 50 ms, a light reading in progress is left to finish
on its own thread, and the output goes off (ramped for Abort, at once for Emergency
stop) and is read back; the file is closed with status aborted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from procedures import procedure_class, procedure_names
from station.core.errors import ConfigError, StationError, one_line
from station.session import analyze_run, batch_devices
from station.setup.config import StationConfig

from .browser import RunBrowser
from .parameter_form import ParameterForm
from .plot_panel import PlotPanel
from .rack_view import AgentAddress, ChannelView, RackView
from .run_queue import DEFAULT_PATTERN, FAILED, RUNNING, RunQueue, check_pattern
from .watch_view import WatchView

#: status bar and queue refresh, ms
STATUS_MS = 250
STOP_STYLE = "QPushButton { background: #c62828; color: white; font-weight: bold; padding: 6px; }"


def describe_station(config: StationConfig) -> str:
    """One line: the simulated bench and its preset, or the instruments and addresses."""
    if config.uses_simulation:
        s = config.simulation_settings()
        return (f"Simulated bench: preset {s.preset}, seed {s.seed}, {config.geometry}"
                f"{', real time' if s.realtime else ''} ({config.source})")
    return (f"Keithley 2400 at {config.smu.address}; light: {config.geometry} at {config.light_address} "
            f"({config.source})")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


class StationWindow(QtWidgets.QMainWindow):
    """``ledstation gui``."""

    def __init__(self, config: StationConfig, folder: str | Path, pattern: str = DEFAULT_PATTERN,
                 queue: RunQueue | None = None, network: list[AgentAddress] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("LED test station")
        self.config = config
        self.queue = queue or RunQueue(config, folder, pattern)
        self.watches: list[WatchView] = []
        #: asked before closing during a run (None: a dialog); tests set a function. Not a bound
        #: method of the window: a reference cycle through a Qt object may be collected by
        #: Python's garbage collector on another thread, which Qt does not survive
        self.confirm_close: Callable[[], bool] | None = None
        self._log_lines: tuple[int, str] = (0, "")
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.tabCloseRequested.connect(self._close_tab)
        self.setCentralWidget(self.tabs)
        self.tabs.addTab(self._run_tab(), "Run")
        self.browser = RunBrowser(analyze=analyze_run, batch_devices=batch_devices)
        self.tabs.addTab(self.browser, "Past runs")
        fixed = 2
        self.rack: RackView | None = None
        self.channel_views: list[ChannelView] = []
        if network:  # the agents of ledstation gui --network: their channels, run by them, not by this window
            self.rack = RackView(network, open_channel=self.watch_channel)
            self.tabs.addTab(self.rack, "Rack")
            fixed = 3
        for i in range(fixed):
            self.tabs.tabBar().setTabButton(i, QtWidgets.QTabBar.ButtonPosition.RightSide, None)
        self._status_bar()
        self._menus()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(STATUS_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.resize(1400, 900)

    # --- building -----------------------------------------------------------------------
    def _run_tab(self) -> QtWidgets.QWidget:
        q = self.queue
        self.station_label = QtWidgets.QLabel(describe_station(self.config))
        self.station_label.setWordWrap(True)
        self.procedure = QtWidgets.QComboBox()
        for name in procedure_names():
            self.procedure.addItem(f"{name} - {procedure_class(name).summary()}", name)
        self.form = ParameterForm(q.check, self.config)
        self.procedure.currentIndexChanged.connect(lambda _i: self.form.show_procedure(self.procedure_name))
        self.form.show_procedure(self.procedure_name)
        self.form.changed.connect(self._form_changed)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.title = QtWidgets.QLineEdit()
        self.title.setPlaceholderText("title stored with the run (device, pixel ...)")
        self.add_button = QtWidgets.QPushButton("Add to queue")
        self.add_button.clicked.connect(self.add_to_queue)
        self.duplicate_button = QtWidgets.QPushButton("Duplicate selected with these values")
        self.duplicate_button.clicked.connect(self.duplicate_selected)

        self.queue_list = QtWidgets.QListWidget()
        self.queue_list.currentRowChanged.connect(self._queue_selected)
        up, down, remove = (QtWidgets.QPushButton(t) for t in ("Up", "Down", "Remove"))
        up.clicked.connect(lambda: self._move(-1))
        down.clicked.connect(lambda: self._move(+1))
        remove.clicked.connect(self._remove)
        self.folder = QtWidgets.QLineEdit(str(q.folder))
        self.folder.editingFinished.connect(self._set_folder)
        self.pattern = QtWidgets.QLineEdit(q.pattern)
        self.pattern.setToolTip("fields: {procedure} {n} {date} {time} {title} and any parameter, e.g. "
                                "{settle_time}")
        self.pattern.editingFinished.connect(self._set_pattern)
        self.stop_on_failure = QtWidgets.QCheckBox("Stop the queue when a run fails")
        self.stop_on_failure.toggled.connect(lambda on: setattr(q, "stop_on_failure", on))
        self.run_button = QtWidgets.QPushButton("Run queue")
        self.run_button.clicked.connect(self.run_queue)
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.abort_button.setToolTip("end the run now: output ramped to zero and off, file closed as aborted; "
                                     "the queue stops")
        self.abort_button.clicked.connect(lambda: self.abort(emergency=False))
        self.stop_button = QtWidgets.QPushButton("EMERGENCY STOP")
        self.stop_button.setStyleSheet(STOP_STYLE)
        self.stop_button.setToolTip("output off at once (no ramp), file closed as aborted; the queue stops")
        self.stop_button.clicked.connect(lambda: self.abort(emergency=True))
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)

        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.station_label)
        left.addWidget(QtWidgets.QLabel("Procedure"))
        left.addWidget(self.procedure)
        left.addWidget(scroll, 3)
        left.addWidget(self.form.verdict)
        left.addWidget(self.title)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.duplicate_button)
        left.addLayout(row)
        left.addWidget(QtWidgets.QLabel("Queue"))
        left.addWidget(self.queue_list, 2)
        row = QtWidgets.QHBoxLayout()
        for b in (up, down, remove):
            row.addWidget(b)
        left.addLayout(row)
        files = QtWidgets.QFormLayout()
        files.addRow("Folder", self.folder)
        files.addRow("File name", self.pattern)
        left.addLayout(files)
        left.addWidget(self.stop_on_failure)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.abort_button)
        left.addLayout(row)
        left.addWidget(self.stop_button)
        left.addWidget(self.message)
        side = QtWidgets.QWidget()
        side.setLayout(left)
        side.setMinimumWidth(380)
        side.setMaximumWidth(520)

        self.plots = PlotPanel(q.live)
        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.plots)
        right.addWidget(self.log)
        right.setStretchFactor(0, 5)
        right.setStretchFactor(1, 1)
        right.setSizes([760, 120])
        tab = QtWidgets.QSplitter()
        tab.addWidget(side)
        tab.addWidget(right)
        tab.setStretchFactor(1, 1)
        tab.setSizes([440, 960])
        return tab

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.output_label = QtWidgets.QLabel()
        self.compliance_label = QtWidgets.QLabel()
        self.time_label = QtWidgets.QLabel()
        self.run_label = QtWidgets.QLabel()
        for w in (self.output_label, self.compliance_label, self.time_label):
            bar.addPermanentWidget(w)
        bar.addWidget(self.run_label, 1)

    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        action = menu.addAction("Open run files...")
        action.triggered.connect(lambda: (self.tabs.setCurrentWidget(self.browser), self.browser._choose()))
        action = menu.addAction("Watch a run file...")
        action.triggered.connect(self._choose_watch)
        menu.addSeparator()
        menu.addAction("Quit").triggered.connect(self.close)

    # --- actions ------------------------------------------------------------------------
    @property
    def procedure_name(self) -> str:
        return self.procedure.currentData()

    def _form_changed(self) -> None:
        ok = not self.form.error
        self.add_button.setEnabled(ok)
        self.duplicate_button.setEnabled(ok)

    def add_to_queue(self) -> None:
        try:
            self.queue.add(self.procedure_name, self.form.values(), self.title.text())
            self.message.setText("")
        except StationError as exc:
            self.message.setText(one_line(exc))
        self.refresh()

    def duplicate_selected(self) -> None:
        """A copy of the selected run with the values now in the form (its procedure's)."""
        row = self.queue_list.currentRow()
        if row < 0:
            self.message.setText("select a queued run to duplicate")
            return
        item = self.queue.items[row]
        if item.procedure != self.procedure_name:
            self.message.setText(f"the form shows {self.procedure_name}; select a {item.procedure} run's values "
                                 f"first (click it in the queue)")
            return
        try:
            values = self.form.values()
            changes = {k: v for k, v in values.items() if item.values.get(k) != v}
            self.queue.duplicate(row, changes)
            self.message.setText(f"duplicated with {changes or 'no change'}")
        except StationError as exc:
            self.message.setText(one_line(exc))
        self.refresh()

    def _queue_selected(self, row: int) -> None:
        if 0 <= row < len(self.queue.items):
            item = self.queue.items[row]
            index = self.procedure.findData(item.procedure)
            if index != self.procedure.currentIndex():
                self.procedure.setCurrentIndex(index)
            self.form.set_values(item.values)
            self.title.setText(item.title)

    def _move(self, step: int) -> None:
        row = self.queue_list.currentRow()
        if row >= 0:
            self.queue.move(row, row + step)
            self.refresh()
            self.queue_list.setCurrentRow(max(0, min(row + step, len(self.queue.items) - 1)))

    def _remove(self) -> None:
        row = self.queue_list.currentRow()
        if row >= 0:
            try:
                self.queue.remove(row)
            except StationError as exc:
                self.message.setText(one_line(exc))
            self.refresh()

    def _set_folder(self) -> None:
        folder = Path(self.folder.text()).expanduser()
        if not folder.is_dir():
            self.message.setText(f"{folder}: not a folder")
            self.folder.setText(str(self.queue.folder))
            return
        self.queue.folder = folder

    def _set_pattern(self) -> None:
        try:
            check_pattern(self.pattern.text(), self.procedure_name, self.form.values())
            self.queue.pattern = self.pattern.text()
            self.message.setText("")
        except ConfigError as exc:
            self.message.setText(one_line(exc))
            self.pattern.setText(self.queue.pattern)

    def run_queue(self) -> None:
        if not self.queue.pending():
            self.message.setText("the queue has nothing to run: add a run first")
            return
        self.message.setText("")
        self.queue.start()
        self.refresh()

    def abort(self, emergency: bool = False) -> None:
        """Abort (or emergency-stop) the current run and stop the queue."""
        self.queue.abort(emergency=emergency)
        self.queue.live.log(("EMERGENCY STOP" if emergency else "Abort") + " requested: switching the output off")
        self.refresh()

    # --- watch mode ---------------------------------------------------------------------
    def _choose_watch(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Watch a run file", "", "Run files (*.h5);;All (*)")
        if path:
            self.watch(path)

    def watch(self, path: str | Path) -> WatchView | None:
        try:
            view = WatchView(path)
        except StationError as exc:
            self.message.setText(one_line(exc))
            return None
        self.watches.append(view)
        self.tabs.addTab(view, f"Watch: {Path(path).name}")
        self.tabs.setCurrentWidget(view)
        return view

    def watch_channel(self, agent: AgentAddress, channel: str) -> ChannelView:
        """A tab following ``channel`` of ``agent`` live (filled from the agent's file first)."""
        view = ChannelView(agent, channel)
        self.channel_views.append(view)
        self.tabs.addTab(view, f"{agent.name}/{channel}")
        self.tabs.setCurrentWidget(view)
        return view

    def _close_tab(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if isinstance(widget, ChannelView):
            widget.close_view()
            self.channel_views.remove(widget)
            self.tabs.removeTab(index)
            widget.deleteLater()
        if isinstance(widget, WatchView):
            widget.close_watch()
            self.watches.remove(widget)
            self.tabs.removeTab(index)
            widget.deleteLater()  # deleted by Qt on this thread, not by whichever thread drops it last

    # --- refresh ------------------------------------------------------------------------
    def refresh(self) -> None:
        q = self.queue
        texts = [item.describe() for item in q.items]
        if [self.queue_list.item(i).text() for i in range(self.queue_list.count())] != texts:
            row = self.queue_list.currentRow()
            self.queue_list.blockSignals(True)
            self.queue_list.clear()
            for item, text in zip(q.items, texts, strict=True):
                entry = QtWidgets.QListWidgetItem(text)
                if item.state == RUNNING:
                    entry.setForeground(QtGui.QColor("#1565c0"))
                elif item.state == FAILED:
                    entry.setForeground(QtGui.QColor("#b00020"))
                self.queue_list.addItem(entry)
            self.queue_list.setCurrentRow(min(row, self.queue_list.count() - 1))
            self.queue_list.blockSignals(False)
        running = q.running
        self.run_button.setEnabled(not running)
        self.abort_button.setEnabled(running)
        snapshot = self.plots.last_snapshot
        status = snapshot.status if snapshot is not None else None
        self._show_output()
        if status is not None:
            self.compliance_label.setText("IN COMPLIANCE" if status.in_compliance and status.status == "running"
                                          else "compliance: no")
            self.time_label.setText(f"elapsed {_duration(status.elapsed_s())}  remaining "
                                    f"~{_duration(status.remaining_s())}")
            current = q.current
            points = sum(status.rows.values())
            progress = f"{100 * status.fraction:.0f} %, {points} rows" + (f"  |  {status.message}"
                                                                          if status.message else "")
            self.run_label.setText(f"{current.procedure} {current.title}: {progress}" if current else
                                   f"last run ({status.procedure}): {status.status}"
                                   + (f" ({status.reason})" if status.reason else "") if status.procedure else "")
            lines = snapshot.log
            key = (len(lines), lines[-1] if lines else "")
            if key != self._log_lines:
                self.log.setPlainText("\n".join(lines))
                self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())
                self._log_lines = key

    def _show_output(self) -> None:
        """What the source meter was last told, and what a read-back confirmed."""
        station = self.queue.station
        told = getattr(self.queue, "output_state", None)  # an agent measures: what it read back, told
        if told is not None:
            text, style = told or f"measured by {self.queue.agent.name}/{self.queue.channel}", ""
            if told.startswith("run going"):
                style = "color: white; background: #c62828; padding: 2px;"
            elif told == "output confirmed off":
                style = "color: #2e7d32;"
        elif station is None:
            text, style = "output: no instrument opened yet", ""
        elif station.smu.output_on and not station.closed:
            text, style = "OUTPUT ON", "color: white; background: #c62828; padding: 2px;"
        elif station.smu.confirmed_off:
            text, style = "output off (confirmed by read-back)", "color: #2e7d32;"
        else:
            text, style = "output off (not yet confirmed)", "color: #e65100;"
        self.output_label.setText(text)
        self.output_label.setStyleSheet(style)

    # --- closing ------------------------------------------------------------------------
    def _ask_close(self) -> bool:
        answer = QtWidgets.QMessageBox.question(
            self, "A run is going", "A run is going. Close anyway? The output is switched off and the file closed "
            "(status aborted) first.")
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.queue.running and not getattr(self.queue, "runs_outlive_window", False):
            if not (self.confirm_close or self._ask_close)():
                event.ignore()
                return
            self.shut_down("window closed during the run")
        for view in list(self.watches):
            view.close_watch()
        for channel_view in list(self.channel_views):  # the agents' runs go on: the window only watched them
            channel_view.close_view()
        if self.rack is not None:
            self.rack.close_rack()
        self.timer.stop()
        self.plots.timer.stop()
        event.accept()

    def shut_down(self, why: str, emergency: bool = False, timeout_s: float = 120.0) -> bool:
        """Abort the run and wait (the window kept alive) until the queue has stopped: the
        output off and read back, the file closed. True if it stopped in time."""
        self.queue.live.log(f"{why}: switching the output off and closing the file")
        self.queue.abort(emergency=emergency)
        deadline = time.monotonic() + timeout_s
        while not self.queue.wait(0.05):
            QtWidgets.QApplication.processEvents()
            if time.monotonic() > deadline:
                return False
        self.refresh()
        return True
