"""A signal at every line: the sweep that shows no signal, at any instant, can hang the shutdown.

Each run is ``ledstation run <procedure>`` (the command line's ``main``, in this process,
its signal handlers installed) with a short parameter set on the simulated bench. A
``sys.settrace`` tracer on the main thread sees every line the run executes in the
station's own code and in :mod:`threading`; a sweep run delivers a signal (SIGINT,
SIGTERM, or a burst of three) the first time a chosen line executes. Each run must

* return (a hang is caught by ``faulthandler``, which dumps every thread and exits);
* exit 130 or 143, by the first signal;
* leave the simulated output off, and say so ("output confirmed off"), if it opened one;
* leave its file, if any, closed with a final status (never "running");
* leave nothing holding the process's signals (:meth:`Interrupts.hold`).

``python -m tests.signal_sweep [procedure ...]`` sweeps every line (long); the default
test run sweeps a sample (``tests/test_signal_sweep.py``).
"""

from __future__ import annotations

import dis
import faulthandler
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from procedures import procedure_class, procedure_names
from station.core.signals import INTERRUPTS, Terminated

ROOT = Path(__file__).resolve().parent.parent
#: lines in these files are signal moments: the station's code and the locks it takes
TRACED = tuple(str(ROOT / d) + os.sep for d in ("station", "drivers", "procedures", "sim_instruments"))
TRACED_FILES = (threading.__file__,)
#: a run that has not returned after this long has hung
HANG_S = 120.0
#: the later signals of a burst: this many traced lines apart
BURST_SPACING_LINES = 150
SIGNAL_PLANS: tuple[tuple[int, ...], ...] = (
    (signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT, signal.SIGTERM),
)


@dataclass(frozen=True)
class Site:
    """A line of code; the signal arrives the ``nth`` time (from 1) the main thread executes it."""

    path: str
    line: int
    nth: int = 1

    def __str__(self) -> str:
        where = Path(self.path).relative_to(ROOT) if self.path.startswith(str(ROOT)) else Path(self.path).name
        return f"{where}:{self.line}" + (f" (#{self.nth})" if self.nth > 1 else "")


def _traced(path: str) -> bool:
    return path.startswith(TRACED) or path in TRACED_FILES


#: instructions after which CPython runs pending signal handlers (its "eval breaker"): a
#: signal arriving at any moment is raised at the next of these, never elsewhere
EVAL_BREAKERS = frozenset(dis.opmap[name] for name in ("CALL", "CALL_FUNCTION_EX", "JUMP_BACKWARD", "RESUME")
                          if name in dis.opmap)


class Tracer:
    """Counts traced lines; collects the sites in order, or signals at one of them.

    A signal that arrives while the target line runs is delivered where CPython would run
    its handler: after the next call, loop back-edge or function entry in traced code
    (opcode events from the moment the line is reached). Raising from a line event
    instead would raise where no real signal can (at a ``try:`` line's no-op, outside the
    exception table), and show failures that cannot happen."""

    def __init__(self, at: Site | None = None, signals: Sequence[int] = ()) -> None:
        self.at = at
        self.signals = list(signals)
        self.sites: dict[tuple[str, int], int] = {}  # (path, line) -> times executed, in order first seen
        self.seen_at = 0  # times the site ``at`` has been executed
        self.lines = 0
        self.armed_at_line: int | None = None  # the target reached: the next signal moment delivers
        self.fired_at_line: int | None = None
        self.sent: list[int] = []
        self._previous: dict[int, int] = {}  # frame id -> the opcode it executed last

    def trace(self, frame, event, arg):  # noqa: ARG002 - sys.settrace's signature
        if event != "call" or not _traced(frame.f_code.co_filename):
            return None
        if self.armed_at_line is not None:
            frame.f_trace_opcodes = True
        return self._local

    def _local(self, frame, event, arg):  # noqa: ARG002
        if not INTERRUPTS.active:  # signal moments: while the command's handlers are in
            return self._local
        if event == "opcode":
            self._opcode(frame)
        elif event == "line":
            self._line(frame)
        return self._local

    def _line(self, frame) -> None:
        self.lines += 1
        if self.at is None:
            key = (frame.f_code.co_filename, frame.f_lineno)
            self.sites[key] = self.sites.get(key, 0) + 1
            return
        if self.armed_at_line is None and frame.f_lineno == self.at.line and frame.f_code.co_filename == self.at.path:
            self.seen_at += 1
            if self.seen_at == self.at.nth:
                self.armed_at_line = self.lines
                frame.f_trace_opcodes = True
        elif self.fired_at_line is not None and len(self.sent) < len(self.signals) \
                and self.lines >= self.fired_at_line + BURST_SPACING_LINES * len(self.sent):
            self.armed_at_line = self.lines  # the next signal of a burst: at the next signal moment
            frame.f_trace_opcodes = True

    def _opcode(self, frame) -> None:
        key = id(frame)
        previous = self._previous.get(key)
        self._previous[key] = frame.f_code.co_code[frame.f_lasti]
        if self.armed_at_line is None or previous not in EVAL_BREAKERS or len(self.sent) >= len(self.signals):
            return
        if self.fired_at_line is None:
            self.fired_at_line = self.lines
        self.armed_at_line = None
        signum = self.signals[len(self.sent)]
        self.sent.append(signum)
        signal.raise_signal(signum)


@dataclass
class Result:
    site: Site | None
    signals: tuple[int, ...]
    exit_code: int
    fired: bool
    output_state: str
    output_confirmed: bool
    really_on: list[bool]
    file_status: str  # "" when no file was kept
    file_reason: str
    still_holding: bool
    seconds: float
    escaped: str = ""  # the signal's exception left the command line (a traceback at exit)
    problems: list[str] = field(default_factory=list)


def short_options(procedure: str) -> list[str]:
    """The procedure's short parameter set (its fault-matrix one) as options."""
    parameters = getattr(procedure_class(procedure), "FAULT_MATRIX_PARAMETERS", {})
    return [x for name, value in parameters.items() for x in ("--" + name.replace("_", "-"), str(value))]


def run_once(procedure: str, directory: Path, tracer: Tracer, durability_s: float, tag: str,
             output: Path | None = None) -> Result:
    """One ``ledstation run`` in this process under ``tracer`` (see the module docstring);
    what it prints goes to ``output`` (default: nowhere)."""
    from sim_instruments.bench import SimulatedBench
    from station.cli import main
    from station.cli.output import output_state
    from station.data.reader import read_run

    config = directory / f"station-{durability_s:g}.toml"
    if not config.exists():
        config.write_text(f"[data]\ndurability_interval_s = {durability_s:g}\n[safety]\n"
                          "output_off_timeout_s = 1.0\n")
    out = directory / f"{procedure}-{tag}.h5"
    benches: list[SimulatedBench] = []
    built = SimulatedBench.from_settings.__func__

    def recording(cls, *args, **kwargs):
        bench = built(cls, *args, **kwargs)
        benches.append(bench)
        return bench

    SimulatedBench.from_settings = classmethod(recording)  # type: ignore[method-assign]
    faulthandler.dump_traceback_later(HANG_S, exit=True, file=_hang_report())
    started = time.monotonic()
    sink = open(output if output is not None else os.devnull, "w")  # noqa: SIM115 - closed below
    saved_fd2 = os.dup(2)  # the handler acknowledges on file descriptor 2 itself
    try:
        os.dup2(sink.fileno(), 2)
        sys.settrace(tracer.trace)
        escaped = ""
        try:
            with redirect_stdout(sink), redirect_stderr(sink):
                code = main(["run", procedure, "--config", str(config), "--out", str(out), *short_options(procedure)])
        except (KeyboardInterrupt, Terminated) as exc:  # the installed program would print a traceback
            code, escaped = -1, type(exc).__name__
        finally:
            sys.settrace(None)
    finally:
        os.dup2(saved_fd2, 2)
        os.close(saved_fd2)
        faulthandler.cancel_dump_traceback_later()
        SimulatedBench.from_settings = classmethod(built)  # type: ignore[method-assign]
        sink.close()
    seconds = time.monotonic() - started
    state, confirmed = output_state()
    status = reason = ""
    if out.exists():
        try:
            run = read_run(out)
            status, reason = run.status, run.reason
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            status, reason = "unreadable", str(exc)
    return Result(tracer.at, tuple(tracer.signals), code, tracer.fired_at_line is not None, state, confirmed,
                  [b.keithley.output_on for b in benches], status, reason, INTERRUPTS.holding, seconds, escaped)


_HANG_REPORT: list = []


def _hang_report():
    """Where a hang's thread dump goes: this process's stderr as it was at the first run
    (file descriptor 2 is sent to /dev/null while a run goes)."""
    if not _HANG_REPORT:
        _HANG_REPORT.append(os.fdopen(os.dup(2), "w"))
    return _HANG_REPORT[0]


def check(result: Result) -> list[str]:
    """What is wrong with a run that was signalled (empty: it passes)."""
    problems = [f"{result.escaped} escaped the command line (a traceback)"] if result.escaped else []
    expected = {signal.SIGINT: 130, signal.SIGTERM: 143}[result.signals[0]]
    if result.exit_code != expected:
        problems.append(f"exit {result.exit_code}, expected {expected}")
    if result.output_state and not (result.output_confirmed and "output confirmed off" in result.output_state):
        problems.append(f"output: {result.output_state!r}")
    if any(result.really_on):
        problems.append("the simulated output is still on")
    if result.file_status in ("running", "unreadable"):
        problems.append(f"file left {result.file_status}: {result.file_reason}")
    if result.still_holding:
        problems.append("something still holds the process's signals")
    return problems


def discover(procedure: str, directory: Path, seed: int = 0) -> list[Site]:
    """Every traced line a short run executes, in the order first executed: each at its first
    execution and, for a line executed again (a loop, a lock taken at every point), also at
    one of its later executions chosen at random."""
    tracer = Tracer()
    result = run_once(procedure, directory, tracer, 1.0, "discover")
    if result.exit_code != 0:
        raise RuntimeError(f"the unsignalled {procedure} run exited {result.exit_code}")
    rng = random.Random(seed)
    sites = []
    for (path, line), times in tracer.sites.items():
        sites.append(Site(path, line))
        if times > 1:
            sites.append(Site(path, line, rng.randint(2, times)))
    return sites


def sweep(procedure: str, sites: Sequence[Site], directory: Path) -> list[Result]:
    """A signal at each site (plans and durability settings taken in turn)."""
    results = []
    for i, site in enumerate(sites):
        plan = SIGNAL_PLANS[i % len(SIGNAL_PLANS)]
        durability = (0.0, 1.0)[(i // len(SIGNAL_PLANS)) % 2]
        result = run_once(procedure, directory, Tracer(site, plan), durability, f"{i}")
        result.problems = check(result) if result.fired else []
        results.append(result)
        for leftover in directory.glob(f"{procedure}-{i}.h5*"):
            leftover.unlink()
    return results


def sample(sites: Sequence[Site], k: int, seed: int) -> list[Site]:
    """``k`` sites at random, half of them (at most) where locks are taken: the simulated
    clock's and :mod:`threading`'s (conditions, events, thread starts and joins)."""
    locking = [s for s in sites if s.path.endswith((os.path.join("core", "clock.py"), "threading.py"))]
    rng = random.Random(seed)
    chosen = rng.sample(locking, min(len(locking), k // 2))
    rest = [s for s in sites if s not in set(chosen)]
    return chosen + rng.sample(rest, min(len(rest), k - len(chosen)))


def main(names: Sequence[str] = ()) -> None:
    """Sweep every line of each procedure's short run; print a summary line per procedure."""
    for name in names or procedure_names():
        with tempfile.TemporaryDirectory() as work:
            directory = Path(work)
            sites = discover(name, directory)
            started = time.monotonic()
            results = sweep(name, sites, directory)
            failed = [r for r in results if r.problems]
            fired = sum(r.fired for r in results)
            print(f"{name}: {len(sites)} lines, {fired} signalled, {len(failed)} failed "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
            for r in failed[:20]:
                print(f"  {r.site} {r.signals}: {'; '.join(r.problems)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
