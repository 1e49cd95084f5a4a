"""The simulated pixel switches: a Numato relay module and a Keithley 7001, as their manuals describe.

Both act on the bench's :class:`~.substrate_sim.SimulatedSubstrate`. The fault
``relay_stuck`` makes a switching command leave the relays as they were (counted from
1 over switching commands), as a failed relay driver does; the read-back shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

from drivers.relay_board import RELAY_NAMES

from .scpi_instrument import SCPIInstrument
from .serial_line import SerialLineInstrument

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

#: a relay's operate time plus bounce, spent on the bench clock at each switching command
RELAY_OPERATE_S = 0.005


class _SimulatedSwitch:
    def __init__(self, bench: SimulatedBench) -> None:
        self.bench = bench
        self.switchings = 0
        self.closed: frozenset[str] = frozenset()

    def switch_to(self, closed: frozenset[str]) -> None:
        self.switchings += 1
        self.bench.spend(RELAY_OPERATE_S)
        if self.bench.faults.active("relay_stuck", self.switchings):
            return
        self.closed = closed
        self.bench.switched(closed)


class SimulatedRelayBoard(SerialLineInstrument, _SimulatedSwitch):
    """Numato 8-relay USB module: echo, reply, "\\n\\r" after each, then the prompt ">"."""

    RELAYS = 8
    VERSION = "00000008"
    ID = "00000001"

    def __init__(self, device: Device, bench: SimulatedBench) -> None:
        SerialLineInstrument.__init__(self, device)
        _SimulatedSwitch.__init__(self, bench)

    def _answer(self, line: bytes) -> None:
        text = line.decode("ascii", errors="replace").strip()
        reply = self.reply(text)
        framed = text + "\n\r" + (reply + "\n\r" if reply else "") + ">"
        self.device._output_buffers.append(bytearray(framed.encode("ascii")))

    def match(self, query: bytes):  # pragma: no cover - replies are framed by _answer
        return NoResponse

    def reply(self, text: str) -> str:
        words = text.split()
        mask = sum(1 << RELAY_NAMES.index(c) for c in self.closed)
        if words == ["ver"]:
            return self.VERSION
        if words == ["id", "get"]:
            return self.ID
        if words == ["relay", "readall"]:
            return f"{mask:0{self.RELAYS // 4}x}"
        if words == ["reset"]:
            self.switch_to(frozenset())
            return ""
        if len(words) == 3 and words[:2] == ["relay", "writeall"]:
            try:
                new = int(words[2], 16)
            except ValueError:
                return ""
            self.switch_to(frozenset(RELAY_NAMES[n] for n in range(self.RELAYS) if new >> n & 1))
            return ""
        if len(words) == 3 and words[0] == "relay" and words[2].upper() in RELAY_NAMES[:self.RELAYS]:
            name = words[2].upper()
            if words[1] == "on":
                self.switch_to(self.closed | {name})
            elif words[1] == "off":
                self.switch_to(self.closed - {name})
            elif words[1] == "read":
                return "on" if name in self.closed else "off"
        return ""


class SimulatedKeithley7001(SCPIInstrument, _SimulatedSwitch):
    """Keithley 7001 with a 7011 multiplexer card in slot 1 (1!1 .. 1!40)."""

    IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 7001,0746384,A06  /A02"
    CHANNELS = frozenset(f"1!{n}" for n in range(1, 41))

    def __init__(self, device: Device, bench: SimulatedBench) -> None:
        SCPIInstrument.__init__(self, device)
        _SimulatedSwitch.__init__(self, bench)

    def reset(self) -> None:  # *RST opens every channel
        self.switch_to(frozenset())

    def command(self, command: str) -> str | None:
        header, _, argument = command.partition(" ")
        if header == ":OPEN" and argument.upper() == "ALL":
            self.switch_to(frozenset())
            return ""
        if header in (":CLOS", ":OPEN") and argument.startswith("(@") and argument.endswith(")"):
            channels = frozenset(c.strip() for c in argument[2:-1].split(",") if c.strip())
            if not channels <= self.CHANNELS:
                self.errors.append('-222,"Data out of range"')
                return ""
            self.switch_to(self.closed | channels if header == ":CLOS" else self.closed - channels)
            return ""
        if header == ":CLOS:STAT?":
            return "(@" + ",".join(sorted(self.closed, key=lambda c: int(c.split("!")[1]))) + ")"
        return None
