"""SCPI framing shared by the simulated meters and switches answered in Python.

A write may carry several commands separated by ';'; each is canonicalised
(:func:`station.core.scpi.canonical`) and answered by :meth:`SCPIInstrument.answer`.
``*IDN?``, ``:SYST:ERR?``, ``*CLS`` and ``*RST`` are answered here; everything else by the
subclass's :meth:`~SCPIInstrument.command`. An unknown header queues error -113, as the
instruments do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

from station.core.scpi import canonical

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device


class SCPIInstrument:
    IDN = ""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.errors: list[str] = []
        device._match = self.match

    def match(self, query: bytes):
        replies = []
        for part in query.decode("ascii", errors="replace").split(";"):
            command = canonical(part)
            if not command:
                continue
            reply = self.answer(command)
            if reply is None:
                self.errors.append('-113,"Undefined header"')
            elif reply != "":
                replies.append(reply)
        return ";".join(replies).encode() if replies else NoResponse

    def answer(self, command: str) -> str | None:
        """The reply ("" for none), or None for a command this instrument does not know."""
        if command == "*IDN?":
            return self.IDN
        if command == ":SYST:ERR?":
            return self.errors.pop(0) if self.errors else '0,"No error"'
        if command in ("*CLS", "*RST"):
            self.errors.clear()
            self.reset()
            return ""
        return self.command(command)

    def reset(self) -> None:
        raise NotImplementedError

    def command(self, command: str) -> str | None:
        raise NotImplementedError
