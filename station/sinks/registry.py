"""The sinks a configuration may name (``[sinks] extra = ["json_lines"]``): a new sink (a
database, a network feed) is one class and one line here. Each entry is
``name -> "module:factory"``; the factory takes the run's file (``Path``) and whether it
may replace files, and gives the sink; ``outputs(name, run_file)`` names the files it will
write, so the plan checks them before anything opens. A configuration names entries only:
it never chooses a module."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError

SINKS: dict[str, str] = {
    "json_lines": "station.sinks.json_lines:for_run",
}


def sink_factory(name: str) -> Callable[[Path, bool], Any]:
    """The factory registered under ``name``; ConfigError (one line) for an unknown name."""
    target = SINKS.get(name)
    if target is None:
        raise ConfigError(f"[sinks] extra: no sink {name!r}; known: {', '.join(sorted(SINKS))}")
    module, _, function = target.partition(":")
    return getattr(import_module(module), function)


def outputs(name: str, run_file: Path) -> list[Path]:
    """The files the sink ``name`` writes for a run into ``run_file``."""
    factory = sink_factory(name)
    return list(getattr(factory, "outputs", lambda path: [])(run_file))
