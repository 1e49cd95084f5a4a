"""``ledstation batch FILES...``: statistics of each figure of merit over a batch of devices."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from station.analysis.batch import BatchStatistics, batch_statistics, lifetime_samples
from station.analysis.survival import Estimate, compare_lifetimes
from station.core.errors import ConfigError
from station.data.batch_report import plot_batches, write_devices_csv, write_statistics_csv

from . import EXIT_OK
from .file_commands import malformed_is_bad_input
from .output import check_figure_output, check_files, check_output, format_value


def batch_command(args: argparse.Namespace) -> int:
    from station.session import batch_device, unique_labels

    for path in args.files:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: no such file")
    resolved = [Path(p).resolve() for p in args.files]
    if len(set(resolved)) != len(resolved):
        raise ConfigError("a file is given twice: each file is one device")
    if args.csv is not None:
        check_output(args.csv, args.overwrite, "--csv", inputs=tuple(args.files))
    if args.devices_csv is not None:
        check_output(args.devices_csv, args.overwrite, "--devices-csv", inputs=tuple(args.files))
    if args.figure is not None:
        check_figure_output(args.figure, "--figure", inputs=tuple(args.files))
    check_files([("--csv", args.csv), ("--devices-csv", args.devices_csv), ("--figure", args.figure)])
    devices = []
    for path in args.files:
        with malformed_is_bad_input(path):
            devices.append(batch_device(path, by=args.by))
    batches = batch_statistics(unique_labels(devices))
    if args.json:
        print(json.dumps([_as_json(b) for b in batches], indent=2, default=lambda x: None))
    else:
        for b in batches:
            print_batch(b, args.by)
        print_comparison(batches, args.by)
    if args.csv is not None:
        write_statistics_csv(batches, args.csv)
        print(f"wrote {args.csv}")
    if args.devices_csv is not None:
        write_devices_csv(batches, args.devices_csv)
        print(f"wrote {args.devices_csv}")
    if args.figure is not None:
        plot_batches(batches, args.figure)
        print(f"wrote {args.figure}")
    return EXIT_OK


def print_batch(b: BatchStatistics, by: str = "batch") -> None:
    finished = len(b.devices) - len(b.failed)
    print(f"{by} {b.batch}: {len(b.devices)} devices, {finished} finished")
    for d in b.failed:
        print(f"  left out: {d.label} {d.status} ({d.reason})")
    width = max((len(n) for n in b.figures), default=10)
    print(f"  {'figure':<{width}}  {'n':>3}  {'mean':>14}  {'std':>12}  {'median':>14}  {'min':>14}  {'max':>14}  "
          "best / outliers")
    for name, s in b.figures.items():
        def v(x: float, s=s, name=name) -> str:
            return format_value(name, x, s.units) if math.isfinite(x) else "—"
        flags = (f"best {s.best}" if s.best else "") + (f"  outliers {', '.join(s.outliers)}" if s.outliers else "")
        print(f"  {name:<{width}}  {s.n:>3}  {v(s.mean):>14}  {v(s.std):>12}  {v(s.median):>14}  {v(s.minimum):>14}  "
              f"{v(s.maximum):>14}  {flags}".rstrip())
    if b.champion:
        lead = b.figures[b.lead_figure]
        value = format_value(b.lead_figure, lead.values[b.champion], lead.units)
        print(f"  champion: {b.champion} ({b.lead_figure} {value})")
    for figure, d in b.lifetimes.items():
        print(f"  {figure} over devices: {d.devices} runs, {d.reached} reached it, "
              f"{d.censored} ended before (censored)")
        print(f"    Kaplan-Meier: median {_estimate(d.median_h)}, B10 {_estimate(d.b10_h)}")
        print(f"    Weibull: shape {_estimate(d.weibull_shape, '')}, scale {_estimate(d.weibull_scale_h)}, "
              f"median {_estimate(d.weibull_median_h)}, B10 {_estimate(d.weibull_b10_h)}")
        print(f"    lognormal: median {_estimate(d.lognormal_median_h)}, sigma {_estimate(d.lognormal_sigma, '')}, "
              f"B10 {_estimate(d.lognormal_b10_h)}")


def _estimate(e: Estimate, units: str = " h") -> str:
    def f(x: float) -> str:
        return f"{x:.4g}" if math.isfinite(x) else "—"

    return f"{f(e.value)}{units} [{f(e.low)}, {f(e.high)}]"


def print_comparison(batches: list[BatchStatistics], by: str) -> None:
    """Two batches' lifetimes compared by the log-rank test."""
    if len(batches) != 2:
        return
    a, b = batches
    for figure in sorted(set(a.lifetimes) & set(b.lifetimes)):
        c = compare_lifetimes(figure, lifetime_samples(_finished(a), figure), lifetime_samples(_finished(b), figure))
        if c is not None:
            print(f"{by} {a.batch} against {b.batch}, {figure}: log-rank z = {c.statistic:.3g}, "
                  f"p = {c.p_value:.3g} ({'differ' if c.p_value < 0.05 else 'no difference shown'} at 5 %)")


def _finished(b: BatchStatistics) -> list:
    return [d for d in b.devices if d not in b.failed]


def _as_json(b: BatchStatistics) -> dict:
    return {"batch": b.batch, "devices": [d.label for d in b.devices],
            "left_out": {d.label: f"{d.status} ({d.reason})" for d in b.failed}, "lead_figure": b.lead_figure,
            "champion": b.champion,
            "figures": {n: {k: getattr(s, k) for k in ("units", "n", "mean", "std", "median", "minimum", "maximum",
                                                       "mean_all", "better", "best")}
                        | {"outliers": list(s.outliers), "values": dict(s.values)} for n, s in b.figures.items()},
            "lifetimes": {n: dataclasses.asdict(d) for n, d in b.lifetimes.items()}}
