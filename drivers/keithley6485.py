"""Keithley 6485 picoammeter, reading a photodiode's current.

Commands from the Model 6485 Instruction Manual (SCPI): ``*RST``; zero correction as
its "zero correction" procedure gives it (``SYST:ZCH ON``, ``CURR:RANG 2e-9``,
``INIT``, ``SYST:ZCOR:ACQ``, ``SYST:ZCOR ON``, ``SYST:ZCH OFF``); ``CURR:RANG``,
``CURR:RANG:AUTO``, ``CURR:NPLC``; ``READ?`` answers ``reading,timestamp,status`` with
the reading suffixed ``A`` (e.g. ``+1.234567E-09A,+1.234E+02,+0.000000E+00``);
an overflow reads ``+9.9E37``.
"""

from __future__ import annotations

import math

from pymeasure.instruments import Instrument
from pymeasure.instruments.generic_types import SCPIMixin
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from station.core.errors import InstrumentError

#: the 6485's current ranges, A (2 nA to 20 mA), and how far beyond its range a reading still reads
CURRENT_RANGES_A = (2e-9, 2e-8, 2e-7, 2e-6, 2e-5, 2e-4, 2e-3, 2e-2)
OVERRANGE = 1.05
NPLC_RANGE = (0.01, 6.0)
OVERFLOW_A = 9.0e37
#: 5.5-digit display: resolution of a reading relative to its range
RELATIVE_RESOLUTION = 1e-5


def parse_reading(reply: str) -> float:
    """The current of a ``READ?`` reply (NaN on overflow)."""
    first = reply.strip().split(",")[0].strip()
    if first.upper().endswith("A"):
        first = first[:-1]
    try:
        value = float(first)
    except ValueError:
        raise InstrumentError(f"Keithley 6485: malformed reading {reply[:60]!r}") from None
    return float("nan") if abs(value) >= OVERFLOW_A else value


class Keithley6485(SCPIMixin, Instrument):
    """Keithley 6485 picoammeter (an :class:`~drivers.photodiode.Ammeter`)."""

    current_range = Instrument.control(
        ":CURR:RANG?", ":CURR:RANG %g", "Current range, A (2 nA .. 20 mA).",
        validator=strict_discrete_set, values=CURRENT_RANGES_A)
    auto_range = Instrument.control(
        ":CURR:RANG:AUTO?", ":CURR:RANG:AUTO %d", "Auto range on (1) or off (0).",
        validator=strict_discrete_set, values=(0, 1), cast=int)
    nplc = Instrument.control(
        ":CURR:NPLC?", ":CURR:NPLC %g", "Integration time, power-line cycles.",
        validator=strict_range, values=NPLC_RANGE)
    zero_check = Instrument.control(
        ":SYST:ZCH?", ":SYST:ZCH %d", "Zero check (input shorted) on (1) or off (0).",
        validator=strict_discrete_set, values=(0, 1), cast=int)
    current = Instrument.measurement(":READ?", "One reading, A (NaN on overflow).", get_process=parse_reading,
                                     separator="\x00")

    def __init__(self, adapter, name: str = "Keithley 6485", nplc: float = 1.0, **kwargs) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        self._nplc = nplc
        self._range_A = CURRENT_RANGES_A[-1]

    @property
    def identity(self) -> str:
        parts = [p.strip() for p in self.id.split(",")]
        return f"{parts[1].title()} {parts[2]}" if len(parts) >= 3 else self.id.strip()

    @property
    def resolution_A(self) -> float:
        return RELATIVE_RESOLUTION * self._range_A

    def correct_zero(self) -> None:
        """Zero correction on the lowest range, then auto range (the manual's procedure)."""
        self.write("*RST")
        self.zero_check = 1
        self.current_range = CURRENT_RANGES_A[0]
        self.write(":INIT")
        self.write(":SYST:ZCOR:ACQ")
        self.write(":SYST:ZCOR 1")
        self.auto_range = 1
        self.zero_check = 0

    def configure_for_photocurrent(self) -> None:
        self.correct_zero()
        self.nplc = self._nplc

    def read_current_A(self) -> float:
        value = self.current
        if math.isfinite(value):
            self._range_A = next((r for r in CURRENT_RANGES_A if abs(value) <= OVERRANGE * r), CURRENT_RANGES_A[-1])
        return value

    def close(self) -> None:
        try:
            self.shutdown()
        finally:
            self.adapter.close()
