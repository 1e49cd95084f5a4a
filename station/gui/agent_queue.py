"""The window's queue run by an agent (``ledstation gui --channel AGENT/CHANNEL``).

The same queue as :class:`~station.gui.run_queue.RunQueue` to the window (items, reorder,
abort, the live plots), but *Run queue* hands every pending run to the agent's channel, which
runs each in a process of its own; the window only follows them (its worker thread waits on
the network and decodes documents, it measures nothing). So the measurement is out of the
window's process, and closing the window stops nothing: the agent has every run it was given.
Abort and Emergency stop are requests to the agent (on a thread: the GUI never waits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError, StationError, one_line
from station.setup.config import StationConfig

from .rack_view import AgentAddress
from .run_queue import DEFAULT_PATTERN, FAILED, QUEUED, RUNNING, QueuedRun, RunQueue, free_name

#: how often the agent is asked whether a handed-over run has ended, s
STATUS_POLL_S = 0.5
#: how often the window renews its claim on the channel while its runs go, s (the lease: 60 s)
CLAIM_RENEW_S = 20.0


class AgentRunQueue(RunQueue):
    """A :class:`RunQueue` whose runs the agent ``agent`` runs on ``channel``."""

    #: closing the window leaves the runs to the agent (the window does not abort them)
    runs_outlive_window = True

    def __init__(self, config: StationConfig, folder: str | Path, agent: AgentAddress, channel: str,
                 pattern: str = DEFAULT_PATTERN, starter: Callable[[], None] | None = None,
                 answers: Callable[[], bool] | None = None, names_in_folder: bool = False) -> None:
        """``starter`` starts the agent when it is not running (the window's local agent);
        ``answers`` says whether it runs (nothing started); ``names_in_folder``: the agent writes
        into this window's folder, so a name taken there is avoided (``-2``, ``-3`` ...)."""
        super().__init__(config, folder, pattern)
        self.agent, self.channel = agent, channel
        self._starter, self._answers, self._names_in_folder = starter, answers, names_in_folder
        self._handed: dict[int, str] = {}  # id(item) -> the agent's run id
        self._reattaching = False
        self._claimed: float | None = None  # when this window last claimed the channel
        #: what the window shows of the output: "" before any run; while one goes, that the agent's
        #: run process holds it; after, what that run's shutdown (or the agent) read back
        self.output_state = ""

    def reattach(self) -> None:
        """Follow the run the agent is measuring on the channel now (a window opened again):
        its plots filled from the file, then live. Starts nothing when the agent is not running."""
        if self.running:
            return
        self._reattaching = True
        self.start()

    def _client(self) -> Any:
        from station.service.client import AgentClient

        return AgentClient(self.agent.name, self.agent.host, self.agent.port)

    def abort(self, emergency: bool = False) -> None:
        """Ask the agent to stop the channel's run (and hold its queue); returns at once."""
        super().abort(emergency)  # the window's own queue stops handing over

        def ask() -> None:
            try:
                with self._client() as client:
                    self.live.log(f"{self.channel}: {client.call('abort', channel=self.channel, emergency=emergency)}")
            except StationError as exc:
                self.live.log(f"abort: {one_line(exc)}")

        threading.Thread(target=ask, name="agent-abort", daemon=True).start()

    def _work(self) -> None:
        """Hand every pending run to the agent at once (closing the window loses none), then
        follow them in order."""
        from station.service.follow import ChannelFollower
        from station.service.live import LiveDocuments
        from station.service.protocol import control_name

        reattaching, self._reattaching = self._reattaching, False
        try:
            if reattaching and self._answers is not None and not self._answers():
                return  # no agent running: nothing to re-attach to
            if not reattaching and self._starter is not None:
                self._starter()
            with self._client() as client, LiveDocuments([control_name(self.agent.name, self.channel)],
                                                          self.agent.host, self.agent.data_port) as live:
                if reattaching:
                    self._adopt_current(client)
                pending = [i for i in self.items if i.state == QUEUED]
                if pending:  # this window controls the channel while its runs go (others watch)
                    client.call("claim", channel=self.channel)
                    self._claimed = time.monotonic()
                    client.call("resume_queue", channel=self.channel)
                for item in pending:
                    self._hand_over(client, item)
                follower = ChannelFollower(client, self.channel, live)
                for item in [i for i in self.items if id(i) in self._handed and i.state == RUNNING]:
                    self._follow(client, follower, item)
                if self._claimed is not None:  # the runs ended: another window may take control
                    client.call("release", channel=self.channel)
        except StationError as exc:
            for item in self.items:
                if item.state == RUNNING and id(item) in self._handed:
                    item.reason = f"{one_line(exc)}; the agent may still run it"
                elif item.state == QUEUED and not reattaching:
                    item.state, item.reason = FAILED, one_line(exc)
            self.live.log(one_line(exc))
        finally:
            self._claimed = None
            with self._lock:
                self.current = None
            self.finished.set()

    def _adopt_current(self, client: Any) -> None:
        """The channel's current run as a running item of this queue (followed like the others)."""
        current = client.call("status", channel=self.channel).get("current")
        if not current:
            return
        item = QueuedRun(current["procedure"], {}, "(re-attached)", RUNNING, Path(current["out"]))
        with self._lock:
            self.items.insert(0, item)
            self._handed[id(item)] = current["run_id"]
        self.live.log(f"{item.procedure}: re-attached to the run {self.agent.name}/{self.channel} is measuring")

    def _hand_over(self, client: Any, item: QueuedRun) -> None:
        self.runs_started += 1
        path = self.file_for(item, self.runs_started)
        name = (free_name(path) if self._names_in_folder else path).name
        try:
            run_id = client.call("enqueue", channel=self.channel, procedure=item.procedure, parameters=item.values,
                                 name=name, title=item.title)
        except StationError as exc:
            item.state, item.reason = FAILED, one_line(exc)
            return
        with self._lock:
            item.state = RUNNING
            self._handed[id(item)] = run_id
        self.live.log(f"{item.procedure}: handed to {self.agent.name}/{self.channel} (run {run_id})")

    def _follow(self, client: Any, follower: Any, item: QueuedRun) -> None:
        """Feed the window's live data until the agent says this run ended."""
        run_id = self._handed[id(item)]
        with self._lock:
            self.current = item
        attached = False
        next_look = 0.0
        while True:
            if time.monotonic() >= next_look:
                if self._claimed is not None and time.monotonic() - self._claimed > CLAIM_RENEW_S:
                    client.call("claim", channel=self.channel)  # the lease renewed while the runs go
                    self._claimed = time.monotonic()
                status = client.call("status", channel=self.channel)
                next_look = time.monotonic() + STATUS_POLL_S
                current, last = status.get("current") or {}, status.get("last") or {}
                if current.get("run_id") == run_id and not attached:
                    self.output_state = f"run going in {self.agent.name}/{self.channel}: its process holds the output"
                    item.path = Path(current["out"])
                    try:  # the run's file appears with its first point: until then, asked again
                        records = follower.attach()
                    except StationError:
                        records = None
                    for record in records or ():
                        self.live(record)
                    attached = records is not None
                if last.get("run_id") == run_id:
                    self.output_state = last.get("output") or "output state unknown (the run file says none)"
                    item.path = Path(last["out"])
                    item.state = last.get("status") or FAILED
                    item.reason = last.get("reason", "")
                    if last.get("state") == "died":
                        item.reason = f"{item.reason}; {last.get('output', '')}"
                    break
                if self._abort is not None and current.get("run_id") != run_id and not attached:
                    item.state, item.reason = FAILED, "not started: the queue was aborted (still queued on the agent)"
                    break
            if attached:
                for record in follower.poll(0.1):
                    self.live(record)
            else:
                time.sleep(0.1)
        for record in follower.poll(0.2) if attached else ():  # the stop, if it came after the status said so
            self.live(record)
        if attached and not follower.stopped:  # the feed lost the end: the file has it
            try:
                for record in follower.catch_up():
                    self.live(record)
            except StationError as exc:
                self.live.log(f"the end of the run could not be read from the agent: {one_line(exc)}")
        self.live.log(f"{item.procedure}: {item.state}" + (f" ({item.reason})" if item.reason else "")
                      + (f"; {item.path}" if item.path else ""))

    def check(self, procedure: str, values: dict[str, Any]) -> None:
        """The window's own check (the agent checks again against its channel's station)."""
        if not self.channel:
            raise ConfigError("no agent channel")
        super().check(procedure, values)
