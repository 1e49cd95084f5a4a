"""Faults the simulated bench can be told to suffer, from tests or from the configuration.

``[simulation] faults = [{kind = "smu_timeout", at = 21}, {kind = "sigint", at = 30, count = 3}]``

``at`` is the source-meter reading (``:READ?``, counted from 1) from which a fault
applies; a sweep point takes two readings, so point k (from 0) starts at reading 2k + 1.
``count`` is how long it lasts, in the unit the kind says; 0 means for the rest of the
run. Each fault does to the station what the real failure does: a time-out is a VISA
time-out, a cable pulled is a VISA connection error, a hung spectrometer never returns.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from station.core.errors import ConfigError

#: kind -> what it does, and what ``count`` counts
KINDS: Mapping[str, str] = {
    "smu_timeout": "the source meter does not answer a reading (VISA time-out); count: readings",
    "smu_garbled": "the source meter's reply to a reading arrives cut short; count: readings",
    "smu_gone": "the source meter stops answering (cable out), then comes back; count: VISA calls that fail",
    "output_off_fails": "the source meter ignores :OUTP 0 (the output stays on); count: commands ignored",
    "overflow": "readings are 9.91e37 (overflow); count: readings",
    "open_circuit": "the device is disconnected; count: readings",
    "short_circuit": "the device is shorted; count: readings",
    "spectrometer_hang": "the spectrometer never returns a spectrum (until the bench closes); count: unused",
    "spectrometer_dark": "the spectrometer returns zero counts (fibre out); count: readings",
    "relay_stuck": "the pixel switch ignores a switching command (its relays stay as they were); at: switching "
                   "command, counted from 1; count: commands ignored",
    "sigint": "the process gets SIGINT (Ctrl-C), count times 20 ms apart",
    "sigterm": "the process gets SIGTERM, count times 20 ms apart",
    "sigkill": "the process gets SIGKILL",
    "fill_disk": "another program fills the disk of the folder `path` (it writes a new file of its own there until "
                 "the disk is full; it never writes into an existing file)",
}
KEYS = ("kind", "at", "count", "path")
SIGNAL_SPACING_S = 0.02
#: a hung spectrometer is released when the bench closes, or after this long
HANG_LIMIT_S = 600.0


@dataclass(frozen=True)
class Fault:
    kind: str
    at: int = 1
    count: int = 1
    path: str = ""

    def covers(self, reading: int) -> bool:
        """Whether this fault applies at source-meter reading number ``reading``."""
        return reading >= self.at and (self.count == 0 or reading < self.at + self.count)


def parse_faults(value: Any, source: str = "default") -> tuple[Fault, ...]:
    """The ``faults`` list of a ``[simulation]`` table, checked; errors name the entry."""
    if not isinstance(value, list):
        raise ConfigError(f"config {source}: [simulation] faults must be a list of tables")
    faults = []
    for i, entry in enumerate(value):
        where = f"config {source}: [simulation] faults[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table like {{kind = \"smu_timeout\", at = 21}}")
        for key in entry:
            if key not in KEYS:
                raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}")
        numbers = {}
        for key, default, low in (("at", 1, 1), ("count", 1, 0)):
            number = entry.get(key, default)
            if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= 10**9:
                raise ConfigError(f"{where}: {key} must be a whole number within {low}-{10**9}")
            numbers[key] = number
        path = entry.get("path", "")
        if kind == "fill_disk" and (not isinstance(path, str) or not path or "\x00" in path
                                    or not os.path.isdir(path)):
            raise ConfigError(f"{where}: fill_disk needs the path of an existing folder on the disk to fill")
        faults.append(Fault(kind, numbers["at"], numbers["count"], path if isinstance(path, str) else ""))
    return tuple(faults)


class FaultPlan:
    """The faults of one bench and their state as readings go by."""

    def __init__(self, faults: Sequence[Fault] = ()) -> None:
        self.faults = tuple(faults)
        self.released = threading.Event()  # set when the bench closes: hung calls return
        self.gone_calls_left: int | None = None  # smu_gone: VISA calls still to fail (-1: for ever)
        self.ignored_off_commands = 0
        self._fired: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.faults)

    def active(self, kind: str, reading: int) -> bool:
        return any(f.kind == kind and f.covers(reading) for f in self.faults)

    def output_off_ignored(self, reading: int) -> bool:
        """Whether this :OUTP 0 is to be ignored (output_off_fails)."""
        for f in self.faults:
            if f.kind == "output_off_fails" and reading >= f.at and \
                    (f.count == 0 or self.ignored_off_commands < f.count):
                self.ignored_off_commands += 1
                return True
        return False

    def on_reading(self, reading: int) -> None:
        """One-off actions due at this reading: signals, a pulled cable, a filled disk."""
        for i, f in enumerate(self.faults):
            if i in self._fired or reading < f.at:
                continue
            if f.kind in ("sigint", "sigterm", "sigkill"):
                self._fired.add(i)
                _send_signals(f)
            elif f.kind == "smu_gone":
                self._fired.add(i)
                self.gone_calls_left = f.count if f.count else -1
            elif f.kind == "fill_disk":
                self._fired.add(i)
                fill_disk(f.path)

    def smu_call_fails(self) -> bool:
        """smu_gone: whether this VISA call to the source meter fails (and count it)."""
        left = self.gone_calls_left
        if left is None or left == 0:
            return False
        if left > 0:
            self.gone_calls_left = left - 1
        return True


def _send_signals(fault: Fault) -> None:
    number = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL}[fault.kind]
    times = 1 if fault.kind == "sigkill" else max(fault.count, 1)
    pid = os.getpid()

    def send() -> None:
        for _ in range(times):
            os.kill(pid, number)
            time.sleep(SIGNAL_SPACING_S)

    threading.Thread(target=send, name="sim-signals", daemon=True).start()


def fill_disk(folder: str | os.PathLike, chunk_bytes: int = 1 << 20, limit_bytes: int = 1 << 30) -> int:
    """Write zeros into a new file in ``folder`` until the disk is full (or ``limit_bytes``);
    returns bytes written. The file is new (never an existing one), and stays."""
    written = 0
    block = bytes(chunk_bytes)
    name = os.path.join(folder, f"ledstation-sim-filler-{os.getpid()}-{time.monotonic_ns()}")
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        while written < limit_bytes:
            try:
                n = os.write(fd, block)
            except OSError:
                break
            if n <= 0:
                break
            written += n
            if n < len(block):
                block = bytes(max(n, 4096))
    finally:
        os.close(fd)
    return written
