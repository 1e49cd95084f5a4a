"""``ledstation run <procedure>`` over the pixels of one or more substrates.

One run file per pixel (``--out`` is a pattern with ``{pixel}``, and ``{substrate}``
for several substrates): each file is an ordinary run file that ``analyze``, ``plot``,
``resume`` and ``batch`` read as they read any other, with its batch, substrate, pixel,
switch channel and device structure in ``entry/sample``. Every name is planned and
checked before an instrument is opened. Each pixel opens the station, selects its pixel
with the output confirmed off, reads the switch back, runs, and closes the station (output
off, every relay open). A pixel that fails (a shorted device) does not stop the others; a
switch that does not read back what was asked, Ctrl-C or an output not confirmed off
stops everything.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from procedures import procedure_class
from station.core.errors import ConfigError
from station.core.signals import INTERRUPTS
from station.data.name_pattern import format_name, pattern_fields
from station.setup.config import Pixel, StationConfig, check_name

from . import EXIT_FAILED, EXIT_OK
from .output import check_figure_output, check_files

DEFAULT_PATTERN = "ledstation-{procedure}-{date}-{time}-{substrate}-{pixel}.h5"
FIELDS = ("procedure", "batch", "substrate", "pixel", "date", "time")


@dataclass(frozen=True)
class PixelRun:
    plan: Any  # station.session.plan.RunPlan: this pixel of this substrate, in this batch
    plot: Path | None

    @property
    def out(self) -> Path:
        return self.plan.out

    @property
    def pixel(self) -> Pixel:
        assert self.plan.config.pixel is not None
        return self.plan.config.pixel

    @property
    def substrate(self) -> str:
        return self.plan.config.substrate.name


def pixel_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pixels", help="pixels to measure, comma-separated, or 'all' (default: all the [substrate] "
                                    "pixels)")
    p.add_argument("--substrates", help="substrate names, comma-separated, measured one after another (default: "
                                        "[substrate] name); --out then needs {substrate}")
    p.add_argument("--batch", help="batch label stored with every run (default: [substrate] batch)")
    p.add_argument("--yes", action="store_true", help="do not prompt to mount the next substrate (scripted)")


def uses_pixels(args: argparse.Namespace, config: StationConfig) -> bool:
    """Whether this run goes over pixels; options that need a substrate refused without one."""
    if config.substrate.pixels:
        if args.pixel_area is not None:
            raise ConfigError("--pixel-area: the [substrate] pixels have their own areas (area_cm2)")
        return True
    given = [o for o, v in (("--pixels", args.pixels), ("--substrates", args.substrates)) if v]
    if given:
        raise ConfigError(f"{given[0]} needs [substrate] pixels and a [switch] in the configuration")
    return False


def plan(args: argparse.Namespace, config: StationConfig, now: dt.datetime) -> list[PixelRun]:
    """Every pixel run planned (:func:`station.session.plan.plan_run`: parameters, file,
    title checked; nothing opened yet), and the free space for all of them."""
    from station.session.plan import check_free_space_for, plan_run

    cls = procedure_class(args.procedure)
    parameters = {name: getattr(args, name) for name in cls.parameter_definitions()}
    substrate = config.substrate
    if args.pixels in (None, "all"):
        pixels = list(substrate.pixels)
    else:
        names = [n.strip() for n in args.pixels.split(",") if n.strip()]
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"--pixels: give pixel names once each, or 'all', got {args.pixels!r}")
        pixels = [substrate.pixel(n) for n in names]
    substrates = ([check_name(n.strip(), "--substrates") for n in args.substrates.split(",")] if args.substrates
                  else [substrate.name])
    if len(set(substrates)) != len(substrates):
        raise ConfigError("--substrates: a substrate is named twice")
    batch = check_name(args.batch, "--batch") if args.batch else substrate.batch
    if len(substrates) > 1 and not args.yes and not sys.stdin.isatty():
        raise ConfigError("several substrates need a prompt between them: run at a terminal, or pass --yes")
    pattern = str(args.out) if args.out is not None else DEFAULT_PATTERN
    plot_pattern = str(args.plot) if args.plot is not None else None
    for option, text in (("--out", pattern), ("--plot", plot_pattern)):
        if text is not None:
            _check_pattern(option, text, several_pixels=len(pixels) > 1, several_substrates=len(substrates) > 1)
    fields = {"procedure": args.procedure, "batch": batch or "nobatch", "date": f"{now:%Y%m%d}",
              "time": f"{now:%H%M%S}"}
    runs = []
    for name in substrates:
        for pixel in pixels:
            values = {**fields, "substrate": name, "pixel": pixel.name}
            out = Path(format_name(pattern, values, "--out"))
            plot = Path(format_name(plot_pattern, values, "--plot")) if plot_pattern is not None else None
            run_plan = plan_run(args.procedure, parameters, config.for_pixel(pixel, name, batch), out,
                                overwrite=args.overwrite, title=args.title, check_space=False)
            if plot is not None:
                check_figure_output(plot, "--plot", inputs=(out,))
                check_files([("--out", out), ("--plot", plot)], config.files_read())
            runs.append(PixelRun(run_plan, plot))
    outs = [r.out.resolve() for r in runs]
    if len(set(outs)) != len(outs):
        raise ConfigError("--out: two runs would write the same file")
    check_free_space_for([r.plan for r in runs])
    return runs


def _check_pattern(option: str, text: str, several_pixels: bool, several_substrates: bool) -> None:
    used = pattern_fields(text, FIELDS, option)
    if several_pixels and "pixel" not in used:
        raise ConfigError(f"{option} {text!r}: several pixels need {{pixel}} in the file name (one file per pixel)")
    if several_substrates and "substrate" not in used:
        raise ConfigError(f"{option} {text!r}: several substrates need {{substrate}} in the file name")


def run_pixels(args: argparse.Namespace, config: StationConfig, interval: float) -> int:
    """Execute every planned pixel run, substrate after substrate; a pixel that fails does
    not stop the others, an abort or an output not confirmed off stops everything."""
    from station.session.plan import execute
    from station.sinks.terminal import TerminalProgress

    from .output import note_output_report
    from .run_commands import report_outcome

    runs = plan(args, config, dt.datetime.now())
    results: list[tuple[PixelRun, Any]] = []
    substrate = None
    for run in runs:
        if substrate is not None and run.substrate != substrate and not _next_substrate(run.substrate, args.yes):
            print("stopped before substrate", run.substrate)
            break
        substrate = run.substrate
        print(f"--- substrate {run.substrate}, pixel {run.pixel.name} (channel {run.pixel.channel}) -> {run.out}")
        outcome = execute(run.plan, [TerminalProgress(interval_s=interval)], on_station_closed=note_output_report)
        results.append((run, outcome))
        report_outcome(outcome, run.out, run.plot)
        if outcome.status == "aborted" or not outcome.output_confirmed_off:
            break
    _print_summary(results)
    finished = sum(outcome.status == "finished" for _, outcome in results)
    return EXIT_OK if finished == len(runs) else EXIT_FAILED


def _next_substrate(name: str, scripted: bool) -> bool:
    """Ask for the next substrate (the output is off and every relay open now)."""
    if scripted:
        print(f"--- next substrate: {name}")
        return True
    try:
        with INTERRUPTS.raising():  # Ctrl-C at the prompt ends the command at once
            answer = input(f"Mount substrate {name}, then press Enter (q and Enter to stop): ")
    except EOFError:
        return False
    return answer.strip().lower() not in ("q", "quit", "stop")


def _print_summary(results: list[tuple[PixelRun, Any]]) -> None:
    print(f"{'substrate':<14} {'pixel':<8} {'status':<9} file")
    for run, outcome in results:
        print(f"{run.substrate:<14} {run.pixel.name:<8} {outcome.status:<9} "
              f"{outcome.path if outcome.path is not None else '(no file)'}"
              + (f"  ({outcome.reason})" if outcome.status != "finished" else ""))
    files = [str(o.path) for _, o in results if o.path is not None]
    if len(files) > 1:
        print("batch statistics: ledstation batch " + " ".join(files))
