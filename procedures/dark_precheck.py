"""A quick dark check of a pixel before light is measured, on the source meter's sweep.

41 levels from -V to +V (one buffered pass of the 2400's own sweep, about 0.1 s; one level
at a time on a model without one): the reverse current density at -V (leakage) and the resistance around 0 V (a
short). The readings go to the run's ``precheck`` stream; a short or a leakage above the
limit fails the run before the J-V-L sweep starts, with the output switched off as at
any failure.
"""

from __future__ import annotations

import numpy as np

from station.core.errors import DeviceFault
from station.core.units import current_density_mA_cm2
from station.run.records import Column, Stream

from .base import StationProcedure
from .device_health import SHORT_CURRENT_A, SHORT_VOLTAGE_V

PRECHECK_POINTS = 41
PRECHECK_NPLC = 0.01
PRECHECK = Stream("precheck", (
    Column("set_voltage_V", "V", "programmed source voltage"),
    Column("voltage_V", "V", "measured voltage"),
    Column("current_A", "A", "measured current"),
    Column("current_density_mA_cm2", "mA/cm^2", "current / pixel area"),
    Column("in_compliance", "1", "1 if the source meter was in compliance", "i1"),
), description="dark pre-check of the pixel: one buffered sweep before the J-V-L sweep")


def run_dark_precheck(procedure: StationProcedure, voltage_V: float, leakage_limit_mA_cm2: float,
                      compliance_A: float) -> dict[str, float]:
    """Sweep -V..+V in the dark, record it, and raise :class:`DeviceFault` for a short or a leak."""
    station = procedure.station
    assert station is not None
    levels = [float(v) for v in np.linspace(-voltage_V, voltage_V, PRECHECK_POINTS)]
    sweep = station.smu.sweep(levels, compliance=compliance_A, nplc=PRECHECK_NPLC, dwell_s=0.0, wait=station.wait,
                              abort_on_compliance=False)
    area = station.config.pixel_area_cm2
    j = current_density_mA_cm2(sweep.current_A, area)
    for row in zip(sweep.set_level, sweep.voltage_V, sweep.current_A, j, sweep.in_compliance, strict=True):
        procedure.record("precheck", dict(zip(("set_voltage_V", "voltage_V", "current_A", "current_density_mA_cm2",
                                               "in_compliance"), (*row[:4], int(row[4])), strict=True)))
    low = np.abs(sweep.set_level) <= min(SHORT_VOLTAGE_V, voltage_V)
    near_zero = low & (np.abs(sweep.set_level) > 0)
    if (near_zero & ((np.abs(sweep.current_A) >= SHORT_CURRENT_A) | sweep.in_compliance)).any():
        worst = int(np.argmax(np.where(near_zero, np.abs(sweep.current_A), -1)))
        raise DeviceFault(f"dark pre-check: short circuit ({abs(sweep.current_A[worst]):.3g} A at "
                          f"{sweep.set_level[worst]:.3g} V)")
    leakage = float(abs(j[0]))
    fit = np.polyfit(sweep.voltage_V[low], sweep.current_A[low], 1) if low.sum() >= 2 else (np.nan, np.nan)
    resistance = float(1 / fit[0]) if fit[0] > 0 else float("inf")
    procedure.notice(f"dark pre-check: {leakage:.3g} mA/cm^2 at {-voltage_V:g} V, {resistance:.3g} ohm around 0 V",
                     "info")
    if leakage > leakage_limit_mA_cm2:
        raise DeviceFault(f"dark pre-check: leakage {leakage:.3g} mA/cm^2 at {-voltage_V:g} V is above the limit of "
                          f"{leakage_limit_mA_cm2:g} mA/cm^2 (--leakage-limit)")
    return {"leakage_mA_cm2": leakage, "resistance_ohm": resistance}
