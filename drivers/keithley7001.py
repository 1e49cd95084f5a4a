"""Keithley 7001 / 7002 switch system, over GPIB (SCPI).

From the Model 7001 Instruction Manual: channels are named ``card!channel`` (``1!1`` is
channel 1 of the card in slot 1; a 7011 quad 1x10 multiplexer card has 1!1-1!40);
``:CLOS (@1!3)`` closes, ``:OPEN ALL`` opens every channel, ``:CLOS:STAT?`` answers the
closed channels as a channel list (``(@1!3)``, or ``(@)`` when none is closed). The
7002 takes the same commands with ten card slots. The station opens everything and then
closes the pixel's channel (break before make).
"""

from __future__ import annotations

import re

from pymeasure.instruments import Instrument
from pymeasure.instruments.generic_types import SCPIMixin

from station.core.errors import InstrumentError

from .pixel_switch import PixelSwitch

#: card slot (two on a 7001, ten on a 7002) "!" channel (up to 400 on a matrix card)
CHANNEL = re.compile(r"^([1-9]|10)!([1-9][0-9]?|[1-3][0-9]{2}|400)$")


def parse_channel_list(reply: str) -> frozenset[str]:
    """The channels of a SCPI channel list ``(@1!1,1!2)``; ranges ``1!1:1!3`` expanded."""
    text = reply.strip()
    if not (text.startswith("(@") and text.endswith(")")):
        raise InstrumentError(f"Keithley 7001: not a channel list: {text[:60]!r}")
    channels: set[str] = set()
    for part in filter(None, (p.strip() for p in text[2:-1].split(","))):
        first, _, last = part.partition(":")
        if not last:
            channels.add(first)
            continue
        (card, a), (_, b) = first.split("!"), last.split("!")
        channels.update(f"{card}!{n}" for n in range(int(a), int(b) + 1))
    return frozenset(channels)


class Keithley7001(PixelSwitch, SCPIMixin, Instrument):
    """Keithley 7001 (or 7002) with a multiplexer card: one channel per pixel."""

    KIND = "keithley7001"

    closed = Instrument.measurement(":CLOS:STAT?", "The closed channels (read back).",
                                    get_process=parse_channel_list, separator="\x00")

    def __init__(self, adapter, name: str = "Keithley 7001", **kwargs) -> None:
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, **kwargs)
        identity = self.id
        if "MODEL 700" not in identity.upper():
            raise InstrumentError(f"{name}: not a Keithley 7001/7002 ({identity.strip()!r})")
        self._identity = identity

    @classmethod
    def check_channel(cls, value: object) -> str:
        text = str(value).strip() if isinstance(value, str) else ""
        if not CHANNEL.match(text):
            raise ValueError('a channel "card!channel", e.g. "1!1" (slot 1-2 on a 7001, 1-10 on a 7002)')
        return text

    @property
    def identity(self) -> str:
        parts = [p.strip() for p in self._identity.split(",")]
        return f"{parts[1].title()} {parts[2]}" if len(parts) >= 3 else self._identity.strip()

    def closed_channels(self) -> frozenset[str]:
        return self.closed

    def open_all(self) -> None:
        self.write(":OPEN ALL")

    def close_only(self, channel: str) -> None:
        channel = self.check_channel(channel)
        self.write(":OPEN ALL")
        self.write(f":CLOS (@{channel})")

    def close(self) -> None:
        self.adapter.close()
