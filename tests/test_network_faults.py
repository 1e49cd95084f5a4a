"""Network faults between "PCs" on one machine (two coordinators on loopback, as pyleco's own
multi-node tests run them; a relay that can be cut stands for the cable between the PCs).

A partition between the PC that measures and the PC that watches: the run goes on at its
rate, and the watching window catches up from the file once the partition heals, with every
row exactly once, in order. The per-procedure cells (the fault matrix's network column) are in
:mod:`tests.network_faults`.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

pytest.importorskip("pyleco")

from procedures import procedure_names  # noqa: E402
from station.core.errors import StationError  # noqa: E402
from station.data.reader import read_run  # noqa: E402
from station.run.records import Event, RunStart, RunStop  # noqa: E402
from station.service.agent import StationAgent  # noqa: E402
from station.service.agent_config import agent_config_from_text  # noqa: E402
from station.service.client import AgentClient  # noqa: E402
from station.service.coordinator import serve_coordinator, start_data_proxy  # noqa: E402
from station.service.follow import ChannelFollower  # noqa: E402
from station.service.live import LiveDocuments  # noqa: E402

from .network_faults import NETWORK_CELLS, applies_network, check_network, run_network_cell  # noqa: E402
from .network_relay import Relay  # noqa: E402
from .test_agent import SLOW_DARK_JV, SLOW_POINTS, free_port, free_port_pair, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the agent's tests end processes with SIGKILL")
PARTITION_S = 4.0


def test_a_partition_between_pcs_stops_no_run_and_the_watcher_catches_up_from_the_file(tmp_path):
    p1, p2, data_port = free_port(), free_port(), free_port_pair()
    stops = [threading.Event(), threading.Event()]
    proxy = start_data_proxy("127.0.0.1", data_port)
    link = Relay(p1)  # PC2's coordinator reaches PC1's through the cable
    live_cable = Relay(data_port - 1)  # and PC2's window reaches PC1's data proxy through it too
    threading.Thread(target=serve_coordinator, args=("127.0.0.1", p1, "N1", stops[0]), daemon=True).start()
    threading.Thread(target=serve_coordinator, args=("127.0.0.1", p2, "N2", stops[1], [f"localhost:{link.port}"]),
                     daemon=True).start()
    (tmp_path / "realtime.toml").write_text("[simulation]\nrealtime = true\n", encoding="utf-8")
    config = agent_config_from_text(f'[agent]\nname = "rack1"\nport = {p1}\ndata_port = {data_port}\n'
                                    f'data_dir = "{tmp_path / "agent"}"\n[channels.A]\n'
                                    f'config = "{tmp_path / "realtime.toml"}"\n', str(tmp_path / "a.toml"))
    agent, agent_stop = StationAgent(config), threading.Event()
    threading.Thread(target=agent.serve, kwargs={"stop": agent_stop}, daemon=True).start()
    try:
        with AgentClient("N1.rack1", "localhost", p2) as remote:  # the window on PC2
            wait_for(lambda: _answers(remote), timeout_s=20, what="PC1's agent through the link")
            remote.call("enqueue", channel="A", procedure="dark_jv", parameters=SLOW_DARK_JV, name="partitioned")
            current = wait_for(lambda: remote.call("status", channel="A")["current"], what="the run to start")
            out = current["out"]
            wait_for(lambda: _rows(out) > 10, what="rows in the file")
            with LiveDocuments(["rack1-A"], "localhost", live_cable.port + 1) as live:
                follower = ChannelFollower(remote, "A", live)
                records = follower.attach()
                assert isinstance(records[0], RunStart)
                records.extend(follower.poll(0.5))
                link.cut()
                live_cable.cut()
                rows_at_cut, cut_at = _rows(out), time.monotonic()
                try:  # once what was on its way is in, the window hears nothing across the cut (nor can it ask)
                    records.extend(follower.poll(1.0))
                    assert not any(isinstance(r, Event) for r in follower.poll(1.0))
                    with pytest.raises(StationError):
                        remote.call("status", channel="A")
                finally:
                    time.sleep(max(0.0, PARTITION_S - (time.monotonic() - cut_at)))
                    rows_in_partition = _rows(out) - rows_at_cut
                    link.heal()
                    live_cable.heal(reset=True)  # the live feed's connection did not survive: what it carried is lost
                # the run went on at its rate (0.05 s a level) on PC1 while cut off
                assert rows_in_partition >= 0.6 * PARTITION_S / SLOW_DARK_JV["dwell_time"], rows_in_partition
                deadline = time.monotonic() + 60
                while not any(isinstance(r, RunStop) for r in records) and time.monotonic() < deadline:
                    try:
                        records.extend(follower.poll(0.5))
                    except StationError:  # a refill asked while the link is being made again
                        time.sleep(0.5)
        assert follower.caught_up_rows >= 0.6 * PARTITION_S / SLOW_DARK_JV["dwell_time"]  # from the file
        run = read_run(out)
        assert run.status == "finished" and run.points == SLOW_POINTS and run.output_state == "output confirmed off"
        events = [r for r in records if isinstance(r, Event) and r.stream == "points"]
        assert [e.index for e in events] == list(range(SLOW_POINTS))  # every row once, in order
        stored = run.read_columns(["voltage_V", "current_A"])
        assert [e.values["current_A"] for e in events] == stored["current_A"].tolist()
    finally:
        agent_stop.set()
        for stop in stops:
            stop.set()
        link.close()
        live_cable.close()
        proxy.destroy(linger=0)


def _answers(client: AgentClient) -> bool:
    try:
        client.call("version")
        return True
    except StationError:
        return False


def _rows(path: str) -> int:
    try:
        return read_run(path).points
    except StationError:
        return 0


@pytest.mark.parametrize("cell", NETWORK_CELLS, ids=[c.name for c in NETWORK_CELLS])
@pytest.mark.parametrize("procedure", procedure_names())
def test_fault_matrix_network_cell(procedure, cell, tmp_path):
    """The network column: the run's LECO side (its control component, its publisher) meets a
    network fault mid-run; the run ends as without it, output off, every point in the file."""
    if not applies_network(procedure, cell):
        pytest.skip("not for this procedure")
    result = run_network_cell(procedure, cell, tmp_path)
    assert check_network(cell, result) == [], result
