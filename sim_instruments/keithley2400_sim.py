"""Measurement side of the simulated Keithley 2400.

pyvisa-sim stores the instrument's settings (YAML); this hook answers the measurement
queries from the LED model, tells the model when the drive changes, and reproduces
the instrument's compliance behaviour and status word.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

from station.core.scpi import canonical

from .simulated_led import Drive

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

# status word bits (2400 manual, :FORMat:ELEMents STATus)
STATUS_FRONT_TERMINALS = 1 << 2
STATUS_COMPLIANCE = 1 << 3
STATUS_V_MEAS = 1 << 11
STATUS_I_MEAS = 1 << 12
STATUS_V_SOURCE = 1 << 14
STATUS_I_SOURCE = 1 << 15
OVERFLOW = 9.91e37

MEASURE_QUERIES = {":READ?", ":MEAS?", ":MEAS:CURR?", ":MEAS:VOLT?", ":MEAS:RES?", ":FETC?",
                   ":MEAS:CURR:DC?", ":MEAS:VOLT:DC?"}
DRIVE_HEADERS = {":OUTP", ":SOUR:FUNC", ":SOUR:VOLT", ":SOUR:CURR", ":SENS:CURR:PROT", ":SENS:VOLT:PROT",
                 ":SOUR:VOLT:LEV", ":SOUR:CURR:LEV"}
NPLC_HEADERS = (":SENS:CURR:NPLC", ":SENS:VOLT:NPLC", ":SENS:RES:NPLC")
ELEMENT_ORDER = ("VOLT", "CURR", "RES", "TIME", "STAT")


class SimulatedInstrumentFault(RuntimeError):
    """Raised by a simulated instrument when a fault was injected."""


class SimulatedKeithley2400:
    """Wraps the pyvisa-sim device's matcher with the model-backed behaviour."""

    def __init__(self, device: Device, bench: SimulatedBench) -> None:
        self.device = device
        self.bench = bench
        self._match_stored = device._match
        self._defaults = {name: prop.get_value() for name, prop in device._properties.items()}
        self.measurements = 0
        #: Raise :class:`SimulatedInstrumentFault` from this measurement number on.
        self.fail_at_measurement: int | None = None
        #: smu_timeout: the reply to the last query never comes (the library times the read out)
        self.reply_lost = False
        device._match = self.match  # the hook (pyvisa-sim private API; version pinned)

    def value(self, name: str):
        return self.device._properties[name].get_value()

    def _set(self, name: str, value) -> None:
        self.device._properties[name].set_value(str(value))

    @property
    def output_on(self) -> bool:
        return bool(self.value("output"))

    def match(self, query: bytes):
        command = canonical(query.decode("ascii", errors="replace"))
        header = command.split(" ", 1)[0]
        if header == "*RST":
            for name, default in self._defaults.items():
                self._set(name, default)
            self.bench.led.set_drive(None)
            return NoResponse
        if header in MEASURE_QUERIES:
            return self._measure()
        if header in (":SOUR:VOLT:LEV", ":SOUR:CURR:LEV", ":SOUR:VOLT:LEV:IMM", ":SOUR:CURR:LEV:IMM"):
            command = command.replace(":LEV:IMM", "").replace(":LEV", "")
            header = command.split(" ", 1)[0]
        elif header in (":OUTP:STAT", ":OUTP:STAT?"):  # OUTPut[:STATe] is optional in the 2400's syntax
            command = command.replace(":OUTP:STAT", ":OUTP", 1)
            header = command.split(" ", 1)[0]
        if header == ":OUTP" and command.split(" ", 1)[-1].strip().upper() in ("0", "OFF") \
                and self.bench.faults.output_off_ignored(self.measurements):
            return NoResponse  # output_off_fails: the relay does not open
        response = self._match_stored(command.encode("ascii"))
        if header in NPLC_HEADERS and response is not None:
            nplc = command.split(" ", 1)[1]
            for name in ("current_nplc", "voltage_nplc", "resistance_nplc"):
                self._set(name, nplc)  # one global setting on the 2400
        if header in DRIVE_HEADERS:
            self._update_drive()
        return response

    def drive(self) -> Drive | None:
        if not self.output_on:
            return None
        if self.value("source_function") == "VOLT":
            return Drive("voltage", self.value("source_voltage"), self.value("compliance_current"))
        return Drive("current", self.value("source_current"), self.value("compliance_voltage"))

    def _update_drive(self) -> None:
        self.bench.led.set_drive(self.drive())

    def push_error(self, text: str) -> None:
        self.device._error_queues[b":SYST:ERR?"]._queue.append(text.encode("ascii"))

    def _measure(self):
        self.measurements += 1
        n, faults = self.measurements, self.bench.faults
        if self.fail_at_measurement is not None and n >= self.fail_at_measurement:
            raise SimulatedInstrumentFault(f"simulated Keithley 2400 failed at measurement {n}")
        if faults:
            faults.on_reading(n)
            if faults.active("smu_timeout", n):
                self.reply_lost = True
                return NoResponse
            reply = self._faulty_reading(n)
            if reply is not None:
                return reply
        auto_off = bool(self.value("auto_output_off"))
        if not self.output_on and not auto_off:
            self.push_error('+803,"Output disabled"')
            return NoResponse
        if auto_off and not self.output_on:
            self._set("output", 1)
            self._update_drive()
        nplc = float(self.value("current_nplc"))
        self.bench.spend(3 * nplc / float(self.value("line_frequency")) + 0.002)
        point, in_compliance = self.bench.led.solve(photometry_totals=False)
        voltage_V, current_A = self._with_noise(point.voltage_V, point.current_A, nplc)
        if auto_off:
            self._set("output", 0)
            self._update_drive()
        return self._format(voltage_V, current_A, in_compliance)

    def _faulty_reading(self, n: int) -> bytes | None:
        """The reading an injected fault gives instead of the device's, or None."""
        faults = self.bench.faults
        if faults.active("overflow", n):
            return self._format(OVERFLOW, OVERFLOW, False)
        open_circuit, short = faults.active("open_circuit", n), faults.active("short_circuit", n)
        if faults.active("smu_garbled", n):
            point, in_compliance = self.bench.led.solve(photometry_totals=False)
            full = self._format(point.voltage_V, point.current_A, in_compliance)
            return full[:len(full) // 2]
        if not (open_circuit or short) or not self.output_on:
            return None
        self.bench.led.set_drive(None)  # no current through the device: no light
        rng, sourcing_voltage = self.bench.rng, self.value("source_function") == "VOLT"
        level = float(self.value("source_voltage" if sourcing_voltage else "source_current"))
        if open_circuit:
            noise = rng.normal(0.0, 2e-11)
            if sourcing_voltage:
                return self._format(level, noise, False)
            return self._format(float(self.value("compliance_voltage")), noise, True)
        contact_ohm = 0.05
        if sourcing_voltage:
            limit = float(self.value("compliance_current"))
            current = min(abs(level) / contact_ohm, limit) * (1 if level >= 0 else -1)
            return self._format(current * contact_ohm, current, abs(level) / contact_ohm >= limit)
        return self._format(level * contact_ohm, level, False)

    def _with_noise(self, voltage_V: float, current_A: float, nplc: float) -> tuple[float, float]:
        rng = self.bench.rng
        scale = 1.0 / math.sqrt(max(nplc, 0.01))
        voltage_V = voltage_V + rng.normal(0.0, (5e-6 + 5e-6 * abs(voltage_V)) * scale)
        current_A = current_A + rng.normal(0.0, (2e-11 + 2e-5 * abs(current_A)) * scale)
        return voltage_V, current_A

    def _format(self, voltage_V: float, current_A: float, in_compliance: bool) -> bytes:
        status = STATUS_V_MEAS | STATUS_I_MEAS
        status |= STATUS_V_SOURCE if self.value("source_function") == "VOLT" else STATUS_I_SOURCE
        if self.value("terminals") == "FRON":
            status |= STATUS_FRONT_TERMINALS
        if in_compliance:
            status |= STATUS_COMPLIANCE
        values = {"VOLT": voltage_V, "CURR": current_A, "RES": OVERFLOW,
                  "TIME": self.bench.clock.monotonic(), "STAT": float(status)}
        requested = set(str(self.value("format_elements")).split(","))
        fields = [f"{values[name]:+.6E}" for name in ELEMENT_ORDER if name in requested]
        return ",".join(fields).encode("ascii")
