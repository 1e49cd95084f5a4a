"""The station service from the command line: ``coordinator``, ``agent``, and the client
commands ``queue``, ``status``, ``abort`` and ``output-off`` (each a request to an agent)."""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any

from station.core.errors import ConfigError


def add_service_parsers(sub: Any, common: Any) -> None:
    """The service's sub-commands (``common``: the client options every one of them takes)."""
    coordinator = sub.add_parser("coordinator", help="a LECO coordinator for agents and clients (loopback by default)")
    coordinator.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    coordinator.add_argument("--port", type=int, default=12300)
    coordinator.add_argument("--namespace", default="", help="this PC's name in a rack of coordinators")
    coordinator.add_argument("--link", action="append", default=[], help="another PC's coordinator, host:port")
    coordinator.add_argument("--data-port", type=int, default=11100,
                             help="the data proxy: runs publish here, subscribers read at DATA_PORT - 1 (0: none)")
    agent = sub.add_parser("agent", help="serve this PC's channels: queues, runs in their own processes")
    agent.add_argument("--agent-config", help="agent TOML: [agent] and [channels.NAME] (default: one simulated "
                                              "channel 'sim')")
    queue = sub.add_parser("queue", parents=[common], help="queue a run on an agent's channel")
    queue.add_argument("channel")
    queue.add_argument("procedure")
    queue.add_argument("--name", default="", help="the run file's name in the channel's folder")
    queue.add_argument("--title", default="")
    queue.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="a parameter (repeatable; the value is read as JSON, else as text)")
    status = sub.add_parser("status", parents=[common], help="an agent's channels, their runs and queues")
    status.add_argument("channel", nargs="?")
    status.add_argument("--json", action="store_true")
    abort = sub.add_parser("abort", parents=[common], help="stop a channel's run (as Ctrl-C) and hold its queue")
    abort.add_argument("channel")
    abort.add_argument("--emergency", action="store_true", help="no ramp: the output straight off")
    off = sub.add_parser("output-off", parents=[common], help="switch a channel's output off and read it back")
    off.add_argument("channel")
    again = sub.add_parser("resume-run", parents=[common],
                           help="continue a channel's lifetime or cycling run whose process died (resume = \"ask\")")
    again.add_argument("channel")


def client_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--agent", default="ledstation-agent", help="the agent's name")
    common.add_argument("--host", default="localhost", help="the coordinator's host")
    common.add_argument("--port", type=int, default=12300, help="the coordinator's port")
    return common


def coordinator_command(args: argparse.Namespace) -> int:
    from station.service.coordinator import serve_coordinator

    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be within 1-65535, got {args.port}")
    if args.data_port:
        from station.service.coordinator import start_data_proxy

        start_data_proxy(args.host, args.data_port)
    print(f"ledstation coordinator: listening on {args.host}:{args.port}"
          + (f", data on {args.data_port}/{args.data_port - 1}" if args.data_port else "") + " (Ctrl-C to stop)",
          flush=True)
    stop = threading.Event()
    try:
        serve_coordinator(args.host, args.port, args.namespace, stop, args.link or None)
    except KeyboardInterrupt:
        stop.set()
    return 0


def agent_command(args: argparse.Namespace) -> int:
    from station.service.agent import StationAgent
    from station.service.agent_config import load_agent_config

    config = load_agent_config(args.agent_config)
    agent = StationAgent(config)
    print(f"ledstation agent {config.agent.name}: channels {', '.join(config.channels)}; data in {agent.data_dir}; "
          f"coordinator {config.agent.host}:{config.agent.port} (Ctrl-C to stop; runs go on)", flush=True)
    stop = threading.Event()
    try:
        agent.serve(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _client(args: argparse.Namespace):
    from station.service.client import AgentClient

    return AgentClient(args.agent, args.host, args.port)


def _parameters(pairs: list[str]) -> dict[str, Any]:
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigError(f"--set takes NAME=VALUE, got {pair!r}")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def queue_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        run_id = client.call("enqueue", channel=args.channel, procedure=args.procedure,
                             parameters=_parameters(args.set), name=args.name, title=args.title)
    print(f"queued on {args.agent}/{args.channel}: run {run_id}")
    return 0


def status_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        statuses = [client.call("status", channel=args.channel)] if args.channel else client.call("list_channels")
    if args.json:
        print(json.dumps(statuses, indent=1))
        return 0
    for s in statuses:
        current = s["current"]
        now = (f"running {current['procedure']} -> {current['out']} (pid {current['pid']})" if current else
               "idle" + (" (queue held)" if s["paused"] else ""))
        last = s["last"]
        print(f"{s['channel']}: {now}; {len(s['queue'])} queued"
              + (f"; last: {last['status'] or last['state']} {last['reason']} - {last['output']}" if last else "")
              + (f"; {s['resumable']} can be resumed (ledstation resume-run {s['channel']})" if s.get("resumable")
                 else ""))
    return 0


def abort_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(f"{args.channel}: {client.call('abort', channel=args.channel, emergency=args.emergency)}")
    return 0


def resume_run_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(f"{args.channel}: {client.call('resume_run', channel=args.channel)}")
    return 0


def output_off_command(args: argparse.Namespace) -> int:
    with _client(args) as client:
        said = client.call("output_off", channel=args.channel)
    print(f"{args.channel}: {said}")
    return 0 if said == "output confirmed off" else 1
