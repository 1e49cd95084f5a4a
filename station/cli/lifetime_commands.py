"""``ledstation resume`` (continue a lifetime or cycling run whose process ended) and
``ledstation lifetime-fit`` (the acceleration exponent n from runs at several L0)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from station.core.errors import ConfigError

from . import EXIT_FAILED, EXIT_OK
from .file_commands import malformed_is_bad_input


def resume_command(args: argparse.Namespace) -> int:
    """Planned (:func:`station.session.plan.plan_resume`: everything checked before an
    instrument is opened) and executed; the file is replaced only once the resumed run's
    copy (every stored row, then new ones) holds its first point.

    The station is the present configuration's (the default or ``--config``): instruments,
    libraries, addresses, safety limits and the simulation come from it, never from the
    file. What the file stores of its station only serves to check that this is the same
    station (instrument identities, calibration checksum, pixel); a difference is refused
    unless ``--accept-station-change``.
    """
    from station.session.plan import execute, plan_resume
    from station.setup.config import load_config
    from station.sinks.terminal import TerminalProgress

    from .output import note_output_report
    from .run_commands import report_outcome, status_interval, tell_notes

    path: Path = args.file
    config = load_config(args.config)  # the station as it is now, never as the file says
    with malformed_is_bad_input(path):
        plan = plan_resume(path, config, args.accept_station_change)
    tell_notes(plan)
    interval = status_interval(args.status_interval, type(plan.procedure))
    outcome = execute(plan, [TerminalProgress(interval_s=interval)], on_station_closed=note_output_report)
    report_outcome(outcome, path, None)
    return EXIT_OK if outcome.status == "finished" else EXIT_FAILED


def lifetime_fit_command(args: argparse.Namespace) -> int:
    from station.analysis.lifetime import convert_lifetime, fit_acceleration
    from station.data.reader import read_run
    from station.session import analyze_run

    if len(args.files) < 2:
        raise ConfigError("lifetime-fit needs two or more lifetime runs at different L0")
    if not 0 < args.percent < 100:
        raise ConfigError(f"--percent must be within (0, 100), got {args.percent:g}")
    if any(not (r > 0 and math.isfinite(r)) for r in args.reference):
        raise ConfigError("--reference luminances must be positive")
    resolved = [Path(p).resolve() for p in args.files]
    if len(set(resolved)) != len(resolved):
        raise ConfigError("a file is given twice: each lifetime run is one L0")
    label = f"T{args.percent:g}"
    rows = []
    for path in args.files:
        with malformed_is_bad_input(path):
            run = read_run(path)
            if run.procedure != "lifetime":
                raise ConfigError(f"{path}: a {run.procedure} run, not a lifetime run")
            figures = analyze_run(run)
        measured = figures.get(f"{label}_h")
        extrapolated = measured is None
        t_x = figures.get(f"{label}_extrapolated_h") if extrapolated else measured
        if t_x is None or not math.isfinite(t_x) or not math.isfinite(figures.get("L0", math.nan)):
            raise ConfigError(f"{path}: no {label} (measured or extrapolated) to fit")
        rows.append({"file": str(path), "L0": figures["L0"], "L0_units": figures["L0_units"],
                     f"{label}_h": t_x, "extrapolated": extrapolated})
    fit = fit_acceleration([r["L0"] for r in rows], [r[f"{label}_h"] for r in rows])
    result = {"percent": args.percent, "n": fit.n, "n_uncertainty": fit.n_uncertainty, "runs": rows,
              "model": "L0^n T_x = constant"}
    for reference in args.reference:
        value, sigma = fit.lifetime_at(reference)
        result[f"{label}_at_{reference:g}_h"] = value
        result[f"{label}_at_{reference:g}_uncertainty_h"] = sigma
        for r in rows:
            r[f"{label}_at_{reference:g}_h"] = convert_lifetime(r[f"{label}_h"], r["L0"], reference, fit.n)
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    print(f"n = {fit.n:.3f} +- {fit.n_uncertainty:.3f} from {len(rows)} runs ({label}; L0^n {label} = constant)")
    for r in rows:
        print(f"  {r['file']}: L0 {r['L0']:.4g} {r['L0_units']}, {label} {r[f'{label}_h']:.4g} h"
              + (" (extrapolated)" if r["extrapolated"] else ""))
    for reference in args.reference:
        value, sigma = result[f"{label}_at_{reference:g}_h"], result[f"{label}_at_{reference:g}_uncertainty_h"]
        print(f"{label} at {reference:g} {rows[0]['L0_units']}: {value:.4g} h +- {sigma:.2g} h")
    return EXIT_OK
