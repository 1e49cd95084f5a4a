"""A progress bar for scripts and notebooks (tqdm: a text bar at a terminal, a widget in
Jupyter), fed by the run's records: its fraction, its status line, and how it ended."""

from __future__ import annotations

from typing import Any

from station.run.records import Progress, Record, RunStart, RunStop

#: the bar counts per mille of the run
STEPS = 1000


class ProgressBar:
    """A sink that draws the run's progress with ``tqdm.auto`` (closed at the stop record)."""

    def __init__(self, **tqdm_options: Any) -> None:
        self.options = tqdm_options
        self.bar: Any = None

    def __call__(self, record: Record) -> None:
        if isinstance(record, RunStart):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=STEPS, desc=record.procedure, unit="‰", **self.options)
        elif self.bar is None:
            return
        elif isinstance(record, Progress):
            self.bar.n = int(round(min(max(record.fraction, 0.0), 1.0) * STEPS))
            if record.message:
                self.bar.set_postfix_str(record.message[:100], refresh=False)
            self.bar.refresh()
        elif isinstance(record, RunStop):
            self.bar.set_postfix_str(f"{record.status}: {record.reason}"[:100], refresh=False)
            if record.status == "finished":
                self.bar.n = STEPS
            self.bar.close()
            self.bar = None
