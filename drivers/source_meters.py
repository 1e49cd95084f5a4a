"""The kinds of source meter the station drives: ``[smu] model`` names one.

Each kind takes its facts (ranges, integration range, sweep capability, identity) from its
driver's own module, and names its driver class by a fixed import path that only this
registry holds (a configuration gives a kind's name, never a module). Adding a source
meter is one driver module and one line in :data:`SOURCE_METERS`.

Parameters of the procedures are bounded by the widest range any kind reaches
(:data:`PARAMETER_MAX_VOLTAGE_V`, :data:`PARAMETER_MAX_CURRENT_A`); the station's
``[safety]`` limits, checked against the configured kind, are what a run may source.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from drivers import keithley2400, keithley2450


@dataclass(frozen=True)
class SourceMeterKind:
    """One model of source meter, as the station knows it before it opens one."""

    name: str  # what [smu] model says
    model: str  # in messages
    driver: str  # "module:Class" of the station's driver (code, never data)
    max_voltage_V: float
    max_current_A: float
    nplc_range: tuple[float, float]
    #: most levels of its own buffered sweep (0: it sweeps one level at a time)
    max_buffered_sweep_points: int
    #: *IDN? of a unit of this kind matches this (case-insensitive)
    identity: str

    def driver_class(self) -> type:
        """The station's driver class (imported now: some cost a good part of a second)."""
        module, _, name = self.driver.partition(":")
        return getattr(importlib.import_module(module), name)

    def matches(self, identity: str) -> bool:
        return re.search(self.identity, identity, re.IGNORECASE) is not None


SOURCE_METERS: dict[str, SourceMeterKind] = {
    "keithley2400": SourceMeterKind(
        "keithley2400", "Keithley 2400", "drivers.keithley2400:StationKeithley2400", keithley2400.MAX_VOLTAGE_V,
        keithley2400.MAX_CURRENT_A, keithley2400.NPLC_RANGE, keithley2400.MAX_SWEEP_POINTS,
        keithley2400.IDENTITY_PATTERN),
    "keithley2450": SourceMeterKind(
        "keithley2450", "Keithley 2450", "drivers.keithley2450.driver:StationKeithley2450", keithley2450.MAX_VOLTAGE_V,
        keithley2450.MAX_CURRENT_A, keithley2450.NPLC_RANGE, 0, keithley2450.IDENTITY_MODEL),
}
DEFAULT_SOURCE_METER = "keithley2400"

#: the bounds of a voltage or current parameter: the widest range any supported model has
PARAMETER_MAX_VOLTAGE_V = max(kind.max_voltage_V for kind in SOURCE_METERS.values())
PARAMETER_MAX_CURRENT_A = max(kind.max_current_A for kind in SOURCE_METERS.values())
#: most levels of a sweep parameter (a buffered sweep holds what its model's does; a point sweep as many)
PARAMETER_MAX_SWEEP_POINTS = max(kind.max_buffered_sweep_points for kind in SOURCE_METERS.values())
#: integration times every kind accepts
PARAMETER_NPLC_RANGE = (max(k.nplc_range[0] for k in SOURCE_METERS.values()),
                        min(k.nplc_range[1] for k in SOURCE_METERS.values()))


def source_meter_kind(name: str) -> SourceMeterKind:
    """The kind ``[smu] model`` names; KeyError for an unknown one."""
    return SOURCE_METERS[name]


def kind_of_identity(identity: str) -> SourceMeterKind | None:
    """The kind an instrument's *IDN? reply says it is (None: none the station drives)."""
    return next((kind for kind in SOURCE_METERS.values() if kind.matches(identity)), None)
