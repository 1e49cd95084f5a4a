"""The Rack: every channel of the agents a network file names, and a live view of one channel.

The window is a client here: it asks the agents (``station.service.client``) and follows the
runs' published documents (``station.service.follow``); nothing of a run lives in the window,
so closing it stops nothing, and opening a channel's view again fills its plots from the
agent's file before the live documents go on.

All talking happens on worker threads; the GUI thread only reads what they left (on timers)
and never waits on the network. A channel the window cannot reach reads "unreachable since".
"""

from __future__ import annotations

import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6 import QtCore, QtWidgets

from station.core.errors import ConfigError, one_line
from station.core.user_files import read_user_file
from station.service.protocol import COORDINATOR_PORT, DATA_PORT, control_name
from station.sinks.live_data import LiveRunData

from .plot_panel import PlotPanel

#: how often the agents are asked for their channels, s; the table's refresh, ms
POLL_S = 1.0
REFRESH_MS = 250
COLUMNS = ("agent", "channel", "state", "run", "L/L0", "T_x predicted", "elapsed", "remaining", "queued", "last run",
           "controlled by")


@dataclass(frozen=True)
class AgentAddress:
    """Where an agent answers: its name, its coordinator, its data proxy."""

    name: str
    host: str = "localhost"
    port: int = COORDINATOR_PORT
    data_port: int = DATA_PORT


def load_network(path: str | Path) -> list[AgentAddress]:
    """The agents of a network file: ``[[agents]]`` tables with name, host, port, data_port."""
    path = Path(path)
    try:
        data = tomllib.loads(read_user_file(path, "network file").decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"network file {path}: not valid TOML ({one_line(exc)})") from None
    entries = data.get("agents")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"network file {path}: needs [[agents]] tables (name, host, port, data_port)")
    agents = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) - {"name", "host", "port", "data_port"} or "name" not in entry:
            raise ConfigError(f"network file {path}: agents[{i}] must be a table with name (and host, port, data_port)")
        try:
            agent = AgentAddress(str(entry["name"]), str(entry.get("host", "localhost")),
                                 int(entry.get("port", COORDINATOR_PORT)), int(entry.get("data_port", DATA_PORT)))
        except (TypeError, ValueError):
            raise ConfigError(f"network file {path}: agents[{i}]: port and data_port must be numbers") from None
        if not (1 <= agent.port <= 65535 and 2 <= agent.data_port <= 65535):
            raise ConfigError(f"network file {path}: agents[{i}]: ports must be within 1-65535")
        agents.append(agent)
    return agents


class RackPoller:
    """Asks every agent for its channels, on a thread; :meth:`rows` gives what it last heard."""

    def __init__(self, agents: list[AgentAddress]) -> None:
        self.agents = agents
        self._lock = threading.Lock()
        self._channels: dict[str, list[dict[str, Any]]] = {}
        self._unreachable: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="rack-poller", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        from station.service.client import AgentClient, ServiceError

        clients: dict[str, Any] = {}
        while not self._stop.is_set():
            for agent in self.agents:
                try:
                    if agent.name not in clients:
                        clients[agent.name] = AgentClient(agent.name, agent.host, agent.port, timeout_s=3.0)
                    channels = clients[agent.name].call("list_channels")
                    with self._lock:
                        self._channels[agent.name] = channels
                        self._unreachable.pop(agent.name, None)
                except ServiceError:
                    stale = clients.pop(agent.name, None)
                    if stale is not None:
                        stale.close()
                    with self._lock:
                        self._unreachable.setdefault(agent.name, time.time())
            self._stop.wait(POLL_S)
        for client in clients.values():
            client.close()

    def rows(self) -> list[tuple[AgentAddress, dict[str, Any] | None, float | None]]:
        """(agent, channel status or None, unreachable since or None), agent by agent."""
        with self._lock:
            out = []
            for agent in self.agents:
                since = self._unreachable.get(agent.name)
                channels = self._channels.get(agent.name, [])
                if not channels:
                    out.append((agent, None, since))
                out.extend((agent, channel, since) for channel in channels)
            return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _hms(seconds: Any) -> str:
    """h:mm:ss (days and hours beyond a day as 'Nd h:mm'); '' for a missing value."""
    if not isinstance(seconds, (int, float)) or seconds != seconds or seconds < 0:
        return ""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    clock = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def _prediction_text(summary: dict[str, Any]) -> str:
    """'T50 ~ 12:00:00 [10:00:00, 15:00:00]' from a run summary's prediction ('' without one)."""
    percent, t = summary.get("predicted_percent"), summary.get("predicted_s")
    if percent is None or t is None:
        return ""
    return (f"T{percent:g} ~ {_hms(t)} [{_hms(summary.get('predicted_low_s'))}, "
            f"{_hms(summary.get('predicted_high_s'))}]")


def _row_texts(agent: AgentAddress, status: dict[str, Any] | None, since: float | None) -> list[str]:
    """The table's cells for one channel (COLUMNS, in order)."""
    unreachable = f"unreachable since {time.strftime('%H:%M:%S', time.localtime(since))}" if since else ""
    if status is None:
        return [agent.name, "-", unreachable or "asking ...", *[""] * (len(COLUMNS) - 3)]
    current, last = status.get("current"), status.get("last")
    summary = (status.get("summary") or {}) if current else {}
    state = "running" if status.get("busy") else ("idle, queue held" if status.get("paused") else "idle")
    elapsed = summary.get("elapsed_s")
    if current and elapsed is None:
        elapsed = time.time() - float(current.get("launched_wall_s", time.time()))
    relative = summary.get("relative_light")
    last_text = f"{last.get('status') or last.get('state')}: {last.get('output', '')}" if last else ""
    return [agent.name, status["channel"], unreachable or state, current["procedure"] if current else "",
            f"{relative:.3f}" if isinstance(relative, (int, float)) else "", _prediction_text(summary),
            _hms(elapsed) if current else "", _hms(summary.get("remaining_s")),
            str(len(status.get("queue", []))), last_text, status.get("holder", "")]


class RackView(QtWidgets.QWidget):
    """The table of every channel, with abort, emergency stop and watch for the selected one."""

    def __init__(self, agents: list[AgentAddress], open_channel: Any = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.poller = RackPoller(agents)
        self.open_channel = open_channel  # (agent, channel) -> a ChannelView tab (the window's)
        self._actions = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rack-action")
        self.messages: list[str] = []  # what the last actions answered (read on the GUI thread)
        self._lock = threading.Lock()
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QtWidgets.QHBoxLayout()
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.stop_button = QtWidgets.QPushButton("Emergency stop")
        self.stop_button.setStyleSheet("QPushButton { background: #c62828; color: white; font-weight: bold; }")
        self.watch_button = QtWidgets.QPushButton("Watch")
        self.abort_button.clicked.connect(lambda: self._act("abort", emergency=False))
        self.stop_button.clicked.connect(lambda: self._act("abort", emergency=True))
        self.watch_button.clicked.connect(self._watch)
        for b in (self.abort_button, self.stop_button, self.watch_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.message = QtWidgets.QLabel("")
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self._rows: list[tuple[AgentAddress, dict[str, Any] | None, float | None]] = []
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self) -> None:
        self._rows = self.poller.rows()
        self.table.setRowCount(len(self._rows))
        for r, row in enumerate(self._rows):
            for c, text in enumerate(_row_texts(*row)):
                item = self.table.item(r, c)
                if item is None:
                    self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
                elif item.text() != text:
                    item.setText(text)
        with self._lock:
            if self.messages:
                self.message.setText(self.messages[-1])

    def selected(self) -> tuple[AgentAddress, str] | None:
        row = self.table.currentRow()
        if not 0 <= row < len(self._rows) or self._rows[row][1] is None:
            return None
        agent, status, _ = self._rows[row]
        return agent, status["channel"]

    def _act(self, method: str, **params: Any) -> None:
        chosen = self.selected()
        if chosen is None:
            self.message.setText("select a channel first")
            return
        agent, channel = chosen
        self._actions.submit(self._call, agent, method, channel=channel, **params)

    def _call(self, agent: AgentAddress, method: str, **params: Any) -> None:
        from station.service.client import AgentClient, ServiceError

        try:
            with AgentClient(agent.name, agent.host, agent.port) as client:
                answer = f"{agent.name}/{params.get('channel')}: {client.call(method, **params)}"
        except ServiceError as exc:
            answer = str(exc)
        with self._lock:
            self.messages.append(answer)

    def _watch(self) -> None:
        chosen = self.selected()
        if chosen is None:
            self.message.setText("select a channel first")
        elif self.open_channel is not None:
            self.open_channel(*chosen)

    def close_rack(self) -> None:
        self.timer.stop()
        self.poller.close()
        self._actions.shutdown(wait=False)


class ChannelView(QtWidgets.QWidget):
    """One channel's run, live: its plots filled from the agent's file, then from the published
    documents (:class:`station.service.follow.ChannelFollower` on a thread)."""

    def __init__(self, agent: AgentAddress, channel: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.agent, self.channel = agent, channel
        self.data = LiveRunData()
        self.status = QtWidgets.QLabel(f"{agent.name}/{channel}: attaching ...")
        self.panel = PlotPanel(self.data)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.panel, 1)
        self.records = 0
        self.note = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"follow-{channel}", daemon=True)
        self._thread.start()
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.status.setText(
            f"{agent.name}/{channel}: {self.records} records{'; ' + self.note if self.note else ''}"))
        self.timer.start()

    def _follow(self) -> None:
        from station.service.client import AgentClient, ServiceError
        from station.service.follow import ChannelFollower
        from station.service.live import LiveDocuments

        try:
            with AgentClient(self.agent.name, self.agent.host, self.agent.port) as client, \
                    LiveDocuments([control_name(self.agent.name, self.channel)], self.agent.host,
                                  self.agent.data_port) as live:
                follower = ChannelFollower(client, self.channel, live)
                for record in follower.attach():
                    self._give(record)
                while not self._stop.is_set():
                    for record in follower.poll(0.2):
                        self._give(record)
        except ServiceError as exc:
            self.note = str(exc)

    def _give(self, record: Any) -> None:
        self.data(record)
        self.records += 1

    def close_view(self) -> None:
        self._stop.set()
        self.timer.stop()
        self.panel.timer.stop()
        self._thread.join(2)
