"""Figures of lifetime, cycling and stress-and-recovery runs, fit for a paper: time in hours,
L/L0 with L0 stated, the T_x reached marked, the decay fit and its extrapolation band, the
prediction that stopped a run; voltage, EL peak, FWHM and colour drift against time;
several runs overlaid with the acceleration fit of their lifetimes.

Every figure is drawn inside :func:`~station.cli.plotting.figure_style` (a matplotlib
``rc_context``: vector files embed TrueType fonts; nothing global changes). Long runs are
thinned for drawing (at most :data:`MAX_DRAWN` points a curve); the figures come from the
same analysis as ``ledstation analyze``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from station.analysis.lifetime import LIGHT_COLUMNS, LIGHT_UNITS, fit_acceleration, lifetime_analysis
from station.analysis.stored_run import parameter_values
from station.data.reader import RunFile

from .plotting import pyplot

#: points drawn per curve at most (every k-th stored row)
MAX_DRAWN = 20_000
UNIT_LABELS = {"cd/m^2": "cd m$^{-2}$", "W/(sr m^2)": "W sr$^{-1}$ m$^{-2}$"}
#: room left beyond the data on the time and light axes (fraction)
MARGIN = 0.05
TX_COLOURS = {95: "tab:green", 90: "tab:olive", 80: "tab:orange", 50: "tab:red"}


def _thinned(run: RunFile, names: list[str], stream: str) -> dict[str, np.ndarray]:
    """The named columns, every k-th row so that at most :data:`MAX_DRAWN` remain."""
    rows = run.rows(stream)
    step = max(1, math.ceil(rows / MAX_DRAWN))
    present = [n for n in names if n in run.column_names(stream)]
    out: dict[str, list[np.ndarray]] = {n: [] for n in present}
    offset = 0
    for chunk in run.iter_chunks(present, stream):
        n = len(chunk[present[0]])
        take = np.arange((-offset) % step, n, step)
        for name in present:
            out[name].append(np.asarray(chunk[name])[take])
        offset += n
    return {n: np.concatenate(v) if v else np.array([]) for n, v in out.items()}


def _relative_light(run: RunFile, stream: str, quantity: str, l0: float) -> dict[str, np.ndarray]:
    c = _thinned(run, ["elapsed_s", LIGHT_COLUMNS[quantity], "voltage_V", "current_density_mA_cm2", "low_light",
                       "saturated", "truncated"], stream)
    light = np.asarray(c[LIGHT_COLUMNS[quantity]], float)
    for flag in ("low_light", "saturated", "truncated"):
        if flag in c:
            light = np.where(np.asarray(c[flag]) != 0, np.nan, light)
    c["relative"] = light / l0
    c["hours"] = np.asarray(c["elapsed_s"], float) / 3600
    return c


def _decay_panel(ax, run: RunFile, analysis: dict[str, Any], c: dict[str, np.ndarray], log_time: bool) -> None:
    """L/L0 against hours: data, the T_x reached, the fit and its extrapolation band, the prediction."""
    hours, relative = c["hours"], c["relative"]
    shown = np.isfinite(relative) & ((hours > 0) if log_time else np.ones(len(hours), bool))
    ax.plot(hours[shown], relative[shown], ".", ms=1.5, color="k", label="measured")
    p = parameter_values(run)
    stop = float(p.get("stop_at_percent", 0) or 0)
    last_h = float(analysis.get("duration_h", hours[-1] if len(hours) else 1.0))
    reach_h = last_h
    for key, value in analysis.items():
        if key.startswith("T") and key.endswith("_h") and "_" not in key[1:-2] and value is not None:
            percent = float(key[1:-2])
            colour = TX_COLOURS.get(int(percent), "tab:blue")
            ax.axhline(percent / 100, color=colour, lw=0.6, ls=":")
            ax.plot([value], [percent / 100], "v", color=colour, ms=5, label=f"T{percent:g} = {value:.3g} h")
    fit = analysis.get("fit")
    target = stop if stop > 0 else 50.0
    predicted = analysis.get(f"T{target:g}_extrapolated_h")
    if fit:
        a, tau_h, beta, t0_h = fit["A"], fit["tau_h"], fit["beta"], fit["t_peak_h"]
        high_h = analysis.get(f"T{target:g}_extrapolated_high_h") if predicted else None
        end_h = max(last_h, predicted or 0.0, high_h if high_h and math.isfinite(high_h) else 0.0) * (1 + MARGIN)
        reach_h = end_h

        def model(t_h: np.ndarray) -> np.ndarray:
            return a * np.exp(-(np.clip(t_h - t0_h, 0, None) / tau_h) ** beta)

        t_fit = np.geomspace(max(t0_h, end_h * 1e-4), end_h, 400) if log_time else np.linspace(t0_h, end_h, 400)
        measured = t_fit <= last_h
        ax.plot(t_fit[measured], model(t_fit[measured]), "-", color="tab:blue", lw=1.0,
                label=f"fit: β = {beta:.3f}, τ = {tau_h:.3g} h")
        ax.plot(t_fit[~measured], model(t_fit[~measured]), "--", color="tab:blue", lw=1.0)
        if predicted:
            low = analysis[f"T{target:g}_extrapolated_low_h"]
            high = analysis[f"T{target:g}_extrapolated_high_h"]
            future = t_fit[t_fit >= last_h]
            if len(future) and predicted > t0_h:
                # the band: the fit's time scale stretched so it reaches x % at the interval's ends
                scale_low = (low - t0_h) / (predicted - t0_h)
                scale_high = (high - t0_h) / (predicted - t0_h) if math.isfinite(high) else 10.0
                band = [model(t0_h + (future - t0_h) / s) for s in (scale_low, scale_high)]
                ax.fill_between(future, band[0], band[1], color="tab:blue", alpha=0.15, lw=0,
                                label="95 % extrapolation band")
            stopped = "predicted" in str(run.reason)
            ax.errorbar([predicted], [target / 100], xerr=[[predicted - low], [max(high - predicted, 0.0)]],
                        fmt="o", ms=4, color="tab:purple", capsize=2, lw=1,
                        label=f"T{target:g} predicted {predicted:.3g} h" + (" (stopped the run)" if stopped else ""))
    if log_time:
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, reach_h)
    ax.set_ylim(max(0.0, min(0.45, np.nanmin(relative[shown]) - 0.05) if shown.any() else 0.0),
                max(1 + MARGIN, float(np.nanmax(relative[shown])) + 0.03) if shown.any() else 1 + MARGIN)
    ax.set_xlabel("Time (h)")
    ax.set_ylabel("L / L$_0$")


def plot_lifetime(run: RunFile, out: str | Path) -> Path:
    """Four panels: L/L0 on linear and log time, voltage (and current density), EL drift."""
    plt = pyplot()
    analysis = lifetime_analysis(run)
    quantity = analysis.get("light_quantity", "photometric")
    units = UNIT_LABELS.get(LIGHT_UNITS[quantity], LIGHT_UNITS[quantity])
    l0 = float(analysis.get("L0", math.nan))
    c = _relative_light(run, "monitor", quantity, l0)
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.6), constrained_layout=True)
    _decay_panel(axes[0, 0], run, analysis, c, log_time=False)
    _decay_panel(axes[0, 1], run, analysis, c, log_time=True)
    axes[0, 0].set_title(f"L$_0$ = {l0:.4g} {units} at {analysis.get('L0_time_h', math.nan) * 3600:.0f} s "
                         f"({analysis.get('l0_definition', 'initial')})", fontsize=8)
    axes[0, 0].legend(fontsize=6, loc="lower left")
    axes[0, 1].set_title(f"{run.reason}", fontsize=7)

    ax = axes[1, 0]
    drive = str(parameter_values(run).get("drive_mode", "current"))
    ax.plot(c["hours"], c["voltage_V"], "-", color="tab:blue", lw=1)
    ax.set_xlabel("Time (h)")
    ax.set_ylabel("Voltage (V)", color="tab:blue")
    if drive == "voltage":  # a constant voltage: the current density is what moves
        twin = ax.twinx()
        twin.plot(c["hours"], c["current_density_mA_cm2"], "-", color="tab:red", lw=1)
        twin.set_ylabel("Current density (mA cm$^{-2}$)", color="tab:red")
    ax.set_title(f"constant {drive}", fontsize=8)

    ax = axes[1, 1]
    _spectral_panel(ax, run)
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def _spectral_panel(ax, run: RunFile) -> None:
    """EL peak and FWHM drift from the first spectrum, and Delta u'v' (x 1000) against time."""
    if "spectra" not in run.stream_names() or run.rows("spectra") < 2:
        ax.text(0.5, 0.5, "fewer than two spectra: no drift", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    s = _thinned(run, ["elapsed_s", "peak_wavelength_nm", "fwhm_nm", "cie_u_prime", "cie_v_prime", "low_light",
                       "saturated", "truncated"], "spectra")
    good = np.ones(len(s["elapsed_s"]), bool)
    for flag in ("low_light", "saturated", "truncated"):
        good &= np.asarray(s.get(flag, np.zeros_like(good)), float) == 0
    hours = np.asarray(s["elapsed_s"], float)[good] / 3600
    peak, fwhm = np.asarray(s["peak_wavelength_nm"])[good], np.asarray(s["fwhm_nm"])[good]
    u, v = np.asarray(s["cie_u_prime"])[good], np.asarray(s["cie_v_prime"])[good]
    if len(hours) < 2:
        ax.text(0.5, 0.5, "fewer than two usable spectra", ha="center", va="center", transform=ax.transAxes)
        return
    ax.plot(hours, peak - peak[0], "o-", ms=2, lw=0.8, color="tab:red", label=f"EL peak (from {peak[0]:.1f} nm)")
    ax.plot(hours, fwhm - fwhm[0], "s-", ms=2, lw=0.8, color="tab:orange", label=f"FWHM (from {fwhm[0]:.1f} nm)")
    ax.set_xlabel("Time (h)")
    ax.set_ylabel("Drift (nm)")
    twin = ax.twinx()
    twin.plot(hours, 1e3 * np.hypot(u - u[0], v - v[0]), "^-", ms=2, lw=0.8, color="tab:purple")
    twin.set_ylabel("Δu′v′ (×10$^{-3}$)", color="tab:purple")
    ax.legend(fontsize=6, loc="best")
    ax.set_title("EL spectrum", fontsize=8)


def plot_cycling(run: RunFile, out: str | Path) -> Path:
    """Light at the start, end and mean of every on phase, and voltage / current against cycle."""
    plt = pyplot()
    c = _thinned(run, ["cycle", "light_start", "light_end", "light_mean", "voltage_mean_V",
                       "current_density_mean_mA_cm2"], "cycles")
    cycle = np.asarray(c["cycle"]) + 1  # stored from 0; figures count from 1
    first = next((float(x) for x in c["light_mean"] if math.isfinite(x) and x > 0), math.nan)
    from .plotting import light_quantity_of

    units = UNIT_LABELS[LIGHT_UNITS[light_quantity_of(run)]]
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.9), constrained_layout=True)
    ax = axes[0]
    for name, style, width, label in (("light_start", ":", 1.2, "start of on phase"),
                                      ("light_end", "--", 1.0, "end of on phase"),
                                      ("light_mean", "-", 0.8, "mean of on phase")):
        ax.plot(cycle, np.asarray(c[name], float) / first, style, lw=width, label=label)
    ax.set_xlabel("Cycle")
    ax.set_ylabel("L / L(cycle 1)")
    ax.set_title(f"cycle 1: {first:.4g} {units}", fontsize=8)
    ax.legend(fontsize=6)
    ax = axes[1]
    drive = str(parameter_values(run).get("drive_mode", "voltage"))
    moving, label = (("current_density_mean_mA_cm2", "Current density (mA cm$^{-2}$)") if drive == "voltage"
                     else ("voltage_mean_V", "Voltage (V)"))
    ax.plot(cycle, c[moving], "-", lw=0.9, color="tab:blue")
    ax.set_xlabel("Cycle")
    ax.set_ylabel(label)
    ax.set_title(f"constant {drive}, mean of each on phase", fontsize=8)
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_stress_recovery(run: RunFile, out: str | Path) -> Path:
    """L/L0 through the stresses and the probes of the rests; the loss split per cycle."""
    from station.analysis.recovery import recovery_cycles

    plt = pyplot()
    c = _thinned(run, ["phase", "elapsed_s", "relative_light"], "monitor")
    hours, relative, probe = np.asarray(c["elapsed_s"]) / 3600, np.asarray(c["relative_light"]), c["phase"] == 1
    cycles = recovery_cycles(run)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 2.9), constrained_layout=True)
    ax = axes[0]
    ax.plot(hours[~probe], relative[~probe], ".", ms=1.5, color="k", label="under stress")
    ax.plot(hours[probe], relative[probe], "o", ms=3, mfc="none", color="tab:blue", label="probes during rest")
    ax.set_xlabel("Time (h)")
    ax.set_ylabel("L / L$_0$")
    ax.legend(fontsize=6)
    ax = axes[1]
    k = np.array([x.cycle for x in cycles])
    if len(k):
        irreversible = np.array([x.irreversible_loss for x in cycles])
        reversible = np.array([x.reversible_loss for x in cycles])
        ax.bar(k, 100 * irreversible, color="tab:red", label="irreversible (so far)",
               yerr=100 * np.array([x.irreversible_sigma for x in cycles]), capsize=2)
        ax.bar(k, 100 * reversible, bottom=100 * irreversible, color="tab:blue", label="reversible (this cycle)",
               yerr=100 * np.array([x.reversible_sigma for x in cycles]), capsize=2)
        ax.set_xticks(k)
    ax.set_xlabel("Cycle")
    ax.set_ylabel("Loss at the end of the stress (% of L$_0$)")
    ax.legend(fontsize=6)
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_lifetime_overlay(runs: list[RunFile], labels: list[str], out: str | Path) -> Path:
    """L/L0 of several lifetime runs on log time; with lifetimes at two or more L0, the
    acceleration fit L0^n T_x = C and the lifetime converted to 100 and 1000 (light units)."""
    plt = pyplot()
    analyses = [lifetime_analysis(run) for run in runs]
    percent = _common_percent(analyses)
    points = [(a["L0"], a[f"T{percent:g}_h"]) for a in analyses if percent and a.get(f"T{percent:g}_h")]
    acceleration = None
    if len({round(math.log(p[0]), 3) for p in points}) >= 2:
        acceleration = fit_acceleration([p[0] for p in points], [p[1] for p in points])
    fig, axes = plt.subplots(1, 2 if acceleration else 1, figsize=(7.2 if acceleration else 4.2, 3.0),
                             constrained_layout=True, squeeze=False)
    ax = axes[0, 0]
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(runs)))
    units = ""
    for run, analysis, label, colour in zip(runs, analyses, labels, colours, strict=True):
        quantity = analysis.get("light_quantity", "photometric")
        units = UNIT_LABELS.get(LIGHT_UNITS[quantity], LIGHT_UNITS[quantity])
        c = _relative_light(run, "monitor", quantity, float(analysis.get("L0", math.nan)))
        shown = (c["hours"] > 0) & np.isfinite(c["relative"])
        ax.plot(c["hours"][shown], c["relative"][shown], "-", lw=1, color=colour,
                label=f"{label}: L$_0$ {analysis.get('L0', math.nan):.3g} {units}")
    if percent:
        ax.axhline(percent / 100, color="0.5", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("Time (h)")
    ax.set_ylabel("L / L$_0$")
    ax.legend(fontsize=6)
    if acceleration:
        ax = axes[0, 1]
        l0 = np.array([p[0] for p in points])
        t = np.array([p[1] for p in points])
        ax.loglog(l0, t, "o", color="k")
        grid = np.geomspace(min(l0.min(), 100.0) / 1.5, l0.max() * 1.5, 50)
        ax.loglog(grid, np.exp(acceleration.log_c - acceleration.n * np.log(grid)), "-", color="tab:blue",
                  label=f"n = {acceleration.n:.3f}" + (f" ± {acceleration.n_uncertainty:.3f}"
                                                       if math.isfinite(acceleration.n_uncertainty) else ""))
        for reference in (100.0, 1000.0):
            converted, sigma = acceleration.lifetime_at(reference)
            ax.plot([reference], [converted], "s", mfc="none", color="tab:red")
            right = reference >= float(np.sqrt(grid[0] * grid[-1]))  # labels kept inside the axes
            ax.annotate(f"T{percent:g}({reference:g}) = {converted:.3g}"
                        + (f" ± {sigma:.2g}" if math.isfinite(sigma) else "") + " h", (reference, converted),
                        textcoords="offset points", xytext=(-6, -10) if right else (6, 4),
                        ha="right" if right else "left", fontsize=6)
        ax.set_xlabel(f"L$_0$ ({units})")
        ax.set_ylabel(f"T{percent:g} (h)")
        ax.legend(fontsize=6)
        ax.set_title("L$_0^n$ T = C", fontsize=8)
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def _common_percent(analyses: list[dict[str, Any]]) -> float | None:
    """The lowest x whose T_x every run (or most of them) reached."""
    for percent in (50, 80, 90, 95):
        if sum(1 for a in analyses if a.get(f"T{percent}_h")) >= max(2, len(analyses) // 2 + 1):
            return float(percent)
    return None
