"""Every parameter a procedure sources or allows declares its [safety] limit
(procedures.safety_limits), and validate refuses a value beyond it before any instrument
opens, whatever the procedure."""

from __future__ import annotations

import dataclasses

import pytest

from procedures import procedure_class, procedure_names
from station.core.errors import ConfigError
from station.setup.config import load_config

#: parameters in V, A or mA/cm^2 that nothing sources: steps, and thresholds a run stops at
NOT_SOURCED = {"step_voltage", "fine_step_voltage", "checkpoint_step_voltage", "current_density_limit",
               "leakage_limit"}
#: parameter values that make each conditional limit apply
CONDITIONS = {"precheck_voltage": {"dark_precheck": True}, "fine_start_voltage": {"fine_step_voltage": 0.05},
              "fine_stop_voltage": {"fine_step_voltage": 0.05}, "voltage": {"drive_mode": "voltage"},
              "current_density": {"drive_mode": "current"},
              "search_start_current_density": {"drive_mode": "luminance"},
              "checkpoint_start_voltage": {"checkpoint_interval": 1.0},
              "checkpoint_stop_voltage": {"checkpoint_interval": 1.0}}
CONFIG = dataclasses.replace(load_config(), max_voltage_V=10.0, max_current_A=0.1, pixel_area_cm2=0.04)
CASES = [(name, parameter) for name in procedure_names() for parameter in procedure_class(name).SAFETY_LIMITED]


@pytest.mark.parametrize("name", procedure_names())
def test_every_sourced_quantity_declares_its_limit(name):
    cls = procedure_class(name)
    undeclared = {p for p, d in cls().parameter_definitions().items()
                  if getattr(d, "units", None) in ("V", "A", "mA/cm^2")} - set(cls.SAFETY_LIMITED) - NOT_SOURCED
    assert not undeclared, f"{name}: {sorted(undeclared)} fall under no [safety] limit"


@pytest.mark.parametrize("name, parameter", CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_a_value_beyond_its_limit_is_refused_before_anything_opens(name, parameter):
    cls = procedure_class(name)
    rule = cls.SAFETY_LIMITED[parameter]
    # 1.5 x the limit: 15 V, 0.15 A, or 3750 mA/cm^2 (0.15 A on the 0.04 cm^2 pixel)
    beyond = {"voltage": 15.0, "current": 0.15, "current_density": 3750.0}[rule.quantity]
    values = {**getattr(cls, "FAULT_MATRIX_PARAMETERS", {}), **CONDITIONS.get(parameter, {}), parameter: beyond}
    if parameter == "start_current_density":
        values["stop_current_density"] = 4000.0
    procedure = cls(**values)
    if parameter.startswith("checkpoint") and not procedure.checkpoints_planned():
        pytest.skip(f"{name} runs no checkpoint sweep")
    assert rule.when(procedure)
    with pytest.raises(ConfigError, match=rf"parameter {parameter} .*beyond \[safety\] max_(voltage_V|current_A)"):
        procedure.validate(CONFIG)
