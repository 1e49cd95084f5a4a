"""The simulated device outlives the program, as a real one does.

A real LED keeps its age when the program driving it dies, and a Keithley 2400 left on
keeps driving it. So that ``ledstation resume`` meets the device as it is, the bench can
keep its device's state and its clock in a small file, written in place through a
memory map at every change (a few microseconds; the page cache keeps it through
kill -9). A bench opened on an existing state file continues from it: the clock from the
saved time plus the real time since, the device aged over that gap under the drive it
was left with.
"""

from __future__ import annotations

import math
import mmap
import os
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from station.core.errors import ConfigError

MAGIC = b"LEDSIM02"
#: magic, wall time saved, virtual epoch saved, equivalent age, time under drive, operating time,
#: on/off cycles, drive mode (0 off, 1 voltage, 2 current), level, compliance, reversible loss
LAYOUT = struct.Struct("<8sdddddqiddd")
#: the first layout (no reversible loss), still read
LAYOUT_1 = (b"LEDSIM01", struct.Struct("<8sdddddqidd"))
DRIVE_CODES = {None: 0, "voltage": 1, "current": 2}
DRIVE_MODES = {code: mode for mode, code in DRIVE_CODES.items()}


@dataclass(frozen=True)
class DeviceState:
    saved_wall_s: float
    clock_now_s: float
    equivalent_age_s: float
    on_time_s: float
    operating_s: float
    on_off_cycles: int
    drive_mode: str | None
    drive_level: float
    drive_compliance: float
    reversible_loss: float = 0.0

    @property
    def gap_s(self) -> float:
        """Real time since the state was saved."""
        return max(time.time() - self.saved_wall_s, 0.0)


class DeviceStateFile:
    """One device's state, kept in ``path`` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # never through a link, never into anything but a regular file of its own
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot keep the simulated device's state there ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{self.path}: the simulated device's state is not a regular file")
            if st.st_size < LAYOUT.size:
                os.ftruncate(fd, LAYOUT.size)
            self._map = mmap.mmap(fd, LAYOUT.size)
        finally:
            os.close(fd)

    def load(self) -> DeviceState | None:
        magic = bytes(self._map[:8])
        if magic == LAYOUT_1[0]:
            fields, reversible = LAYOUT_1[1].unpack_from(self._map, 0), 0.0
        elif magic == MAGIC:
            *fields, reversible = LAYOUT.unpack_from(self._map, 0)
        else:
            return None
        _, wall, now, age, on_time, operating, cycles, mode, level, compliance = fields
        numbers = (wall, now, age, on_time, operating, level, compliance, reversible)
        if not all(math.isfinite(x) for x in numbers) or min(age, on_time, operating, cycles, compliance) < 0 \
                or mode not in DRIVE_MODES or not 0 <= reversible < 1:
            raise ConfigError(f"{self.path}: the simulated device's state is damaged; remove it to start a new device")
        return DeviceState(wall, now, age, on_time, operating, cycles, DRIVE_MODES.get(mode), level, compliance,
                           reversible)

    def save(self, state: DeviceState) -> None:
        LAYOUT.pack_into(self._map, 0, MAGIC, state.saved_wall_s, state.clock_now_s, state.equivalent_age_s,
                         state.on_time_s, state.operating_s, state.on_off_cycles, DRIVE_CODES[state.drive_mode],
                         state.drive_level, state.drive_compliance, state.reversible_loss)

    def close(self) -> None:
        self._map.flush()
        self._map.close()
