"""``ledstation resume`` (continue a lifetime or cycling run whose process ended) and
``ledstation lifetime-fit`` (the acceleration exponent n from runs at several L0)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from procedures.parameters import build_procedure
from station.core.errors import ConfigError

from . import EXIT_FAILED, EXIT_OK
from .file_commands import malformed_is_bad_input
from .output import check_files, opened_station, print_analysis, print_file_problem

#: instrument identities a resumed run must find unchanged (the rest of what a file stores, such as
#: the simulated bench's description, may differ between sessions)
COMPARED_IDENTITIES = ("smu", "light", "second_channel", "pixel_switch", "simulated_device")


def resume_command(args: argparse.Namespace) -> int:
    """Everything checked before an instrument is opened; the file is replaced only once the
    resumed run's copy (every stored row, then new ones) holds its first point.

    The station is the present configuration's (the default or ``--config``): instruments,
    libraries, addresses, safety limits and the simulation come from it, never from the
    file. What the file stores of its station only serves to check that this is the same
    station (instrument identities, calibration checksum, pixel); a difference is refused
    unless ``--accept-station-change``.
    """
    from station.data.file_claim import RunFileClaim, being_written
    from station.data.reader import read_run
    from station.data.storage_guard import check_free_space_for_copy
    from station.session import resumable, run_to_file, simulated_device_state
    from station.setup.config import check_pixel_area, load_config
    from station.sinks.terminal import TerminalProgress

    from .run_commands import status_interval

    path: Path = args.file
    if being_written(path):
        raise ConfigError(f"{path} is being written by a running run; it cannot be resumed while that run goes")
    config = load_config(args.config)  # the station as it is now, never as the file says
    with malformed_is_bad_input(path):
        run = read_run(path)
        cls, _ = resumable(run)
        stored = run.metadata
        config = _stored_pixel(config, stored.get("sample", {}), path)
        area = stored["pixel_area_cm2"]
        parameters = {name: value for name, (value, _units) in run.parameters.items()
                      if name in cls.parameter_definitions()}
    config = dataclasses.replace(config, pixel_area_cm2=check_pixel_area(float(area), f"{path}: the stored pixel area"))
    try:
        procedure = build_procedure(cls, parameters, config)  # the command line's own check of every value
    except ConfigError as exc:
        raise ConfigError(f"{path}: its parameters do not make a {run.procedure} run ({exc})") from None
    check_files([("the resumed file", path)], config.files_read())
    check_free_space_for_copy(path)
    if config.uses_simulation:
        config = dataclasses.replace(config, simulated_device_state=str(simulated_device_state(path)))
    interval = status_interval(args.status_interval, cls)
    with RunFileClaim(path, overwrite=True, resume=True) as claim, opened_station(config) as station:
        _check_same_station(path, stored, station, args.accept_station_change)
        outcome = run_to_file(procedure, station, claim, sinks=[TerminalProgress(interval_s=interval)],
                              title=run.metadata.get("title", ""), resume_from=run)
    print_file_problem(outcome)
    print(f"wrote {outcome.path}")
    print_analysis(outcome.analysis)
    return EXIT_OK if outcome.status == "finished" else EXIT_FAILED


def _check_same_station(path: Path, stored: dict, station, accepted: bool) -> None:
    """The opened station is the one the run used (instrument identities, the light
    instrument's calibration checksum), before the output goes on; ConfigError unless
    ``accepted`` (the user says the change is intended)."""
    then, now = stored.get("instruments", {}), station.identities()
    differences = [f"{key}: {then.get(key, '(none)')!r} then, {now.get(key, '(none)')!r} now"
                   for key in COMPARED_IDENTITIES if then.get(key, "") != now.get(key, "")]
    stored_sha = str(stored.get("calibration", {}).get("sha256", ""))
    light = station.light.describe() if station.light is not None else None
    present_sha = str(light.calibration.get("sha256", "")) if light is not None else ""
    if stored_sha != present_sha:
        differences.append(f"calibration sha256 {stored_sha[:12] or '(none)'} then, {present_sha[:12] or '(none)'} now")
    if differences and not accepted:
        raise ConfigError(f"{path}: the station is not the one the run used ({'; '.join(differences)}); pass "
                          "--accept-station-change if that is intended")
    if differences:
        sys.stderr.write(f"ledstation: resuming on a changed station (accepted): {'; '.join(differences)}\n")


def _stored_pixel(config, sample: dict, path: Path):
    """The configuration measuring the pixel the stored run measured (the switch selects it again)."""
    if not config.substrate.pixels:
        if sample.get("pixel"):
            raise ConfigError(f"{path}: the run measured pixel {sample['pixel']}; the configuration has no pixel "
                              "switch to select it")
        return config
    if not sample.get("pixel"):
        raise ConfigError(f"{path}: the run names no pixel, but the configuration has a pixel switch")
    pixel = config.substrate.pixel(sample["pixel"])
    if sample.get("switch_channel") and pixel.channel != sample["switch_channel"]:
        raise ConfigError(f"{path}: pixel {pixel.name} was on channel {sample['switch_channel']}, the configuration "
                          f"says {pixel.channel}")
    return config.for_pixel(pixel, substrate=sample.get("substrate"), batch=sample.get("batch"))


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
