"""Checks at every operating point that end a run when the device or an instrument is
not what a measurement needs: an open or shorted device, readings no device gives
(overflow, NaN), a spectrometer that returns nothing.

Each check raises with a reason that names the fault; the runner ends the run
"failed" with that reason and switches the output off. The thresholds are deliberately
far from any working LED's operating range (a forward-biased LED passes well over
10 nA at 5 V, and needs well over 0.05 V to pass 0.1 uA).
"""

from __future__ import annotations

import math

import numpy as np

from drivers.source_meter import SourceMeter
from drivers.spectral_result import SpectralResult
from station.core.emission_band import runs_off_text
from station.core.errors import DeviceFault, InstrumentFault

from .operating_point import PointReading

#: voltage sourcing: at or above this forward voltage a connected LED passes current
OPEN_CIRCUIT_CHECK_VOLTAGE_V = 5.0
#: ... more than this
OPEN_CIRCUIT_CURRENT_A = 1e-8
#: current sourcing: an open circuit delivers less than this fraction of the set current
OPEN_CIRCUIT_FRACTION = 0.01
#: voltage sourcing: this much current at or below SHORT_VOLTAGE_V is a short (< 500 ohm)
SHORT_VOLTAGE_V = 0.5
SHORT_CURRENT_A = 1e-3
#: current sourcing: a device carrying SHORT_MIN_CURRENT_A at less than this voltage is shorted
SHORT_CURRENT_SOURCE_VOLTAGE_V = 0.05
SHORT_MIN_CURRENT_A = 1e-7


def check_point(reading: PointReading, smu: SourceMeter) -> None:
    """Raise :class:`DeviceFault` or :class:`InstrumentFault` if this point shows a fault."""
    for smu_reading in (reading.before, reading.after):
        if not (math.isfinite(smu_reading.voltage_V) and math.isfinite(smu_reading.current_A)):
            raise InstrumentFault("source meter returned an overflow or invalid reading "
                                  f"(V = {smu_reading.voltage_V}, I = {smu_reading.current_A})")
    voltage, current = reading.before.voltage_V, abs(reading.figures.current_A)
    if smu.source_function == "VOLT":
        if voltage >= OPEN_CIRCUIT_CHECK_VOLTAGE_V and current < OPEN_CIRCUIT_CURRENT_A:
            raise DeviceFault(f"open circuit: {current:.2g} A at {voltage:.3g} V (check the contacts)")
        if abs(voltage) <= SHORT_VOLTAGE_V and current >= SHORT_CURRENT_A:
            raise DeviceFault(f"short circuit: {current:.3g} A at {voltage:.3g} V")
    else:
        set_current = abs(smu.source_level)
        if reading.in_compliance and set_current > 0 and current < OPEN_CIRCUIT_FRACTION * set_current:
            raise DeviceFault(f"open circuit: compliance voltage reached with {current:.2g} A of "
                              f"{set_current:.3g} A flowing (check the contacts)")
        if current >= SHORT_MIN_CURRENT_A and abs(voltage) < SHORT_CURRENT_SOURCE_VOLTAGE_V:
            raise DeviceFault(f"short circuit: {current:.3g} A at {voltage:.3g} V")
    spectrum = reading.spectrum
    if spectrum.raw_units == "counts" and spectrum.raw.size and not np.any(spectrum.raw):
        raise InstrumentFault("spectrometer returned an all-zero spectrum (fibre or detector fault)")


#: a light meter that gives nothing usable at this many lit readings in a row fails the run
UNUSABLE_LIGHT_READINGS = 5
#: what to do about a saturated light meter
SATURATED_ADVICE = ("reduce the light reaching the instrument (a neutral-density filter, the fibre further from the "
                    "port) or lower the drive")
_SATURATED = ("saturated at its shortest integration time or on its highest range", SATURATED_ADVICE)
_DIM = ("too little light to measure",
        "check that the device emits at this drive and that its light reaches the instrument (fibre, port, aperture)")


def light_problem(spectrum: SpectralResult, dim_counts: bool) -> tuple[str, str]:
    """(why a lit reading gave no usable light, what to do), or ("", "") if it did.
    ``dim_counts``: a reading below detection counts too (a held drive before any usable
    reading; not a sweep or a search still below turn-on, nor a device that has faded)."""
    if spectrum.saturated:
        return _SATURATED
    if spectrum.truncated:
        return (f"the emission runs off its wavelength range at the {runs_off_text(int(spectrum.truncated))}",
                "measure the emitter with an instrument whose range covers its whole band")
    if spectrum.low_light:
        return _DIM if dim_counts else ("", "")
    if not spectrum.usable:
        return "it returned no numbers", "check the instrument"
    return "", ""


class LightReadingWatch:
    """Fails a run whose light meter gives nothing usable at :data:`UNUSABLE_LIGHT_READINGS`
    lit readings in a row, as :class:`~station.core.errors.EmissionOutOfRange` ends a sweep
    whose emitter the instrument cannot see: a lifetime test with no light reading measures
    nothing, however long it runs."""

    def __init__(self, limit: int = UNUSABLE_LIGHT_READINGS) -> None:
        self.limit = limit
        self.in_a_row = 0
        self.seen_usable = False

    def add(self, spectrum: SpectralResult, instrument: str, where: str, dim_counts: bool | None = None) -> None:
        """One lit reading; :class:`InstrumentFault` at the ``limit``-th unusable one in a row.
        ``dim_counts`` (default: until a usable reading has been seen)."""
        problem, advice = light_problem(spectrum, (not self.seen_usable) if dim_counts is None else dim_counts)
        if not problem:
            self.in_a_row = 0
            self.seen_usable = self.seen_usable or spectrum.valid
            return
        self.in_a_row += 1
        if self.in_a_row >= self.limit:
            raise InstrumentFault(f"the {instrument} gave no usable light reading at {self.in_a_row} lit readings in a "
                                  f"row ({problem}; last at {where}): {advice}")
