"""The window measures through its own local agent (``ledstation gui`` by default): started for
it when none runs, the measurement out of the window's process, closing the window stops
nothing, and a window opened again re-attaches to the run with its plots filled."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psutil
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyleco")

from station.data.reader import read_run  # noqa: E402
from station.gui.agent_queue import AgentRunQueue  # noqa: E402
from station.gui.rack_view import AgentAddress  # noqa: E402
from station.gui.run_queue import ABORTED, RUNNING  # noqa: E402
from station.gui.window import StationWindow  # noqa: E402
from station.service.agent import StationAgent  # noqa: E402
from station.service.agent_config import agent_config_from_text  # noqa: E402
from station.service.client import AgentClient  # noqa: E402
from station.service.coordinator import listening  # noqa: E402
from station.service.local_agent import LOCAL_CHANNEL, answers, ensure_running, local_agent  # noqa: E402
from station.setup.config import load_config  # noqa: E402

from .test_agent import SLOW_DARK_JV, free_port, free_port_pair  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the processes are ended with SIGKILL at the end")
PATTERN = "{procedure}.h5"


def window_queue(config, folder, agent) -> AgentRunQueue:
    """The queue ``ledstation gui`` builds for its local agent."""
    return AgentRunQueue(config, folder, AgentAddress(agent.name, "localhost", agent.port, agent.data_port),
                         LOCAL_CHANNEL, PATTERN, starter=lambda: ensure_running(agent), answers=lambda: answers(agent),
                         names_in_folder=True)


def plotted_points(queue: AgentRunQueue) -> int:
    return max((len(p.x) for p in queue.live.snapshot().plots if p.x is not None), default=0)


@pytest.fixture
def local_processes():
    """Ends the coordinator and agent the test started (detached: nothing else would)."""
    ports: list[int] = []
    yield ports
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "station.cli" in cmdline and any(f"--port {p}" in cmdline or "local-" in cmdline for p in ports):
            process.kill()


def test_the_window_starts_its_agent_measures_out_of_process_and_reattaches_when_opened_again(
        qtbot, tmp_path, local_processes):
    (tmp_path / "realtime.toml").write_text("[simulation]\nrealtime = true\n", encoding="utf-8")
    config = load_config(tmp_path / "realtime.toml")
    folder = tmp_path / "runs"
    folder.mkdir()
    port, data_port = free_port(), free_port_pair()
    local_processes.append(port)
    agent = local_agent(config, folder, port, data_port)
    assert local_agent(config, folder, port, data_port) == agent  # the same window again: the same agent
    queue = window_queue(config, folder, agent)
    window = StationWindow(config, folder, PATTERN, queue=queue)
    qtbot.addWidget(window)
    queue.reattach()  # a window opened with no agent running: nothing to follow, nothing started
    assert queue.wait(20) and not listening("localhost", port) and not queue.items

    queue.add("dark_jv", SLOW_DARK_JV)
    window.run_queue()
    qtbot.waitUntil(lambda: plotted_points(queue) > 10, timeout=60000)  # the agent started, the run followed
    with AgentClient(agent.name, "localhost", port) as client:
        run_pid = client.call("status", channel=LOCAL_CHANNEL)["current"]["pid"]
    assert run_pid != os.getpid() and os.getsid(run_pid) != os.getsid(0)  # another process, out of our terminal
    other = subprocess.run([sys.executable, "-m", "station.cli", "queue", LOCAL_CHANNEL, "jvl", "--agent", agent.name,
                            "--port", str(port)], capture_output=True, text=True, timeout=60)  # a second client
    assert other.returncode == 2 and f"ledstation-client-{os.getpid()};" in other.stderr, other.stderr
    window._show_output()
    assert window.output_label.text().startswith("run going in local-")
    window.confirm_close = lambda: True
    window.close()  # closing the window stops nothing
    out = folder / "dark_jv.h5"
    time.sleep(1.0)
    assert read_run(out).status == "running"

    again = window_queue(config, folder, agent)
    reopened = StationWindow(config, folder, PATTERN, queue=again)
    qtbot.addWidget(reopened)
    again.reattach()
    qtbot.waitUntil(lambda: bool(again.items) and again.items[0].state == RUNNING and plotted_points(again) > 20,
                    timeout=30000)
    stored_when_attached = read_run(out).points
    assert plotted_points(again) >= min(stored_when_attached, 20)  # the plots filled from the file
    again.abort()  # a request to the agent: the run ends as on Ctrl-C
    assert again.wait(30)
    assert again.items[0].state == ABORTED, again.items[0].describe()
    run = read_run(out)
    assert run.status == "aborted" and run.output_state == "output confirmed off"
    reopened._show_output()
    assert reopened.output_label.text() == "output confirmed off"  # what the run's shutdown read back, told
    assert plotted_points(again) >= run.points - 5  # every point, refilled then live (the plot bins, not the rows)


def test_an_agent_told_to_leave_when_idle_leaves(tmp_path):
    from .test_agent import start_coordinator

    port = free_port()
    stop, thread = start_coordinator(port)
    config = agent_config_from_text(f'[agent]\nname = "idle1"\nport = {port}\ndata_dir = "{tmp_path}"\n'
                                    'idle_exit_s = 1.0\n[channels.A]\nconfig = "default"\n', str(tmp_path / "a.toml"))
    agent = StationAgent(config)
    served = threading.Thread(target=agent.serve, daemon=True)
    started = time.monotonic()
    served.start()
    served.join(10)
    assert not served.is_alive() and 1.0 <= time.monotonic() - started < 5.0
    stop.set()
    thread.join(5)
