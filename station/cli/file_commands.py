"""``ledstation analyze``, ``export``, ``plot`` and ``recover``: commands on run files."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from station.core.errors import ConfigError, DataFileError, one_line

from . import EXIT_OK
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

    with malformed_is_bad_input(args.file):
        run = read_run(args.file)
        if run.points == 0:
            raise ConfigError(f"{args.file}: no points")
        result = analyze_run(run)
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

    from .plotting import plot_run

    check_figure_output(args.out, "-o", inputs=(args.file,))
    with malformed_is_bad_input(args.file):
        run = read_run(args.file)
        if run.points == 0:
            raise ConfigError(f"{args.file}: no points to plot")
        plot_run(run, args.out)
    print(f"wrote {args.out}")
    return EXIT_OK
