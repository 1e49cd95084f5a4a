"""Figures of merit of a stored run (finished, aborted, or left by a crash)."""

from __future__ import annotations

from .analysis import UNITS, judged_light_quantity, sweep_figures
from .datafile import RunData


def light_quantity_of(run: RunData) -> str:
    """The light quantity a run is judged by (resolving "auto" from its spectra)."""
    stored = run.analysis.get("light_quantity")
    if stored:
        return str(stored)
    choice = str(run.parameters.get("light_quantity", ("photometric", ""))[0])
    return judged_light_quantity(choice, run.columns["centroid_nm"], run.columns.get("low_light"))


def figures_of(run: RunData) -> dict:
    """Figures of merit recomputed from a run's columns and parameters."""
    parameters = {k: v for k, (v, _) in run.parameters.items()}
    quantity = light_quantity_of(run)
    figures = sweep_figures(run.columns, quantity, float(parameters.get("turn_on_luminance", 1.0)),
                            float(parameters.get("turn_on_radiance", 0.01)))
    units = {**UNITS, "turn_on_threshold": "W/(sr m^2)" if quantity == "radiometric" else "cd/m^2"}
    return {"figures": figures.as_dict(), "units": units}
