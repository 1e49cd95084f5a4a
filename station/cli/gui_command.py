"""``ledstation gui``: everything checked (configuration, folder, pattern, files to watch,
a display) before the window opens; bad input is one line and exit 2."""

from __future__ import annotations

import argparse
import os

from station.core.errors import ConfigError


def gui_command(args: argparse.Namespace) -> int:
    from station.data.file_claim import is_placeholder
    from station.data.reader import read_run
    from station.gui.app import check_display, run_window
    from station.gui.run_queue import check_pattern
    from station.setup.config import load_config

    from .output import note_output_report

    config = load_config(args.config)
    folder = args.folder.expanduser()
    if not folder.is_dir():
        raise ConfigError(f"--folder {folder}: not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--folder {folder}: not writable")
    check_pattern(args.pattern, "jvl", {})
    for path in args.open:
        read_run(path)  # DataFileError (exit 2) for a missing or broken file
    for path in args.watch:  # a run claims its name (a placeholder) before its first point
        if not is_placeholder(path):
            read_run(path)
    network = []
    if args.network is not None:
        from station.gui.rack_view import load_network

        network = load_network(args.network)
    for option, port in (("--agent-port", args.agent_port), ("--data-port", args.data_port)):
        if not 2 <= port <= 65535:
            raise ConfigError(f"{option} must be within 2-65535, got {port}")
    if args.in_process and args.channel:
        raise ConfigError("--in-process and --channel exclude each other")
    check_display()
    queue = None if args.in_process else _agent_queue(args, config, folder)
    return run_window(config, folder, args.pattern, args.watch, args.open, on_station_closed=note_output_report,
                      network=network, queue=queue)


def _agent_queue(args: argparse.Namespace, config, folder):
    """The Run tab's queue run by an agent, the measurement out of the window's process: the
    agent ``--channel`` names, else the window's own local agent (started when it is needed)."""
    from station.gui.agent_queue import AgentRunQueue
    from station.gui.rack_view import AgentAddress

    if args.channel:
        agent_name, sep, channel = args.channel.partition("/")
        if not sep or not agent_name or not channel:
            raise ConfigError(f"--channel must be AGENT/CHANNEL, got {args.channel!r}")
        return AgentRunQueue(config, folder, AgentAddress(agent_name, args.agent_host, args.agent_port,
                                                          args.data_port), channel, args.pattern)
    import datetime as dt
    from pathlib import Path

    from station.gui.run_queue import _format
    from station.service.local_agent import LOCAL_CHANNEL, answers, ensure_running, local_agent

    if Path(_format(args.pattern, "jvl", {}, 1, "", dt.datetime(2000, 1, 1))).parent != Path("."):
        raise ConfigError(f"--pattern {args.pattern!r}: the local agent writes into --folder itself; a pattern with "
                          "a folder part needs --in-process")
    agent = local_agent(config, folder, args.agent_port, args.data_port)
    return AgentRunQueue(config, folder, AgentAddress(agent.name, "localhost", agent.port, agent.data_port),
                         LOCAL_CHANNEL, args.pattern, starter=lambda: ensure_running(agent),
                         answers=lambda: answers(agent), names_in_folder=True)
