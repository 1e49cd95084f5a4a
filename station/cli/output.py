"""What the command line prints, and the checks on the files it writes."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError

#: what the shutdown of every station this command opened confirmed (see :func:`opened_station`)
_OUTPUT_REPORTS: list = []


@contextmanager
def opened_station(config: Any) -> Iterator[Any]:
    """``open_station`` whose closing report :func:`output_state` gives to the last line."""
    from station.setup.station import open_station

    chosen = config.with_default_pixel()  # a command that measures one device: the first pixel
    if chosen is not config:
        config = chosen
        sys.stderr.write(f"ledstation: pixel {config.pixel.name} (the substrate's first)\n")
    station = open_station(config, on_failed_open=note_output_report)
    try:
        yield station
    finally:
        try:
            station.close()
        finally:
            note_output_report(station)


def print_file_problem(outcome: Any) -> None:
    """A run whose file failed after the run's own stop line (a full disk at the last write)
    says so: the stop line printed during the run said how the run ended, not the file."""
    if outcome.file_problem:
        sys.stderr.write(f"ledstation: the run file failed at the end: {outcome.status}: {outcome.file_problem}\n")


def note_output_report(station: Any) -> None:
    """Keep what the shutdown of a closed station confirmed, for the last line (:func:`output_state`)."""
    if station.output_report is not None:
        _OUTPUT_REPORTS.append(station.output_report)


def forget_output_reports() -> None:
    _OUTPUT_REPORTS.clear()


def output_state() -> tuple[str, bool]:
    """(what the last shutdown confirmed, whether every one was confirmed); ("", True) if no
    station was opened."""
    if not _OUTPUT_REPORTS:
        return "", True
    bad = [r for r in _OUTPUT_REPORTS if not r.confirmed]
    return (bad[-1] if bad else _OUTPUT_REPORTS[-1]).summary(), not bad


FIGURE_SUFFIXES = {".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".eps"}


def check_files(writes, reads=()) -> None:
    """:func:`station.data.file_claim.check_files` (imported when used: ``--help`` stays fast)."""
    from station.data.file_claim import check_files as check

    check(writes, reads)


def same_file(a: Path, b: Path) -> bool:
    from station.data.file_claim import same_file as same

    return same(a, b)


def check_output(path: Path, overwrite: bool, option: str, inputs: tuple[Path, ...] = ()) -> None:
    """A file a command writes (a figure, a CSV): never one of its ``inputs``, never a run
    file (only a run's own ``--out`` with ``--overwrite`` replaces one), never an existing
    file without ``--overwrite``, and somewhere it can be written."""
    from station.data.file_claim import check_writable_path, is_hdf5

    check_writable_path(path, option)
    for source in inputs:
        if same_file(path, source):
            raise ConfigError(f"{option} {path}: is this command's own input; choose another name")
    if path.exists():
        if is_hdf5(path):
            raise ConfigError(f"{option} {path}: is an HDF5 data file; it is never replaced by this command")
        if not overwrite:
            raise ConfigError(f"{path} exists; pass --overwrite to replace it")


def check_figure_output(path: Path, option: str, inputs: tuple[Path, ...] = ()) -> None:
    """A figure may replace an older figure, never a data file: the suffix must be an image's."""
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"{option} {path}: a figure file needs one of {', '.join(sorted(FIGURE_SUFFIXES))}")
    check_output(path, True, option, inputs)


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
