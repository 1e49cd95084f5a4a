"""The ``[simulation]`` table of a station configuration, checked by the bench itself.

The station's configuration loader hands this table over only when the configuration
uses the simulated bench, so a hardware configuration never imports the simulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from station.core.errors import ConfigError

from .faults import Fault, parse_faults
from .presets import known_presets

KEYS = ("preset", "seed", "latency", "realtime", "faults", "pixel_spread", "shorted_pixels", "leaky_pixels",
        "sphere_throughput", "keep_device", "mix_with_hardware")
#: keys of earlier versions, and where they went
MOVED = {"radiometer_model": "[radiometer] model"}
#: largest seed numpy's generator takes from a configuration
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SimulationSettings:
    """How the simulated bench is built."""

    preset: str
    seed: int
    latency: bool  # instrument latency (NPLC, integration, exposure) is spent on the bench clock
    realtime: bool  # the bench runs on wall time instead of virtual time
    faults: tuple[Fault, ...] = ()  # injected faults (sim_instruments.faults)
    #: device-to-device spread of the substrate's pixels, relative 1 sigma (sim_instruments.substrate_sim)
    pixel_spread: float = 0.05
    shorted_pixels: tuple[str, ...] = ()  # pixels with a hard short (the run's short check stops them)
    leaky_pixels: tuple[str, ...] = ()  # pixels with a leak (they run, with a low EQE)
    #: the sphere's throughput now relative to when it was calibrated (a dirty sphere, a drifted
    #: spectrometer): 0.97 = every sphere reading 3 % low
    sphere_throughput: float = 1.0
    #: a new run of a resumable procedure continues the device the last run into the same
    #: file left, aged (default: a fresh device; ``resume`` always continues it)
    keep_device: bool = False


def simulation_settings(table: Mapping[str, Any], source: str = "default") -> SimulationSettings:
    """Check every key of a ``[simulation]`` table; errors name the file and the key."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"config {source}: [simulation] {key}: {message}")

    for key in table:
        if key in MOVED:
            raise fail(key, f"moved to {MOVED[key]} (the simulated bench imitates the model the station names)")
        if key not in KEYS:
            raise fail(key, "unknown key (a typo?)")
    values: dict[str, Any] = {}
    for key in ("keep_device", "mix_with_hardware"):
        if key in table and not isinstance(table[key], bool):
            raise fail(key, f"expected bool, got {table[key]!r}")
    if "keep_device" in table:
        values["keep_device"] = table["keep_device"]
    for key, kind in (("preset", str), ("seed", int), ("latency", bool), ("realtime", bool)):
        if key not in table:
            raise fail(key, "missing")
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise fail(key, f"expected {kind.__name__}, got {value!r}")
        values[key] = value
    if values["preset"] not in known_presets():
        raise fail("preset", f"unknown preset {values['preset']!r}; known: {', '.join(sorted(known_presets()))}")
    if not 0 <= values["seed"] <= MAX_SEED:
        raise fail("seed", f"must be within 0-{MAX_SEED}, got {values['seed']}")
    values["faults"] = parse_faults(table.get("faults", []), source)
    for key, low, high in (("pixel_spread", 0.0, 0.5), ("sphere_throughput", 0.1, 2.0)):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise fail(key, f"must be a number within {low:g}-{high:g}, got {value!r}")
            values[key] = float(value)
    for key in ("shorted_pixels", "leaky_pixels"):
        names = table.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise fail(key, f"must be a list of pixel names, got {names!r}")
        values[key] = tuple(names)
    return SimulationSettings(**values)
