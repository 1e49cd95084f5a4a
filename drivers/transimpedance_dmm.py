"""A photodiode on a transimpedance amplifier read by a Keithley 2000-series DMM.

The DMM is pymeasure's :class:`~pymeasure.instruments.keithley.Keithley2000` (its
``measure_voltage`` and ``voltage``); the amplifier's gain (V/A, negative for an
inverting amplifier) turns volts into the photocurrent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the pymeasure Keithley package imports every Keithley driver (and pandas): only when used
    from pymeasure.instruments.keithley import Keithley2000

#: the 2000's DC voltage resolution relative to its range (6.5 digits), its ranges and over-range
RELATIVE_RESOLUTION = 1e-6
VOLTAGE_RANGES_V = (0.1, 1.0, 10.0, 100.0, 1000.0)
OVERRANGE = 1.2
OVERFLOW_V = 9.0e37


class TransimpedanceDMM:
    """Photocurrent = DMM volts / gain (an :class:`~drivers.photodiode.Ammeter`)."""

    def __init__(self, dmm: Keithley2000, gain_V_A: float, voltage_range_V: float = 10.0,
                 nplc: float = 1.0) -> None:
        if not (math.isfinite(gain_V_A) and gain_V_A != 0):
            raise ValueError("the transimpedance gain must be a non-zero number of V/A")
        self.dmm = dmm
        self.gain_V_A = gain_V_A
        self.voltage_range_V = voltage_range_V
        self.nplc = nplc

    @property
    def identity(self) -> str:
        parts = [p.strip() for p in self.dmm.id.split(",")]
        model = f"{parts[1].title()} {parts[2]}" if len(parts) >= 3 else self.dmm.id.strip()
        return f"{model} over {abs(self.gain_V_A):.3g} V/A"

    @property
    def resolution_A(self) -> float:
        return RELATIVE_RESOLUTION * self.voltage_range_V / abs(self.gain_V_A)

    def configure_for_photocurrent(self) -> None:
        self.dmm.measure_voltage(max_voltage=self.voltage_range_V)
        self.dmm.voltage_nplc = self.nplc

    def read_current_A(self) -> float:
        volts = float(self.dmm.voltage)
        return float("nan") if abs(volts) >= OVERFLOW_V else volts / self.gain_V_A

    def close(self) -> None:
        try:
            self.dmm.shutdown()
        finally:
            self.dmm.adapter.close()
