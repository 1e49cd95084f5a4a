"""``ledstation run <procedure>``: options from the procedure registry, no per-procedure code."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter, Parameter

from procedures import procedure_class, procedure_names
from procedures.parameters import SAFETY_CAPPED, option
from station.core.errors import ConfigError

from . import EXIT_FAILED, EXIT_OK
from .output import check_figure_output, check_files, print_analysis, print_file_problem
from .pixel_runs import pixel_options, run_pixels, uses_pixels


def add_procedure_parsers(run: argparse.ArgumentParser, wanted: str | None = None) -> None:
    """One sub-command per registered procedure; every parameter an option with units.

    With ``wanted`` (the procedure on the command line) only that procedure is imported.
    """
    procedures = run.add_subparsers(dest="procedure", required=True, parser_class=type(run))
    names = procedure_names()
    for key in names:
        if wanted in names and key != wanted:
            procedures.add_parser(key)
            continue
        cls = procedure_class(key)
        p = procedures.add_parser(key, help=cls.summary(), formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
        p.add_argument("--out", type=Path, help="HDF5 file to write (default: ledstation-<procedure>-<time>.h5)")
        p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
        p.add_argument("--plot", type=Path, help="also write the standard figure set to this image file")
        p.add_argument("--title", default="", help="free text stored with the run")
        p.add_argument("--pixel-area", type=float, help="pixel area, cm^2 (default: the configuration's)")
        pixel_options(p)
        p.add_argument("--status-interval", type=float, default=None,
                       help=f"when the output is not a terminal, print the status line at most every this many "
                            f"seconds (default {getattr(cls, 'STATUS_INTERVAL_S', 0.0):g}; 0 = at every point)")
        for name, parameter in cls.parameter_definitions().items():
            _add_parameter_option(p, name, parameter)


def _add_parameter_option(p: argparse.ArgumentParser, name: str, parameter: Parameter) -> None:
    units = f" [{parameter.units}]" if getattr(parameter, "units", None) else ""
    text = f"{parameter.name}{units}".replace("%", "%%")  # argparse formats help with %
    if isinstance(parameter, BooleanParameter):
        p.add_argument(option(name), action=argparse.BooleanOptionalAction, default=parameter.default, help=text)
    elif isinstance(parameter, ListParameter):
        p.add_argument(option(name), choices=parameter.choices, default=parameter.default, help=text)
    elif isinstance(parameter, IntegerParameter):
        p.add_argument(option(name), type=int, default=parameter.default, help=text)
    elif name in SAFETY_CAPPED:
        p.add_argument(option(name), type=float, default=None,
                       help=f"{text} (default {parameter.default:g}, or the [safety] limit if lower)")
    elif isinstance(parameter, FloatParameter):
        p.add_argument(option(name), type=float, default=parameter.default, help=text)
    else:
        p.add_argument(option(name), default=parameter.default, help=text)


def run_command(args: argparse.Namespace) -> int:
    """Planned (everything checked, nothing open) and executed through :mod:`station.session.plan`."""
    from station.session.plan import check_title, execute, plan_run
    from station.setup.config import check_pixel_area, load_config
    from station.sinks.terminal import TerminalProgress

    from .output import note_output_report

    config = load_config(args.config)
    if uses_pixels(args, config):
        check_title(args.title)
        return run_pixels(args, config, status_interval(args.status_interval, procedure_class(args.procedure)))
    if args.pixel_area is not None:
        config = dataclasses.replace(config, pixel_area_cm2=check_pixel_area(args.pixel_area, "--pixel-area"))
    cls = procedure_class(args.procedure)
    out = args.out if args.out is not None else \
        Path(f"ledstation-{args.procedure}-{dt.datetime.now():%Y%m%d-%H%M%S}.h5")
    plan = plan_run(args.procedure, {name: getattr(args, name) for name in cls.parameter_definitions()}, config,
                    out, overwrite=args.overwrite, title=args.title)
    if args.plot is not None:
        check_figure_output(args.plot, "--plot", inputs=(out,))
        check_files([("--out", out), ("--plot", args.plot)], config.files_read())
    tell_notes(plan)
    outcome = execute(plan, [TerminalProgress(interval_s=status_interval(args.status_interval, cls))],
                      on_station_closed=note_output_report)
    report_outcome(outcome, out, args.plot)
    return EXIT_OK if outcome.status == "finished" else EXIT_FAILED


def tell_notes(plan) -> None:
    for note in plan.notes:
        sys.stderr.write(f"ledstation: {note}\n")


def report_outcome(outcome, out: Path, plot: Path | None) -> None:
    """What every run command prints at its end: the file, its figures, its figure set."""
    print_file_problem(outcome)
    if outcome.path is None:
        print(f"no point was measured: {out} left as it was")
        return
    print(f"wrote {outcome.path}")
    print_analysis(outcome.analysis)
    if plot is not None and outcome.points:
        from station.data.reader import read_run

        from .plotting import plot_run

        plot_run(read_run(outcome.path), plot)
        print(f"wrote {plot}")


def status_interval(given: float | None, cls: type) -> float:
    if given is None:
        return float(getattr(cls, "STATUS_INTERVAL_S", 0.0))
    if not (given >= 0 and given < 1e9):
        raise ConfigError(f"--status-interval must be >= 0 s, got {given}")
    return given
