"""Figures of a run file (matplotlib, no display needed): the publication-style set of a
sweep, a dark J-V, a lifetime, cycling or stress-and-recovery run, or the main curve of any
other procedure. Every figure is drawn in :func:`~station.data.figure_style.figure_style` (a ``rc_context``: vector
files embed TrueType fonts; matplotlib's global settings are left as they were)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from station.analysis.light_quantity import JUDGE_COLUMNS, judged_light_quantity
from station.data.figure_style import figure_style
from station.data.reader import RunFile

#: a main stream with these columns gets the sweep figure set
#: the figure of each long-run figure set (station.cli.lifetime_figures)
LONG_RUN_FIGURES = {"lifetime": "plot_lifetime", "cycling": "plot_cycling", "stress_recovery": "plot_stress_recovery"}
SWEEP_COLUMNS = {"voltage_V", "current_density_mA_cm2", "eqe", "luminance_cd_m2", "radiance_W_sr_m2", "direction",
                 "peak_wavelength_nm", "centroid_nm"}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def light_quantity_of(run: RunFile) -> str:
    """The light quantity a run is judged by (stored analysis, else judged from its columns)."""
    stored = run.analysis.get("light_quantity")
    if stored:
        return str(stored)
    choice = str(run.parameters.get("light_quantity", ("photometric", ""))[0])
    present = set(run.column_names())
    return judged_light_quantity(choice, run.read_columns([c for c in JUDGE_COLUMNS if c in present]))


def plot_run(run: RunFile, out: str | Path, regions: dict[str, tuple[float, float]] | None = None) -> Path:
    """The figure set that suits the run (``regions``: a dark J-V's regions, given instead of detected)."""
    with figure_style():
        figure_set = run.figure_set or (run.procedure if run.procedure in ("dark_jv", *LONG_RUN_FIGURES) else "")
        if figure_set == "dark_jv":  # the set the run declared (older files: by their procedure)
            from .dark_jv_plot import plot_dark_jv

            return plot_dark_jv(run, out, regions)
        if figure_set in LONG_RUN_FIGURES:
            from . import lifetime_figures

            return getattr(lifetime_figures, LONG_RUN_FIGURES[figure_set])(run, out)
        if SWEEP_COLUMNS <= set(run.column_names()):
            return plot_sweep(run, out)
        return plot_main_curve(run, out)


def plot_overlay(runs: list[RunFile], labels: list[str], out: str | Path) -> Path:
    """Several lifetime runs on one figure, with their acceleration fit."""
    from .lifetime_figures import plot_lifetime_overlay

    with figure_style():
        return plot_lifetime_overlay(runs, labels, out)


def plot_main_curve(run: RunFile, out: str | Path) -> Path:
    """Signal against axis of the main stream, as the file's NXdata group names them."""
    plt = pyplot()
    m = run.metadata
    axis, signal = m["axis"], m["signal"]
    columns = run.read_columns([axis, signal])
    units = run.units
    fig, ax = plt.subplots(figsize=(5.5, 3.6), constrained_layout=True)
    ax.plot(columns[axis], columns[signal], lw=1)
    ax.set_xlabel(f"{axis} ({units.get(axis, '')})")
    ax.set_ylabel(f"{signal} ({units.get(signal, '')})")
    ax.set_title(f"{run.procedure}: {run.points} points", fontsize=9)
    out = Path(out)
    fig.savefig(out, dpi=200)
    plt.close(fig)
    return out


def plot_sweep(run: RunFile, out: str | Path, radiometric: bool | None = None) -> Path:
    """J-V with L-V (log), EQE-J, and normalised EL spectra at several biases."""
    plt = pyplot()
    c = run.columns
    if radiometric is None:
        radiometric = light_quantity_of(run) == "radiometric"
    light_name, light_units = (("radiance_W_sr_m2", "W sr$^{-1}$ m$^{-2}$") if radiometric
                               else ("luminance_cd_m2", "cd m$^{-2}$"))
    light_label = "Radiance" if radiometric else "Luminance"
    forward = c["direction"] >= 0
    v, j = c["voltage_V"], c["current_density_mA_cm2"]
    dim = c["low_light"] > 0 if "low_light" in c else np.zeros(len(v), bool)
    if not radiometric and "luminance_unreliable" in c:  # luminance not significant: left out, as in the analysis
        dim_light = dim | (c["luminance_unreliable"] > 0)
    else:
        dim_light = dim
    light = np.where(dim_light, np.nan, c[light_name])  # below detection: not plotted, as in the analysis
    eqe = np.where(dim, np.nan, c["eqe"])

    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.4), constrained_layout=True)

    ax = axes[0]
    positive = forward & (j > 0)
    ax.semilogy(v[positive], j[positive], "o-", ms=2.5, lw=1, color="tab:blue", label="J")
    if (~forward).any():
        back = (~forward) & (j > 0)
        ax.semilogy(v[back], j[back], "o--", ms=2, lw=0.8, color="tab:blue", alpha=0.5, label="J (reverse)")
    ax.set_xlabel("Voltage (V)")
    ax.set_ylabel("Current density (mA cm$^{-2}$)", color="tab:blue")
    twin = ax.twinx()
    lit = forward & np.isfinite(light) & (light > 0)
    twin.semilogy(v[lit], light[lit], "s-", ms=2.5, lw=1, color="tab:red")
    twin.set_ylabel(f"{light_label} ({light_units})", color="tab:red")
    ax.set_title("J–V–L", fontsize=9)

    ax = axes[1]
    ok = forward & np.isfinite(eqe) & (j > 0)
    ax.semilogx(j[ok], 100 * eqe[ok], "o-", ms=2.5, lw=1, color="k")
    ax.set_xlabel("Current density (mA cm$^{-2}$)")
    ax.set_ylabel("EQE (%)")
    ax.set_ylim(bottom=0)
    ax.set_title("EQE–J", fontsize=9)

    ax = axes[2]
    spectra = run.spectra
    if spectra is not None and len(spectra.rows):
        rows = spectra.rows  # the table rows that have a spectrum
        valid = np.nonzero(forward[rows] & np.isfinite(light[rows]) & (light[rows] > 0))[0]
        if len(valid):
            # up to six biases spread evenly in log(light) over the top three decades
            logs = np.log10(light[rows[valid]])
            targets = np.linspace(max(logs.min(), logs.max() - 3), logs.max(), min(6, len(valid)))
            picked = sorted({int(valid[np.argmin(np.abs(logs - t))]) for t in targets})  # spectrum numbers
            chosen = [int(rows[k]) for k in picked]  # their table rows
            colours = plt.cm.viridis(np.linspace(0, 0.9, len(chosen)))
            for colour, k, i in zip(colours, picked, chosen, strict=True):
                s = spectra.spectral[k]
                ax.plot(spectra.wavelength_nm, s / np.nanmax(s), lw=1, color=colour, label=f"{v[i]:.2f} V")
            peak = np.nanmean(c["peak_wavelength_nm"][chosen])
            ax.set_xlim(peak - 120, peak + 120)
            ax.set_ylim(-0.05, 1.1)
            ax.legend(frameon=False, fontsize=7)
    ax.set_xlabel("Wavelength (nm)")
    ax.set_ylabel("Normalised EL intensity")
    ax.set_title("EL spectra", fontsize=9)

    out = Path(out)
    fig.savefig(out, dpi=200)
    plt.close(fig)
    return out
