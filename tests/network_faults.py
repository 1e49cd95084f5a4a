"""The fault matrix's network column: every procedure, run with the LECO side the agent's run
process gives it (its control component signed in to a coordinator, its documents published
to a data proxy), meets a network fault at reading AT:

* the coordinator killed (its routing stopped, its sockets closed);
* the coordinator unreachable: frozen, or cut off by a partition (a relay that stops
  forwarding: connections held, silent);
* the data proxy gone;
* a subscriber that never reads, from the start.

The run must end as without the fault (finished), with the output confirmed off and really
off, and every point it reported in the file. ``python -m tests.fault_matrix`` prints these
rows with the others.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from procedures import procedure_class
from sim_instruments.bench import SimulatedBench
from station.data.reader import read_run
from station.service.coordinator import serve_coordinator, start_data_proxy
from station.service.run_process import RunControl, _control_component
from station.session.plan import execute, plan_run
from station.setup.config import load_config
from station.setup.station import open_station
from station.sinks.leco_publisher import LecoPublisherSink

from .fault_matrix import AT, Result
from .network_relay import Relay

#: a cell's run ends within this, s (the same run without a fault: a second or two)
RUN_WITHIN_S = 60.0


@dataclass(frozen=True)
class NetworkCell:
    name: str
    fault: str  # coordinator_killed, coordinator_unreachable, proxy_gone, subscriber_stalled


NETWORK_CELLS: tuple[NetworkCell, ...] = (
    NetworkCell("coordinator killed mid-run", "coordinator_killed"),
    NetworkCell("coordinator frozen or partitioned mid-run", "coordinator_unreachable"),
    NetworkCell("data proxy gone mid-run", "proxy_gone"),
    NetworkCell("subscriber that never reads", "subscriber_stalled"),
)


def applies_network(procedure: str, cell: NetworkCell) -> bool:  # noqa: ARG001 - every procedure publishes
    return True


def _free_port(pair: bool = False) -> int:
    from .test_agent import free_port, free_port_pair

    return free_port_pair() if pair else free_port()


def run_network_cell(procedure_name: str, cell: NetworkCell, directory: Path) -> Result:
    """One cell, in this process, on the virtual clock (every point as fast as the station computes it)."""
    import zmq

    port, data_port = _free_port(), _free_port(pair=True)
    coordinator_stop, control_stop = threading.Event(), threading.Event()
    threading.Thread(target=serve_coordinator, args=("127.0.0.1", port, "", coordinator_stop), daemon=True).start()
    proxy = start_data_proxy("127.0.0.1", data_port)
    to_coordinator, to_proxy = Relay(port), Relay(data_port)  # the run's side of the cable
    subscriber = None
    if cell.fault == "subscriber_stalled":
        subscriber = zmq.Context.instance().socket(zmq.SUB)
        subscriber.setsockopt(zmq.RCVHWM, 10)
        subscriber.connect(f"tcp://127.0.0.1:{data_port - 1}")
        subscriber.subscribe(b"")
    time.sleep(0.3)
    proxy_gone = [False]

    def inject() -> None:
        if cell.fault == "coordinator_killed":
            coordinator_stop.set()
        elif cell.fault == "coordinator_unreachable":
            to_coordinator.cut()
            to_proxy.cut()
        elif cell.fault == "proxy_gone":
            proxy.destroy(linger=0)
            proxy_gone[0] = True

    config = dataclasses.replace(load_config(), output_off_timeout_s=0.5)
    bench = SimulatedBench()
    keithley, measure = bench.keithley, bench.keithley._measure

    def measured():
        if keithley.measurements == AT:
            inject()
        return measure()

    keithley._measure = measured
    control = RunControl()
    name = f"cell-{abs(hash((procedure_name, cell.name))) % 10**8}"
    _control_component(name, "localhost", to_coordinator.port, control, control_stop)
    path = directory / f"{procedure_name}-{cell.fault}.h5"
    parameters = dict(getattr(procedure_class(procedure_name), "FAULT_MATRIX_PARAMETERS", {}))
    publisher = LecoPublisherSink(name, "localhost", to_proxy.port)
    ended: list = []

    def run() -> None:
        ended.append(execute(plan_run(procedure_name, parameters, config, path), [publisher],
                             opener=lambda cfg: open_station(cfg, bench=bench), on_runner=control.attach))

    try:
        runner = threading.Thread(target=run, name="network-cell-run", daemon=True)
        runner.start()
        runner.join(RUN_WITHIN_S)
        if runner.is_alive():  # the network held the run: a failed cell, never a hung test
            control.abort(emergency=True)
            runner.join(30)
        outcome = ended[0] if ended else None
    finally:
        control_stop.set()
        publisher.close()
        coordinator_stop.set()
        to_coordinator.close()
        to_proxy.close()
        if subscriber is not None:
            subscriber.close(linger=0)
        if not proxy_gone[0]:
            proxy.destroy(linger=0)
    run = read_run(path)
    with run.open() as f:
        notices = [m.decode() for m in f["entry/notices/message"][:]]
        output_said = f["entry/output_state"][0].decode()
    if outcome is None or runner.is_alive():
        return Result(procedure_name, cell.name, "hung", f"not ended within {RUN_WITHIN_S:g} s", output_said,
                      bench.keithley.output_on, -1, run.points, run.status, notices)
    result = Result(procedure_name, cell.name, outcome.status, outcome.reason, output_said, bench.keithley.output_on,
                    outcome.points, run.points, run.status, notices)
    bench.close()
    return result


def check_network(cell: NetworkCell, r: Result) -> list[str]:  # noqa: ARG001 - one expectation for every cell
    """What is wrong (empty: the cell passes): the run ends as without the fault."""
    problems = []
    if r.status != "finished":
        problems.append(f"status {r.status!r} ({r.reason}), expected finished")
    if r.output_said != "output confirmed off" or r.output_really_on:
        problems.append(f"output: said {r.output_said!r}, really on: {r.output_really_on}")
    if not r.intact:
        problems.append(f"file: {r.rows_in_file} rows, status {r.file_status!r}; run reported {r.points_reported}")
    return problems
