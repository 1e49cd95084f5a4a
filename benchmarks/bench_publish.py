"""What publishing the documents live costs a run (issue 27: target at most 2 % per point).

Run: python benchmarks/bench_publish.py [--points N] [--repeat R]

Like with like: the same J-V-L sweep (N points, the simulated bench on its virtual clock with
its latency on: full simulated speed), into a file with the same durability, in this
process, alternately:

* **file only**: the run as the command line makes it;
* **published, subscriber**: the same run with the LECO publisher sink (documents to a data
  proxy on loopback) and a subscriber reading every document in another process (as a
  window or another PC would);
* **published, nobody listening**: the publisher with no subscriber (ZeroMQ drops);
* **a queued sink doing nothing**: what any non-essential sink costs (the runner's queue and
  its thread), to tell the publisher's own cost from the queue's.

The per-point time is the slope between a short and a long run (one-off costs at either end
left out); medians of R repeats (the variants' order rotated each repeat), and the median of
each repeat's ratio to that repeat's file-only run, with its quartiles (the machine is noisy:
the queued sink that does nothing shows the noise floor).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path


class NoOpSink:
    """A non-essential sink that does nothing: what the runner's queue itself costs."""

    essential = False

    def __call__(self, record) -> None:
        pass


def subscribe(port: int, stop, received) -> None:
    from station.service.live import LiveDocuments

    with LiveDocuments(["bench"], port=port) as live:
        while not stop.is_set():
            if live.receive(0.1) is not None:
                with received.get_lock():
                    received.value += 1


def one_run(points: int, path: Path, sinks: list) -> float:
    from procedures import procedure_class
    from sim_instruments.bench import SimulatedBench
    from station.session import run_to_file
    from station.setup.config import load_config
    from station.setup.station import open_station

    config = load_config()
    procedure = procedure_class("jvl")(stop_voltage=0.05 * (points - 1), step_voltage=0.05, settle_time=0.0)
    procedure.validate(config)
    with open_station(config, bench=SimulatedBench()) as station:
        started = time.perf_counter()
        outcome = run_to_file(procedure, station, path, sinks=sinks)
        elapsed = time.perf_counter() - started
    assert outcome.status == "finished" and outcome.points == points, outcome.reason
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=160)
    parser.add_argument("--repeat", type=int, default=16)
    args = parser.parse_args()
    from station.service.coordinator import start_data_proxy
    from station.sinks.leco_publisher import LecoPublisherSink

    port = 11600
    proxy = start_data_proxy("127.0.0.1", port)
    stop, received = multiprocessing.Event(), multiprocessing.Value("i", 0)

    variants = {"file only": lambda: [], "a queued sink doing nothing": lambda: [NoOpSink()],
                "published, subscriber": lambda: [LecoPublisherSink("bench", port=port)],
                "published, nobody listening": lambda: [LecoPublisherSink("nobody", port=port)]}
    subscriber = multiprocessing.Process(target=subscribe, args=(port, stop, received), daemon=True)
    subscriber.start()
    time.sleep(1.0)
    short, long_ = max(10, args.points // 4), args.points
    per_point: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        one_run(short, Path(tmp) / "warm.h5", [])  # imports, CIE cache
        names = list(variants)
        for i in range(args.repeat):
            order = names[i % len(names):] + names[:i % len(names)]  # each variant takes each place in turn
            for k, name in enumerate(order):
                sinks = variants[name]
                t_short = one_run(short, Path(tmp) / f"s{i}-{k}.h5", sinks())
                t_long = one_run(long_, Path(tmp) / f"l{i}-{k}.h5", sinks())
                per_point[name].append((t_long - t_short) / (long_ - short))
    stop.set()
    subscriber.join(5)
    proxy.destroy(linger=0)
    base = per_point["file only"]
    print(f"per point, median of {args.repeat} repeats ({short} and {long_} points); the ratio is the median of "
          "each repeat's ratio to that repeat's file-only run (quartiles in brackets):")
    for name, values in per_point.items():
        ratios = sorted(v / b for v, b in zip(values, base, strict=True))
        q1, q2, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        print(f"  {name:<30} {1e3 * statistics.median(values):7.3f} ms   ratio {q2:5.3f} [{q1:5.3f}, {q3:5.3f}]")
    print(f"documents the subscriber received: {received.value}")


if __name__ == "__main__":
    main()
