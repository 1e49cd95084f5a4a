"""The simulated Keithley 2450 SourceMeter (SCPI command set), answered from the LED model.

As the 2450 Reference Manual (2450-901-01) describes it, for what a client such as
pymeasure's unmodified ``Keithley2450`` or the station's driver sends:

* source: ``:SOURce:FUNCtion VOLT|CURR``, levels ``:SOURce:<f>[:LEVel[:IMMediate[:AMPLitude]]]``,
  limits ``:SOURce:VOLTage:ILIMit`` and ``:SOURce:CURRent:VLIMit`` (``:TRIPped?`` says whether
  the last reading was limited), ranges and auto range, read-back, delays;
* measure: ``:SENSe:FUNCtion "CURR"|"VOLT"``, NPLC and range per function, auto zero
  (``:AZERo:ONCE``);
* ``:READ? [<buffer>[, <elements>]]`` takes one reading into the buffer and answers the
  elements asked (READing, SOURce, SOURSTATus, RELative, SEConds, TSTamp is not simulated);
  without elements, the measured value;
* ``:OUTPut[:STATe]``, ``*RST`` (the defaults below), ``*CLS``, ``:SYSTem:ERRor[:NEXT]?``,
  ``*OPC?``, ``:ABORt``, ``:TRIGger:LOAD "Empty"``, ``:TRACe:POINts``/``:CLEar``,
  ``:SYSTem:BEEPer``, ``:ROUTe:TERMinals``.

A header it does not know queues -113 (undefined header); a bad value -224. Timing (the
data sheet's speeds, approximately): a reading costs its integration (three with auto zero
on) plus 2 ms, and every ``:READ?`` 8 ms of trigger and command processing. Faults of
:mod:`.faults` act on it as on the 2400.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from drivers import keithley2450 as facts
from drivers.keithley2400 import canonical_2400

from .scpi_instrument import SCPIInstrument
from .simulated_led import Drive

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

LINE_FREQUENCY_HZ = 50.0
READING_OVERHEAD_S = 0.002
TRIGGER_OVERHEAD_S = 0.008
#: settings a client may set and read back, with their *RST values (2450 manual, section 6)
DEFAULTS: dict[str, str] = {
    ":SOUR:VOLT:RANG": "2.000000E-01", ":SOUR:VOLT:RANG:AUTO": "1", ":SOUR:VOLT:READ:BACK": "1",
    ":SOUR:VOLT:DEL": "0.000000E+00", ":SOUR:VOLT:DEL:AUTO": "1", ":SOUR:VOLT:PROT": "NONE",
    ":SOUR:CURR:RANG": "1.000000E-08", ":SOUR:CURR:RANG:AUTO": "1", ":SOUR:CURR:READ:BACK": "1",
    ":SOUR:CURR:DEL": "0.000000E+00", ":SOUR:CURR:DEL:AUTO": "1",
    ":SENS:CURR:RANG": "1.000000E-04", ":SENS:CURR:RANG:AUTO": "1", ":SENS:CURR:AZER": "1",
    ":SENS:VOLT:RANG": "2.000000E+01", ":SENS:VOLT:RANG:AUTO": "1", ":SENS:VOLT:AZER": "1",
    ":SENS:CURR:RSEN": "0", ":SENS:VOLT:RSEN": "0", ":SENS:RES:RSEN": "0",
    ":ROUT:TERM": "FRON", ":TRAC:POIN": "100000", ":OUTP:SMOD": "NORM",
}
NUMBERS = {":SOUR:VOLT:RANG", ":SOUR:VOLT:DEL", ":SOUR:CURR:RANG", ":SOUR:CURR:DEL", ":SENS:CURR:RANG",
           ":SENS:VOLT:RANG", ":TRAC:POIN"}
#: the buffer elements simulated: short form -> long form (either is accepted, in any case)
ELEMENTS = {"READ": "READING", "SOUR": "SOURCE", "SOURSTAT": "SOURSTATUS", "REL": "RELATIVE", "SEC": "SECONDS",
            "STAT": "STATUS"}


def element(word: str) -> str | None:
    """The short form of a buffer element as a client spelled it (None: not one simulated)."""
    word = word.upper()
    return next((short for short, long in ELEMENTS.items() if word.startswith(short) and long.startswith(word)),
                None)


class SimulatedKeithley2450(SCPIInstrument):
    """The 2450 as a client sees it over VISA, driving the bench's device."""

    IDN = "KEITHLEY INSTRUMENTS,MODEL 2450,04412345,1.7.12b"

    def __init__(self, device: Device, bench: SimulatedBench) -> None:
        super().__init__(device)
        self.bench = bench
        self.measurements = 0
        #: raise from this measurement number on (tests)
        self.fail_at_measurement: int | None = None
        #: smu_timeout: the reply to the last query never comes (the library times the read out)
        self.reply_lost = False
        self.reset()

    # --- the state ----------------------------------------------------------------------
    def reset(self) -> None:
        self.settings = dict(DEFAULTS)
        self.source_function = "VOLT"
        self.level = {"VOLT": 0.0, "CURR": 0.0}
        self.limit = {"VOLT": facts.RESET_COMPLIANCE_CURRENT_A, "CURR": facts.RESET_COMPLIANCE_VOLTAGE_V}
        self.sense_function = "CURR"
        self.nplc = {"CURR": 1.0, "VOLT": 1.0, "RES": 1.0}
        self.output = False
        self.tripped = False
        self.buffer_count = 0
        self.started_s = self.bench.clock.monotonic()
        self._update_drive()

    @property
    def output_on(self) -> bool:
        return self.output

    def drive(self) -> Drive | None:
        if not self.output:
            return None
        if self.source_function == "VOLT":
            return Drive("voltage", self.level["VOLT"], self.limit["VOLT"])
        return Drive("current", self.level["CURR"], self.limit["CURR"])

    def _update_drive(self) -> None:
        self.bench.apply_drive(self.drive())

    def device_clear(self) -> None:
        """SDC/DCL: nothing runs in the background here; the library empties the buffers."""

    def serial_poll(self) -> int:
        return 4 if self.errors else 0  # the error-available bit (EAV)

    # --- the commands -------------------------------------------------------------------
    def answer(self, command: str) -> str | None:
        command = canonical_2400(command)
        if command in ("*CLS", ":*CLS"):  # clears the event registers and the error queue, not the settings
            self.errors.clear()
            return ""
        if command in (":SYST:ERR:NEXT?", ":SYST:ERR?"):
            return self.errors.pop(0) if self.errors else '0,"No error;0;0 0"'
        return super().answer(command)

    def command(self, command: str) -> str | None:  # noqa: C901 - one table of the manual's commands
        header, _, argument = command.partition(" ")
        argument = argument.strip()
        if header == ":READ?":
            return self._read(argument)
        if header in (":SOUR:FUNC", ":SOUR:FUNC:MODE"):
            function = argument.strip("'\"").upper()
            if function not in ("VOLT", "CURR"):
                return self._error('-224,"Illegal parameter value"')
            self.source_function = function
            self._update_drive()
            return ""
        if header == ":SOUR:FUNC?":
            return self.source_function
        for function in ("VOLT", "CURR"):
            base = f":SOUR:{function}"
            if header in (base, base + ":LEV", base + ":LEV:IMM", base + ":LEV:IMM:AMPL"):
                return self._set_number(argument, facts.MAX_VOLTAGE_V if function == "VOLT" else facts.MAX_CURRENT_A,
                                        lambda v, f=function: self._set_level(f, v))
            if header in (base + "?", base + ":LEV?", base + ":LEV:IMM?", base + ":LEV:IMM:AMPL?"):
                return f"{self.level[function]:.6E}"
            limit = base + (":ILIM" if function == "VOLT" else ":VLIM")
            if header in (limit, limit + ":LEV"):
                most = facts.MAX_CURRENT_A if function == "VOLT" else facts.MAX_VOLTAGE_V
                return self._set_number(argument, most, lambda v, f=function: self._set_limit(f, v))
            if header in (limit + "?", limit + ":LEV?"):
                return f"{self.limit[function]:.6E}"
            if header in (limit + ":TRIP?", limit + ":LEV:TRIP?"):
                return "1" if self.tripped and self.source_function == function else "0"
        if header == ":SENS:FUNC":
            function = argument.strip("'\"").upper().split(":")[0]
            if function not in ("CURR", "VOLT", "RES"):
                return self._error('-224,"Illegal parameter value"')
            self.sense_function = function
            return ""
        if header == ":SENS:FUNC?":
            return f'"{self.sense_function}:DC"' if self.sense_function != "RES" else '"RES"'
        for function in ("CURR", "VOLT", "RES"):
            if header == f":SENS:{function}:NPLC":
                return self._set_number(argument, 10.0, lambda v, f=function: self.nplc.__setitem__(f, v),
                                        low=facts.NPLC_RANGE[0])
            if header == f":SENS:{function}:NPLC?":
                return f"{self.nplc[function]:.6E}"
        if header in (":OUTP", ":OUTP:STAT"):
            if argument not in ("0", "1"):
                return self._error('-224,"Illegal parameter value"')
            if argument == "0" and self.bench.faults.output_off_ignored(self.measurements):
                return ""  # output_off_fails: the relay does not open
            self.output = argument == "1"
            self._update_drive()
            return ""
        if header in (":OUTP?", ":OUTP:STAT?"):
            return "1" if self.output else "0"
        if header == ":AZER:ONCE":
            self.bench.spend(self.nplc[self.sense_function] / LINE_FREQUENCY_HZ)
            return ""
        if header in (":ABOR", ":STAT:PRES", ":SYST:BEEP", ":TRAC:CLE", ":INIT", "*TRG", "*WAI"):
            if header == ":TRAC:CLE":
                self.buffer_count = 0
            return ""
        if header == ":TRIG:LOAD":
            return "" if argument.strip("'\"").upper() == "EMPTY" else self._error('-224,"Illegal parameter value"')
        if header == "*OPC?":
            return "1"
        if header == "*STB?":
            return str(self.serial_poll())
        if header == ":TRAC:ACT?":
            return str(self.buffer_count)
        return self._setting(header, argument)

    def _setting(self, header: str, argument: str) -> str | None:
        """A stored setting: set (with a value) or read back (a query); None if unknown."""
        if header.endswith("?") and header[:-1] in self.settings:
            return self.settings[header[:-1]]
        if header not in self.settings or not argument:
            return None
        if header in NUMBERS:
            try:
                value = float(argument)
            except ValueError:
                return self._error('-224,"Illegal parameter value"')
            if not math.isfinite(value):
                return self._error('-224,"Illegal parameter value"')
            argument = f"{value:.6E}"
        self.settings[header] = argument
        return ""

    def _set_number(self, argument: str, most: float, apply, low: float | None = None) -> str:
        try:
            value = float(argument)
        except ValueError:
            return self._error('-224,"Illegal parameter value"')
        lowest = -most if low is None else low
        if not (math.isfinite(value) and lowest <= value <= most):
            return self._error('-222,"Data out of range"')
        apply(value)
        return ""

    def _set_level(self, function: str, value: float) -> None:
        self.level[function] = value
        self._update_drive()

    def _set_limit(self, function: str, value: float) -> None:
        self.limit[function] = abs(value)
        self._update_drive()

    def _error(self, text: str) -> str:
        self.errors.append(text)
        return ""

    # --- readings -----------------------------------------------------------------------
    def _read(self, argument: str):
        parts = [p.strip() for p in argument.split(",") if p.strip()] if argument else []
        elements = [element(p) for p in parts[1:]] or ["READ"]
        if parts and not (parts[0].startswith(("'", '"')) and parts[0].strip("'\"").upper().startswith("DEFBUFFER")):
            return self._error('-224,"Illegal parameter value"')
        if None in elements:
            return self._error('-224,"Illegal parameter value"')
        self.measurements += 1
        n, faults = self.measurements, self.bench.faults
        if self.fail_at_measurement is not None and n >= self.fail_at_measurement:
            from .keithley2400_sim import SimulatedInstrumentFault

            raise SimulatedInstrumentFault(f"simulated Keithley 2450 failed at measurement {n}")
        self.bench.spend(TRIGGER_OVERHEAD_S + self._cycle_s())
        if faults:
            faults.on_reading(n)
            if faults.active("smu_timeout", n):
                self.reply_lost = True
                return ""  # no reply: the library times the read out
        voltage_V, current_A, limited = self._measure(n)
        self.tripped = limited
        self.buffer_count += 1
        reply = self._format(elements, voltage_V, current_A, limited)
        if faults and faults.active("smu_garbled", n):
            return reply[:len(reply) // 2]
        return reply

    def _cycle_s(self) -> float:
        if not self.bench.latency:
            return 0.0
        integrations = 3 if self.settings[f":SENS:{self.sense_function if self.sense_function != 'RES' else 'CURR'}"
                                          f":AZER"] == "1" else 1
        return integrations * self.nplc[self.sense_function] / LINE_FREQUENCY_HZ + READING_OVERHEAD_S

    def _measure(self, n: int) -> tuple[float, float, bool]:
        """(voltage, current, limited) of one reading: the device's, or an injected fault's."""
        faults = self.bench.faults
        if faults and faults.active("overflow", n):
            return facts.OVERFLOW, facts.OVERFLOW, False
        if not self.output:  # output off (normal output-off state): 0 V on open terminals
            return 0.0, float(self.bench.rng.normal(0.0, 2e-11)), False
        if faults and (faults.active("open_circuit", n) or faults.active("short_circuit", n)):
            self.bench.led.set_drive(None)  # no current through the device: no light
            return self._faulty(faults.active("open_circuit", n))
        if self.bench.disconnected:
            return self._faulty(open_circuit=True)
        point, limited = self.bench.led.solve(photometry_totals=False)
        rng, scale = self.bench.rng, 1.0 / math.sqrt(max(self.nplc[self.sense_function], 0.01))
        voltage_V = point.voltage_V + rng.normal(0.0, (5e-6 + 1.5e-5 * abs(point.voltage_V)) * scale)
        current_A = point.current_A + rng.normal(0.0, (2e-11 + 2.5e-5 * abs(point.current_A)) * scale)
        return float(voltage_V), float(current_A), bool(limited)

    def _faulty(self, open_circuit: bool) -> tuple[float, float, bool]:
        """Open terminals (the source limited at its limit under current) or a 50 milliohm short."""
        level = self.level[self.source_function]
        if open_circuit:
            noise = float(self.bench.rng.normal(0.0, 2e-11))
            if self.source_function == "VOLT":
                return level, noise, False
            return self.limit["CURR"], noise, True
        contact_ohm = 0.05
        if self.source_function == "VOLT":
            current = min(abs(level) / contact_ohm, self.limit["VOLT"]) * (1 if level >= 0 else -1)
            return current * contact_ohm, current, abs(level) / contact_ohm >= self.limit["VOLT"]
        return level * contact_ohm, level, False

    def _format(self, elements: list, voltage_V: float, current_A: float, limited: bool) -> str:
        sourced_voltage = self.source_function == "VOLT"
        readback = self.settings[f":SOUR:{self.source_function}:READ:BACK"] == "1"
        programmed = self.level[self.source_function]
        source_value = (voltage_V if sourced_voltage else current_A) if readback else programmed
        measured = current_A if self.sense_function == "CURR" else voltage_V
        if self.sense_function == "RES":
            measured = voltage_V / current_A if current_A else facts.OVERFLOW
        status = (facts.SOURCE_STATUS_OUTPUT if self.output else 0) | (facts.SOURCE_STATUS_LIMIT if limited else 0)
        now = self.bench.clock.monotonic()
        values = {"READ": f"{measured:.6E}", "SOUR": f"{source_value:.6E}", "SOURSTAT": str(status),
                  "REL": f"{now - self.started_s:.6E}", "SEC": f"{now:.6E}", "STAT": "8"}
        return ",".join(values[e] for e in elements)
