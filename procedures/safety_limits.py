"""Which ``[safety]`` limit each parameter falls under, declared beside the parameters.

A procedure lists its limited parameters in ``SAFETY_LIMITED`` (name -> :class:`Limited`);
:meth:`~procedures.base.StationProcedure.validate` checks every one against the
configuration before any instrument opens, with one message form. A current density is
converted to the current through the pixel by :func:`station.core.units.current_A`, the
one conversion there is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from station.core.errors import ConfigError
from station.core.units import current_A

if TYPE_CHECKING:
    from station.setup.config import StationConfig

#: quantity -> (unit, the [safety] key)
QUANTITIES = {"voltage": ("V", "max_voltage_V"), "current": ("A", "max_current_A"),
              "current_density": ("mA/cm^2", "max_current_A")}


def _always(procedure: Any) -> bool:
    return True


@dataclass(frozen=True)
class Limited:
    """A parameter the source meter sources or allows: its quantity ("voltage", V; "current", A;
    "current_density", mA/cm^2 through the pixel), whether it must be above 0 (a compliance, a
    drive), and when it applies (a drive mode, an optional step)."""

    quantity: str
    positive: bool = False
    when: Callable[[Any], bool] = _always

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}")


def check_safety_limits(procedure: Any, limited: dict[str, Limited], config: StationConfig) -> None:
    """ConfigError (one line, naming the parameter and the [safety] key) for the first limited
    parameter beyond its limit."""
    for name, rule in limited.items():
        if not rule.when(procedure):
            continue
        value = float(getattr(procedure, name))
        unit, key = QUANTITIES[rule.quantity]
        limit = getattr(config, key)
        if rule.quantity == "current_density":
            amount = abs(current_A(value, config.pixel_area_cm2))
            shown = f"{value:g} mA/cm^2 ({amount:g} A on the {config.pixel_area_cm2:g} cm^2 pixel)"
            unit = "A"
        else:
            amount, shown = abs(value), f"{value:g} {unit}"
        if rule.positive and not value > 0:
            raise ConfigError(f"parameter {name} must be above 0, got {value:g}")
        if not amount <= limit:
            raise ConfigError(f"parameter {name} {shown} is beyond [safety] {key} = {limit:g} {unit}")
