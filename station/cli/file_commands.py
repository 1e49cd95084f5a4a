"""``ledstation analyze``, ``export``, ``plot`` and ``recover``: commands on run files."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from station.core.errors import ConfigError, DataFileError, one_line

from . import EXIT_OK, regions_of
from .output import check_figure_output, check_output, print_analysis


@contextmanager
def malformed_is_bad_input(path: Path) -> Iterator[None]:
    """A run file missing pieces or holding the wrong types: one line, exit 2."""
    try:
        yield
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError, RuntimeError) as exc:
        raise DataFileError(f"{path}: malformed run file ({one_line(exc)})") from None


def analyze_command(args: argparse.Namespace) -> int:
    from station.data.file_claim import being_written
    from station.data.reader import read_run
    from station.session import analyze_run

    regions = regions_of(args)
    with malformed_is_bad_input(args.file):
        run = read_run(args.file)
        if run.points == 0:
            raise ConfigError(f"{args.file}: no points")
        _check_regions_apply(run, regions, args.file)
        result = analyze_run(run, regions)
    status = run.status
    if status == "running":
        status = ("running (being written by a run now)" if being_written(args.file)
                  else "running (no end status: its writer died; `ledstation recover` makes a complete copy)")
    if args.json:
        print(json.dumps({"file": str(args.file), "procedure": run.procedure, "status": run.status,
                          "reason": run.reason, "points": run.points, "file_format": run.file_format,
                          "rows": {s: run.rows(s) for s in run.stream_names()}, **result}, indent=2,
                         default=lambda x: None))
        return EXIT_OK
    print(f"{args.file}: {run.procedure}, {run.points} points, {status}" + (f" ({run.reason})" if run.reason else ""))
    print_analysis(result)
    return EXIT_OK


def _check_regions_apply(run, regions: dict[str, tuple[float, float]], path: Path) -> None:
    """Regions are for dark J-V runs, and a lateral film's only region is its fit."""
    if not regions:
        return
    if run.procedure != "dark_jv":
        raise ConfigError(f"{path}: --ohmic-V, --trap-filling-V, --mott-gurney-V and --fit-V apply to dark_jv runs, "
                          f"not {run.procedure}")
    lateral = str(run.parameters.get("structure", ("vertical", ""))[0]) == "lateral"
    wrong = [name for name in regions if (name == "fit") != lateral]
    if wrong:
        kind = "a lateral film takes --fit-V only" if lateral else "--fit-V is for a lateral film"
        raise ConfigError(f"{path}: {kind}")


def recover_command(args: argparse.Namespace) -> int:
    from station.session import recover_and_analyze

    check_output(args.out, args.overwrite, "-o", inputs=(args.file,))
    with malformed_is_bad_input(args.file):
        outcome = recover_and_analyze(args.file, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {outcome.points} points, status {outcome.status}")
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    from station.data.export import export_csv
    from station.data.reader import read_run

    out = args.out or args.file.with_suffix(".csv")
    check_output(out, args.overwrite, "--out", inputs=(args.file,))
    with malformed_is_bad_input(args.file):
        run = read_run(args.file)
        if args.stream is not None and args.stream not in run.streams:
            raise ConfigError(f"{args.file}: no stream {args.stream!r} (streams: {', '.join(run.stream_names())})")
        stream = args.stream or run.main_stream
        rows = export_csv(run, out, stream)
    print(f"wrote {out} ({rows} rows, {len(run.column_names(stream))} columns)")
    return EXIT_OK


def plot_command(args: argparse.Namespace) -> int:
    from station.data.reader import read_run

    from .plotting import plot_overlay, plot_run

    files = list(args.file)
    if len(set(map(os.path.realpath, files))) != len(files):
        raise ConfigError("the same file given twice: each run once")
    check_figure_output(args.out, "-o", inputs=tuple(files))
    regions = regions_of(args)
    runs = []
    for path in files:
        with malformed_is_bad_input(path):
            run = read_run(path)
        if run.points == 0:
            raise ConfigError(f"{path}: no points to plot")
        runs.append(run)
    if len(runs) == 1:
        with malformed_is_bad_input(files[0]):
            _check_regions_apply(runs[0], regions, files[0])
            plot_run(runs[0], args.out, regions)
    else:
        if regions:
            raise ConfigError("region options apply to one dark J-V file, not an overlay")
        others = sorted({f"{p.name} ({r.procedure})" for p, r in zip(files, runs, strict=True)
                         if r.procedure != "lifetime"})
        if others:
            raise ConfigError(f"an overlay draws lifetime runs only; not: {', '.join(others)}")
        labels = _overlay_labels(files, runs)
        with malformed_is_bad_input(files[0]):
            plot_overlay(runs, labels, args.out)
    print(f"wrote {args.out}")
    return EXIT_OK


def _overlay_labels(files: list[Path], runs: list) -> list[str]:
    """Each run's sample (substrate/pixel) or its file name; told apart when two share one."""
    labels = []
    for path, run in zip(files, runs, strict=True):
        sample = run.metadata.get("sample", {})
        labels.append("/".join(sample[k] for k in ("substrate", "pixel") if sample.get(k)) or Path(path).stem)
    return [label if labels.count(label) == 1 else f"{label} ({Path(f).name})"
            for label, f in zip(labels, files, strict=True)]
