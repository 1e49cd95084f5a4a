"""A rack on one machine: N simulated lifetime channels under one agent, each run in its own
process, a live subscriber following every channel (what a window attached to the rack reads).

Run: python benchmarks/bench_rack.py [--channels 16] [--seconds 90] [--interval 1]

Each channel runs a lifetime on the wall clock (the simulated bench in real time, a reading
every ``--interval`` s, as a rack does). Every 10 s the benchmark samples each run process's
CPU (percent of one core over the last interval) and resident memory (psutil), the agent's
process, and the subscriber's received documents. It prints per channel the median CPU and the
RSS at the first and the last sample (flat over the run: the growth), and the totals.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--interval", type=float, default=1.0, help="lifetime monitor interval, s")
    args = parser.parse_args()
    from station.service.agent import StationAgent
    from station.service.agent_config import agent_config_from_text
    from station.service.coordinator import serve_coordinator, start_data_proxy
    from station.service.live import LiveDocuments

    port, data_port = free_port(), 11500
    stop = threading.Event()
    threading.Thread(target=serve_coordinator, args=("127.0.0.1", port, "", stop), daemon=True).start()
    proxy = start_data_proxy("127.0.0.1", data_port)
    with tempfile.TemporaryDirectory() as tmp:
        station = Path(tmp) / "realtime.toml"
        station.write_text("[simulation]\nrealtime = true\n", encoding="utf-8")
        channels = "".join(f'[channels.C{i:02d}]\nconfig = "{station}"\n' for i in range(args.channels))
        text = f'[agent]\nname = "rack"\nport = {port}\ndata_port = {data_port}\ndata_dir = "{tmp}/data"\n' + channels
        agent = StationAgent(agent_config_from_text(text, str(Path(tmp) / "rack.toml")))
        agent_stop = threading.Event()
        threading.Thread(target=agent.serve, kwargs={"stop": agent_stop}, daemon=True).start()
        received = [0]

        def follow() -> None:
            with LiveDocuments([f"rack-C{i:02d}" for i in range(args.channels)], port=data_port) as live:
                while not agent_stop.is_set():
                    if live.receive(0.2) is not None:
                        received[0] += 1

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)
        for name in agent.channels:
            agent.enqueue(name, "lifetime", {"monitor_interval": args.interval, "max_duration": 10.0,
                                             "spectrum_interval": 10.0, "stop_at_percent": 0.0}, name="life")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(s.busy for s in agent.channels.values()):
            time.sleep(0.2)
        processes = {name: psutil.Process(state.process.pid) for name, state in agent.channels.items()}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in processes}
        for p in processes.values():
            p.cpu_percent(None)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            time.sleep(10.0)
            for name, p in processes.items():
                try:
                    samples[name].append((p.cpu_percent(None), p.memory_info().rss / 2**20))
                except psutil.NoSuchProcess:
                    pass
        for name in agent.channels:
            agent.abort(name)
        while any(s.busy for s in agent.channels.values()):
            time.sleep(0.2)
        agent_stop.set()
        print(f"{args.channels} lifetime channels, a reading every {args.interval:g} s, {args.seconds:g} s sampled "
              "every 10 s (psutil)")
        print("  channel   CPU % of a core (median)   RSS first -> middle -> last, MiB")
        cpus, growths, late_growths, rss = [], [], [], []
        for name, values in samples.items():
            if len(values) < 2:
                continue
            cpu = statistics.median(v[0] for v in values[1:])
            first, middle, last = values[0][1], values[len(values) // 2][1], values[-1][1]
            cpus.append(cpu)
            growths.append(last - first)
            late_growths.append(last - middle)
            rss.append(last)
            print(f"  {name:<8} {cpu:8.1f}                   {first:7.1f} -> {middle:7.1f} -> {last:7.1f}")
        print(f"median per channel: CPU {statistics.median(cpus):.1f} % of a core, RSS {statistics.median(rss):.0f} "
              f"MiB, growth over the run {statistics.median(growths):+.1f} MiB (second half "
              f"{statistics.median(late_growths):+.1f} MiB); all channels: CPU {sum(cpus):.0f} % "
              f"of a core, RSS {sum(rss):.0f} MiB; documents followed live: {received[0]}")
    stop.set()
    proxy.destroy(linger=0)


if __name__ == "__main__":
    main()
