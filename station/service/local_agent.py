"""The window's own agent on this PC: ``ledstation gui`` measures through it, out of the
window's process, and starts it (and a loopback coordinator) when none is running.

One local agent serves one station configuration and one folder: its name is made from both
(and from the configuration's text, so an edited configuration gets a fresh agent, never a
stale one), so the window opened again with the same configuration and folder finds the same
agent, and re-attaches to the run it is measuring. Its one channel, :data:`LOCAL_CHANNEL`,
writes its run files into the window's folder. It leaves by itself once idle for
:data:`IDLE_EXIT_S` (no run, nothing queued); the coordinator it signs in to stays (it costs
nothing idle, and other agents may use it).

Both are started detached (:func:`station.core.processes.detached`): closing the window or
its terminal ends neither, nor the run.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from station.core.errors import StationError, one_line
from station.core.processes import detached
from station.core.user_dirs import user_data_dir
from station.setup.config import StationConfig

from .coordinator import listening
from .protocol import COORDINATOR_PORT, DATA_PORT

#: the local agent's one channel
LOCAL_CHANNEL = "bench"
#: a local agent leaves once idle this long, s
IDLE_EXIT_S = 600.0
#: how long starting the coordinator and the agent may take, s
START_TIMEOUT_S = 30.0


class LocalAgentError(StationError):
    exit_code = 2


@dataclass(frozen=True)
class LocalAgent:
    """The local agent of one configuration and folder: its name, its files, where it answers."""

    name: str
    home: Path
    port: int = COORDINATOR_PORT
    data_port: int = DATA_PORT

    @property
    def config_path(self) -> Path:
        return self.home / "agent.toml"


def local_agent(config: StationConfig, folder: Path, port: int = COORDINATOR_PORT,
                data_port: int = DATA_PORT) -> LocalAgent:
    """The local agent for ``config`` and ``folder`` (its configuration file written, unchanged
    when it exists)."""
    source = "default" if config.source == "default" else str(Path(config.source).resolve())
    folder = folder.resolve()
    key = hashlib.sha256("\0".join((source, config.text, str(folder), str(port))).encode()).hexdigest()[:10]
    agent = LocalAgent(f"local-{key}", user_data_dir() / "agents" / f"local-{key}", port, data_port)
    text = "\n".join([  # JSON strings are TOML basic strings (every path, any character, escaped)
        "# written by ledstation gui: the window's own agent (see station/service/local_agent.py)",
        "[agent]", f"name = {json.dumps(agent.name)}", 'host = "localhost"', f"port = {port}",
        f"data_port = {data_port}", f"data_dir = {json.dumps(str(agent.home))}", f"idle_exit_s = {IDLE_EXIT_S}", "",
        f"[channels.{LOCAL_CHANNEL}]", f"config = {json.dumps(source)}", f"folder = {json.dumps(str(folder))}",
        'resume = "ask"', ""])
    agent.home.mkdir(parents=True, exist_ok=True)
    if not agent.config_path.exists() or agent.config_path.read_text(encoding="utf-8") != text:
        agent.config_path.write_text(text, encoding="utf-8")
    return agent


def answers(agent: LocalAgent) -> bool:
    """The agent is signed in and answers (nothing is started)."""
    from .client import AgentClient, ServiceError

    if not listening("localhost", agent.port):
        return False
    try:
        with AgentClient(agent.name, "localhost", agent.port, timeout_s=3.0) as client:
            client.call("version")
        return True
    except ServiceError:
        return False


def ensure_running(agent: LocalAgent) -> None:
    """Start the coordinator (when none listens on the port) and the agent (when it does not
    answer), detached; LocalAgentError (one line) if either does not come up in time."""
    if not listening("localhost", agent.port):
        _start([sys.executable, "-m", "station.cli", "coordinator", "--port", str(agent.port), "--data-port",
                str(agent.data_port)], agent.home / "coordinator.log")
        _wait(lambda: listening("localhost", agent.port), f"the coordinator on port {agent.port}",
              agent.home / "coordinator.log")
    if answers(agent):
        return
    _start([sys.executable, "-m", "station.cli", "agent", "--agent-config", str(agent.config_path)],
           agent.home / "agent.log")
    _wait(lambda: answers(agent), f"the local agent {agent.name}", agent.home / "agent.log")


def _start(command: list[str], log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **detached())
        except OSError as exc:
            raise LocalAgentError(f"could not start {command[3]}: {one_line(exc)}") from None


def _wait(ready, what: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    tail = ""
    try:
        lines = [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        tail = f": {lines[-1]}" if lines else ""
    except OSError:
        pass
    raise LocalAgentError(f"{what} did not start within {START_TIMEOUT_S:g} s (log {log_path}{tail})")
