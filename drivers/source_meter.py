"""What the procedures need from a source meter, whatever its make (the Keithley 2400 and the
Keithley 2450 implement it; :mod:`drivers.source_meters` lists the kinds).

:class:`SourceMeter` is the protocol: configure a voltage or a current source with its
compliance, switch the output on, apply a level, read a point, sweep a list of levels
(:meth:`SourceMeter.sweep`: the instrument's own buffered sweep where the model has one,
:data:`BUFFERED_SWEEP`, otherwise one level at a time, :func:`point_sweep`), zero the
measurement once, and switch off with the state read back (:class:`OutputOffReport`).
Procedures type their source meter as this protocol and take parameter bounds from
:mod:`drivers.source_meters`; each model's own facts stay in its driver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .output_guard import OutputOffReport, SMUReading


@dataclass(frozen=True)
class SweepReadings:
    """The readings of one sweep, in order (fewer than the levels when it stopped on compliance)."""

    set_level: NDArray[np.float64]  # the programmed level of each reading (V or A)
    voltage_V: NDArray[np.float64]
    current_A: NDArray[np.float64]
    time_s: NDArray[np.float64]  # the instrument's time stamps
    in_compliance: NDArray[np.bool_]
    levels_programmed: int

    @property
    def stopped_on_compliance(self) -> bool:
        return len(self.set_level) < self.levels_programmed or bool(self.in_compliance.any())


@runtime_checkable
class SourceMeter(Protocol):
    """The source meter as the procedures use it."""

    #: the model runs a list of levels into its own buffer (else :meth:`sweep` goes point by point)
    BUFFERED_SWEEP: bool

    @property
    def source_function(self) -> str:
        """"VOLT" or "CURR": what is sourced now."""

    @property
    def source_level(self) -> float:
        """The level last applied (V or A)."""

    @property
    def output_on(self) -> bool:
        """The driver last switched the output on."""

    @property
    def confirmed_off(self) -> bool:
        """The output read back as off at the last shutdown."""

    def configure_voltage_source(self, compliance_current_A: float, nplc: float) -> None: ...

    def configure_current_source(self, compliance_voltage_V: float, nplc: float) -> None: ...

    def enable_source(self) -> None: ...

    def disable_source(self) -> None: ...

    def apply_voltage(self, voltage_V: float) -> None: ...

    def apply_current(self, current_A: float) -> None: ...

    def read_point(self) -> SMUReading: ...

    def zero_once(self) -> None:
        """One zero reference now, then none before each reading (faster readings)."""

    def sweep(self, levels: Sequence[float], *, compliance: float, nplc: float, dwell_s: float,
              wait: Callable[[float], None], bias: float = 0.0, abort_on_compliance: bool = True,
              on_partial: Callable[[SweepReadings], None] | None = None) -> SweepReadings:
        """Source each voltage of ``levels`` and measure after ``dwell_s``; the output is left on."""

    def safe_shutdown(self) -> OutputOffReport:
        """Ramp down, switch off, read the state back (keeps trying for the configured time)."""


def point_sweep(smu: SourceMeter, levels: Sequence[float], *, compliance: float, nplc: float, dwell_s: float,
                wait: Callable[[float], None], bias: float = 0.0, abort_on_compliance: bool = True,
                on_partial: Callable[[SweepReadings], None] | None = None) -> SweepReadings:
    """A voltage sweep one level at a time (a model without a buffered sweep): the same
    result, the same stop at the first reading in compliance, the readings taken so far
    given to ``on_partial`` when it is ended early."""
    smu.configure_voltage_source(compliance, nplc)
    smu.apply_voltage(bias)
    smu.enable_source()
    rows: list[tuple[float, float, float, float, bool]] = []

    def readings() -> SweepReadings:
        table = np.array([r[:4] for r in rows], float).reshape(-1, 4)
        return SweepReadings(table[:, 0], table[:, 1], table[:, 2], table[:, 3],
                             np.array([r[4] for r in rows], bool), len(levels))

    try:
        for level in levels:
            smu.apply_voltage(float(level))
            if dwell_s > 0:
                wait(dwell_s)
            reading = smu.read_point()
            rows.append((float(level), reading.voltage_V, reading.current_A, reading.instrument_time_s,
                         reading.in_compliance))
            if reading.in_compliance and abort_on_compliance:
                break
    except BaseException:
        if on_partial is not None:
            on_partial(readings())
        raise
    smu.apply_voltage(bias)
    return readings()
