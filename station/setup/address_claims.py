"""One station per instrument: a station claims its instruments' addresses while it holds them.

Two runs on one source meter (through a GPIB bridge, or two windows) interleave their
commands and both fail after a few points, with the output in an unknown state. So
opening a station first claims every instrument address it names (the simulated bench's
``"sim"`` aside: each process has its own), across processes: a lock file per address in
the user's runtime folder (``platformdirs``; ``LEDSTATION_RUNTIME_DIR`` overrides it),
held with an operating-system lock (``filelock``: ``flock`` or ``LockFileEx``) that the
system releases when the process dies, kill -9 included. A second claim is refused in
one line that names the holder (process, command, since when), before anything is opened.
The claim is released when the station closes, after its instruments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import sys
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from station.core.errors import InstrumentError

SIMULATED = "sim"
#: the environment variable that moves the runtime folder (tests, several users of one account)
RUNTIME_DIR_VARIABLE = "LEDSTATION_RUNTIME_DIR"


def runtime_folder() -> Path:
    """The per-user folder holding the address locks (created, private to the user)."""
    given = os.environ.get(RUNTIME_DIR_VARIABLE)
    if given:
        folder = Path(given)
    else:
        import platformdirs

        with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: platformdirs falls back, and says so
            warnings.simplefilter("ignore")
            folder = platformdirs.user_runtime_path("ledstation")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"ledstation-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def canonical_address(role: str, address: str) -> str:
    """One spelling per instrument: pyvisa's normalised resource name (``gpib::24`` and
    ``GPIB0::24::INSTR`` are one instrument; a serial port's device path keeps its case); a
    spectrometer's serial number as given."""
    if role == "spectrometer":
        return f"seabreeze:{address}"
    from pyvisa import rname

    text = address.strip()
    if text.upper().startswith(("GPIB", "TCPIP", "VXI")):  # nothing in these is case-sensitive
        text = text.upper()
    try:
        return str(rname.parse_resource_name(text))
    except Exception:  # noqa: BLE001 - pyvisa raises several types; the configuration checked it already
        return text


class AddressClaims:
    """The claims of one station on its instruments' addresses (see the module docstring)."""

    def __init__(self, addresses: Iterable[tuple[str, str]]) -> None:
        self.addresses = [(role, address) for role, address in addresses if address != SIMULATED]
        self._held: list[tuple[object, Path]] = []

    def acquire(self) -> AddressClaims:
        """Claim every address, or none: InstrumentError naming the address and its holder."""
        from filelock import FileLock, Timeout

        folder = runtime_folder() if self.addresses else None
        seen: set[str] = set()
        try:
            for role, address in self.addresses:
                key = canonical_address(role, address)
                if key in seen:  # the photodiode as light meter and second channel: one instrument, one claim
                    continue
                seen.add(key)
                stem = hashlib.sha256(key.encode()).hexdigest()[:24]
                assert folder is not None
                lock = FileLock(folder / f"{stem}.lock", timeout=0, thread_local=False, fallback_to_soft=False)
                try:
                    lock.acquire()
                except Timeout:
                    raise InstrumentError(f"[{role}] address {address!r} is in use by another station "
                                          f"({_holder(folder / f'{stem}.holder')}); one instrument serves one "
                                          "station at a time") from None
                holder = folder / f"{stem}.holder"
                self._held.append((lock, holder))
                _write_holder(holder, key)
        except BaseException:
            self.release()
            raise
        return self

    def __enter__(self) -> AddressClaims:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Drop every claim (again: nothing)."""
        while self._held:
            lock, holder = self._held.pop()
            try:
                holder.unlink()
            except OSError:
                pass
            lock.release()  # type: ignore[attr-defined]


def _write_holder(path: Path, address: str) -> None:
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:200]
    since = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    try:
        path.write_text(f"process {os.getpid()} on {socket.gethostname()} ({command}) since {since}; {address}\n",
                        encoding="utf-8")
    except OSError:
        pass


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip().rsplit(";", 1)[0] or "another process"
    except OSError:
        return "another ledstation process"
