"""Measurement side of the simulated Keithley 2400.

pyvisa-sim stores the instrument's settings (YAML); this hook answers the measurement
queries from the LED model, tells the model when the drive changes, and reproduces
the instrument's compliance behaviour and status word, its trigger model, buffer,
:CALC3 statistics and status bytes (:mod:`.keithley2400_trigger`), and the
signal-oriented commands as the 2400 manual describes them: ``:CONFigure:<function>``
returns that function's settings (compliance included) to their ``*RST`` values,
sets the trigger model to one immediate reading and switches the output on;
``:MEASure:<function>?`` is ``:CONFigure`` followed by ``:READ?``.

Data are ASCII only (``:FORMat:DATA REAL,32`` / ``SREal`` are refused with -224: the
binary formats are not simulated).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

from station.core.scpi import canonical

from .keithley2400_trigger import Reading, TriggerModel
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

#: :MEAS...? and :CONF... headers -> the function they configure
SIGNAL_FUNCTIONS = {"": "CURR", ":CURR": "CURR", ":CURR:DC": "CURR", ":VOLT": "VOLT", ":VOLT:DC": "VOLT",
                    ":RES": "RES"}
#: what :CONF:<function> returns to its *RST value (bench.yaml property names)
CONFIGURE_DEFAULTS = {
    "CURR": ("compliance_current", "current_range", "current_range_auto"),
    "VOLT": ("compliance_voltage", "voltage_range", "voltage_range_auto"),
    "RES": ("resistance_range", "resistance_range_auto", "resistance_mode"),
}
OUTPUT_DISABLED = '+803,"Output disabled"'
BEEP_FREQUENCY_HZ = (65.0, 2e6)
BEEP_DURATION_S = (0.0, 7.9)
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
        self.trigger = TriggerModel()
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
        header, _, argument = command.partition(" ")
        if header in ("*RST", ":SYST:PRES"):
            for name, default in self._defaults.items():
                self._set(name, default)
            self.trigger.reset()
            self.bench.led.set_drive(None)
            return NoResponse
        handled = self._trigger_and_buffer(header, argument)
        if handled is not False:
            return handled
        if header in (":TRIG:COUN", ":ARM:COUN") and argument:
            try:  # SCPI rounds a decimal given for an integer parameter ("1.0")
                command = f"{header} {int(round(float(argument)))}"
            except ValueError:
                pass
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

    # --- trigger model, buffer, status, signal-oriented commands ------------------------
    def _trigger_and_buffer(self, header: str, argument: str):
        """The reply to a trigger/buffer/status/signal command, or False if not one."""
        trigger = self.trigger
        if header.startswith(":MEAS") and header.endswith("?"):
            function = SIGNAL_FUNCTIONS.get(header[len(":MEAS"):-1])
            if function is None:
                return False
            self._configure(function)
            return self._read()
        if header.startswith(":CONF"):
            function = SIGNAL_FUNCTIONS.get(header[len(":CONF"):])
            if function is None:
                return False
            self._configure(function)
            return NoResponse
        if header == ":READ?":
            return self._read()
        if header == ":FETC?":
            if not trigger.last_readings:
                return self._error('-230,"Data corrupt or stale"')
            return self._format_readings(trigger.last_readings)
        if header == ":INIT":
            return self._initiate()
        if header == "*TRG":
            if trigger.waiting and trigger.arm_source == "BUS":
                trigger.waiting = False
                trigger.store(self._sweep())
            return NoResponse
        if header == ":ABOR":
            trigger.waiting = False
            return NoResponse
        if header == ":TRAC:CLE":
            trigger.clear_buffer()
            return NoResponse
        if header == ":TRAC:DATA?":
            return self._format_readings(trigger.buffer) if trigger.buffer else b""
        if header == ":CALC3:DATA?":
            if not trigger.buffer:
                return self._error('-230,"Data corrupt or stale"')
            values = trigger.statistic(self._elements())
            return ",".join(f"{v:+.6E}" for v in values).encode("ascii")
        if header == ":FORM:DATA":
            return NoResponse if argument.strip().upper().startswith("ASC") else \
                self._error('-224,"Illegal parameter value"')
        if header == ":FORM:DATA?":
            return b"ASC"
        if header == "*OPT?":
            return b"0"
        if header == "*STB?":
            return str(trigger.status_byte(bool(self._error_queue()))).encode()
        if header == "*ESR?":
            return b"0"
        if header == "*CLS":
            trigger.clear_status()
            self._error_queue().clear()
            return NoResponse
        if header == ":STAT:PRES":
            trigger.preset_status()
            return NoResponse
        if header == ":SYST:BEEP":
            return self._beep(argument)
        if header == ":SYST:AZER:STAT" and argument.strip().upper() == "ONCE":
            self.bench.spend(float(self.value("current_nplc")) / float(self.value("line_frequency")))
            self._set("auto_zero", 0)  # a one-time update, then auto zero stays off
            return NoResponse
        try:
            reply = trigger.setting(header, argument)
        except ValueError as exc:
            return self._error(str(exc))
        if reply is False:
            return False
        return NoResponse if reply is None else reply.encode("ascii")

    def _error(self, text: str):
        self.push_error(text)
        return NoResponse

    def _error_queue(self):
        return self.device._error_queues[b":SYST:ERR?"]._queue

    def _beep(self, argument: str):
        try:
            frequency, duration = (float(v) for v in argument.split(","))
        except ValueError:
            return self._error('-109,"Missing parameter"')
        if not (BEEP_FREQUENCY_HZ[0] <= frequency <= BEEP_FREQUENCY_HZ[1]
                and BEEP_DURATION_S[0] <= duration <= BEEP_DURATION_S[1]):
            return self._error('-222,"Data out of range"')
        return NoResponse

    def _configure(self, function: str) -> None:
        """:CONF:<function>: its settings back to *RST, one immediate reading, output on."""
        for name in CONFIGURE_DEFAULTS[function]:
            self._set(name, self._defaults[name])
        self._set("sense_function", f"'{function}'")
        for name in ("trigger_count", "arm_count", "trigger_delay"):
            self._set(name, self._defaults[name])
        self.trigger.arm_source = self.trigger.trigger_source = "IMM"
        self._set("output", 1)
        self._update_drive()

    def _read(self):
        """:READ? = :INIT + :FETC?: every reading of one pass through the trigger model."""
        if self._counts() == 1:
            return self._measure()
        if self.trigger.arm_source not in ("IMM", "TIM"):
            self.trigger.waiting = True
            return NoResponse  # waits for a trigger; the client times out, as on the instrument
        if self._output_disabled():
            return self._error(OUTPUT_DISABLED)
        readings = self._sweep()
        self.trigger.store(readings)
        return self._format_readings(readings)

    def _initiate(self):
        if self._output_disabled():
            return self._error(OUTPUT_DISABLED)
        if self.trigger.arm_source in ("IMM", "TIM"):
            self.trigger.store(self._sweep())
        else:
            self.trigger.waiting = True
        return NoResponse

    def _output_disabled(self) -> bool:
        """A reading now would meet error +803: output off and not in auto output-off mode."""
        return not self.output_on and not bool(self.value("auto_output_off"))

    def _counts(self) -> int:
        return int(self.value("arm_count")) * int(self.value("trigger_count"))

    def _sweep(self) -> list[Reading]:
        """Arm count x trigger count readings, with the trigger delay and arm timer."""
        readings = []
        arm_count, trigger_count = int(self.value("arm_count")), int(self.value("trigger_count"))
        delay = float(self.value("trigger_delay"))
        for arm in range(arm_count):
            if arm and self.trigger.arm_source == "TIM":
                self.bench.spend(self.trigger.arm_timer_s)
            for _ in range(trigger_count):
                self.bench.spend(delay)
                readings.append(self._take_reading())
        return readings

    def _elements(self) -> list[str]:
        requested = set(str(self.value("format_elements")).split(","))
        return [name for name in ELEMENT_ORDER if name in requested]

    def drive(self) -> Drive | None:
        if not self.output_on:
            return None
        if self.value("source_function") == "VOLT":
            return Drive("voltage", self.value("source_voltage"), self.value("compliance_current"))
        return Drive("current", self.value("source_current"), self.value("compliance_voltage"))

    def _update_drive(self) -> None:
        self.bench.apply_drive(self.drive())

    def push_error(self, text: str) -> None:
        self._error_queue().append(text.encode("ascii"))

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
        if self._output_disabled():
            return self._error(OUTPUT_DISABLED)
        reading = self._take_reading()
        self.trigger.store([reading])
        return self._format_readings([reading])

    def _take_reading(self) -> Reading:
        """One source-measure action: integration time on the bench clock, the model's
        point with the instrument's noise (output on for the reading in auto-off mode)."""
        auto_off = bool(self.value("auto_output_off"))
        if auto_off and not self.output_on:
            self._set("output", 1)
            self._update_drive()
        nplc = float(self.value("current_nplc"))
        self.bench.spend(3 * nplc / float(self.value("line_frequency")) + 0.002)
        if self.bench.disconnected:  # the pixel switch connects nothing: an open circuit
            voltage_V, current_A, in_compliance = self._open_circuit()
        else:
            point, in_compliance = self.bench.led.solve(photometry_totals=False)
            voltage_V, current_A = self._with_noise(point.voltage_V, point.current_A, nplc)
        if auto_off:
            self._set("output", 0)
            self._update_drive()
        return self._reading(voltage_V, current_A, in_compliance)

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
        sourcing_voltage = self.value("source_function") == "VOLT"
        level = float(self.value("source_voltage" if sourcing_voltage else "source_current"))
        if open_circuit:
            return self._format(*self._open_circuit())
        contact_ohm = 0.05
        if sourcing_voltage:
            limit = float(self.value("compliance_current"))
            current = min(abs(level) / contact_ohm, limit) * (1 if level >= 0 else -1)
            return self._format(current * contact_ohm, current, abs(level) / contact_ohm >= limit)
        return self._format(level * contact_ohm, level, False)

    def _open_circuit(self) -> tuple[float, float, bool]:
        """(voltage, current, in compliance) with nothing connected and the output on."""
        noise = self.bench.rng.normal(0.0, 2e-11)
        if self.value("source_function") == "VOLT":
            return float(self.value("source_voltage")), noise, False
        return float(self.value("compliance_voltage")), noise, True

    def _with_noise(self, voltage_V: float, current_A: float, nplc: float) -> tuple[float, float]:
        rng = self.bench.rng
        scale = 1.0 / math.sqrt(max(nplc, 0.01))
        voltage_V = voltage_V + rng.normal(0.0, (5e-6 + 5e-6 * abs(voltage_V)) * scale)
        current_A = current_A + rng.normal(0.0, (2e-11 + 2e-5 * abs(current_A)) * scale)
        return voltage_V, current_A

    def _format(self, voltage_V: float, current_A: float, in_compliance: bool) -> bytes:
        return self._format_readings([self._reading(voltage_V, current_A, in_compliance)])

    def _format_readings(self, readings: list[Reading]) -> bytes:
        """The requested elements of each reading, comma-separated, readings in order."""
        columns = [ELEMENT_ORDER.index(name) for name in self._elements()]
        return ",".join(f"{reading[k]:+.6E}" for reading in readings for k in columns).encode("ascii")

    def _reading(self, voltage_V: float, current_A: float, in_compliance: bool) -> Reading:
        status = STATUS_V_MEAS | STATUS_I_MEAS
        status |= STATUS_V_SOURCE if self.value("source_function") == "VOLT" else STATUS_I_SOURCE
        if self.value("terminals") == "FRON":
            status |= STATUS_FRONT_TERMINALS
        if in_compliance:
            status |= STATUS_COMPLIANCE
        resistance = voltage_V / current_A if self.value("sense_function") == "'RES'" and current_A else OVERFLOW
        return (voltage_V, current_A, resistance, self.bench.clock.monotonic(), float(status))
