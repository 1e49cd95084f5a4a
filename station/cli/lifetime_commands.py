"""``ledstation resume`` (continue a lifetime or cycling run whose process ended) and
``ledstation lifetime-fit`` (the acceleration exponent n from runs at several L0)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from station.core.errors import ConfigError

from . import EXIT_FAILED, EXIT_OK
from .file_commands import malformed_is_bad_input
from .output import opened_station, print_analysis


def resume_command(args: argparse.Namespace) -> int:
    """Everything checked before an instrument is opened; the file is replaced only once the
    resumed run's copy (every stored row, then new ones) holds its first point."""
    from station.data.file_claim import RunFileClaim, being_written
    from station.data.reader import read_run
    from station.session import resumable, run_to_file, simulated_device_state
    from station.setup.config import config_from_text, load_config
    from station.sinks.terminal import TerminalProgress

    from .run_commands import status_interval

    path: Path = args.file
    if being_written(path):
        raise ConfigError(f"{path} is being written by a running run; it cannot be resumed while that run goes")
    with malformed_is_bad_input(path):
        run = read_run(path)
        cls, _ = resumable(run)
        stored = run.metadata
        config = load_config(args.config) if args.config is not None else \
            config_from_text(stored["station_config_toml"], stored["config_source"])
        config = _stored_pixel(config, stored.get("sample", {}), path)
        config = dataclasses.replace(config, pixel_area_cm2=float(stored["pixel_area_cm2"]))
        parameters = {name: value for name, (value, _units) in run.parameters.items()
                      if name in cls.parameter_definitions()}
    try:
        procedure = cls(**parameters)
    except (ValueError, TypeError, NameError) as exc:
        raise ConfigError(f"{path}: its parameters do not make a {run.procedure} run ({exc})") from None
    procedure.validate(config)
    if config.uses_simulation:
        config = dataclasses.replace(config, simulated_device_state=str(simulated_device_state(path)))
    interval = status_interval(args.status_interval, cls)
    with RunFileClaim(path, overwrite=True) as claim, opened_station(config) as station:
        outcome = run_to_file(procedure, station, claim, sinks=[TerminalProgress(interval_s=interval)],
                              title=run.metadata.get("title", ""), resume_from=run)
    print(f"wrote {outcome.path}")
    print_analysis(outcome.analysis)
    return EXIT_OK if outcome.status == "finished" else EXIT_FAILED


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
    print_analysis({k: v for k, v in result.items() if k.startswith(label)})
    return EXIT_OK
