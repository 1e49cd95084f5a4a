"""Statistics of a batch of devices: one figure of merit at a time, over the runs of a batch.

Each device is one run file (one pixel). A run that did not finish (a shorted pixel
the run's checks stopped, an abort) is listed with its reason and left out of every
statistic. Among the finished runs, a value is an **outlier** when its modified z-score
``0.6745 |x - median| / MAD`` exceeds 3.5 (Iglewicz and Hoaglin), judged per figure
with at least 5 values (a MAD below 0.01 % of the median, or below 0.6745 times the
devices' median stated uncertainty of that figure, counts as that much: figures read on a
sweep's grid, such as the current density at peak EQE, carry that grid's resolution): it is
flagged and left out of that figure's mean, standard deviation, median, minimum and
maximum, so a leaky pixel cannot drag a mean; the mean with every value is kept beside
it. The **champion** is the device with the best value of the batch's lead figure (peak
EQE when the runs have one) among the values kept. Lifetime runs also get each T_x's
distribution over the devices (:mod:`.survival`): a run that ended before T_x counts as
censored at its duration, not dropped and not extrapolated. A figure given in different units by
different runs (a lifetime L0 in cd/m^2 and in W/(sr m^2)) is treated as two figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .survival import LifetimeDistribution, lifetime_distribution

#: modified z-score beyond which a value is an outlier (Iglewicz and Hoaglin)
OUTLIER_Z = 3.5
#: a spread below this fraction of the median is taken as no spread (figures on a grid, such
#: as the voltage at peak EQE, differ only by the reading noise)
RESOLUTION = 1e-4
#: fewest values a figure needs before any is called an outlier
MIN_VALUES_FOR_OUTLIERS = 5
#: the figure a batch's champion is chosen by, first present wins
LEAD_FIGURES = ("peak_eqe", "max_luminance_cd_m2", "max_radiance_W_sr_m2", "T50_h", "T90_h", "T95_h")
#: figures of a run that are settings or bookkeeping, not properties of the device
NOT_FIGURES = re.compile(r"(uncertainty|_points$|^points$|threshold|^light_quantity$|^n_|^duration_h$|_time_h$|"
                         r"^spectra_span_h$|^final_relative_light$|_units$|^l0_definition$|^points_used$|_from_V$|"
                         r"_to_V$)")
_HIGHER = re.compile(r"(^T\d+(\.\d+)?_h$|^peak_eqe$|^eqe_at_|^max_luminance|^max_radiance|^rolloff_current_density)")
_LOWER = re.compile(r"(^turn_on_voltage|^voltage_at_\d+_cd_m2|^voltage_at_\d+_W_sr_m2)")


@dataclass(frozen=True)
class Device:
    """One run file as a device of a batch."""

    label: str  # substrate/pixel (or the file name)
    path: str
    batch: str
    status: str
    reason: str
    figures: Mapping[str, float]
    units: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureStatistics:
    name: str
    units: str
    n: int  # values kept
    mean: float
    std: float  # sample standard deviation (n - 1)
    median: float
    minimum: float
    maximum: float
    mean_all: float  # with the outliers
    better: str  # "higher", "lower" or ""
    best: str  # device label with the best kept value ("" when no direction)
    outliers: tuple[str, ...]  # device labels
    values: Mapping[str, float]  # every finished device's value (outliers too), by label


@dataclass(frozen=True)
class BatchStatistics:
    batch: str
    devices: tuple[Device, ...]
    failed: tuple[Device, ...]  # runs that did not finish: left out
    figures: Mapping[str, FigureStatistics]
    lead_figure: str
    champion: str  # device label ("" if none)
    #: lifetime runs: each T_x's distribution over the devices, runs that ended before it censored
    lifetimes: Mapping[str, LifetimeDistribution] = field(default_factory=dict)


#: a lifetime figure: T_x in hours
LIFETIME_FIGURE = re.compile(r"^T\d+(\.\d+)?_h$")


def lifetime_samples(devices: Sequence[Device], figure: str) -> tuple[list[float], list[bool]]:
    """(time_h, reached) of every lifetime run: its T_x, or its duration when it ended before."""
    times, reached = [], []
    for d in devices:
        if figure in d.figures and math.isfinite(d.figures[figure]):
            times.append(float(d.figures[figure]))
            reached.append(True)
        elif "duration_h" in d.figures and "L0" in d.figures:  # a lifetime run that ended before T_x
            times.append(float(d.figures["duration_h"]))
            reached.append(False)
    return times, reached


def better_direction(name: str) -> str:
    """Whether a higher or a lower value of a figure is better ("" when neither is)."""
    if _LOWER.search(name):
        return "lower"
    if _HIGHER.search(name):
        return "higher"
    return ""


def outlier_mask(values: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    """True where the modified z-score of a value exceeds :data:`OUTLIER_Z`. ``sigma``: the
    typical 1-sigma resolution of one value (its stated uncertainty, or the grid it was
    read on): devices a few of their own sigmas apart are not outliers, however tightly
    the rest agree (the MAD is at least 0.6745 sigma, a normal spread's)."""
    if values.size < MIN_VALUES_FOR_OUTLIERS:
        return np.zeros(values.shape, bool)
    median = np.median(values)
    mad = max(float(np.median(np.abs(values - median))), RESOLUTION * abs(float(median)),
              0.6745 * sigma if math.isfinite(sigma) else 0.0)
    if mad == 0:
        return values != median
    return 0.6745 * np.abs(values - median) / mad > OUTLIER_Z


def figure_statistics(name: str, units: str, values: Mapping[str, float],
                      sigmas: Mapping[str, float] | None = None) -> FigureStatistics | None:
    """Statistics of one figure over devices (label -> value; NaN values are left out);
    ``sigmas``: each device's stated uncertainty of it, where it has one (the outlier rule's
    resolution: their median)."""
    finite = {k: float(v) for k, v in values.items() if math.isfinite(v)}
    if not finite:
        return None
    labels = list(finite)
    x = np.array([finite[k] for k in labels])
    stated = [float(s) for k, s in (sigmas or {}).items() if k in finite and math.isfinite(s) and s > 0]
    out = outlier_mask(x, float(np.median(stated)) if stated else 0.0)
    kept = x[~out]
    better = better_direction(name)
    best = ""
    if better and kept.size:
        kept_labels = [k for k, o in zip(labels, out, strict=True) if not o]
        best = kept_labels[int(np.argmax(kept) if better == "higher" else np.argmin(kept))]
    return FigureStatistics(name, units, int(kept.size), float(np.mean(kept)),
                            float(np.std(kept, ddof=1)) if kept.size > 1 else math.nan, float(np.median(kept)),
                            float(np.min(kept)), float(np.max(kept)), float(np.mean(x)), better, best,
                            tuple(k for k, o in zip(labels, out, strict=True) if o), finite)


def batch_statistics(devices: Sequence[Device]) -> list[BatchStatistics]:
    """One :class:`BatchStatistics` per batch label, in the order the batches first appear."""
    batches: dict[str, list[Device]] = {}
    for device in devices:
        batches.setdefault(device.batch, []).append(device)
    return [_one_batch(name, members) for name, members in batches.items()]


def uncertainty_name(figure: str, figures: Mapping[str, float]) -> str:
    """The key of ``figure``'s stated uncertainty among ``figures`` ("" if none):
    "_uncertainty" before the units (mobility_cm2_Vs -> mobility_uncertainty_cm2_Vs) or at
    the end (peak_eqe -> peak_eqe_uncertainty)."""
    parts = figure.split("_")
    for k in range(len(parts), 0, -1):
        candidate = "_".join([*parts[:k], "uncertainty", *parts[k:]])
        if candidate in figures:
            return candidate
    return ""


def _one_batch(name: str, devices: list[Device]) -> BatchStatistics:
    finished = [d for d in devices if d.status == "finished"]
    failed = tuple(d for d in devices if d.status != "finished")
    names: list[str] = []
    for d in finished:
        names += [k for k in d.figures if k not in names and not NOT_FIGURES.search(k)]
    figures = {}
    for figure in names:
        by_units: dict[str, dict[str, float]] = {}  # a figure in other units (L0 in cd/m^2 or W/(sr m^2)) apart
        for d in finished:
            if figure in d.figures:
                by_units.setdefault(d.units.get(figure, ""), {})[d.label] = d.figures[figure]
        sigmas = {d.label: float(d.figures[s]) for d in finished if (s := uncertainty_name(figure, d.figures))}
        for units, values in by_units.items():
            key = figure if len(by_units) == 1 else f"{figure} [{units}]"
            stats = figure_statistics(figure, units, values, sigmas)
            if stats is not None:
                figures[key] = stats
    lead = next((f for f in LEAD_FIGURES if f in figures), next((f for f in figures if figures[f].better), ""))
    lifetimes = {}
    for figure in sorted({k for d in finished for k in d.figures if LIFETIME_FIGURE.match(k)}):
        distribution = lifetime_distribution(figure, *lifetime_samples(finished, figure))
        if distribution is not None:
            lifetimes[figure] = distribution
    return BatchStatistics(name, tuple(devices), failed, figures, lead, figures[lead].best if lead else "", lifetimes)
