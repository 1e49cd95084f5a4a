"""Records that procedures emit and sinks consume (HDF5 writer, terminal, live plot).

As in bluesky, the procedure (plan) knows nothing of where data goes: it emits a
:class:`RunStart`, one :class:`Point` per measurement and a :class:`RunStop`; every
subscribed sink is called with each record in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.spectral_result import SpectralResult

log = logging.getLogger(__name__)

FINISHED, ABORTED, FAILED, RUNNING = "finished", "aborted", "failed", "running"


@dataclass(frozen=True)
class Column:
    """One scalar column of a run."""

    name: str
    units: str
    description: str = ""
    dtype: str = "f8"


@dataclass(frozen=True)
class SpectrumAxis:
    """What every point's spectrum looks like (known before the first point)."""

    wavelength_nm: np.ndarray
    quantity: str
    units: str
    raw_units: str
    dark_integration_times_s: np.ndarray | None = None
    dark_library: np.ndarray | None = None  # [len(times), pixels]


@dataclass(frozen=True)
class RunStart:
    run_id: str
    procedure: str
    title: str
    parameters: dict[str, tuple[Any, str]]  # name -> (value, units)
    columns: list[Column]
    spectrum: SpectrumAxis | None
    geometry: str
    pixel_area_cm2: float
    config_text: str
    config_source: str
    calibration: dict[str, Any]
    instruments: dict[str, str]
    software_version: str
    start_time_s: float
    signal: str  # main-curve column for generic viewers
    axis: str


@dataclass(frozen=True)
class Point:
    index: int
    values: dict[str, float]
    spectrum: SpectralResult | None = None


@dataclass(frozen=True)
class Progress:
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class RunStop:
    status: str
    reason: str
    end_time_s: float
    points: int
    analysis: dict[str, Any] = field(default_factory=dict)


Record = RunStart | Point | Progress | RunStop
Sink = Callable[[Record], None]


class RecordStream:
    """Fan records out to sinks. A sink that fails on a point is reported and dropped,
    except sinks marked essential (the data file), whose failure stops the run."""

    def __init__(self) -> None:
        self._sinks: list[tuple[Sink, bool]] = []

    def subscribe(self, sink: Sink, essential: bool = False) -> None:
        self._sinks.append((sink, essential))

    def emit(self, record: Record) -> None:
        for sink, essential in list(self._sinks):
            try:
                sink(record)
            except Exception:
                if essential:
                    raise
                log.exception("sink %r failed; removed", sink)
                self._sinks.remove((sink, essential))
