"""What arrives on a simulated instrument's serial line: bytes split into commands.

A Photo Research radiometer takes commands ending with CR, LF or CRLF, several in one
write, answered in order with CRLF after each reply. Subclasses answer one command in
:meth:`SerialLineInstrument.match` and name the commands acted on without a terminator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device


class SerialLineInstrument:
    """Replaces a pyvisa-sim device's ``write`` and ``_match`` with line framing and :meth:`match`."""

    #: commands acted on as soon as they are typed, with or without a terminator (upper case)
    BARE_COMMANDS: tuple[bytes, ...] = ()

    def __init__(self, device: Device) -> None:
        self.device = device
        self._pending = bytearray()
        device._match = self.match
        device.write = self.write

    def write(self, data: bytes) -> None:
        """Bytes from the client (replaces pyvisa-sim's ``Device.write``)."""
        if not isinstance(data, bytes | bytearray):
            raise TypeError("data must be bytes")
        self._pending += data
        while True:
            ends = [i for i in (self._pending.find(b"\r"), self._pending.find(b"\n")) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line, self._pending = bytes(self._pending[:end]), self._pending[end + 1:]
            if line.strip():
                self._answer(line)
        if bytes(self._pending).strip().upper() in self.BARE_COMMANDS:
            line, self._pending = bytes(self._pending), bytearray()
            self._answer(line)

    def _answer(self, line: bytes) -> None:
        reply = self.match(line)
        if reply is not NoResponse and reply is not None:
            self.device._output_buffers.append(bytearray(reply) + b"\r\n")

    def clear(self) -> None:
        """Device clear: drop a half-typed command."""
        self._pending = bytearray()

    def match(self, query: bytes):
        raise NotImplementedError
