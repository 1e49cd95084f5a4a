"""The station agent on pyleco, on one machine: a coordinator on a free loopback port (as
pyleco's own multi-node tests run theirs), the agent signed in to it, a client asking it
over LECO, the simulated bench in each run's own process.

Runs outlive their client; queues survive a new agent; abort is a message and ends the run
as Ctrl-C does; a run process killed with SIGKILL is noticed, its output switched off and
read back, its file recovered; bad requests get one line and change nothing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyleco")

from pyleco.coordinators.coordinator import Coordinator  # noqa: E402
from pyleco.utils.communicator import Communicator  # noqa: E402

from station.core.errors import DataFileError  # noqa: E402
from station.data.reader import read_run  # noqa: E402
from station.service.agent import StationAgent  # noqa: E402
from station.service.agent_config import agent_config_from_text  # noqa: E402
from station.service.coordinator import start_data_proxy  # noqa: E402
from station.service.live import LiveDocuments  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL of a run process is POSIX")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port whose neighbour below is free too (the data proxy takes port and port - 1)."""
    while True:
        port = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port - 1))
                return port
            except OSError:
                continue


DATA_PORT = free_port_pair()


def start_coordinator(port: int) -> tuple[threading.Event, threading.Thread]:
    """pyleco's coordinator N1 on ``port``, routing on a thread until the event is set."""
    stop = threading.Event()
    node = Coordinator(namespace="N1", host="localhost", port=port)

    def route():
        with node:
            node.routing(stop_event=stop)

    thread = threading.Thread(target=route, daemon=True)
    thread.start()
    time.sleep(0.3)
    return stop, thread


def answer(port: int, receiver: str, method: str):
    """``receiver``'s answer to ``method`` through the coordinator on ``port`` (None: no answer yet)."""
    try:
        with Communicator(name=f"probe{time.monotonic_ns()}", port=port, timeout=1) as probe:
            return probe.ask_rpc(receiver, method, timeout=1)
    except Exception:  # noqa: BLE001 - not (yet) reachable
        return None


@pytest.fixture
def coordinator():
    port = free_port()
    stop, thread = start_coordinator(port)
    proxy = start_data_proxy("127.0.0.1", DATA_PORT)
    yield port
    stop.set()
    thread.join(5)
    proxy.destroy(linger=0)


def agent_text(data_dir: Path, port: int, realtime: bool = False) -> str:
    simulation = ""
    if realtime:  # the channel's bench on the wall clock: a run that lasts long enough to be aborted
        config = data_dir.parent / "realtime.toml"
        config.write_text("[simulation]\nrealtime = true\n", encoding="utf-8")
        simulation = str(config)
    return (f'[agent]\nname = "rack1"\nport = {port}\ndata_port = {DATA_PORT}\ndata_dir = "{data_dir}"\n'
            f'[channels.A]\nconfig = "{simulation or "default"}"\n')


@pytest.fixture
def agent_at(tmp_path, coordinator):
    """An agent serving on its own thread; a communicator to ask it."""
    made = []

    def start(realtime: bool = False):
        config = agent_config_from_text(agent_text(tmp_path / "agent", coordinator, realtime), str(tmp_path / "a.toml"))
        agent, stop = StationAgent(config), threading.Event()
        thread = threading.Thread(target=agent.serve, kwargs={"stop": stop}, daemon=True)
        thread.start()
        client = Communicator(name=f"client{len(made)}", port=coordinator, timeout=10)
        time.sleep(0.3)
        made.append((agent, stop, thread, client))
        return agent, client

    yield start
    for _agent, stop, thread, client in made:
        client.close()
        stop.set()
        thread.join(10)


SLOW_POINTS = 150
#: a dark J-V point by point on the wall clock: 150 levels, 0.05 s each (no light instrument, no darks)
SLOW_DARK_JV = {"mode": "point", "points": SLOW_POINTS, "dwell_time": 0.05, "start_voltage": 0.01, "stop_voltage": 3.0}


def wait_for(condition, timeout_s: float = 60.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ended(client, channel: str = "A"):
    status = client.ask_rpc("rack1", "status", channel=channel)
    return status["last"] if not status["busy"] and status["last"] else None


def test_a_queued_run_runs_in_its_own_process_and_outlives_its_client(agent_at):
    agent, client = agent_at()
    assert client.ask_rpc("rack1", "version")["service"] == 1
    run_id = client.ask_rpc("rack1", "enqueue", channel="A", procedure="jvl",
                            parameters={"stop_voltage": 2.0, "step_voltage": 0.1}, name="first")
    client.close()  # the client goes; the run does not
    with Communicator(name="later", port=agent.config.agent.port, timeout=10) as later:
        last = wait_for(lambda: ended(later), what="the run to end")
    assert last["run_id"] == run_id and last["state"] == "ended" and last["status"] == "finished"
    run = read_run(last["out"])
    assert run.status == "finished" and run.points == 21
    assert Path(last["out"]).parent == agent.data_dir / "channels" / "A"  # the agent's own folder
    assert last["pid"] != os.getpid()  # its own process
    [record] = agent.registry.records()
    assert record.run_id == run_id and record.state == "ended"


def test_the_queue_survives_a_new_agent(tmp_path, coordinator):
    text = agent_text(tmp_path / "agent", coordinator)
    first = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml")))
    first.channels["A"].paused = True
    ids = [first.enqueue("A", "jvl", {"stop_voltage": 1.0}, name=f"run{i}") for i in range(3)]
    del first
    second = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml")))
    assert [r.run_id for r in second.channels["A"].queue.items()] == ids


def test_abort_is_a_message_and_ends_the_run_as_ctrl_c_does(agent_at):
    agent, client = agent_at(realtime=True)
    client.ask_rpc("rack1", "enqueue", channel="A", procedure="dark_jv", parameters=SLOW_DARK_JV, name="long")
    wait_for(lambda: (client.ask_rpc("rack1", "status", channel="A")["current"] or {}).get("state") == "running",
             what="the run to start")
    out = Path(client.ask_rpc("rack1", "status", channel="A")["current"]["out"])
    time.sleep(4.0)  # some points in
    summary = client.ask_rpc("rack1", "status", channel="A")["summary"]  # what a rack view shows of the run
    assert summary["procedure"] == "dark_jv" and summary["status"] == "running"
    assert 0 < summary["fraction"] < 1 and 0 < summary["elapsed_s"] < 8.0  # the dark J-V's own elapsed_s, s
    assert summary["remaining_s"] == pytest.approx(summary["elapsed_s"] * (1 / summary["fraction"] - 1), rel=1e-9)
    started = time.monotonic()
    assert client.ask_rpc("rack1", "abort", channel="A") == "abort asked"
    last = wait_for(lambda: ended(client), timeout_s=30, what="the aborted run to end")
    assert time.monotonic() - started < 10, last
    assert last["state"] == "ended" and last["status"] == "aborted", last
    run = read_run(out)
    assert run.status == "aborted" and "aborted by the operator" in run.reason and 0 < run.points < SLOW_POINTS
    assert run.output_state == "output confirmed off"
    assert client.ask_rpc("rack1", "status", channel="A")["paused"]  # the queue is held after an abort


def test_a_killed_run_process_is_noticed_and_its_output_switched_off(agent_at):
    agent, client = agent_at(realtime=True)
    client.ask_rpc("rack1", "enqueue", channel="A", procedure="dark_jv", parameters=SLOW_DARK_JV, name="killed")
    current = wait_for(lambda: client.ask_rpc("rack1", "status", channel="A")["current"], what="the run to start")
    out = Path(current["out"])
    time.sleep(4.0)
    os.kill(current["pid"], signal.SIGKILL)
    killed = time.time()
    last = wait_for(lambda: ended(client), timeout_s=30, what="the agent to notice")
    assert last["ended_wall_s"] - killed < 2.0  # noticed within 2 s
    assert time.time() - killed < 2.0 + 5.0  # and the output switched off and read back soon after
    assert last["state"] == "died" and last["output"] == "output confirmed off", last
    assert "code -9" in last["reason"]
    recovered = read_run(out.with_suffix(".recovered.h5"))
    assert recovered.status == "failed" and recovered.points > 0
    assert client.ask_rpc("rack1", "status", channel="A")["paused"]  # resume = "never": the queue waits


@pytest.mark.parametrize("request_, message", [
    ({"channel": "Z", "procedure": "jvl"}, "no channel 'Z'"),
    ({"channel": "A", "procedure": "jvl", "name": "../../etc/x"}, "run name must be"),
    ({"channel": "A", "procedure": "import os"}, "unknown procedure"),
    ({"channel": "A", "procedure": "jvl", "parameters": {"stop_voltage": 50.0}}, "beyond [safety] max_voltage_V"),
    ({"channel": "A", "procedure": "jvl", "parameters": {"no_such": 1}}, "has no parameter"),
])
def test_bad_requests_get_one_line_and_change_nothing(agent_at, request_, message):
    agent, client = agent_at()
    with pytest.raises(Exception, match=message.replace("[", r"\[").replace("]", r"\]")):
        client.ask_rpc("rack1", "enqueue", **request_)
    assert agent.channels["A"].queue.items() == [] and not list(agent.registry.folder.glob("*.json"))


@pytest.mark.parametrize("run_id", ["../../runs/x", "a/../../b", "ABC", "", "0" * 65])
def test_a_run_id_that_is_not_the_agents_names_no_file(agent_at, tmp_path, run_id):
    agent, client = agent_at()
    (agent.registry.folder.parent / "x.json").write_text('{"run_id": "x", "channel": "A", "procedure": "jvl", '
                                                         '"out": "/etc/passwd"}')  # what a path in an id would reach
    for method in ("rows", "stop_documents", "start_documents"):
        with pytest.raises(Exception, match="no run|has run nothing yet"):
            client.ask_rpc("rack1", method, channel="A", run_id=run_id, **({"stream": "x"} if method == "rows" else {}))


def test_a_restarted_agent_readopts_a_running_run_and_can_abort_it(tmp_path, coordinator):
    text = agent_text(tmp_path / "agent", coordinator, realtime=True)
    first, stop = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml"))), threading.Event()
    thread = threading.Thread(target=first.serve, kwargs={"stop": stop}, daemon=True)
    thread.start()
    time.sleep(0.3)
    first.enqueue("A", "dark_jv", SLOW_DARK_JV, name="adopted")
    record = wait_for(lambda: first.channels["A"].record if first.channels["A"].busy else None, what="the launch")
    time.sleep(3.0)
    stop.set()  # the agent goes (as if killed): its run process does not
    thread.join(10)
    assert first.channels["A"].process.poll() is None
    second, stop2 = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml"))), threading.Event()
    started = time.monotonic()
    thread2 = threading.Thread(target=second.serve, kwargs={"stop": stop2}, daemon=True)
    thread2.start()
    try:
        wait_for(lambda: second.channels["A"].busy, timeout_s=10, what="the re-adoption")
        assert time.monotonic() - started < 10 and second.channels["A"].record.run_id == record.run_id
        assert second.abort("A") == "abort asked"
        wait_for(lambda: not second.channels["A"].busy, timeout_s=30, what="the adopted run to end")
        last = second.channels["A"].last
        assert last.state == "ended" and last.status == "aborted", last
        assert read_run(last.out).output_state == "output confirmed off"
    finally:
        stop2.set()
        thread2.join(10)
        first.channels["A"].process.wait(10)


def test_the_command_line_runs_the_service(tmp_path):
    """`ledstation coordinator`, `ledstation agent`, then `queue`, `status`, `output-off` as a user types them."""
    import subprocess

    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nname = "bench"\nport = {port}\ndata_dir = "{tmp_path / "data"}"\n'
                      '[channels.sim]\nconfig = "default"\n', encoding="utf-8")
    command = [sys.executable, "-m", "station.cli"]
    client = ["--agent", "bench", "--port", str(port)]
    coordinator = subprocess.Popen([*command, "coordinator", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    agent = subprocess.Popen([*command, "agent", "--agent-config", str(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert "listening on 127.0.0.1" in coordinator.stdout.readline()
        assert "channels sim" in agent.stdout.readline()
        queued = subprocess.run([*command, "queue", "sim", "jvl", "--set", "stop_voltage=1.5", "--name", "cli-run",
                                 *client], capture_output=True, text=True, timeout=60)
        assert queued.returncode == 0 and "queued on bench/sim" in queued.stdout, queued.stderr

        def finished():
            shown = subprocess.run([*command, "status", "sim", "--json", *client], capture_output=True, text=True,
                                   timeout=60)
            assert shown.returncode == 0, shown.stderr
            [status] = json.loads(shown.stdout)
            return status["last"] if status["last"] and not status["busy"] else None

        last = wait_for(finished, what="the queued run")
        assert last["status"] == "finished" and read_run(last["out"]).points == 16
        off = subprocess.run([*command, "output-off", "sim", *client], capture_output=True, text=True, timeout=60)
        assert off.returncode == 0 and off.stdout.strip() == "sim: output confirmed off", off.stderr
        bad = subprocess.run([*command, "queue", "sim", "jvl", "--set", "stop_voltage=90", *client],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "beyond [safety]" in bad.stderr
    finally:
        for process in (agent, coordinator):
            process.send_signal(signal.SIGINT)
            process.wait(10)


def test_a_run_publishes_its_documents_live_and_a_late_subscriber_refills_from_the_file(agent_at):
    agent, client = agent_at()
    with LiveDocuments(["rack1-A"], port=DATA_PORT) as live:
        time.sleep(0.3)  # the subscription reaches the proxy before the run starts
        run_id = client.ask_rpc("rack1", "enqueue", channel="A", procedure="jvl",
                                parameters={"stop_voltage": 3.0, "step_voltage": 0.1}, name="live")
        kinds, events = [], []
        while "stop" not in kinds:
            received = live.receive(30)
            assert received is not None, f"no document for 30 s after {kinds[-3:]}"
            topic, document = received
            assert topic == "rack1-A"
            kinds.append(document["kind"])
            if document["kind"] == "event" and document.get("stream") == "points":
                events.append(document)
    assert kinds[0] == "start" and "descriptor" in kinds
    last = wait_for(lambda: ended(client), what="the run to end")
    run = read_run(last["out"])
    assert run.points == 31
    refill = client.ask_rpc("rack1", "rows", channel="A", run_id=run_id, start=10, count=5)
    assert refill["total"] == 31 and refill["stream"] == run.main_stream
    stored = run.read_columns(["voltage_V", "current_A"], rows=slice(10, 15))
    assert refill["columns"]["voltage_V"] == stored["voltage_V"].tolist()
    assert refill["columns"]["current_A"] == stored["current_A"].tolist()
    # what arrived live is what the file holds (the publisher may drop; on loopback nothing was)
    stored_V = run.read_columns(["voltage_V"])["voltage_V"]
    assert len(events) == 31 and all(e["values"]["voltage_V"] == stored_V[e["index"]] for e in events)


def test_an_emergency_stop_is_a_message_too_and_ends_the_run_at_once(agent_at):
    agent, client = agent_at(realtime=True)
    client.ask_rpc("rack1", "enqueue", channel="A", procedure="dark_jv", parameters=SLOW_DARK_JV, name="estop")
    wait_for(lambda: (client.ask_rpc("rack1", "status", channel="A")["current"] or {}).get("state") == "running",
             what="the run to start")
    time.sleep(3.0)
    asked = time.time()
    assert client.ask_rpc("rack1", "abort", channel="A", emergency=True) == "emergency stop asked"
    last = wait_for(lambda: ended(client), timeout_s=30, what="the stopped run to end")
    assert last["ended_wall_s"] - asked < 2.0  # the process ended (output off, read back, file closed) within 2 s
    run = read_run(last["out"])
    assert run.status == "aborted" and "emergency stop" in run.reason
    assert run.output_state == "output confirmed off"


def test_a_restarted_coordinator_finds_the_agent_again_and_the_run_never_noticed(tmp_path):
    port = free_port()
    stop_c, thread_c = start_coordinator(port)
    config = agent_config_from_text(agent_text(tmp_path / "agent", port, realtime=True), str(tmp_path / "a.toml"))
    agent, stop_a = StationAgent(config), threading.Event()
    serving = threading.Thread(target=agent.serve, kwargs={"stop": stop_a}, daemon=True)
    serving.start()
    time.sleep(0.3)
    try:
        agent.enqueue("A", "dark_jv", SLOW_DARK_JV, name="through")
        wait_for(lambda: agent.channels["A"].busy, what="the launch")
        time.sleep(2.0)
        stop_c.set()  # the coordinator goes away mid-run
        thread_c.join(10)
        time.sleep(2.0)
        assert agent.channels["A"].busy  # the run goes on without it
        stop_c, thread_c = start_coordinator(port)
        back = time.monotonic()
        wait_for(lambda: answer(port, "rack1", "version"), timeout_s=30, what="the agent on the restarted coordinator")
        reconnected_s = time.monotonic() - back
        last = wait_for(lambda: agent.channels["A"].last, timeout_s=60, what="the run to end")
        assert last.status == "finished" and read_run(last.out).points == SLOW_POINTS
        print(f"agent reachable again {reconnected_s:.1f} s after the coordinator came back")
        assert reconnected_s < 15.0, reconnected_s  # pyleco signs in again at its next heartbeat (10 s)
    finally:
        stop_a.set()
        serving.join(10)
        stop_c.set()
        thread_c.join(10)


def test_one_client_controls_a_channel_the_others_watch(agent_at):
    agent, first = agent_at()
    with Communicator(name="second", port=agent.config.agent.port, timeout=10) as second:
        assert "controlled by N1.client0" in first.ask_rpc("rack1", "claim", channel="A")
        with pytest.raises(Exception, match="channel A is controlled by N1.client0"):
            second.ask_rpc("rack1", "claim", channel="A")
        with pytest.raises(Exception, match="controlled by N1.client0; N1.second may watch"):
            second.ask_rpc("rack1", "enqueue", channel="A", procedure="jvl")
        assert second.ask_rpc("rack1", "status", channel="A")["holder"] == "N1.client0"  # watching is free
        # an emergency stop is taken from anyone
        assert second.ask_rpc("rack1", "abort", channel="A", emergency=True) == "nothing running; the queue is held"
        first.ask_rpc("rack1", "release", channel="A")
        assert "controlled by N1.second" in second.ask_rpc("rack1", "claim", channel="A")


def test_a_client_refuses_an_agent_of_another_version(agent_at, monkeypatch):
    from station.service import client as client_module

    agent, _ = agent_at()
    monkeypatch.setattr(client_module, "SERVICE_VERSION", 2)
    with client_module.AgentClient("rack1", port=agent.config.agent.port) as client:
        with pytest.raises(client_module.ServiceError, match="speaks service version 1, this program 2"):
            client.call("status", channel="A")


def test_a_frozen_coordinator_slows_no_run(tmp_path):
    """The coordinator (and its data proxy) stopped with SIGSTOP for 5 s mid-run: the run keeps
    its rate (one level each 0.05 s), and the agent answers again once it goes on."""
    import subprocess

    port, data_port = free_port(), free_port_pair()
    coordinator = subprocess.Popen([sys.executable, "-m", "station.cli", "coordinator", "--port", str(port),
                                    "--data-port", str(data_port)], stdout=subprocess.PIPE, text=True)
    assert "listening" in coordinator.stdout.readline()
    text = agent_text(tmp_path / "agent", port, realtime=True).replace(f"data_port = {DATA_PORT}",
                                                                       f"data_port = {data_port}")
    agent, stop = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml"))), threading.Event()
    serving = threading.Thread(target=agent.serve, kwargs={"stop": stop}, daemon=True)
    serving.start()
    try:
        time.sleep(0.5)
        agent.enqueue("A", "dark_jv", SLOW_DARK_JV, name="frozen")
        wait_for(lambda: agent.channels["A"].busy, what="the launch")
        time.sleep(2.0)
        coordinator.send_signal(signal.SIGSTOP)
        time.sleep(5.0)
        coordinator.send_signal(signal.SIGCONT)
        last = wait_for(lambda: agent.channels["A"].last, timeout_s=60, what="the run to end")
        run = read_run(last.out)
        assert last.status == "finished" and run.points == SLOW_POINTS
        gaps = np.diff(run.read_columns(["elapsed_s"])["elapsed_s"])
        assert np.median(gaps) < 0.1 and gaps.max() < 0.5, gaps.max()  # no pause while the coordinator was frozen
        assert wait_for(lambda: answer(port, "rack1", "version"), timeout_s=20,
                        what="the agent after the freeze")["agent"] == "rack1"
    finally:
        stop.set()
        serving.join(10)
        coordinator.send_signal(signal.SIGCONT)
        coordinator.send_signal(signal.SIGINT)
        coordinator.wait(10)


def test_a_viewer_attaching_mid_run_gets_every_row_once_refill_then_live(agent_at):
    from station.run.records import Event, RunStart, RunStop
    from station.service.client import AgentClient
    from station.service.follow import ChannelFollower

    agent, client = agent_at(realtime=True)
    client.ask_rpc("rack1", "enqueue", channel="A", procedure="dark_jv", parameters=SLOW_DARK_JV, name="followed")
    wait_for(lambda: (client.ask_rpc("rack1", "status", channel="A")["current"] or {}).get("state") == "running",
             what="the run to start")
    time.sleep(5.0)  # the viewer comes late: dozens of rows are in the file already
    with AgentClient("rack1", port=agent.config.agent.port) as remote, \
            LiveDocuments(["rack1-A"], port=DATA_PORT) as live:
        follower = ChannelFollower(remote, "A", live)
        records = follower.attach()
        assert isinstance(records[0], RunStart) and records[0].procedure == "dark_jv"
        from procedures import procedure_class

        declared = procedure_class("dark_jv")
        assert records[0].plots == declared.PLOTS and records[0].figure_set == declared.FIGURE_SET  # as the run has
        refilled = sum(isinstance(r, Event) for r in records)
        assert refilled > 10
        deadline = time.monotonic() + 60
        while not any(isinstance(r, RunStop) for r in records) and time.monotonic() < deadline:
            records.extend(follower.poll(0.5))
    events = [r for r in records if isinstance(r, Event) and r.stream == "points"]
    assert [e.index for e in events] == list(range(SLOW_POINTS))  # each row once, in order: refill then live
    run = read_run(wait_for(lambda: ended(client), what="the run to end")["out"])
    stored = run.read_columns(["voltage_V", "current_A"])
    assert [e.values["voltage_V"] for e in events] == stored["voltage_V"].tolist()
    assert [e.values["current_A"] for e in events] == stored["current_A"].tolist()


@pytest.mark.parametrize("policy", ["automatic", pytest.param("ask", marks=pytest.mark.slow)])
def test_a_dead_cycling_run_is_resumed_by_the_channels_policy(tmp_path, coordinator, policy):
    """kill -9 of a cycling run (wall clock, radiometer): output off and confirmed, then the same
    file continued: at once (automatic), or when a client says so (ask)."""
    station = tmp_path / "rt.toml"
    station.write_text('[simulation]\nrealtime = true\n[light]\ngeometry = "radiometer"\n', encoding="utf-8")
    text = (f'[agent]\nname = "rack1"\nport = {coordinator}\ndata_port = {DATA_PORT}\ndata_dir = "{tmp_path}/agent"\n'
            f'[channels.A]\nconfig = "{station}"\nresume = "{policy}"\n')
    agent, stop = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml"))), threading.Event()
    serving = threading.Thread(target=agent.serve, kwargs={"stop": stop}, daemon=True)
    serving.start()
    try:
        agent.enqueue("A", "cycling", {"cycles": 6, "on_time": 0.6, "off_time": 0.3}, name="cycles")
        wait_for(lambda: agent.channels["A"].busy, what="the launch")
        time.sleep(4.0)
        os.kill(agent.channels["A"].record.pid, signal.SIGKILL)
        died = wait_for(lambda: next((r for r in agent.registry.records() if r.state == "died"), None),
                        timeout_s=30, what="the death noticed")
        assert died.output == "output confirmed off"
        if policy == "ask":
            status = wait_for(lambda: agent.status("A")["resumable"], timeout_s=10, what="the offer")
            assert status == died.out and agent.status("A")["paused"]
            assert agent.resume_run("A") == "resuming cycles.h5"
        wait_for(lambda: (agent.channels["A"].last or died).run_id != died.run_id and not agent.channels["A"].busy
                 and not agent.channels["A"].queue.items(), timeout_s=120, what="the resumed run to end")
        resumed = agent.channels["A"].last
        assert resumed.out == died.out and resumed.state == "ended" and resumed.status == "finished", resumed
        run = read_run(resumed.out)
        assert run.status == "finished" and run.points == 6 and run.output_state == "output confirmed off"
    finally:
        stop.set()
        serving.join(10)


def test_the_link_between_two_pcs_coordinators_is_made_again_after_a_restart():
    """Two coordinators (two "PCs" on loopback), N2 linked to N1. N1 restarts: pyleco leaves the
    link broken (measured: not healed in 40 s without the keeper); the station's keeper on N2
    links again, and a client on N1 reaches a component on N2 within 10 s of N1's return."""
    from pyleco.utils.message_handler import MessageHandler

    from station.service.coordinator import serve_coordinator

    p1, p2 = free_port(), free_port()

    def start_n1():
        stop = threading.Event()
        thread = threading.Thread(target=serve_coordinator, args=("127.0.0.1", p1, "N1", stop), daemon=True)
        thread.start()
        return stop, thread

    stop1, thread1 = start_n1()
    stop2 = threading.Event()
    threading.Thread(target=serve_coordinator, args=("127.0.0.1", p2, "N2", stop2, [f"localhost:{p1}"]),
                     daemon=True).start()
    time.sleep(1.0)
    echo_stop = threading.Event()
    echo = MessageHandler(name="echo", port=p2)
    echo.register_rpc_method(lambda: "pong", name="ping")
    threading.Thread(target=echo.listen, kwargs={"stop_event": echo_stop}, daemon=True).start()

    def reach():
        return answer(p1, "N2.echo", "ping")

    try:
        assert wait_for(reach, timeout_s=15, what="the link") == "pong"
        stop1.set()
        thread1.join(10)
        time.sleep(1.0)
        stop1, thread1 = start_n1()
        back = time.monotonic()
        assert wait_for(reach, timeout_s=30, what="the link made again") == "pong"
        assert time.monotonic() - back < 10.0
    finally:
        echo_stop.set()
        stop1.set()
        stop2.set()


def test_a_follower_hands_live_spectra_to_the_viewer_as_spectral_results(tmp_path):
    """A published event's spectra arrive as binary frames; the follower gives the viewer an
    Event with its SpectralResult on the run's own wavelength axis (the window draws it)."""
    import numpy as np

    from procedures import procedure_class
    from sim_instruments.bench import SimulatedBench
    from station.data.recovery import run_start_of
    from station.run.documents import documents_of
    from station.run.records import Event
    from station.service.follow import ChannelFollower
    from station.session import run_to_file
    from station.setup.config import load_config
    from station.setup.station import open_station

    config = load_config()
    procedure = procedure_class("jvl")(stop_voltage=3.0, step_voltage=0.5)
    procedure.validate(config)
    with open_station(config, bench=SimulatedBench()) as station:
        run_to_file(procedure, station, tmp_path / "j.h5")
    run = read_run(tmp_path / "j.h5")
    spectra = run.spectra
    start_docs = documents_of(run_start_of(run))
    values = {name: float(v[5]) for name, v in run.read_columns(run.column_names()).items()}
    live_event = {"kind": "event", "stream": run.main_stream, "index": 5, "values": values,
                  "spectrum": {"spectral": np.asarray(spectra.spectral[5]), "raw": np.asarray(spectra.raw[5])}}

    class Agent:
        def call(self, method, **params):
            return start_docs if method == "start_documents" else {"columns": {}, "total": 5}

    class Live:
        queue = [("t", live_event)]

        def receive(self, timeout_s):
            return self.queue.pop(0) if self.queue else None

    follower = ChannelFollower(Agent(), "A", Live())
    follower.attach()
    follower._seen[run.main_stream] = 5
    [event] = [r for r in follower.poll(0.1) if isinstance(r, Event)]
    assert event.index == 5 and event.spectrum is not None
    assert np.array_equal(event.spectrum.wavelength_nm, spectra.wavelength_nm)
    assert np.allclose(event.spectrum.spectral, spectra.spectral[5])


def test_a_run_that_cannot_start_is_recorded_and_holds_the_queue(tmp_path, coordinator):
    text = agent_text(tmp_path / "agent", coordinator)
    agent = StationAgent(agent_config_from_text(text, str(tmp_path / "a.toml")), python=str(tmp_path / "no-python"))
    agent.enqueue("A", "jvl", {"stop_voltage": 1.0}, name="never")
    agent.enqueue("A", "jvl", {"stop_voltage": 1.0}, name="waits")
    agent._look_at(agent.channels["A"])
    last = agent.channels["A"].last
    assert last.state == "ended" and last.status == "failed" and "could not start" in last.reason
    assert agent.channels["A"].paused and [r.out for r in agent.channels["A"].queue.items()][0].endswith("waits.h5")
    assert [r.state for r in agent.registry.records()] == ["ended"]


def test_ctrl_c_in_the_agents_terminal_reaches_the_agent_not_its_runs(tmp_path):
    """Ctrl-C at the agent's terminal signals its whole process group: the agent stops, its run
    (in a session of its own) goes on to the end; a new agent finds it finished."""
    import subprocess

    port = free_port()
    station = tmp_path / "rt.toml"
    station.write_text("[simulation]\nrealtime = true\n", encoding="utf-8")
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nname = "bench"\nport = {port}\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[channels.A]\nconfig = "{station}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "station.cli"]
    coordinator = subprocess.Popen([*command, "coordinator", "--port", str(port), "--data-port", "0"],
                                   stdout=subprocess.PIPE, text=True)
    agent = subprocess.Popen([*command, "agent", "--agent-config", str(config)], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)  # the agent's "terminal": its own process group
    try:
        assert "listening" in coordinator.stdout.readline() and "channels A" in agent.stdout.readline()
        queued = subprocess.run([*command, "queue", "A", "dark_jv", "--name", "outlives", "--agent", "bench",
                                 "--port", str(port), *(f"--set={k}={v}" for k, v in SLOW_DARK_JV.items())],
                                capture_output=True, text=True, timeout=60)
        assert queued.returncode == 0, queued.stderr
        out = tmp_path / "data" / "channels" / "A" / "outlives.h5"
        wait_for(lambda: out.exists() and any((tmp_path / "data" / "runs").glob("*.json")), what="the run")
        time.sleep(3.0)
        os.killpg(agent.pid, signal.SIGINT)  # Ctrl-C in the agent's terminal
        agent.wait(20)
        def ended_run():
            try:
                run = read_run(out)
            except DataFileError:  # still open for writing
                return None
            return run if run.status != "running" else None

        run = wait_for(ended_run, timeout_s=90, what="the run to end on its own")
        assert run.status == "finished" and run.points == SLOW_POINTS and run.output_state == "output confirmed off"
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGINT)
            agent.wait(10)
        coordinator.send_signal(signal.SIGINT)
        coordinator.wait(10)


def test_published_values_that_are_not_finite_arrive_as_the_documents_have_them():
    """NaN and infinities in a live event decode as they were (as in the documents: "nan", "inf"):
    a follower once dropped every event with a NaN value (a lifetime's monitor rows)."""
    import math

    from station.run.documents import RecordDecoder
    from station.run.records import Column, Event, MainCurve, RunStart, Stream
    from station.sinks.leco_publisher import LecoPublisherSink

    port = free_port_pair()
    proxy = start_data_proxy("127.0.0.1", port)
    stream = Stream("points", (Column("a", "1", "a"), Column("b", "1", "b"), Column("c", "1", "c")))
    start = RunStart(run_id="r1", procedure="p", title="", parameters={}, streams=(stream,),
                     main=MainCurve("points", "a", "b"), light=None, geometry="none", pixel_area_cm2=0.04,
                     config_text="", config_source="", instruments={}, software_version="", start_time_s=0.0,
                     durability_interval_s=0.0, provenance={}, sample={})
    try:
        with LiveDocuments(["nan-test"], port=port) as live, LecoPublisherSink("nan-test", port=port) as sink:
            time.sleep(0.5)
            sink.deliver_batch([start, Event("points", 0, {"a": 1.5, "b": float("nan"), "c": float("-inf")})])
            decoder, records = RecordDecoder(), []
            while not any(isinstance(r, Event) for r in records):
                received = live.receive(5)
                assert received is not None
                records.extend(decoder.feed(received[1]))
        [event] = [r for r in records if isinstance(r, Event)]
        assert event.values["a"] == 1.5 and math.isnan(event.values["b"]) and event.values["c"] == -math.inf
    finally:
        proxy.destroy(linger=0)
