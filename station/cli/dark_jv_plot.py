"""The figure of a dark J-V: log-log J-V with its regions, fitted lines and slopes, and the
local slope along the curve; or, for a lateral film, I-V with the conductance fit."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from procedures.dark_jv import DarkJV
from station.analysis.single_carrier import VACUUM_PERMITTIVITY_F_M, local_slope
from station.data.reader import RunFile

from .plotting import pyplot

REGION_COLOURS = {"ohmic": "tab:green", "trap_filling": "tab:orange", "mott_gurney": "tab:purple"}
REGION_LABELS = {"ohmic": "ohmic", "trap_filling": "trap filling", "mott_gurney": "Mott–Gurney"}


def plot_dark_jv(run: RunFile, out: str | Path, regions: dict[str, tuple[float, float]] | None = None) -> Path:
    plt = pyplot()
    analysis = DarkJV.analyze(run, regions=regions)
    figures = analysis["figures"]
    c = run.read_columns(["direction", "voltage_V", "current_A", "current_density_mA_cm2", "in_compliance"],
                         stream="points")
    forward = c["direction"] > 0
    out = Path(out)
    if analysis.get("structure") == "lateral":
        fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
        v, i = c["voltage_V"], c["current_A"]
        ax.plot(v[forward], 1e9 * i[forward], "o", ms=2, color="tab:blue", label="forward")
        if (~forward).any():
            ax.plot(v[~forward], 1e9 * i[~forward], "o", ms=2, color="tab:blue", alpha=0.4, label="reverse")
        if "conductance_S" in figures:
            line = np.array([figures["fit_from_V"], figures["fit_to_V"]])
            ax.plot(line, 1e9 * (figures["conductance_S"] * line + figures["offset_current_A"]), "-", color="k",
                    lw=1, label=f"σ = {figures['conductivity_S_cm']:.3g} ± "
                                f"{figures['conductivity_uncertainty_S_cm']:.1g} S/cm")
        ax.set_xlabel("Voltage (V)")
        ax.set_ylabel("Current (nA)")
        ax.legend(frameon=False)
        ax.set_title("Lateral film: I–V", fontsize=9)
        fig.savefig(out, dpi=200)
        plt.close(fig)
        return out

    p = run.parameters
    d_m, eps = float(p["thickness"][0]) * 1e-9, float(p["relative_permittivity"][0]) * VACUUM_PERMITTIVITY_F_M
    v, j = c["voltage_V"], c["current_density_mA_cm2"]
    good = forward & (v > 0) & (j > 0) & np.isfinite(j)
    fig, (ax, ax_slope) = plt.subplots(1, 2, figsize=(10.5, 3.8), constrained_layout=True)
    ax.loglog(v[good], j[good], "o", ms=2, color="tab:blue", label="forward")
    back = ~forward & (v > 0) & (j > 0)
    if back.any():
        ax.loglog(v[back], j[back], "o", ms=1.5, color="tab:blue", alpha=0.35, label="reverse")
    for row, (name, colour) in enumerate(REGION_COLOURS.items()):
        if f"{name}_from_V" in figures:
            low, high = figures[f"{name}_from_V"], figures[f"{name}_to_V"]
            given = " (given)" if name in (regions or {}) else ""
            for axis in (ax, ax_slope):
                axis.axvspan(low, high, color=colour, alpha=0.12, lw=0)
            slope = figures.get(f"{name}_slope", math.nan)
            ax.text(math.sqrt(low * high), 0.02 + 0.11 * row, f"{REGION_LABELS[name]}{given}\nslope {slope:.2f}",
                    transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7, color=colour)
    vmin, vmax = float(v[good].min()), float(v[good].max())
    grid = np.logspace(math.log10(vmin), math.log10(vmax), 200)
    if "ohmic_conductance_mA_cm2_V" in figures:
        ax.loglog(grid, figures["ohmic_conductance_mA_cm2_V"] * grid, "--", lw=0.8, color=REGION_COLOURS["ohmic"],
                  label="J ∝ V")
    if "trap_filled_limit_V" in figures:
        v_tfl = figures["trap_filled_limit_V"]
        ax.axvline(v_tfl, color="k", ls=":", lw=0.8)
        ax.text(v_tfl, 0.98, f" V_TFL = {v_tfl:.3g} V\n N_t = {figures['trap_density_cm3']:.3g} cm⁻³",
                transform=ax.get_xaxis_transform(), va="top", fontsize=7)
        if "ohmic_conductance_mA_cm2_V" in figures:
            s = figures["trap_filling_slope"]
            span = grid[(grid >= v_tfl) & (grid <= figures.get("trap_filling_to_V", v_tfl))]
            j_tfl = figures["ohmic_conductance_mA_cm2_V"] * v_tfl
            ax.loglog(span, j_tfl * (span / v_tfl) ** s, "-", lw=0.8, color=REGION_COLOURS["trap_filling"])
    if "mobility_cm2_Vs" in figures:
        mu = figures["mobility_cm2_Vs"] * 1e-4
        part = grid[grid >= figures.get("mott_gurney_from_V", vmin) / 2]
        mg = 9 / 8 * eps * mu * part ** 2 / d_m ** 3 * 0.1  # A/m^2 -> mA/cm^2
        ax.loglog(part, mg, "-", lw=0.8, color=REGION_COLOURS["mott_gurney"],
                  label=f"Mott–Gurney, μ = ({figures['mobility_cm2_Vs']:.3e} ± "
                        f"{figures['mobility_uncertainty_cm2_Vs']:.1e}) cm²/(V s)")
    ax.set_ylim(j[good].min() / 3, j[good].max() * 3)
    ax.set_xlabel("Voltage (V)")
    ax.set_ylabel("Current density (mA cm$^{-2}$)")
    carrier = str(p.get("carrier", ("", ""))[0])
    ax.set_title(f"Dark J–V ({carrier}-only)" if carrier in ("hole", "electron") else "Dark J–V", fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0, 0.88))

    slope = local_slope(v[good], j[good])
    ax_slope.semilogx(v[good], slope, "o-", ms=2, lw=0.8, color="k")
    for level in (1, 2):
        ax_slope.axhline(level, color="grey", lw=0.6, ls="--")
    ax_slope.set_ylim(0, max(6.0, min(float(np.nanmax(slope)) * 1.1, 60.0)))
    ax_slope.set_xlabel("Voltage (V)")
    ax_slope.set_ylabel("d ln J / d ln V")
    ax_slope.set_title("Local slope", fontsize=9)
    fig.savefig(out, dpi=200)
    plt.close(fig)
    return out
