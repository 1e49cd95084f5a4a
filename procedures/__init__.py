"""Procedures the station runs, and their registry.

The registry maps each ``ledstation run`` sub-command to ``"module:Class"``; the class
is imported only when it is needed, so ``ledstation --help`` stays fast. A new
procedure needs one line here (or :func:`register`) and no command-line code: its
parameters become options, its streams go to the file, its :meth:`analyze` gives the
figures printed at the end and by ``ledstation analyze``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import StationProcedure

REGISTRY: dict[str, str] = {
    "jvl": "procedures.jvl_sweep:JVLSweep",
    "eqe": "procedures.eqe_sweep:EQESweep",
    "lifetime": "procedures.lifetime:Lifetime",
    "cycling": "procedures.cycling:Cycling",
    "dark_jv": "procedures.dark_jv:DarkJV",
    "stress_recovery": "procedures.stress_recovery:StressRecovery",
}


def register(name: str, target: str) -> None:
    """Add a procedure: ``target`` is ``"package.module:ClassName"``."""
    if not name.isidentifier():
        raise ValueError(f"procedure name {name!r} must be an identifier")
    REGISTRY[name] = target


def procedure_names() -> list[str]:
    return list(REGISTRY)


def procedure_class(name: str) -> type[StationProcedure]:
    """The class registered under ``name`` (KeyError if none)."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(import_module(module_name), class_name)
