"""``ledstation reference save`` and ``reference check``: a reference device's J-V-L sweep,
kept once, and run again later to catch a drifting calibration or a dirty sphere.

The reference file (JSON, ``ledstation-reference/1``) keeps the sweep's parameters (the
check runs exactly the same sweep), the pixel, the station that measured it, the lab's
tolerances and the compared figures (:mod:`station.analysis.reference`). Each save and
each check also writes its sweep as an ordinary run file. ``check`` prints every figure's
deviation with pass or fail, appends one line to ``--log`` if given (a history of the
station's calibration), and exits 0 when every figure is within tolerance, 1 when not.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError, one_line

from . import EXIT_FAILED, EXIT_OK
from .output import check_files, check_output

FORMAT = "ledstation-reference/1"
PROCEDURE = "jvl"
#: a gentle sweep: the reference device is measured again and again and must not age
DEFAULT_CURRENT_DENSITY_LIMIT_MA_CM2 = 100.0
SWEEP_OPTIONS = {"start_voltage": "V", "stop_voltage": "V", "step_voltage": "V", "settle_time": "s"}


def add_reference_parser(sub: Any) -> None:
    reference = sub.add_parser("reference", help="save a reference device's J-V-L/EQE once; check the station "
                                                 "against it later (pass/fail per figure)")
    actions = reference.add_subparsers(dest="reference_action", required=True, parser_class=type(reference))
    save = actions.add_parser("save", help="measure the reference device and keep its figures")
    save.add_argument("--out", type=Path, required=True, help="reference file to write (JSON)")
    save.add_argument("--name", default="", help="what the reference device is (free text)")
    save.add_argument("--tolerance-percent", type=float, default=2.0,
                      help="largest deviation of a light figure (luminance, radiance, EQE) that passes, %%")
    save.add_argument("--tolerance-V", type=float, default=0.05, help="largest deviation of a voltage that passes, V")
    save.add_argument("--current-density-limit", type=float, default=DEFAULT_CURRENT_DENSITY_LIMIT_MA_CM2,
                      help="end the sweep at this current density, mA/cm^2 (keep it gentle: the device is "
                           "measured again at every check)")
    for name, units in SWEEP_OPTIONS.items():
        save.add_argument("--" + name.replace("_", "-"), type=float, help=f"J-V-L sweep {name}, {units} "
                                                                          "(default: the jvl procedure's)")
    check = actions.add_parser("check", help="measure the reference device again and compare")
    check.add_argument("reference", type=Path, help="reference file (ledstation reference save)")
    check.add_argument("--tolerance-percent", type=float, help="override the reference file's tolerance, %%")
    check.add_argument("--tolerance-V", type=float, help="override the reference file's voltage tolerance, V")
    check.add_argument("--log", type=Path, help="append one line per check to this CSV file (the station's history)")
    check.add_argument("--json", action="store_true", help="print the comparison as JSON")
    for p in (save, check):
        p.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
        p.add_argument("--pixel", help="the reference device's pixel, when the station has a substrate switch")
        p.add_argument("--run-out", type=Path, help="run file of the sweep (default: next to the reference file, "
                                                    "with the time)")
        p.add_argument("--overwrite", action="store_true", help="replace existing output files")


def reference_command(args: argparse.Namespace) -> int:
    return save_reference(args) if args.reference_action == "save" else check_reference(args)


def _tolerances(percent: float, volts: float) -> tuple[float, float]:
    if not (math.isfinite(percent) and 0 < percent <= 100):
        raise ConfigError(f"--tolerance-percent must be within 0-100 %, got {percent:g}")
    if not (math.isfinite(volts) and 0 < volts <= 10):
        raise ConfigError(f"--tolerance-V must be within 0-10 V, got {volts:g}")
    return percent, volts


def _config(args: argparse.Namespace, pixel: str | None, where: str = "--pixel") -> Any:
    from station.setup.config import load_config

    config = load_config(args.config)
    if not pixel:
        return config.with_default_pixel()
    if not config.substrate.pixels:
        raise ConfigError(f"{where} {pixel}: needs [substrate] pixels and a [switch] in the configuration")
    return config.for_pixel(config.substrate.pixel(pixel))


def _run_out(args: argparse.Namespace, next_to: Path, kind: str) -> Path:
    from station.data.file_claim import check_writable_path

    if args.run_out is None:  # a new name (two checks in one second get -2, -3 ...)
        stem = f"{next_to.stem}-{kind}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        path = next(p for n in range(1, 10**6) if not (p := next_to.with_name(
            f"{stem}{'' if n == 1 else f'-{n}'}.h5")).exists())
    else:
        path = args.run_out
    check_writable_path(path, "--run-out")
    if path.exists() and not args.overwrite:
        raise ConfigError(f"--run-out {path}: exists (pass --overwrite to replace it)")
    return path


def _sweep(config: Any, values: dict[str, Any], out: Path, overwrite: bool, title: str) -> tuple[Any, dict]:
    """Run the J-V-L sweep into ``out``; (its run file, its compared figures)."""
    from station.analysis.reference import reference_figures
    from station.data.reader import read_run
    from station.session.plan import execute, plan_run
    from station.sinks.terminal import TerminalProgress

    from .output import note_output_report

    plan = plan_run(PROCEDURE, values, config, out, overwrite=overwrite, title=title, out_option="--run-out")
    outcome = execute(plan, [TerminalProgress(interval_s=5.0)], on_station_closed=note_output_report)
    if outcome.path is None or outcome.status != "finished":
        raise _SweepFailed(f"the reference sweep did not finish ({outcome.status}: {outcome.reason})")
    print(f"wrote {outcome.path}")
    run = read_run(outcome.path)
    analysis = outcome.analysis
    figures = reference_figures(run, analysis.get("figures", {}), analysis.get("units", {}))
    if not any(f.compare == "relative" for f in figures.values()):
        raise _SweepFailed("the sweep gave no reliable light figure to compare (is the reference device lit?)")
    return run, {k: v.__dict__ for k, v in figures.items()}


class _SweepFailed(Exception):
    pass


def save_reference(args: argparse.Namespace) -> int:
    percent, volts = _tolerances(args.tolerance_percent, args.tolerance_V)
    if not (math.isfinite(args.current_density_limit) and args.current_density_limit > 0):
        raise ConfigError("--current-density-limit must be a positive current density, mA/cm^2")
    check_output(args.out, args.overwrite, "--out")
    config = _config(args, args.pixel)
    run_out = _run_out(args, args.out, "saved")
    check_files([("--out", args.out), ("--run-out", run_out)], config.files_read())
    values: dict[str, Any] = {"current_density_limit": args.current_density_limit}
    values.update({k: getattr(args, k) for k in SWEEP_OPTIONS if getattr(args, k) is not None})
    try:
        run, figures = _sweep(config, values, run_out, args.overwrite, f"reference save: {args.name}")
    except _SweepFailed as exc:
        print(f"{exc}: nothing saved")
        return EXIT_FAILED
    reference = {"format": FORMAT, "name": args.name, "saved": dt.datetime.now().astimezone().isoformat(),
                 "procedure": PROCEDURE, "parameters": {k: v for k, (v, _) in run.parameters.items()},
                 "pixel": config.pixel.name if config.pixel else "", "sample": run.metadata.get("sample", {}),
                 "station": run.metadata.get("instruments", {}), "run_file": str(run.path),
                 "tolerance_percent": percent, "tolerance_V": volts, "figures": figures}
    partial = args.out.with_name(f".{args.out.name}.partial")
    partial.write_text(json.dumps(reference, indent=2, default=_plain) + "\n", encoding="utf-8")
    os.replace(partial, args.out)
    print(f"wrote {args.out}: {len(figures)} figures")
    for name, f in figures.items():
        print(f"  {name:<36} {f['value']:.6g} {f['units']}".rstrip())
    return EXIT_OK


def _stored_number(path: Path, reference: dict[str, Any], key: str, default: float) -> float:
    value = reference.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{path}: {key} must be a number, got {str(value)[:40]!r}")
    return float(value)


def load_reference(path: Path) -> dict[str, Any]:
    from station.core.user_files import read_user_file

    raw = read_user_file(path, "reference")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not a reference file ({one_line(exc)})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("figures"), dict) \
            or not isinstance(data.get("parameters"), dict):
        raise ConfigError(f"{path}: not a reference file (format {FORMAT})")
    for key in ("name", "pixel", "saved"):
        value = data.get(key, "")
        if not isinstance(value, str) or len(value) > 1000 or "\x00" in value:
            raise ConfigError(f"{path}: {key} must be text of at most 1000 characters")
    return data


def _stored_figures(path: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """The reference's figures, each checked: a finite value (not zero where compared in per
    cent), a known comparison; ConfigError for none at all (a check must compare something)."""
    from station.analysis.reference import RELATIVE, VOLTS, ReferenceFigure

    stored = {}
    for name, v in reference["figures"].items():
        try:
            figure = ReferenceFigure(float(v["value"]), str(v["units"]), str(v["compare"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"{path}: figure {name!r} is malformed") from None
        if figure.compare not in (RELATIVE, VOLTS) or not math.isfinite(figure.value) \
                or (figure.compare == RELATIVE and figure.value == 0):
            raise ConfigError(f"{path}: figure {name!r} cannot be compared ({figure.value!r}, {figure.compare!r})")
        stored[str(name)] = figure
    if not stored:
        raise ConfigError(f"{path}: the reference holds no figures to compare")
    return stored


def check_reference(args: argparse.Namespace) -> int:
    from station.analysis.reference import ReferenceFigure, compare

    reference = load_reference(args.reference)
    stored = _stored_figures(args.reference, reference)
    percent, volts = _tolerances(args.tolerance_percent if args.tolerance_percent is not None
                                 else _stored_number(args.reference, reference, "tolerance_percent", 2.0),
                                 args.tolerance_V if args.tolerance_V is not None
                                 else _stored_number(args.reference, reference, "tolerance_V", 0.05))
    if args.log is not None:
        check_output(args.log, True, "--log", inputs=(args.reference,))
    stored_pixel = reference.get("pixel") or None
    config = _config(args, args.pixel or stored_pixel,
                     "--pixel" if args.pixel else "the reference was measured on pixel")
    run_out = _run_out(args, args.reference, "check")
    check_files([("--run-out", run_out), ("--log", args.log)], [("reference", args.reference), *config.files_read()])
    try:
        run, figures = _sweep(config, dict(reference["parameters"]), run_out, args.overwrite,
                            f"reference check: {reference.get('name', '')}")
    except _SweepFailed as exc:
        print(f"FAIL: {exc}")
        return EXIT_FAILED
    now = {k: ReferenceFigure(**v) for k, v in figures.items()}
    then, light_now = reference.get("station", {}).get("light", ""), run.metadata["instruments"].get("light", "")
    if then and then != light_now:
        print(f"note: the reference was measured with {then!r}, this check with {light_now!r}")
    deviations = compare(stored, now, percent, volts)
    passed = bool(deviations) and all(d.passed for d in deviations)  # nothing compared is no pass
    if args.json:
        print(json.dumps({"passed": passed, "reference": str(args.reference), "run_file": str(run_out),
                          "deviations": [{**d.__dict__, "passed": d.passed} for d in deviations]},
                         indent=2, default=_plain))
    else:
        print(f"reference {args.reference} ({reference.get('name') or 'unnamed'}, saved {reference.get('saved')})")
        print(f"  {'figure':<36} {'reference':>12} {'now':>12} {'deviation':>11} {'tolerance':>10}")
        for d in deviations:
            unit = "%" if d.compare == "relative" else "V"
            print(f"  {d.name:<36} {d.reference:>12.5g} {d.now:>12.5g} {d.deviation:>+10.3f}{unit} "
                  f"{'±' + format(d.tolerance, 'g') + unit:>10}  {'pass' if d.passed else 'FAIL'}")
        print(("PASS" if passed else "FAIL") + f": {sum(d.passed for d in deviations)} of {len(deviations)} figures "
              f"within ±{percent:g} % (light) and ±{volts:g} V (voltages)")
    if args.log is not None:
        _append_log(args.log, args.reference, run_out, passed, deviations)
    return EXIT_OK if passed else EXIT_FAILED


def _append_log(log: Path, reference: Path, run_out: Path, passed: bool, deviations: list) -> None:
    new = not log.exists() or log.stat().st_size == 0
    with open(log, "a", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["time", "reference", "run_file", "result", *[d.name for d in deviations]])
        w.writerow([dt.datetime.now().astimezone().isoformat(timespec="seconds"), str(reference), str(run_out),
                    "pass" if passed else "FAIL", *[f"{d.deviation:.4g}" for d in deviations]])


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(type(value).__name__)
