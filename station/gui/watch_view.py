"""Watch mode: follow a run file another process writes (``ledstation run`` on this or
another machine, over a shared folder), with the plots its procedure declares; a lifetime
run's prediction is computed from its rows as the run computes it."""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from station.analysis.lifetime import DecayFollower
from station.analysis.stored_run import parameter_values
from station.core.errors import DataFileError
from station.data.file_claim import is_placeholder
from station.data.watch import RunWatcher
from station.sinks.live_data import LiveRunData

from .plot_panel import PlotPanel

#: how often the file is polled, ms
POLL_MS = 500


class WatchView(QtWidgets.QWidget):
    """One watched file: its status line and live plots, polled on a timer."""

    def __init__(self, path: str | Path, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        if not self.path.exists():
            raise DataFileError(f"{self.path}: no such file")
        self.watcher: RunWatcher | None = None
        self.follower: DecayFollower | None = None  # a lifetime run's decay and prediction
        self.data = LiveRunData()
        self.status = QtWidgets.QLabel(f"watching {self.path}: waiting for the run's first point")
        self.panel = PlotPanel(self.data)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.panel, 1)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._attach(first=True)
        self.timer.start()
        self.poll()

    def _attach(self, first: bool = False) -> bool:
        """Open the file once it is a run file: a run claims its name before its first point
        (a placeholder), and publishes the run file under it at that point."""
        if self.watcher is not None:
            return True
        try:
            watcher = RunWatcher(self.path, columns={})
        except DataFileError:
            if first and not is_placeholder(self.path):
                raise  # a file that is something else, not a run about to start
            return False
        run = watcher.run
        plots, streams = run.plots, run.declared_streams()  # the run's own declarations, whatever its procedure
        light = run.metadata.get("light") or {}
        label = f"{str(light.get('quantity', 'spectrum')).replace('_', ' ')} ({light.get('units', '')})"
        self.data.begin(run.procedure, streams, plots, status=run.status, spectrum_label=label)
        watcher.columns = self.data.needed_columns()
        if run.procedure == "lifetime" and "monitor" in watcher.columns:
            self.follower = DecayFollower(parameter_values(run))
            present = set(run.column_names("monitor"))
            watcher.columns["monitor"] = sorted({*watcher.columns["monitor"],
                                                 *(c for c in DecayFollower.COLUMNS if c in present)})
        self.watcher = watcher
        return True

    def poll(self) -> None:
        if not self._attach():
            return
        update = self.watcher.poll()
        for stream, columns in update.rows.items():
            self.data.add_rows(stream, columns)
        for stream, (values, spectral) in update.spectra.items():
            if self.watcher.wavelength_nm is not None:
                self.data.add_spectrum(stream, values, self.watcher.wavelength_nm, spectral)
        if update.status:
            self.data.set_status(update.status, update.reason)
        decay = ""
        if self.follower is not None and "monitor" in update.rows:
            self.follower.add_rows(update.rows["monitor"])
            self.data.set_prediction(self.follower.prediction())
        if self.follower is not None:
            decay = f"  |  {self.follower.status()}"
        rows = ", ".join(f"{k} {v}" for k, v in self.watcher.seen.items() if v)
        self.status.setText(f"watching {self.path}  |  {self.watcher.run.procedure}  |  status: "
                            f"{update.status or '?'} {update.reason}  |  rows: {rows or 'none yet'}{decay}")
        if update.status in ("finished", "aborted", "failed") and not update.rows:
            self.timer.setInterval(POLL_MS * 10)  # the run has ended: look now and then (a resume may follow)

    def close_watch(self) -> None:
        self.timer.stop()
        self.panel.timer.stop()
        if self.watcher is not None:
            self.watcher.close()
