"""What the station needs of a pixel switch, and the switches it knows.

A pixel switch connects the source meter to one pixel of a substrate at a time. The
station selects a pixel only with the source output confirmed off, then reads the
switch back and refuses a state other than "exactly this channel closed"
(:mod:`station.setup.station`). A read-back confirms what the switch drove (its relay
coils, the card's memory), not that a contact is clean: the run's open/short checks
(``procedures.device_health``) catch a contact that is not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from station.core.errors import InstrumentFault


class PixelSwitch(ABC):
    """One switch: channels named as its manual names them."""

    #: what the configuration's ``[switch] kind`` calls it
    KIND = ""

    @classmethod
    @abstractmethod
    def check_channel(cls, value: object) -> str:
        """The channel in this switch's own notation; ValueError naming the rule if not one."""

    @property
    @abstractmethod
    def identity(self) -> str:
        """Make, model and firmware as the switch reports them."""

    @abstractmethod
    def closed_channels(self) -> frozenset[str]:
        """The closed channels, read back from the switch."""

    @abstractmethod
    def open_all(self) -> None:
        """Open every channel (no pixel connected)."""

    @abstractmethod
    def close_only(self, channel: str) -> None:
        """Open every other channel and close ``channel``."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (the channels are left as they are)."""


@dataclass(frozen=True)
class SwitchKind:
    name: str
    description: str
    driver: type[PixelSwitch]


def switch_kinds() -> dict[str, SwitchKind]:
    """The switches the station can drive, by ``[switch] kind``."""
    from .keithley7001 import Keithley7001
    from .relay_board import NumatoRelayBoard

    return {
        NumatoRelayBoard.KIND: SwitchKind(NumatoRelayBoard.KIND, "USB/serial relay board (Numato protocol)",
                                          NumatoRelayBoard),
        Keithley7001.KIND: SwitchKind(Keithley7001.KIND, "Keithley 7001/7002 switch system (SCPI)", Keithley7001),
    }


def check_selected(switch: PixelSwitch, channel: str, pixel: str) -> None:
    """InstrumentFault (the run fails) naming the pixel unless exactly ``channel`` reads back closed."""
    closed = switch.closed_channels()
    if closed != {channel}:
        shown = ", ".join(sorted(closed)) or "none"
        raise InstrumentFault(f"pixel {pixel}: the switch reads back channel(s) {shown} closed, not {channel} "
                              f"(a stuck or failed relay?)")
