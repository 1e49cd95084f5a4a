"""The one conversion between a current density and a current on a pixel."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")  # float, or a numpy array of them

#: mA per A, and A per mA (both written out: the same products, bit for bit, wherever used)
MA_PER_A = 1e3
A_PER_MA = 1e-3


def current_A(current_density_mA_cm2: T, area_cm2: float) -> T:
    """The current (A) that gives ``current_density_mA_cm2`` on a pixel of ``area_cm2``."""
    return current_density_mA_cm2 * A_PER_MA * area_cm2  # type: ignore[operator, return-value]


def current_density_mA_cm2(current_A_: T, area_cm2: float) -> T:
    """The current density (mA/cm^2) of ``current_A_`` through a pixel of ``area_cm2``."""
    return current_A_ / area_cm2 * MA_PER_A  # type: ignore[operator, return-value]
