"""What the agent keeps on its own disk: each channel's queue, and the registry of its runs.

Each is a small JSON document replaced atomically (written beside, flushed to disk,
``os.replace``): a crash, a kill or a power cut leaves the old document or the new one,
never half of either, so a queue survives a restart of the agent and of the PC. A document
that does not parse is kept aside (``.corrupt``) and reported, never silently emptied.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError
from station.core.json_files import read_json, write_json

log = logging.getLogger(__name__)


@dataclass
class QueuedRun:
    """One run waiting on a channel: what the command line's ``run`` would be given."""

    procedure: str
    parameters: dict[str, Any]
    out: str
    title: str = ""
    overwrite: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: continue the stored run in ``out`` (a lifetime or cycling run whose process died)
    resume: bool = False


class ChannelQueue:
    """A channel's queue of runs, kept in ``path`` (every change written before it is answered)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        entries = read_json(path, [])
        try:
            self._items = [QueuedRun(**entry) for entry in entries]
        except TypeError:
            raise ConfigError(f"{path}: not a channel queue") from None

    def items(self) -> list[QueuedRun]:
        with self._lock:
            return list(self._items)

    def append(self, run: QueuedRun, first: bool = False) -> None:
        with self._lock:
            self._items.insert(0, run) if first else self._items.append(run)
            self._save()

    def pop_next(self) -> QueuedRun | None:
        with self._lock:
            if not self._items:
                return None
            run = self._items.pop(0)
            self._save()
            return run

    def remove(self, run_id: str) -> bool:
        with self._lock:
            kept = [r for r in self._items if r.run_id != run_id]
            removed = len(kept) != len(self._items)
            self._items = kept
            self._save()
            return removed

    def _save(self) -> None:
        write_json(self.path, [asdict(r) for r in self._items])


@dataclass
class RunRecord:
    """A run the agent launched: written before its process starts, updated as it goes."""

    run_id: str
    channel: str
    procedure: str
    out: str
    state: str = "launching"  # launching, running, ended, died
    pid: int | None = None
    #: the process's start time as the OS gives it (with the pid, the process's identity)
    process_started: float | None = None
    launched_wall_s: float = field(default_factory=time.time)
    #: when the agent saw the process end (a dead run: when it noticed)
    ended_wall_s: float | None = None
    status: str = ""  # the run file's status once it ended
    reason: str = ""
    output: str = ""  # what the last shutdown confirmed


class RunRegistry:
    """Every run the agent launched, one document per run in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save(self, record: RunRecord) -> None:
        write_json(self.folder / f"{record.run_id}.json", asdict(record))

    def load(self, run_id: str) -> RunRecord | None:
        """The record of ``run_id`` (a checked id: it names a file), or None."""
        data = read_json(self.folder / f"{run_id}.json", None)
        try:
            return RunRecord(**data) if isinstance(data, dict) else None
        except TypeError:
            return None

    def records(self) -> list[RunRecord]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            data = read_json(path, None)
            if isinstance(data, dict):
                try:
                    out.append(RunRecord(**data))
                except TypeError:
                    log.error("%s is not a run record; ignored", path)
        return sorted(out, key=lambda r: r.launched_wall_s)

    def live(self) -> list[RunRecord]:
        """Runs not known to have ended (to re-adopt after a restart of the agent)."""
        return [r for r in self.records() if r.state in ("launching", "running")]
