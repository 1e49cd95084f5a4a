"""The fault matrix: every injectable fault, into every procedure of the registry.

Each cell runs one procedure on a simulated bench with one fault injected
(:mod:`sim_instruments.faults`) and records how the run ended, what the station said of
the output, what the simulated instrument's output really is, and whether the file
holds every point the run reported. ``python -m tests.fault_matrix`` prints the table
that ``docs/reliability.md`` keeps; ``tests/test_fault_matrix.py`` asserts every cell.

A procedure added to the registry joins automatically; one whose defaults run long may
declare ``FAULT_MATRIX_PARAMETERS`` (parameter values for a short run).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from procedures import procedure_class, procedure_names
from sim_instruments.bench import SimulatedBench
from sim_instruments.faults import Fault
from station.core.signals import INTERRUPTS, Terminated
from station.data.reader import read_run
from station.session import run_to_file
from station.setup.config import load_config
from station.setup.station import open_station

#: the reading at which faults start: point 2 of any procedure (readings 5 and 6)
AT = 5


@dataclass(frozen=True)
class Cell:
    """One fault and what the station must make of it."""

    name: str
    faults: tuple[Fault, ...]
    status: str  # the run's end status
    reason: str  # a word the reason must contain
    confirmed_off: bool = True  # False: the station must say it could NOT switch the output off
    notice: str = ""  # a word one of the file's notices must contain


CELLS: tuple[Cell, ...] = (
    Cell("none", (), "finished", ""),
    Cell("VISA time-out (once)", (Fault("smu_timeout", AT),), "finished", "", notice="reading repeated"),
    Cell("garbled reply (once)", (Fault("smu_garbled", AT),), "finished", "", notice="reading repeated"),
    Cell("instrument gone, back after 6 calls", (Fault("smu_gone", AT, 6),), "failed", "source meter"),
    Cell("instrument gone for good", (Fault("smu_gone", AT, 0),), "failed", "OUTPUT NOT CONFIRMED OFF",
         confirmed_off=False),
    Cell(":OUTP 0 ignored", (Fault("output_off_fails", AT, 0),), "failed", "OUTPUT NOT CONFIRMED OFF",
         confirmed_off=False),
    Cell("overflow readings", (Fault("overflow", AT, 0),), "failed", "overflow"),
    Cell("open circuit", (Fault("open_circuit", AT, 0),), "failed", "open circuit"),
    Cell("short circuit", (Fault("short_circuit", AT, 0),), "failed", "short circuit"),
    Cell("spectrometer dark (fibre out)", (Fault("spectrometer_dark", AT, 0),), "failed", "all-zero spectrum"),
    Cell("spectrometer hangs", (Fault("spectrometer_hang", AT),), "failed", "did not answer"),
    Cell("SIGINT x3, 20 ms apart", (Fault("sigint", AT, 3),), "aborted", "Ctrl-C"),
    Cell("SIGTERM x3, 20 ms apart", (Fault("sigterm", AT, 3),), "aborted", "SIGTERM"),
    Cell("Ctrl-C pressed five times", (Fault("sigint", AT, 5),), "aborted", "Ctrl-C"),
)


#: faults that act on a light instrument, or that the device-health checks of a lit device judge (a
#: dark J-V records whatever current flows: an "open" or "short" single-carrier device is data)
LIGHT_OR_SINGLE_READING = {"spectrometer_dark", "spectrometer_hang", "open_circuit", "short_circuit"}


def applies(procedure: str, cell: Cell) -> bool:
    """Whether ``cell`` applies to ``procedure`` (a dark procedure reads no light and judges no
    device health)."""
    if procedure_class(procedure).USES_LIGHT:
        return True
    return not any(f.kind in LIGHT_OR_SINGLE_READING for f in cell.faults)


#: the window's own paths (station.gui): the action, taken once the run reaches reading AT
WINDOW_CELLS: tuple[Cell, ...] = (
    Cell("window: Abort", (), "aborted", "aborted by the operator"),
    Cell("window: Emergency stop", (), "aborted", "emergency stop"),
    Cell("window: closed during the run", (), "aborted", "aborted by the operator"),
    Cell("window: Abort while the light reading hangs", (Fault("spectrometer_hang", AT),), "aborted",
         "aborted by the operator"),
)
#: the output must be off (on the simulated instrument) this soon after the window's action
WINDOW_OFF_WITHIN_S = 1.0


@dataclass
class Result:
    procedure: str
    cell: str
    status: str
    reason: str
    output_said: str
    output_really_on: bool
    points_reported: int
    rows_in_file: int
    file_status: str
    notices: list[str]
    off_after_s: float = 0.0  # window cells: from the action to the simulated output off

    @property
    def intact(self) -> bool:
        return self.rows_in_file == self.points_reported and self.file_status == self.status


def matrix_procedure(name: str):
    cls = procedure_class(name)
    return cls(**getattr(cls, "FAULT_MATRIX_PARAMETERS", {}))


def run_cell(procedure_name: str, cell: Cell, directory: Path, smu_model: str = "keithley2400") -> Result:
    """One cell, in this process (signals included: the handlers of the command line), on the
    simulated source meter of ``smu_model``."""
    config = load_config()
    config = dataclasses.replace(config, output_off_timeout_s=0.5,
                                 smu=dataclasses.replace(config.smu, model=smu_model))
    procedure = matrix_procedure(procedure_name)
    procedure.validate(config)
    bench = SimulatedBench(faults=cell.faults, smu_model=smu_model)
    path = directory / f"{procedure_name}-{cell.name.split()[0]}-{abs(hash(cell.name))}.h5"
    outcome = None
    with INTERRUPTS.installed():
        try:
            with open_station(config, bench=bench) as station:
                station.light_timeout_s = 1.0  # a hang is given up after 1 s here
                outcome = run_to_file(procedure, station, path)
        except (KeyboardInterrupt, Terminated):
            pass
        really_on = bench.keithley.output_on
        if any(f.kind in ("sigint", "sigterm") for f in cell.faults):
            time.sleep(0.2)  # the burst's later signals arrive while our handlers still hold them
    run = read_run(path)
    with run.open() as f:
        notices = [m.decode() for m in f["entry/notices/message"][:]]
        output_said = f["entry/output_state"][0].decode()
    return Result(procedure_name, cell.name, run.status if outcome is None else outcome.status,
                  run.reason if outcome is None else outcome.reason, output_said, really_on,
                  run.points if outcome is None else outcome.points, run.points, run.status, notices)


def run_window_cell(procedure_name: str, cell: Cell, directory: Path) -> Result:
    """One of :data:`WINDOW_CELLS`: the procedure queued in the window (offscreen Qt), the
    window's action taken from the GUI thread once the run reaches reading AT."""
    from station.gui.app import application
    from station.gui.window import StationWindow

    app = application()
    config = dataclasses.replace(load_config(), output_off_timeout_s=0.5)
    bench = SimulatedBench(faults=cell.faults)

    def opener(cfg):
        station = open_station(cfg, bench=bench)
        station.light_timeout_s = 5.0  # a hang is given up after 5 s here (the abort comes first)
        return station

    # the run holds at reading AT (inside the source meter's reply) until the action is on its
    # way, so the action always meets a run in progress however loaded the machine is
    keithley, reached, gate = bench.keithley, threading.Event(), threading.Event()
    measure = keithley._measure

    def held_measure():
        reply = measure()
        if keithley.measurements == AT and "hangs" not in cell.name:
            reached.set()
            gate.wait(10)
        return reply

    keithley._measure = held_measure
    window = StationWindow(config, directory)
    window.confirm_close = lambda: True
    window.queue._opener = opener
    window.queue.add(procedure_name, dict(getattr(procedure_class(procedure_name), "FAULT_MATRIX_PARAMETERS", {})))
    window.run_queue()
    deadline = time.monotonic() + 60
    while not reached.is_set() and bench.readings < AT and window.queue.running and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.001)
    if "hangs" in cell.name:
        time.sleep(0.3)  # the light reading is hanging by now
    threading.Timer(0.05, gate.set).start()  # the run goes on 50 ms after the action began
    acted = time.monotonic()
    if "Emergency" in cell.name:
        window.abort(emergency=True)
    elif "closed" in cell.name:
        window.close()
    else:
        window.abort()
    while bench.keithley.output_on and time.monotonic() - acted < 10:
        app.processEvents()
        time.sleep(0.001)
    off_after = time.monotonic() - acted
    while not window.queue.wait(0.01):
        app.processEvents()
    window.close()
    window.deleteLater()
    app.processEvents()
    keithley._measure = measure
    item = window.queue.items[0]
    del window, opener, held_measure
    gc.collect()  # Qt objects freed on this (the GUI) thread, never by a worker thread's collection
    run = read_run(item.path)
    with run.open() as f:
        notices = [m.decode() for m in f["entry/notices/message"][:]]
        output_said = f["entry/output_state"][0].decode()
    bench.close()
    return Result(procedure_name, cell.name, item.state, item.reason, output_said, bench.keithley.output_on,
                  run.points, run.points, run.status, notices, off_after)


def check(cell: Cell, r: Result) -> list[str]:
    """What is wrong with a result (empty: the cell passes)."""
    problems = []
    if r.status != cell.status:
        problems.append(f"status {r.status!r}, expected {cell.status!r} ({r.reason})")
    if cell.reason and cell.reason not in r.reason:
        problems.append(f"reason {r.reason!r} lacks {cell.reason!r}")
    if cell.confirmed_off:
        if r.output_said != "output confirmed off" or r.output_really_on:
            problems.append(f"output: said {r.output_said!r}, really on: {r.output_really_on}")
    elif "COULD NOT SWITCH THE OUTPUT OFF" not in r.output_said or not r.output_really_on:
        problems.append(f"output: said {r.output_said!r} but really on is {r.output_really_on}")
    if not r.intact:
        problems.append(f"file: {r.rows_in_file} rows, status {r.file_status!r}; run reported "
                        f"{r.points_reported} points, {r.status!r}")
    if r.off_after_s > WINDOW_OFF_WITHIN_S:
        problems.append(f"the output went off {r.off_after_s:.2f} s after the window's action")
    if cell.notice and not any(cell.notice in n for n in r.notices):
        problems.append(f"no notice with {cell.notice!r}: {r.notices}")
    return problems


# --- the disk: a real size-limited file system, in a child process ----------------------
DISK_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from station.cli import main
    from station.data.reader import read_run
    code = main(["run", {procedure!r}, "--config", {config!r}, "--out", {out!r}, *{options!r}])
    print("EXIT", code, flush=True)
    run = read_run({out!r})
    print("FILE", run.points, run.status)
""")


def can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


def run_disk_full(procedure_name: str, size_mb: int = 32, durability_s: float = 0.0, at: int = AT,
                  options: tuple[str, ...] | None = None) -> dict:
    """A run on a ``size_mb`` tmpfs that another program fills at reading ``at``, the file
    flushed every ``durability_s`` (``options``: the run's, else its short matrix parameters)."""
    root = str(Path(__file__).resolve().parent.parent)
    with tempfile.TemporaryDirectory() as work:
        mount = Path(work) / "disk"
        mount.mkdir()
        config = Path(work) / "station.toml"
        config.write_text(f'[data]\ndurability_interval_s = {durability_s:g}\n[simulation]\nfaults = [{{kind = '
                          f'"fill_disk", at = {at}, path = "{mount}"}}]\n')
        out = mount / "run.h5"
        child = Path(work) / "child.py"
        parameters = getattr(procedure_class(procedure_name), "FAULT_MATRIX_PARAMETERS", {})
        if options is None:
            options = tuple(x for name, value in parameters.items()
                            for x in ("--" + name.replace("_", "-"), str(value)))
        child.write_text(DISK_CHILD.format(root=root, procedure=procedure_name, config=str(config), out=str(out),
                                           options=list(options)))
        script = f"mount -t tmpfs -o size={size_mb}m tmpfs {mount} && exec {sys.executable} {child}"
        result = subprocess.run(["unshare", "-r", "-m", "sh", "-c", script], capture_output=True, text=True,
                                timeout=300, env={**os.environ, "PYTHONPATH": root})
    lines = result.stdout.splitlines()
    exit_line = next((x for x in lines if x.startswith("EXIT")), "EXIT ?")
    file_line = next((x for x in lines if x.startswith("FILE")), "FILE ? ?")
    last = [x for x in result.stderr.splitlines() if x.strip()]
    return {"returncode": result.returncode, "exit": exit_line.split()[1], "rows": file_line.split()[1],
            "file_status": file_line.split()[2], "stderr": result.stderr, "stop_line": next(
                (x for x in reversed(last) if x.startswith(("failed", "finished", "aborted"))), "")}


def _table_row(cell: Cell, r: Result) -> str:
    after = f" ({r.off_after_s:.2f} s after)" if r.off_after_s else ""  # window cells: after the action
    return (f"| {r.procedure} | {cell.name} | {r.status} | {r.reason[:60]} | {r.output_said[:40]} / "
            f"{'on' if r.output_really_on else 'off'}{after} | {r.points_reported} / {r.rows_in_file} "
            f"{'ok' if not check(cell, r) else 'FAIL'} |")


def main(argv: list[str] | None = None) -> None:
    """Print the matrix as a Markdown table (``--smu-model keithley2450``: the instrument cells on
    the simulated 2450; the window and disk cells do not depend on the source meter's model)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--smu-model", default="keithley2400", choices=["keithley2400", "keithley2450"])
    smu_model = parser.parse_args(argv).smu_model
    from .network_faults import NETWORK_CELLS, check_network, run_network_cell  # it builds on this module
    rows = ["| procedure | fault | status | reason | output (said / really on) | points: run / file |",
            "| --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as directory:
        for name in procedure_names():
            for cell in CELLS:
                if applies(name, cell):
                    rows.append(_table_row(cell, run_cell(name, cell, Path(directory), smu_model)))
            if smu_model != "keithley2400":
                continue
            for cell in WINDOW_CELLS:
                if not applies(name, cell):
                    continue
                rows.append(_table_row(cell, run_window_cell(name, cell, Path(directory))))
            for net in NETWORK_CELLS:  # the network column: the run's LECO side meets the fault
                r = run_network_cell(name, net, Path(directory))
                rows.append(f"| {name} | network: {net.name} | {r.status} | {r.reason[:60]} | {r.output_said[:40]} / "
                            f"{'on' if r.output_really_on else 'off'} | {r.points_reported} / {r.rows_in_file} "
                            f"{'ok' if not check_network(net, r) else 'FAIL'} |")
            if can_mount_tmpfs():
                for durability_s in (0.0, 1.0):
                    d = run_disk_full(name, durability_s=durability_s)
                    rows.append(f"| {name} | disk full (tmpfs filled by another program), file flushed every "
                                f"{durability_s:g} s | {d['file_status']} | {d['stop_line'][:60]} | see stop line | "
                                f"file {d['rows']} rows |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
