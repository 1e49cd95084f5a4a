"""``ledstation`` command line.

Exit codes: 0 done, 1 failed, 2 bad input, 130 Ctrl-C, 143 SIGTERM. Errors print as
one line on stderr, never a traceback (``-v`` logs it); the source output is off on every
exit path, and the last line says what the shutdown confirmed ("output confirmed off",
or loudly that it could not).

Start-up is kept short: this module imports only the standard library; each command
imports what it needs when it runs, and ``ledstation run`` builds its per-procedure
options from the procedure registry only when ``run`` is the command.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from station.core.errors import StationError, one_line
from station.core.signals import EXIT_CODES, INTERRUPTS, REASONS, Terminated

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
#: exit code -> the last line's word for the signal behind it
SIGNAL_MESSAGES = {EXIT_CODES[s]: REASONS[s] for s in REASONS}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"ledstation: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _positionals(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if not a.startswith("-")]


#: dark J-V regions the user may give instead of the detected ones: option -> region name
REGION_OPTIONS = {"--ohmic-V": "ohmic", "--trap-filling-V": "trap_filling", "--mott-gurney-V": "mott_gurney",
                  "--fit-V": "fit"}


def voltage_range(text: str) -> tuple[float, float]:
    """"LOW:HIGH" in volts (argparse type)."""
    parts = text.replace(",", ":").split(":")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH in volts, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH with LOW < HIGH (volts), got {text!r}")
    return low, high


def _add_region_options(parser: argparse.ArgumentParser) -> None:
    for option, name in REGION_OPTIONS.items():
        what = "the lateral film's conductance fit" if name == "fit" else f"the {name.replace('_', '-')} region"
        parser.add_argument(option, type=voltage_range, metavar="LOW:HIGH", dest=f"region_{name}",
                            help=f"dark J-V: {what}, in V, instead of the detected one")


def regions_of(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """The regions given on the command line (name -> (low, high) V)."""
    return {name: getattr(args, f"region_{name}") for name in REGION_OPTIONS.values()
            if getattr(args, f"region_{name}", None) is not None}


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked (it costs
    tens of milliseconds)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        import station

        print(f"ledstation {station.__version__}")
        parser.exit()


def build_parser(with_procedures: bool = True, procedure: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``with_procedures=False`` skips importing the procedures,
    ``procedure`` imports only that one."""
    from procedures import procedure_names

    parser = _Parser(prog="ledstation", description="LED test station (simulated bench by default).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log instrument activity")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    measure = sub.add_parser("measure", help="measure the device once and print V, I, luminance, EQE")
    measure.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    drive = measure.add_mutually_exclusive_group()
    drive.add_argument("--voltage", type=float, help="source this voltage, V (default 4 V)")
    drive.add_argument("--current-density", type=float, help="source this current density, mA/cm^2")
    measure.add_argument("--compliance-current", type=float, help="current compliance, A (default: safety limit)")
    measure.add_argument("--compliance-voltage", type=float, help="voltage compliance, V (default: safety limit)")
    measure.add_argument("--settle-s", type=float, default=0.5, help="wait after applying the drive, s")
    measure.add_argument("--json", action="store_true", help="print the figures as JSON")

    calibrate = sub.add_parser("calibrate-sphere", help="build a responsivity file from a calibration lamp")
    calibrate.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    calibrate.add_argument("--lamp-certificate", type=Path,
                           help="lamp spectral flux CSV (wavelength_nm,spectral_flux_W_nm); "
                                "default on the simulated bench: its lamp's certificate")
    calibrate.add_argument("--out", type=Path, required=True, help="responsivity file to write")
    calibrate.add_argument("--scans", type=int, default=20, help="lamp spectra averaged")
    calibrate.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    calibrate.add_argument("--yes", action="store_true", help="do not prompt to mount or switch the lamp")

    photodiode = sub.add_parser("calibrate-photodiode",
                                help="geometry factor and spectral weighting of the photodiode, on this device")
    photodiode.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    photodiode.add_argument("--current-density", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0, 100.0],
                            help="calibrate at each of these current densities, mA/cm^2 (default 1 3 10 30 100): "
                                 "span the drives the photodiode will read, outside them its figures are flagged")
    photodiode.add_argument("--readings", type=int, default=10, help="spectrum/photocurrent pairs averaged per drive")
    photodiode.add_argument("--settle-s", type=float, default=1.0, help="wait after switching the drive on, s")
    photodiode.add_argument("--out", type=Path, required=True, help="photodiode calibration file to write (JSON)")
    photodiode.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    run = sub.add_parser("run", help=f"run a procedure ({', '.join(procedure_names())}) and write an HDF5 file")
    if with_procedures:
        from .run_commands import add_procedure_parsers

        add_procedure_parsers(run, procedure)
    else:
        run.add_argument("procedure", choices=procedure_names())

    analyze = sub.add_parser("analyze", help="figures of merit of a run file")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--json", action="store_true", help="print as JSON")
    _add_region_options(analyze)

    export = sub.add_parser("export", help="write a stream's scalar columns as CSV")
    export.add_argument("file", type=Path)
    export.add_argument("--csv", action="store_true", required=True, help="CSV output (the only format)")
    export.add_argument("-o", "--out", type=Path, help="CSV file (default: the run file with .csv)")
    export.add_argument("--stream", help="stream to export (default: the run's main stream)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing CSV file")

    plot = sub.add_parser("plot", help="standard figure set of a run file; several lifetime files: overlaid, "
                                       "with their acceleration fit")
    plot.add_argument("file", type=Path, nargs="+")
    plot.add_argument("-o", "--out", type=Path, required=True, help="figure file (.png, .pdf, .svg)")
    _add_region_options(plot)

    recover = sub.add_parser("recover", help="complete copy of a run file left by a crash (kill -9, power cut)")
    recover.add_argument("file", type=Path)
    recover.add_argument("-o", "--out", type=Path, required=True, help="new run file")
    recover.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    resume = sub.add_parser("resume", help="continue a lifetime or cycling run whose process ended (kill, crash, "
                                           "SIGTERM), appending to its file")
    resume.add_argument("file", type=Path)
    resume.add_argument("--config", type=Path, help="station configuration TOML (default: the simulated bench); the "
                                                   "station is always this one, never what the file stores")
    resume.add_argument("--accept-station-change", action="store_true",
                        help="resume although an instrument's identity or the calibration differs from the run's")
    resume.add_argument("--status-interval", type=float, default=None,
                        help="when the output is not a terminal, print the status line at most this often, s")

    batch = sub.add_parser("batch", help="statistics of each figure of merit over a batch of run files (one file "
                                         "a device): mean, std, median, min/max, outliers, champion")
    batch.add_argument("files", type=Path, nargs="+")
    batch.add_argument("--by", choices=("batch", "substrate", "device_structure"), default="batch",
                       help="group the devices by this sample field")
    batch.add_argument("--csv", type=Path, help="write the statistics as CSV")
    batch.add_argument("--devices-csv", type=Path, help="write one row per device as CSV")
    batch.add_argument("--figure", type=Path, help="histogram and box plot per figure (.png, .pdf, .svg)")
    batch.add_argument("--overwrite", action="store_true", help="replace existing CSV files")
    batch.add_argument("--json", action="store_true", help="print as JSON")

    from .reference_command import add_reference_parser

    add_reference_parser(sub)

    fit = sub.add_parser("lifetime-fit", help="acceleration exponent n (L0^n T_x = const) from lifetime runs at "
                                              "several L0, and lifetimes at reference luminances")
    fit.add_argument("files", type=Path, nargs="+")
    fit.add_argument("--percent", type=float, default=50.0, help="x of T_x")
    fit.add_argument("--reference", type=float, nargs="+", default=[100.0, 1000.0],
                     help="reference luminances to convert to, cd/m^2")
    fit.add_argument("--json", action="store_true", help="print as JSON")

    gui = sub.add_parser("gui", help="the station window: queue runs, live plots, abort, past runs, watch a file")
    gui.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    gui.add_argument("--folder", type=Path, default=Path("."), help="folder the runs' files are written to")
    gui.add_argument("--pattern", default="{date}-{time}-{n:03d}-{procedure}.h5",
                     help="file name of each run: {procedure} {n} {date} {time} {title} and any parameter")
    gui.add_argument("--watch", type=Path, action="append", default=[],
                     help="follow this run file, written by another process (repeatable)")
    gui.add_argument("--open", type=Path, action="append", default=[], help="open this run file in the browser")
    gui.add_argument("--channel", default="", help="AGENT/CHANNEL: the Run tab's queue is run by that agent's channel "
                                                  "(default: the window's own local agent, started when needed)")
    gui.add_argument("--in-process", action="store_true",
                     help="measure in the window's own process, without an agent (closing the window aborts the run)")
    gui.add_argument("--agent-host", default="localhost", help="the coordinator of --channel's agent")
    gui.add_argument("--agent-port", type=int, default=12300, help="the coordinator's port (also the local agent's)")
    gui.add_argument("--data-port", type=int, default=11100, help="the data proxy the agent's runs publish to")
    gui.add_argument("--network", type=Path, help="a network file ([[agents]]: name, host, port, data_port): a Rack "
                                                  "tab with every channel of those agents")

    from .service_commands import add_service_parsers, client_options

    add_service_parsers(sub, client_options())
    sub.add_parser("presets", help="list the simulated device presets")
    config = sub.add_parser("config", help="print the default (simulated bench) configuration")
    config.add_argument("--check", type=Path, help="validate this configuration file instead")
    return parser


#: command -> (module of station.cli, function); a command imports only its own module
COMMANDS = {
    "measure": ("measure_command", "measure_command"),
    "calibrate-sphere": ("setup_commands", "calibrate_sphere_command"),
    "calibrate-photodiode": ("photodiode_command", "calibrate_photodiode_command"),
    "presets": ("setup_commands", "presets_command"),
    "config": ("setup_commands", "config_command"),
    "run": ("run_commands", "run_command"),
    "analyze": ("file_commands", "analyze_command"),
    "export": ("file_commands", "export_command"),
    "plot": ("file_commands", "plot_command"),
    "recover": ("file_commands", "recover_command"),
    "resume": ("lifetime_commands", "resume_command"),
    "lifetime-fit": ("lifetime_commands", "lifetime_fit_command"),
    "batch": ("batch_command", "batch_command"),
    "reference": ("reference_command", "reference_command"),
    "gui": ("gui_command", "gui_command"),
    "coordinator": ("service_commands", "coordinator_command"),
    "agent": ("service_commands", "agent_command"),
    "queue": ("service_commands", "queue_command"),
    "status": ("service_commands", "status_command"),
    "abort": ("service_commands", "abort_command"),
    "output-off": ("service_commands", "output_off_command"),
    "resume-run": ("service_commands", "resume_run_command"),
}


def _command(name: str):
    from importlib import import_module

    module, function = COMMANDS[name]
    return getattr(import_module(f"station.cli.{module}"), function)


def main(argv: Sequence[str] | None = None) -> int:
    from station.core.lazy_import import defer

    defer("pandas")  # pymeasure imports it for CSV results the station does not use
    defer("scipy")  # pint imports it only to know that it is there
    running_as_program = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    words = _positionals(argv)
    running = bool(words) and words[0] == "run"
    parser = build_parser(with_procedures=running, procedure=words[1] if running and len(words) > 1 else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # pymeasure warns at import about optional extras (ZMQ, IPython) it does not need here
        logging.getLogger("pymeasure").setLevel(logging.ERROR)
        logging.getLogger("pyleco").setLevel(logging.CRITICAL)  # its sign-in chatter; the command says what failed
    tail = object()
    try:
        with INTERRUPTS.installed(hold_after=running_as_program):
            try:
                try:
                    code, message = _run_command(args)
                finally:
                    INTERRUPTS.hold(tail)  # from the command's end on, a signal only decides the exit code
            except (KeyboardInterrupt, Terminated):  # the first signal, raised as the command ended
                INTERRUPTS.hold(tail)
                code, message = EXIT_FAILED, ""
            code = _report(code, message)
    except (KeyboardInterrupt, Terminated):  # the first signal, raised before the command began: nothing opened
        code = EXIT_FAILED
    INTERRUPTS.release(tail)  # our handlers are gone by now
    late = INTERRUPTS.exit_code()
    if late is not None and code not in (EXIT_INTERRUPTED, EXIT_TERMINATED):  # it came as the last lines went out
        code = _last_lines(late, SIGNAL_MESSAGES[late])
    return code


def _run_command(args: argparse.Namespace) -> tuple[int, str]:
    """The command's exit code and its one-line message (empty: none)."""
    from .output import forget_output_reports

    forget_output_reports()
    try:
        code = _command(args.command)(args)
        message = ""
    except StationError as exc:
        code, message = exc.exit_code, f"error: {exc}"
        if args.verbose:
            logging.exception("details")
    except BrokenPipeError:  # the reader of our output went away (`| head`): stop printing, quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code, message = EXIT_OK, ""
    except KeyboardInterrupt:
        code, message = EXIT_INTERRUPTED, SIGNAL_MESSAGES[EXIT_INTERRUPTED]
    except Terminated:
        code, message = EXIT_TERMINATED, SIGNAL_MESSAGES[EXIT_TERMINATED]
    except Exception as exc:  # noqa: BLE001 - one line for the user; -v shows the traceback
        if args.verbose:
            logging.exception("unexpected failure")
        code, message = EXIT_FAILED, f"failed: {one_line(exc)} (-v for details)"
    return code, message


def _report(code: int, message: str) -> int:
    """The exit code and the last lines: the message, and what the shutdown confirmed."""
    held = INTERRUPTS.exit_code()
    if held is not None and (code in (EXIT_OK, EXIT_FAILED) or (code == held and not message)):
        # a signal arrived while the run was ending, or the window closed on one
        code, message = held, SIGNAL_MESSAGES[held]
    return _last_lines(code, message)


def _last_lines(code: int, message: str) -> int:
    from .output import output_state

    state, confirmed = output_state()
    if message:
        sys.stderr.write(f"ledstation: {message}" + (f"; {state}" if state and confirmed else "") + "\n")
    elif state and confirmed:  # the last line says what the shutdown confirmed, whatever was printed before
        sys.stderr.write(f"ledstation: {state}\n")
    if state and not confirmed:
        sys.stderr.write(f"ledstation: !!! {state} !!!\n")
        code = code if code != EXIT_OK else EXIT_FAILED
    return code
