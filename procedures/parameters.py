"""Procedure parameters from user input: the one check the command line and the window share.

Values arrive as option values or as text typed in the window; :func:`build_procedure`
converts them with pymeasure's parameter rules (types, limits), caps the compliance
defaults at the station's safety limits, and runs the procedure's own
:meth:`~procedures.base.StationProcedure.validate` against the configuration, before
any instrument is opened. Errors are one line (:class:`ConfigError`) naming the option.
"""

from __future__ import annotations

from typing import Any

from procedures.base import StationProcedure
from station.core.errors import ConfigError

#: compliance parameters whose default is capped at the station's safety limit
SAFETY_CAPPED = {"compliance_current": "max_current_A", "compliance_voltage": "max_voltage_V"}


def option(name: str) -> str:
    """The command-line option of a parameter (``--step-voltage``)."""
    return "--" + name.replace("_", "-")


def build_procedure(cls: type[StationProcedure], values: dict[str, Any], config: Any) -> StationProcedure:
    """A procedure from option values, checked against pymeasure's limits and the station.

    A value of None for a compliance parameter means its default, capped at the
    configuration's safety limit.
    """
    parameters = cls.parameter_definitions()
    values = dict(values)
    unknown = [name for name in values if name not in parameters]
    if unknown:
        raise ConfigError(f"{cls.NAME} has no parameter {option(unknown[0])}")
    for name, limit in SAFETY_CAPPED.items():
        if name in values and values[name] is None:
            values[name] = min(parameters[name].default, getattr(config, limit))
    for name, value in values.items():  # NaN passes these range checks; procedure.validate refuses it
        try:
            parameters[name].convert(value)
        except (ValueError, TypeError):
            p = parameters[name]
            units = getattr(p, "units", None) or ""
            allowed = (f"allowed {p.minimum:g} to {p.maximum:g} {units}".rstrip()
                       if hasattr(p, "minimum") else
                       f"allowed {', '.join(map(str, p.choices))}" if hasattr(p, "choices") else "not allowed")
            raise ConfigError(f"bad parameter {option(name)} {value}: {allowed}") from None
    try:
        procedure = cls(**values)
        procedure.check_parameters()
        procedure.refresh_parameters()
    except (ValueError, NameError, TypeError) as exc:
        raise ConfigError(f"bad parameter: {exc}") from None
    procedure.validate(config)
    return procedure
