"""A live plot for notebooks: the run's first declared curve (the plots travel with the
run), redrawn with matplotlib at most every ``interval_s`` and at the end. In Jupyter it
replaces its own output cell (IPython's ``display``); anywhere, ``save_to`` also keeps the
last drawing as an image. Memory stays flat: the curve is a bounded, decimated series."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from station.run.records import CURVE, Event, Plot, Record, RunStart, RunStop

from .live_data import DecimatedSeries

#: points the curve keeps (decimated beyond)
CAPACITY = 4096


class NotebookPlot:
    """A sink that draws the run's main curve as it grows (see the module docstring)."""

    def __init__(self, interval_s: float = 1.0, save_to: str | Path | None = None) -> None:
        self.interval_s = interval_s
        self.save_to = Path(save_to) if save_to is not None else None
        self.plot: Plot | None = None
        self.series = DecimatedSeries(CAPACITY)
        self._drawn_at = 0.0
        self.drawings = 0

    def __call__(self, record: Record) -> None:
        if isinstance(record, RunStart):
            self.plot = next((p for p in record.plots if p.kind == CURVE), None)
            self.series = DecimatedSeries(CAPACITY)
            self._title = f"{record.procedure}: {self.plot.title}" if self.plot else record.procedure
        elif isinstance(record, Event) and self.plot is not None and record.stream == self.plot.stream:
            x, y = record.values.get(self.plot.x, np.nan), record.values.get(self.plot.y, np.nan)
            self.series.extend([x / 3600 if self.plot.x_in_hours else x], [abs(y) if self.plot.absolute else y])
            if time.monotonic() - self._drawn_at >= self.interval_s:
                self.draw()
        elif isinstance(record, RunStop) and self.plot is not None:
            self.draw(f"{record.status}: {record.reason}")

    def draw(self, note: str = "") -> None:
        import matplotlib

        if self._headless():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        assert self.plot is not None
        x, y = self.series.arrays()
        with matplotlib.rc_context({"font.size": 8}):
            fig, ax = plt.subplots(figsize=(5.0, 3.2), constrained_layout=True)
            ax.plot(x, y, "-", lw=1)
            ax.set_xscale("log" if self.plot.log_x else "linear")
            ax.set_yscale("log" if self.plot.log_y else "linear")
            ax.set_xlabel(self.plot.x + (" (h)" if self.plot.x_in_hours else ""))
            ax.set_ylabel(self.plot.y)
            ax.set_title(self._title + (f"\n{note}" if note else ""), fontsize=8)
            self._show(fig)
            if self.save_to is not None:
                fig.savefig(self.save_to)
            plt.close(fig)
        self._drawn_at = time.monotonic()
        self.drawings += 1

    @staticmethod
    def _headless() -> bool:
        try:
            from IPython import get_ipython  # noqa: F401
        except ImportError:
            return True
        return False

    @staticmethod
    def _show(fig) -> None:
        try:
            from IPython.display import clear_output, display
        except ImportError:
            return  # not in a notebook: nothing to show (save_to keeps the drawing)
        clear_output(wait=True)
        display(fig)
