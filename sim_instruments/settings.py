"""The ``[simulation]`` table of a station configuration, checked by the bench itself.

The station's configuration loader hands this table over only when the configuration
uses the simulated bench, so a hardware configuration never imports the simulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drivers.pr6xx import SPECTRAL_GRIDS
from station.core.errors import ConfigError

from .presets import PRESETS

KEYS = ("preset", "seed", "latency", "realtime", "radiometer_model")


@dataclass(frozen=True)
class SimulationSettings:
    """How the simulated bench is built."""

    preset: str
    seed: int
    latency: bool  # instrument latency (NPLC, integration, exposure) is spent on the bench clock
    realtime: bool  # the bench runs on wall time instead of virtual time
    radiometer_model: str


def simulation_settings(table: Mapping[str, Any], source: str = "default") -> SimulationSettings:
    """Check every key of a ``[simulation]`` table; errors name the file and the key."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"config {source}: [simulation] {key}: {message}")

    for key in table:
        if key not in KEYS:
            raise fail(key, "unknown key (a typo?)")
    values: dict[str, Any] = {}
    for key, kind in (("preset", str), ("seed", int), ("latency", bool), ("realtime", bool),
                      ("radiometer_model", str)):
        if key not in table:
            raise fail(key, "missing")
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise fail(key, f"expected {kind.__name__}, got {value!r}")
        values[key] = value
    if values["preset"] not in PRESETS:
        raise fail("preset", f"unknown preset {values['preset']!r}; known: {', '.join(sorted(PRESETS))}")
    if values["radiometer_model"] not in SPECTRAL_GRIDS:
        raise fail("radiometer_model", f"must be one of {', '.join(SPECTRAL_GRIDS)}")
    return SimulationSettings(**values)
