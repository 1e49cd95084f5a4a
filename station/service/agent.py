"""The station agent: one per PC, a LECO component that owns the PC's channels.

* **Runs outlive their clients.** A run is launched as a process of its own
  (:mod:`.run_process`), planned and executed there by the session's plan/execute; the
  agent records it in its registry (:mod:`.store`) before the process starts. Closing a
  window or a terminal ends nothing.
* **Queues survive.** Each channel's queue is a document on the agent's disk, written
  before a request is answered; a restarted agent (or PC) goes on with it.
* **Abort is a message** to the run's control component (``<agent>-<channel>``), never a
  signal or a kill: the run ends as on Ctrl-C.
* **A run process that dies** (kill -9, crash) is noticed within
  :data:`WATCH_INTERVAL_S` x 2: the agent opens the channel's station, switches the output
  off and reads it back (``Station.close``), records what it confirmed, and recovers what
  the file holds into ``RUN.recovered.h5``. ``ledstation output-off CHANNEL`` does the
  first part by hand.

Every remote request is checked as the command line checks its input: the procedure and
its parameters by the same plan (before it is queued), the output path inside the agent's
data folder; no request names code, a library or a safety limit.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError, StationError, one_line
from station.core.json_files import read_json
from station.core.processes import detached

from .agent_config import AgentConfig, Channel
from .protocol import SERVICE_VERSION, control_name
from .store import ChannelQueue, QueuedRun, RunRecord, RunRegistry

log = logging.getLogger(__name__)

#: how often the agent looks at its run processes and queues (a dead run is noticed within twice this)
WATCH_INTERVAL_S = 0.5
#: a run file name a remote request may give: a plain name, written in the channel's folder
RUN_NAME_SUFFIX = ".h5"
#: the LECO name of one connection of a station client (station.service.client): the program
#: (``ledstation-client-<pid>``) is the client that claims a channel, whichever connection asks
CLIENT_CONNECTION = re.compile(r"(.*ledstation-client-\d+)-\d+")
#: how long a claim on a channel lasts unless renewed, s
CLAIM_LEASE_S = 60.0
#: the most rows one refill request returns
MAX_ROWS = 10000
#: a run id as the agent gives them (hex); a request's is checked against it before it names a file
RUN_ID = re.compile(r"[0-9a-f]{1,64}")


class ChannelState:
    """What the agent knows of one channel now."""

    def __init__(self, channel: Channel, folder: Path) -> None:
        self.channel = channel
        #: the agent's own files of the channel: queue, jobs, logs, summaries, the simulated device
        self.folder = folder
        #: where the channel's run files go
        self.runs_folder = channel.folder or folder
        self.queue = ChannelQueue(folder / "queue.json")
        self.process: subprocess.Popen | None = None
        self.record: RunRecord | None = None
        self.paused = False
        self.last: RunRecord | None = None
        #: the client that controls the channel ("" : none) and until when (monotonic s); the others watch
        self.holder = ""
        self.held_until = 0.0
        #: a dead run its policy ("ask") offers to resume
        self.offer: RunRecord | None = None

    @property
    def busy(self) -> bool:
        return self.process is not None


class StationAgent:
    """The agent's channels, queues, registry and run processes (the LECO side is :meth:`serve`)."""

    def __init__(self, config: AgentConfig, python: str = sys.executable) -> None:
        self.config = config
        self.name = config.agent.name
        self.python = python
        self.data_dir = config.data_dir
        self.registry = RunRegistry(self.data_dir / "runs")
        self.channels = {name: ChannelState(channel, self.data_dir / "channels" / name)
                         for name, channel in config.channels.items()}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: set when the agent leaves on its own (idle for ``idle_exit_s``)
        self.leaving = threading.Event()
        self._handler: Any = None

    # --- requests (each one checked as the command line checks its input) ----------------
    def version(self) -> dict[str, Any]:
        from station import __version__

        return {"service": SERVICE_VERSION, "ledstation": __version__, "agent": self.name}

    def list_channels(self) -> list[dict[str, Any]]:
        return [self.status(name) for name in self.channels]

    def status(self, channel: str) -> dict[str, Any]:
        state = self._channel(channel)
        with self._lock:
            current = state.record
            return {"channel": channel, "busy": state.busy, "paused": state.paused, "holder": self._holder(state),
                    "resumable": state.offer.out if state.offer is not None else None,
                    "queue": [asdict(r) for r in state.queue.items()],
                    "current": asdict(current) if current is not None else None,
                    "summary": (read_json(self._summary_path(state, current.run_id), None)
                                if current is not None else None),
                    "last": asdict(state.last) if state.last is not None else None,
                    "simulated": state.channel.config.uses_simulation}

    def claim(self, channel: str) -> str:
        """Take (or renew) control of ``channel`` for :data:`CLAIM_LEASE_S` (one client at a time:
        queue, abort, output off); refused, naming the holder, while another client holds it. A
        lease not renewed lapses: a window that died holds nothing for long."""
        state = self._channel(channel)
        sender = self._sender()
        with self._lock:
            holder = self._holder(state)
            if holder and holder != sender:
                raise ConfigError(f"channel {channel} is controlled by {holder}; it must release it first")
            state.holder, state.held_until = sender, time.monotonic() + CLAIM_LEASE_S
        return f"channel {channel} controlled by {sender}"

    @staticmethod
    def _holder(state: ChannelState) -> str:
        """The client that controls the channel now ("" : none, or its lease lapsed)."""
        if state.holder and time.monotonic() > state.held_until:
            state.holder = ""
        return state.holder

    def release(self, channel: str) -> str:
        state = self._channel(channel)
        sender = self._sender()
        with self._lock:
            holder = self._holder(state)
            if holder and holder != sender:
                raise ConfigError(f"channel {channel} is controlled by {holder}, not by {sender}")
            state.holder = ""
        return f"channel {channel} released"

    def _check_control(self, state: ChannelState) -> None:
        sender = self._sender()
        with self._lock:
            holder = self._holder(state)
        if holder and holder != sender:
            raise ConfigError(f"channel {state.channel.name} is controlled by {holder}; {sender} may watch it "
                              "(an emergency stop is taken from anyone)")

    def _sender(self) -> str:
        """Who asks: the LECO sender of the request being answered ("local" for a direct call)."""
        handler = self._handler
        try:
            sender = handler.current_message.sender if handler is not None else b""
        except Exception:  # noqa: BLE001 - no message being answered: a call from this process
            sender = b""
        name = sender.decode(errors="replace") if sender else "local"
        same_process = CLIENT_CONNECTION.fullmatch(name)  # a program's connections are one client
        return same_process.group(1) if same_process else name

    def enqueue(self, channel: str, procedure: str, parameters: dict[str, Any] | None = None, name: str = "",
                title: str = "", overwrite: bool = False) -> str:
        """Queue a run on ``channel``: checked now by the same plan a run makes (parameters,
        limits, the file); ``name`` is the run file's name in the channel's folder."""
        from procedures import procedure_class
        from station.session.plan import plan_run

        state = self._channel(channel)
        self._check_control(state)
        try:
            procedure_class(procedure)
        except (KeyError, TypeError):
            raise ConfigError(f"unknown procedure {procedure!r}") from None
        if not isinstance(parameters or {}, dict):
            raise ConfigError("parameters must be a mapping of parameter names to values")
        out = self._run_path(state, name or f"{procedure}-{time.strftime('%Y%m%d-%H%M%S')}")
        plan_run(procedure, parameters or {}, state.channel.config, out, overwrite=overwrite, title=title,
                 out_option="name")
        run = QueuedRun(procedure, dict(parameters or {}), str(out), title, overwrite)
        state.queue.append(run)
        return run.run_id

    def abort(self, channel: str, emergency: bool = False) -> str:
        """Ask the channel's run to stop (a message to its control), and hold the channel's queue."""
        state = self._channel(channel)
        if not emergency:  # an emergency stop is taken from anyone
            self._check_control(state)
        with self._lock:
            state.paused = True
            running = state.busy
        if not running:
            return "nothing running; the queue is held"
        self._send_to_run(channel, "emergency_stop" if emergency else "abort")
        return "emergency stop asked" if emergency else "abort asked"

    def rows(self, channel: str, run_id: str = "", stream: str = "", start: int = 0, count: int = MAX_ROWS) -> dict:
        """Rows ``start``..``start + count`` of a stream of one of the channel's runs, read from the
        file on this PC's disk (a subscriber that missed documents refills from here)."""
        from station.data.reader import read_run
        from station.run.documents import number

        record = self._record(channel, run_id)
        if not (isinstance(start, int) and isinstance(count, int) and start >= 0 and 0 < count <= MAX_ROWS):
            raise ConfigError(f"rows: start >= 0 and 0 < count <= {MAX_ROWS}")

        def read() -> dict:
            run = read_run(record.out)
            name = stream or run.main_stream
            if name not in run.streams:
                raise ConfigError(f"run {record.run_id} has no stream {name!r} (streams: {', '.join(run.streams)})")
            columns = run.read_columns(run.column_names(name), name, slice(start, start + count))
            return {"run_id": record.run_id, "stream": name, "start": start, "total": run.rows(name),
                    "units": run.column_units(name),
                    "columns": {column: [number(v) for v in values.tolist()]  # "nan", "inf": as the documents
                                for column, values in columns.items()}}

        return _read_while_written(read, Path(record.out))

    def start_documents(self, channel: str, run_id: str = "") -> list[dict[str, Any]]:
        """The start and descriptor documents of the channel's current run (or of ``run_id``),
        rebuilt from its file on this PC's disk: what a viewer attaching mid-run decodes first."""
        from station.data.reader import read_run
        from station.data.recovery import run_start_of
        from station.run.documents import documents_of

        record = self._record(channel, run_id)
        return _read_while_written(lambda: documents_of(run_start_of(read_run(record.out))), Path(record.out))

    def stop_documents(self, channel: str, run_id: str = "") -> list[dict[str, Any]]:
        """The stop document of the channel's run (or of ``run_id``) once its file says it ended
        (none while it runs): a viewer that missed the live stop (a partition) ends the run with it."""
        from station.data.reader import read_run
        from station.data.recovery import run_stop_of
        from station.run.documents import documents_of

        out = Path(self._record(channel, run_id).out)
        stop = _read_while_written(lambda: run_stop_of(read_run(out)), out)
        return documents_of(stop) if stop is not None else []

    def _record(self, channel: str, run_id: str) -> RunRecord:
        """The channel's run ``run_id`` ("" : the one running now, else the last)."""
        state = self._channel(channel)
        if not run_id:
            record = state.record or state.last
            if record is None:
                raise ConfigError(f"channel {channel} has run nothing yet")
            return record
        for record in (state.record, state.last):
            if record is not None and record.run_id == run_id:
                return record
        record = self.registry.load(run_id) if isinstance(run_id, str) and RUN_ID.fullmatch(run_id) else None
        if record is None or record.channel != channel:
            raise ConfigError(f"no run {run_id!r} on channel {channel}")
        return record

    def resume_queue(self, channel: str) -> str:
        state = self._channel(channel)
        self._check_control(state)
        with self._lock:
            state.paused = False
        return "queue resumed"

    def output_off(self, channel: str) -> str:
        """Switch the channel's output off through the instrument and read it back (refused
        while its run process lives: that process owns the instruments; abort it instead)."""
        state = self._channel(channel)
        self._check_control(state)
        if state.busy:
            raise ConfigError(f"channel {channel} is running; abort the run (it switches the output off)")
        return self._switch_off(state)

    # --- the watch: queues, run processes ------------------------------------------------
    def start(self) -> None:
        """Re-adopt what a previous agent left, then watch the channels on a thread."""
        self._readopt()
        self._watcher = threading.Thread(target=self._watch, name="agent-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)

    def _watch(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.wait(WATCH_INTERVAL_S):
            for state in self.channels.values():
                try:
                    self._look_at(state)
                except Exception as exc:  # noqa: BLE001 - one channel's trouble must not stop the others
                    log.exception("channel %s: %s", state.channel.name, one_line(exc))
            if not self.idle:
                idle_since = time.monotonic()
            elif 0 < self.config.agent.idle_exit_s <= time.monotonic() - idle_since:
                log.info("idle for %g s: leaving", self.config.agent.idle_exit_s)
                self.leaving.set()  # serve() returns

    @property
    def idle(self) -> bool:
        """No run on any channel, nothing queued, no dead run waiting for an answer."""
        with self._lock:
            return not any(s.busy or s.offer is not None or s.queue.items() for s in self.channels.values())

    def _look_at(self, state: ChannelState) -> None:
        with self._lock:
            process = state.process
        if process is not None:
            code = process.poll()
            if code is not None:
                self._ended(state, None if isinstance(process, _Adopted) else code)
            return
        with self._lock:
            if state.paused:
                return
            run = state.queue.pop_next()
        if run is not None:
            self._launch(state, run)

    def _launch(self, state: ChannelState, run: QueuedRun) -> None:
        channel = state.channel
        record = RunRecord(run.run_id, channel.name, run.procedure, run.out)
        self.registry.save(record)  # recorded before the process exists
        job = {"run_id": run.run_id, "config": channel.config.source, "procedure": run.procedure,
               "parameters": run.parameters,
               "out": run.out, "title": run.title, "overwrite": run.overwrite, "resume": run.resume,
               "device_state": str(state.folder / "simulated-device.state")}  # the session keeps its own for
        # a resumable run (next to its file); the agent asks the same place (_device_state)
        job_path = state.folder / f"{run.run_id}.job.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        agent = self.config.agent
        command = [self.python, "-m", "station.service.run_process", "--job", str(job_path),
                   "--control-name", self.control_name(channel.name), "--host", agent.host, "--port", str(agent.port),
                   "--data-port", str(agent.data_port), "--summary", str(self._summary_path(state, run.run_id))]
        log_file = open(state.folder / f"{run.run_id}.log", "ab")  # noqa: SIM115 - the child writes it
        try:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       **detached())  # a Ctrl-C or a closed terminal of the agent's is not the run's
        except OSError as exc:  # the run never started: said in its record, the queue held
            record.state, record.status, record.reason = "ended", "failed", f"could not start: {one_line(exc)}"
            self.registry.save(record)
            with self._lock:
                state.last, state.paused = record, True
            return
        finally:
            log_file.close()
        from station.core.processes import started_at

        record.state, record.pid, record.process_started = "running", process.pid, started_at(process.pid)
        self.registry.save(record)
        with self._lock:
            state.process, state.record = process, record

    def _ended(self, state: ChannelState, code: int | None) -> None:
        """The run process is gone (``code``: its exit code; None for an adopted process,
        whose code nobody can read). It died if its file has no end written (still
        "running"), or if it ended by a signal or a code the run process never gives."""
        from station.data.reader import read_run

        record = state.record
        assert record is not None
        record.ended_wall_s = time.time()
        try:
            run = read_run(record.out)
            record.status, record.reason = run.status, run.reason
            record.output = run.output_state if hasattr(run, "output_state") else ""
        except (StationError, OSError) as exc:
            record.status, record.reason = "none", one_line(exc)
        died = record.status in ("running", "none") or (code is not None and code not in (0, 1, 2))
        if died:
            record.state = "died"
            record.output = self._switch_off(state)
            how = f"with code {code}" if code is not None else "(adopted; its code unknown)"
            record.reason = f"the run process ended {how}; {record.reason}".rstrip("; ")
            self._recover(record)
            self._after_death(state, record)
        else:
            record.state = "ended"
        self.registry.save(record)
        with self._lock:
            state.process, state.record, state.last = None, None, record

    def _after_death(self, state: ChannelState, record: RunRecord) -> None:
        """The channel's resume policy, once a dead run's output is off: ``automatic`` continues a
        resumable run (lifetime, cycling) at once, ahead of the queue; ``ask`` holds the queue and
        offers it (``resume_run``); ``never`` holds the queue."""
        from procedures import procedure_class

        resumable = getattr(procedure_class(record.procedure), "RESUMABLE", False) and \
            record.output == "output confirmed off"  # never drive a device whose output state is unknown
        state.offer = record if resumable and state.channel.resume == "ask" else None
        if resumable and state.channel.resume == "automatic":
            state.queue.append(QueuedRun(record.procedure, {}, record.out, resume=True), first=True)
        else:
            state.paused = True

    def resume_run(self, channel: str) -> str:
        """Continue the channel's run whose process died (its policy ``ask``): queued first, and
        the queue goes on."""
        state = self._channel(channel)
        self._check_control(state)
        with self._lock:
            record, state.offer = state.offer, None
            if record is None:
                raise ConfigError(f"channel {channel} has no run to resume")
            state.queue.append(QueuedRun(record.procedure, {}, record.out, resume=True), first=True)
            state.paused = False
        return f"resuming {Path(record.out).name}"

    def _switch_off(self, state: ChannelState) -> str:
        """Open the channel's station and close it: the output off, read back (what was confirmed)."""
        import dataclasses

        from station.setup.station import open_station

        config = state.channel.config
        if config.uses_simulation:  # the device the run drove: its own state file, as the run chose it
            config = dataclasses.replace(config, simulated_device_state=str(self._device_state(state)),
                                         simulated_device_fresh=False)
        try:
            station = open_station(config.without_light())
        except StationError as exc:
            return f"COULD NOT SWITCH THE OUTPUT OFF ({one_line(exc)}): switch it off by hand"
        station.close()
        report = station.output_report
        return report.summary() if report is not None else "output confirmed off"

    def _recover(self, record: RunRecord) -> None:
        from station.session import recover_and_analyze

        path = Path(record.out)
        try:
            recover_and_analyze(path, path.with_suffix(".recovered.h5"), overwrite=True)
        except (StationError, OSError) as exc:
            log.warning("recovering %s: %s", path, one_line(exc))

    def _readopt(self) -> None:
        """Runs a previous agent launched: any still alive are watched again (by pid); the
        others are ended as a dead run is."""
        for record in self.registry.live():
            state = self.channels.get(record.channel)
            if state is None:
                continue
            process = _Adopted(record.pid, record.process_started, Path(record.out)) if record.pid else None
            if process is not None and process.poll() is None:
                state.process, state.record = process, record
            else:
                state.record = record
                self._ended(state, None)

    # --- helpers ---------------------------------------------------------------------------
    def _device_state(self, state: ChannelState) -> Path:
        """Where the simulated channel's device is kept: next to a resumable run's file (as the
        session puts it), else the channel's own."""
        from procedures import procedure_class
        from station.session import simulated_device_state

        record = state.record or state.last
        if record is not None and getattr(procedure_class(record.procedure), "RESUMABLE", False):
            return simulated_device_state(Path(record.out))
        return state.folder / "simulated-device.state"

    def control_name(self, channel: str) -> str:
        return control_name(self.name, channel)

    @staticmethod
    def _summary_path(state: ChannelState, run_id: str) -> Path:
        """Where a run's process keeps its summary (:mod:`station.sinks.run_summary`)."""
        return state.folder / f"{run_id}.summary.json"

    def _channel(self, channel: str) -> ChannelState:
        if not isinstance(channel, str) or channel not in self.channels:
            raise ConfigError(f"no channel {channel!r} on agent {self.name} (channels: {', '.join(self.channels)})")
        return self.channels[channel]

    def _run_path(self, state: ChannelState, name: str) -> Path:
        """A run file in the channel's folder: a plain name, never a path (a request may not
        choose where the agent writes)."""
        from station.setup.config import NAME_PATTERN, NAME_RULE

        stem = name[:-len(RUN_NAME_SUFFIX)] if name.endswith(RUN_NAME_SUFFIX) else name
        if not isinstance(name, str) or not NAME_PATTERN.match(stem):
            raise ConfigError(f"run name must be {NAME_RULE}, got {name!r}")
        state.runs_folder.mkdir(parents=True, exist_ok=True)
        return state.runs_folder / f"{stem}{RUN_NAME_SUFFIX}"

    def _send_to_run(self, channel: str, method: str) -> None:
        from pyleco.utils.communicator import Communicator

        agent = self.config.agent
        with Communicator(name=f"{self.name}-to-{channel}-{time.monotonic_ns() % 10**6}", host=agent.host,
                          port=agent.port) as communicator:
            communicator.ask_rpc(self.control_name(channel), method=method, timeout=5)

    # --- LECO ------------------------------------------------------------------------------
    def serve(self, stop: threading.Event | None = None) -> None:
        """Sign in to the coordinator as :attr:`name` and answer requests until ``stop``."""
        from pyleco.utils.message_handler import MessageHandler

        agent = self.config.agent
        handler = MessageHandler(name=self.name, host=agent.host, port=agent.port)
        for method in (self.version, self.list_channels, self.status, self.enqueue, self.abort, self.resume_queue,
                       self.output_off, self.rows, self.claim, self.release, self.start_documents,
                       self.stop_documents, self.resume_run):
            handler.register_rpc_method(_one_line_errors(method), name=method.__name__)
        self._handler = handler
        self.start()
        stop = stop or threading.Event()
        threading.Thread(target=lambda: (self.leaving.wait(), stop.set()), name="agent-leaving", daemon=True).start()
        try:
            handler.listen(stop_event=stop)
        finally:
            self.stop()


class _Adopted:
    """A run process the agent did not start (a previous agent did), watched by its identity:
    its pid *and* its start time (a pid the OS gave to another program is not it), and it
    still holds the claim on its run file."""

    def __init__(self, pid: int, started: float | None, out: Path) -> None:
        self.pid = pid
        self.started = started
        self.out = out

    def poll(self) -> int | None:
        from station.core.processes import same_process
        from station.data.file_claim import being_written

        alive = same_process(self.pid, self.started) and being_written(self.out)  # the claim locks the name
        return None if alive else 0  # ended; _ended judges it by its file (its code is unknown)


#: a file being written may read inconsistently for a moment (SWMR: the writer mid-flush); tries, s apart
READ_TRIES, READ_RETRY_S = 10, 0.1


def _read_while_written(read, out: Path):
    """``read()`` of the run file ``out``, tried again while a run is writing it and the read met
    a half-written moment (a metadata checksum, a dataset being extended); any other failure,
    or one that outlasts the tries, is the request's answer."""
    from station.data.file_claim import being_written

    for attempt in range(READ_TRIES):
        try:
            return read()
        except (StationError, OSError, KeyError, ValueError):
            if attempt == READ_TRIES - 1 or not being_written(out):
                raise
            time.sleep(READ_RETRY_S)
    raise AssertionError("unreachable")


def _one_line_errors(method):
    """A request's failure as one line (a station error's own words), never a traceback."""
    import functools

    @functools.wraps(method)
    def answered(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except StationError as exc:
            raise ValueError(one_line(exc)) from None
        except TypeError as exc:  # wrong or missing arguments in the request
            raise ValueError(f"bad request: {exc}") from None

    return answered
