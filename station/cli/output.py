"""What the command line prints, and the checks on the files it writes."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError

FIGURE_SUFFIXES = {".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".eps"}


def check_output(path: Path, overwrite: bool, option: str) -> None:
    """Refuse to replace a file without ``--overwrite``, or to write where it cannot."""
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {parent} is not writable")


def check_figure_output(path: Path, option: str) -> None:
    """A figure may replace an older figure, never a data file: the suffix must be an image's."""
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"{option} {path}: a figure file needs one of {', '.join(sorted(FIGURE_SUFFIXES))}")
    check_output(path, True, option)


def format_value(name: str, value: Any, unit: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if unit == "1" and "eqe" in name:
            return f"{100 * value:.3f} %"
        return f"{value:.5g} {unit}".rstrip()
    return str(value)


def print_figures(figures: dict[str, Any], units: dict[str, str]) -> None:
    if not figures:
        print("no points: no figures")
        return
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"  {name:<{width}}  {format_value(name, value, units.get(name, ''))}")


def print_summary(summary: dict[str, Any]) -> None:
    """Rows per stream, and min / mean / max of each column."""
    for stream, columns in summary.get("streams", {}).items():
        print(f"  stream {stream}: {summary['rows'][stream]} rows")
        width = max(map(len, columns), default=0)
        for name, s in columns.items():
            if not s["finite"]:
                continue
            units = s["units"] if s["units"] not in ("", "1") else ""
            print(f"    {name:<{width}}  min {s['min']:.5g}  mean {s['mean']:.5g}  max {s['max']:.5g} {units}".rstrip())


def print_analysis(analysis: dict[str, Any]) -> None:
    if "figures" in analysis:
        print_figures(analysis["figures"], analysis.get("units", {}))
    elif "summary" in analysis:
        print_summary(analysis["summary"])
    else:
        print("no points: no figures")
