"""A batch's statistics as files: CSV of the statistics, CSV of the devices, and a figure
(a histogram and a box plot per figure of merit). Used by ``ledstation batch`` and the
window's run browser."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import IO

from station.analysis.batch import BatchStatistics
from station.core.errors import ConfigError

#: figures drawn (histogram and box plot), first four present
PLOTTED_FIGURES = ("peak_eqe", "max_luminance_cd_m2", "max_radiance_W_sr_m2", "turn_on_voltage_V",
                   "eqe_at_1000_cd_m2", "T50_h", "T90_h", "T95_h", "L0_cd_m2")


STATISTICS_HEADER = ["batch", "figure", "units", "n", "mean", "std", "median", "min", "max", "mean_with_outliers",
                     "better", "best_device", "outliers", "champion"]


def write_statistics_csv(batches: list[BatchStatistics], path: Path) -> None:
    """One row per batch and figure (values in the units column; EQE as a fraction)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(STATISTICS_HEADER)
        for b in batches:
            for name, s in b.figures.items():
                w.writerow([b.batch, name, s.units, s.n, repr(s.mean), repr(s.std), repr(s.median), repr(s.minimum),
                            repr(s.maximum), repr(s.mean_all), s.better, s.best, " ".join(s.outliers),
                            b.champion if name == b.lead_figure else ""])


def write_devices_csv(batches: list[BatchStatistics], path: Path) -> None:
    """One row per device: batch, label, file, status, every figure, and which were outliers."""
    names: list[str] = []
    for b in batches:
        names += [n for n in b.figures if n not in names]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["batch", "device", "file", "status", "reason", *names, "outlier_in"])
        for b in batches:
            for d in b.devices:
                flagged = [n for n, s in b.figures.items() if d.label in s.outliers]
                w.writerow([b.batch, d.label, d.path, d.status, d.reason,
                            *(repr(d.figures[n]) if n in d.figures else "" for n in names), " ".join(flagged)])


def plot_batches(batches: list[BatchStatistics], out: Path | IO[bytes], image_format: str | None = None) -> None:
    """A histogram and a box plot per figure (rows), one colour per batch; outliers as red
    crosses, the champion as a star. ``out``: a file name, or a binary stream with ``image_format``."""
    from station.data.figure_style import figure_style

    with figure_style():
        _draw_batches(batches, out, image_format)


def _draw_batches(batches: list[BatchStatistics], out: Path | IO[bytes], image_format: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [n for n in PLOTTED_FIGURES if any(n in b.figures for b in batches)]
    if "max_luminance_cd_m2" in present and "max_radiance_W_sr_m2" in present:
        present.remove("max_radiance_W_sr_m2")
    present = present[:4] or [n for b in batches for n in b.figures][:4]
    if not present:
        raise ConfigError("no figure of merit in these files to draw")
    fig, axes = plt.subplots(len(present), 2, figsize=(10, 2.9 * len(present)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 2]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, name in enumerate(present):
        hist_ax, box_ax = axes[row]
        scale, label = _axis(name, next(b.figures[name].units for b in batches if name in b.figures))
        boxes, names = [], []
        for i, b in enumerate(batches):
            s = b.figures.get(name)
            if s is None:
                continue
            colour = colours[i % len(colours)]
            kept = [v * scale for k, v in s.values.items() if k not in s.outliers]
            hist_ax.hist(kept, bins=max(5, min(20, len(kept))), histtype="stepfilled", alpha=0.45, color=colour,
                         label=f"{b.batch}: {_mean_text(s, scale)}")
            boxes.append(kept)
            names.append(b.batch)
            x = len(boxes)
            jitter = [x + 0.08 * ((j % 5) - 2) for j in range(len(s.values))]
            for (k, v), xj in zip(s.values.items(), jitter, strict=True):
                marker, c = ("x", "red") if k in s.outliers else ("*", "gold") if k == b.champion else ("o", colour)
                star = marker == "*"
                box_ax.plot(xj, v * scale, marker, color=c, ms=9 if star else 5, mec="k" if star else c, zorder=3)
        if boxes:
            box_ax.boxplot(boxes, showfliers=False)
            box_ax.set_xticks(range(1, len(names) + 1), names)
        hist_ax.set_xlabel(label)
        hist_ax.set_ylabel("devices")
        hist_ax.legend(fontsize=8)
        box_ax.set_ylabel(label)
    left_out = [f"{d.label} ({d.status}: {d.reason[:40]})" for b in batches for d in b.failed]
    fig.suptitle("Batch statistics (outliers: red x, left out of mean and std; champion: star)"
                 + (f"\nleft out: {'; '.join(left_out)}" if left_out else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120, format=image_format)
    plt.close(fig)


def _axis(name: str, units: str) -> tuple[float, str]:
    if "eqe" in name and units in ("1", ""):
        return 100.0, f"{name} (%)"
    return 1.0, f"{name} ({units})" if units else name


def _mean_text(s, scale: float) -> str:
    std = f" ± {s.std * scale:.3g}" if math.isfinite(s.std) else ""
    return f"{s.mean * scale:.3g}{std} (n={s.n})"
