"""Numato Lab USB relay boards (1 to 32 relays), over their serial port.

The protocol, from Numato's user guides for the USB relay modules: commands are ASCII
ending with CR; the module echoes the command, then any reply, each line ending "\\n\\r",
then the prompt ``>``. Relays are numbered 0-9 then A-V. ``ver`` gives the firmware
version, ``id get`` the module's id; ``relay writeall XX`` sets every relay from a hex
mask (one bit a relay, as many hex digits as the module has relays / 4), ``relay readall``
answers that mask, ``reset`` opens every relay. The station switches a pixel with one
``writeall`` (the old relay opens and the new one closes together) and reads it back with
``readall``; the width of the mask that ``readall`` answers tells the number of relays.
"""

from __future__ import annotations

from pymeasure.instruments import Instrument

from station.core.errors import InstrumentError

from .pixel_switch import PixelSwitch

#: relay names in the module's order (bit n of the mask is RELAY_NAMES[n])
RELAY_NAMES = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
PROMPT = ">"


class NumatoRelayBoard(PixelSwitch, Instrument):
    """A Numato relay module (the pixel switch of many home-built stations)."""

    KIND = "relay_board"

    def __init__(self, adapter, name: str = "Numato relay board", **kwargs) -> None:
        kwargs.setdefault("read_termination", PROMPT)
        kwargs.setdefault("write_termination", "\r")
        kwargs.setdefault("baud_rate", 19200)
        kwargs.setdefault("timeout", 2000)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        mask = self.command("relay readall")
        if not mask or len(mask) > 8:
            raise InstrumentError(f"{name}: 'relay readall' answered {mask[:40]!r}, not a relay mask")
        self.relays = len(mask) * 4  # a module with fewer than 4 relays pads its mask to one digit
        self._version = self.command("ver")
        self._id = self.command("id get")

    @classmethod
    def check_channel(cls, value: object) -> str:
        text = str(value).strip().upper() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        if len(text) != 1 or text not in RELAY_NAMES:
            raise ValueError("a relay name 0-9 or A-V (the module's numbering)")
        return text

    def command(self, text: str) -> str:
        """Send one command; its reply (the line after the echo, "" if none)."""
        reply = self.ask(text)
        lines = [line.strip() for line in reply.replace("\r", "\n").split("\n") if line.strip()]
        if not lines or lines[0] != text:
            raise InstrumentError(f"{self.name}: no echo of {text!r} (got {reply[:60]!r})")
        return lines[1] if len(lines) > 1 else ""

    @property
    def identity(self) -> str:
        return f"Numato relay module ({self.relays} relays) id {self._id} firmware {self._version}"

    def _mask_text(self, mask: int) -> str:
        return f"{mask:0{self.relays // 4}x}"

    def closed_channels(self) -> frozenset[str]:
        reply = self.command("relay readall")
        try:
            mask = int(reply, 16)
        except ValueError:
            raise InstrumentError(f"{self.name}: 'relay readall' answered {reply[:40]!r}") from None
        return frozenset(RELAY_NAMES[n] for n in range(self.relays) if mask >> n & 1)

    def open_all(self) -> None:
        self.command(f"relay writeall {self._mask_text(0)}")

    def close_only(self, channel: str) -> None:
        bit = RELAY_NAMES.index(self.check_channel(channel))
        if bit >= self.relays:
            raise InstrumentError(f"{self.name}: relay {channel} is beyond this {self.relays}-relay module")
        self.command(f"relay writeall {self._mask_text(1 << bit)}")

    def close(self) -> None:
        self.adapter.close()
