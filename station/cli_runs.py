"""``ledstation run``, ``analyze``, ``export`` and ``plot``."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import inspect
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter, Parameter

from .errors import ConfigError

EXIT_OK, EXIT_FAILED = 0, 1
#: compliance parameters whose default is capped at the station's safety limit
SAFETY_CAPPED = {"compliance_current": "max_current_A", "compliance_voltage": "max_voltage_V"}


def _procedures() -> dict[str, type]:
    from procedures.eqe_sweep import EQESweep
    from procedures.jvl_sweep import JVLSweep

    return {"jvl": JVLSweep, "eqe": EQESweep}


def _parameters(cls: type) -> dict[str, Parameter]:
    return {name: p for name, p in inspect.getmembers(cls) if isinstance(p, Parameter)}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_run_parsers(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a procedure (J-V-L or EQE sweep) and write an HDF5 file")
    procedures = run.add_subparsers(dest="procedure", required=True, parser_class=type(run))
    for key, cls in _procedures().items():
        p = procedures.add_parser(key, help=(cls.__doc__ or "").strip().splitlines()[0],
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
        p.add_argument("--out", type=Path, help="HDF5 file to write (default: ledstation-<procedure>-<time>.h5)")
        p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
        p.add_argument("--plot", type=Path, help="also write the standard figure set to this image file")
        p.add_argument("--title", default="", help="free text stored with the run")
        p.add_argument("--pixel-area", type=float, help="pixel area, cm^2 (default: the configuration's)")
        for name, parameter in _parameters(cls).items():
            units = f" [{parameter.units}]" if getattr(parameter, "units", None) else ""
            text = f"{parameter.name}{units}"
            if isinstance(parameter, BooleanParameter):
                p.add_argument(_option(name), action=argparse.BooleanOptionalAction, default=parameter.default,
                               help=text)
            elif isinstance(parameter, ListParameter):
                p.add_argument(_option(name), choices=parameter.choices, default=parameter.default, help=text)
            elif isinstance(parameter, IntegerParameter):
                p.add_argument(_option(name), type=int, default=parameter.default, help=text)
            elif name in SAFETY_CAPPED:
                p.add_argument(_option(name), type=float, default=None,
                               help=f"{text} (default {parameter.default:g}, or the [safety] limit if lower)")
            elif isinstance(parameter, FloatParameter):
                p.add_argument(_option(name), type=float, default=parameter.default, help=text)


def run_command(args: argparse.Namespace) -> int:
    from procedures.runner import ProcedureRunner

    from .config import load_config
    from .hdf5_writer import HDF5RunWriter
    from .instruments import open_station
    from .terminal import TerminalProgress

    config = load_config(args.config)
    if args.pixel_area is not None:
        if not (math.isfinite(args.pixel_area) and args.pixel_area > 0):
            raise ConfigError(f"--pixel-area must be a positive number of cm^2, got {args.pixel_area:g}")
        config = dataclasses.replace(config, pixel_area_cm2=args.pixel_area)
    cls = _procedures()[args.procedure]
    parameters = _parameters(cls)
    values = {name: getattr(args, name) for name in parameters}
    for name, limit in SAFETY_CAPPED.items():
        if name in values and values[name] is None:
            values[name] = min(parameters[name].default, getattr(config, limit))
    for name, value in values.items():  # NaN passes these range checks; procedure.validate refuses it
        try:
            parameters[name].convert(value)
        except ValueError:
            p = parameters[name]
            units = getattr(p, "units", None) or ""
            allowed = (f"allowed {p.minimum:g} to {p.maximum:g} {units}".rstrip()
                       if hasattr(p, "minimum") else "not allowed")
            raise ConfigError(f"bad parameter {_option(name)} {value}: {allowed}") from None
    try:
        procedure = cls(**values)
        procedure.check_parameters()
        procedure.refresh_parameters()
    except (ValueError, NameError) as exc:
        raise ConfigError(f"bad parameter: {exc}") from None
    procedure.validate(config)
    out = args.out or Path(f"ledstation-{args.procedure}-{dt.datetime.now():%Y%m%d-%H%M%S}.h5")
    _check_output(out, args.overwrite, "--out")
    if args.plot is not None:
        _check_figure_output(args.plot, "--plot")

    writer = HDF5RunWriter(out, overwrite=args.overwrite)
    with open_station(config) as station:
        runner = ProcedureRunner(procedure, station, [(writer, True), (TerminalProgress(), False)], args.title)
        try:
            stop = runner.run()
        finally:
            writer.abort_file()
    print(f"wrote {out}")
    _print_figures(stop.analysis.get("figures", {}), stop.analysis.get("units", {}))
    if args.plot is not None:
        from .datafile import read_run
        from .plotting import plot_sweep

        plot_sweep(read_run(out), args.plot)
        print(f"wrote {args.plot}")
    return EXIT_OK if stop.status == "finished" else EXIT_FAILED


def _check_output(path: Path, overwrite: bool, option: str) -> None:
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; pass --overwrite to replace it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}: directory {parent} is not writable")


FIGURE_SUFFIXES = {".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".eps"}


def _check_figure_output(path: Path, option: str) -> None:
    """A figure may replace an older figure, never a data file: the suffix must be an image's."""
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"{option} {path}: a figure file needs one of {', '.join(sorted(FIGURE_SUFFIXES))}")
    _check_output(path, True, option)


def _print_figures(figures: dict[str, Any], units: dict[str, str]) -> None:
    if not figures:
        print("no points: no figures")
        return
    width = max(map(len, figures))
    for name, value in figures.items():
        unit = units.get(name, "")
        if isinstance(value, float):
            if unit == "1" and "eqe" in name:
                text = "—" if math.isnan(value) else f"{100 * value:.3f} %"
            else:
                text = "—" if math.isnan(value) else f"{value:.5g} {unit}"
        else:
            text = str(value)
        print(f"  {name:<{width}}  {text}")


def analyze_command(args: argparse.Namespace) -> int:
    from .datafile import read_run
    from .run_figures import figures_of

    run = read_run(args.file)
    if run.points == 0:
        raise ConfigError(f"{args.file}: no points")
    result = figures_of(run)
    status = run.status if run.status != "running" else "running (no end status: still running, or its writer died)"
    if args.json:
        print(json.dumps({"file": str(args.file), "procedure": run.procedure, "status": run.status,
                          "reason": run.reason, "points": run.points, **result}, indent=2,
                         default=lambda x: None))
        return EXIT_OK
    print(f"{args.file}: {run.procedure}, {run.points} points, {status}" + (f" ({run.reason})" if run.reason else ""))
    _print_figures(result["figures"], result["units"])
    return EXIT_OK


def recover_command(args: argparse.Namespace) -> int:
    from .recovery import recover

    _check_output(args.out, args.overwrite, "-o")
    run = recover(args.file, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {run.points} points, status {run.status}")
    return EXIT_OK


def export_command(args: argparse.Namespace) -> int:
    from .datafile import read_run

    run = read_run(args.file)
    out = args.out or args.file.with_suffix(".csv")
    _check_output(out, args.overwrite, "--out")
    names = list(run.columns)
    with open(out, "w", newline="") as f:
        f.write(f"# {args.file.name}: {run.procedure}, status {run.status} ({run.reason})\n")
        writer = csv.writer(f)
        writer.writerow([f"{name} ({run.units.get(name, '')})" for name in names])
        for i in range(run.points):
            writer.writerow([_csv_value(run.columns[name][i]) for name in names])
    print(f"wrote {out} ({run.points} rows, {len(names)} columns)")
    return EXIT_OK


def _csv_value(value: Any) -> str:
    if isinstance(value, float) or hasattr(value, "dtype") and value.dtype.kind == "f":
        return repr(float(value))
    return str(int(value))


def plot_command(args: argparse.Namespace) -> int:
    from .datafile import read_run
    from .plotting import plot_sweep

    run = read_run(args.file)
    if run.points == 0:
        raise ConfigError(f"{args.file}: no points to plot")
    _check_figure_output(args.out, "-o")
    plot_sweep(run, args.out)
    print(f"wrote {args.out}", file=sys.stdout)
    return EXIT_OK
