"""The reference-device check: figures of a J-V-L sweep of a reference device, kept once,
compared with a new sweep of the same device on the same sweep.

Compared figures: peak EQE, maximum luminance (or radiance), and at fixed current
densities (1, 10, 100 mA/cm^2, where the sweep reached them with reliable light) the
luminance, the radiance, the EQE and the voltage, interpolated in log J between the two
measured points around each; the turn-on voltage and the voltage at 1000 cd/m^2. Light
figures are compared as relative deviations (%), voltages as absolute deviations (V):
a drifting sphere or spectrometer calibration moves every light figure by the same
fraction and no voltage; a degraded reference device moves both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .stored_run import StoredRun

RELATIVE, VOLTS = "relative", "absolute"
#: current densities where the sweep's figures are compared, mA/cm^2
COMPARED_CURRENT_DENSITIES_MA_CM2 = (1.0, 10.0, 100.0)
_ANALYSIS_FIGURES = {"peak_eqe": RELATIVE, "max_luminance_cd_m2": RELATIVE, "max_radiance_W_sr_m2": RELATIVE,
                     "turn_on_voltage_V": VOLTS, "voltage_at_1000_cd_m2_V": VOLTS}
_AT_J = {"luminance_cd_m2": RELATIVE, "radiance_W_sr_m2": RELATIVE, "eqe": RELATIVE, "voltage_V": VOLTS}
_UNUSABLE = ("low_light", "saturated", "truncated", "luminance_unreliable")


@dataclass(frozen=True)
class ReferenceFigure:
    value: float
    units: str
    compare: str  # RELATIVE or VOLTS


@dataclass(frozen=True)
class Deviation:
    name: str
    units: str
    reference: float
    now: float
    deviation: float  # % (relative) or V (absolute)
    tolerance: float
    compare: str

    @property
    def passed(self) -> bool:
        return math.isfinite(self.deviation) and abs(self.deviation) <= self.tolerance


def reference_figures(run: StoredRun, analysis: Mapping[str, float], units: Mapping[str, str]
                      ) -> dict[str, ReferenceFigure]:
    """The compared figures of one stored J-V-L sweep (``analysis``: its figures of merit)."""
    figures = {name: ReferenceFigure(float(analysis[name]), units.get(name, ""), kind)
               for name, kind in _ANALYSIS_FIGURES.items()
               if isinstance(analysis.get(name), float) and math.isfinite(analysis[name])}
    present = set(run.column_names())
    names = ["current_density_mA_cm2", "direction", *[n for n in _AT_J if n in present],
             *[n for n in _UNUSABLE if n in present]]
    c = run.read_columns(names)
    stored_units = run.column_units()
    usable = (c["direction"] >= 0) & (c["current_density_mA_cm2"] > 0)
    for flag in _UNUSABLE:
        if flag in c:
            usable &= c[flag] == 0
    log_j = np.log10(np.where(usable, c["current_density_mA_cm2"], np.nan))
    for column, kind in _AT_J.items():
        if column not in c:
            continue
        ok = np.isfinite(log_j) & np.isfinite(c[column]) & ((c[column] > 0) if kind == RELATIVE else True)
        if ok.sum() < 2:
            continue
        order = np.argsort(log_j[ok])
        x, y = log_j[ok][order], c[column][ok][order]
        for j in COMPARED_CURRENT_DENSITIES_MA_CM2:
            if not x[0] <= math.log10(j) <= x[-1]:
                continue
            if kind == RELATIVE:  # light rises as a power of J: interpolate in log-log
                value = 10 ** float(np.interp(math.log10(j), x, np.log10(y)))
            else:
                value = float(np.interp(math.log10(j), x, y))
            figures[f"{column}_at_{j:g}_mA_cm2"] = ReferenceFigure(value, stored_units.get(column, ""), kind)
    return figures


def compare(reference: Mapping[str, ReferenceFigure], now: Mapping[str, ReferenceFigure], tolerance_percent: float,
            tolerance_V: float) -> list[Deviation]:
    """Each reference figure against the new sweep's (NaN where the new sweep lacks it: a fail)."""
    result = []
    for name, ref in reference.items():
        new = now.get(name)
        value = new.value if new is not None else math.nan
        if ref.compare == RELATIVE:
            deviation = 100.0 * (value / ref.value - 1.0) if ref.value else math.nan
            tolerance = tolerance_percent
        else:
            deviation, tolerance = value - ref.value, tolerance_V
        result.append(Deviation(name, ref.units, ref.value, value, deviation, tolerance, ref.compare))
    return result
