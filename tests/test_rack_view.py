"""The window as a client of agents (offscreen Qt): the Rack tab lists every channel of the
agents a network file names, a channel's view fills its plots from the agent's file and then
live, the emergency stop reaches the run through the agent, and closing the window stops no run."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyleco")

from station.data.reader import read_run  # noqa: E402
from station.gui.rack_view import AgentAddress, load_network  # noqa: E402
from station.gui.window import StationWindow  # noqa: E402
from station.service.agent import StationAgent  # noqa: E402
from station.service.agent_config import agent_config_from_text  # noqa: E402
from station.setup.config import load_config  # noqa: E402

from .test_agent import DATA_PORT, SLOW_DARK_JV, agent_text, coordinator  # noqa: E402, F401


@pytest.fixture
def served_agent(tmp_path, coordinator):  # noqa: F811 - the fixture of tests.test_agent
    config = agent_config_from_text(agent_text(tmp_path / "agent", coordinator, realtime=True),
                                    str(tmp_path / "a.toml"))
    agent, stop = StationAgent(config), threading.Event()
    thread = threading.Thread(target=agent.serve, kwargs={"stop": stop}, daemon=True)
    thread.start()
    time.sleep(0.3)
    yield agent, AgentAddress("rack1", "localhost", coordinator, DATA_PORT)
    stop.set()
    thread.join(10)


def test_the_rack_lists_channels_watches_one_and_stops_it_and_closing_stops_nothing(qtbot, tmp_path, served_agent):
    agent, address = served_agent
    window = StationWindow(load_config(None), tmp_path, network=[address])
    window.confirm_close = lambda: True
    qtbot.addWidget(window)
    window.show()
    rack = window.rack
    qtbot.waitUntil(lambda: rack.table.rowCount() == 1 and rack.table.item(0, 2).text() == "idle", timeout=20000)
    assert rack.table.item(0, 1).text() == "A"
    agent.enqueue("A", "dark_jv", SLOW_DARK_JV, name="watched")
    qtbot.waitUntil(lambda: rack.table.item(0, 2).text() == "running", timeout=30000)
    time.sleep(3.0)  # rows in the file before the view attaches
    rack.table.selectRow(0)
    rack.watch_button.click()
    view = window.channel_views[0]
    qtbot.waitUntil(lambda: view.records > 30, timeout=30000)  # the file's rows, then live ones
    snapshot = view.data.snapshot()
    assert snapshot.status.procedure == "dark_jv" and any(len(p.x) > 20 for p in snapshot.plots if p.x is not None)
    rack.stop_button.click()  # the emergency stop: a message to the agent, and from it to the run
    qtbot.waitUntil(lambda: agent.channels["A"].last is not None, timeout=30000)
    last = agent.channels["A"].last
    run = read_run(last.out)
    assert run.status == "aborted" and "emergency stop" in run.reason and run.output_state == "output confirmed off"
    # a second run, then the window goes: the run does not
    agent.resume_queue("A")
    agent.enqueue("A", "dark_jv", {**SLOW_DARK_JV, "points": 60}, name="outlives")
    qtbot.waitUntil(lambda: agent.channels["A"].busy, timeout=30000)
    window.close()
    window.deleteLater()
    window = view = rack = None  # the Qt objects freed here, on the GUI thread
    gc.collect()
    deadline = time.monotonic() + 60
    while agent.channels["A"].busy and time.monotonic() < deadline:
        time.sleep(0.2)
    assert agent.channels["A"].last.status == "finished"


def test_a_network_file_names_its_agents_or_says_what_is_wrong(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text('[[agents]]\nname = "rack1"\nhost = "10.0.0.2"\n[[agents]]\nname = "rack2"\nport = 12400\n')
    assert load_network(path) == [AgentAddress("rack1", "10.0.0.2"), AgentAddress("rack2", port=12400)]
    path.write_text('[[agents]]\nname = "rack1"\nport = "x"\n')
    with pytest.raises(Exception, match="ports? (and data_port )?must be numbers"):
        load_network(path)
    path.write_text("[agent]\n")
    with pytest.raises(Exception, match=r"needs \[\[agents\]\]"):
        load_network(path)


def test_the_run_tab_through_an_agent_measures_out_of_the_window_and_closing_stops_nothing(qtbot, tmp_path,
                                                                                          served_agent):
    from station.gui.agent_queue import AgentRunQueue

    agent, address = served_agent
    config = load_config(None)
    queue = AgentRunQueue(config, tmp_path, address, "A", pattern="{procedure}-{n}.h5")
    window = StationWindow(config, tmp_path, queue=queue)
    qtbot.addWidget(window)
    window.show()
    queue.add("dark_jv", {**SLOW_DARK_JV, "points": 60})
    queue.add("dark_jv", {**SLOW_DARK_JV, "points": 40})
    window.run_queue()
    qtbot.waitUntil(lambda: agent.channels["A"].busy, timeout=30000)
    assert len(agent.channels["A"].queue.items()) == 1  # both handed over: one running, one queued on the agent
    assert agent.channels["A"].process.pid != os.getpid()  # measured in the agent's run process
    qtbot.waitUntil(lambda: not queue.running, timeout=90000)
    assert [i.state for i in queue.items] == ["finished", "finished"], [i.reason for i in queue.items]
    assert [read_run(i.path).points for i in queue.items] == [60, 40]
    shown = [p for p in queue.live.snapshot().plots if p.x is not None and len(p.x)]
    assert shown and max(len(p.x) for p in shown) == 40  # the window drew the second run, from the agent's
    queue.add("dark_jv", dict(SLOW_DARK_JV))
    window.run_queue()
    qtbot.waitUntil(lambda: agent.channels["A"].busy, timeout=30000)
    window.close()  # a run at the agent: no question, no abort
    window.deleteLater()
    window = queue = None
    gc.collect()
    deadline = time.monotonic() + 90
    while (agent.channels["A"].busy or agent.channels["A"].queue.items()) and time.monotonic() < deadline:
        time.sleep(0.2)
    runs = [r for r in agent.registry.records() if r.state == "ended"]
    assert [r.status for r in runs] == ["finished", "finished", "finished"]
    assert read_run(runs[-1].out).points == SLOW_DARK_JV["points"]
