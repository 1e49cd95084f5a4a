"""Measurement side of the simulated Keithley 2400.

pyvisa-sim stores the instrument's settings (YAML); this hook answers the measurement
queries from the LED model, tells the model when the drive changes, and reproduces
the instrument's compliance behaviour and status word, its trigger model, buffer,
:CALC3 statistics and status bytes (:mod:`.keithley2400_trigger`), and the
signal-oriented commands as the 2400 manual describes them: ``:CONFigure:<function>``
returns that function's settings (compliance included) to their ``*RST`` values,
sets the trigger model to one immediate reading and switches the output on;
``:MEASure:<function>?`` is ``:CONFigure`` followed by ``:READ?``.

Sweeps (:mod:`.keithley2400_source`): in the list or staircase source mode, or with
a trigger count above one, ``:READ?`` runs the whole pass and answers with every reading;
``:INITiate`` starts a pass that runs on the bench clock while the client goes on. As the
manual's "Triggering" section says, while it runs the unit executes only ``:ABORt``,
``:SYSTem:PRESet``, ``*TRG``, ``*RST``, ``*RCL``, a device clear and the serial poll at
once; any other command or query waits until the pass is done. The return to idle sets
the idle bit of the operation event register (status byte bit 7 when enabled); the
readings taken are in the buffer, also after an abort. On a virtual clock a pass is done
as soon as it starts (virtual time passes only when spent).

Timing (the 2400 data sheet's speed specifications, approximately): a source-measure
cycle costs the source delay (when not automatic), the integration (three of them with
auto zero on, one with it off), and 2 ms; every ``:READ?``/``:INITiate``/``:MEASure?``
costs a further 10 ms of trigger and command processing (about 80 single readings a
second at 0.01 NPLC, against about 1000 a second within a sweep).

Data are ASCII only (``:FORMat:DATA REAL,32`` / ``SREal`` are refused with -224: the
binary formats are not simulated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyvisa_sim.component import NoResponse

from drivers.keithley2400 import OPERATION_IDLE_BIT, canonical_2400
from station.core.clock import VirtualClock

from .keithley2400_source import SourceSweep
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
#: what the 2400 executes while its trigger model runs (manual, "Triggering"); anything else waits
#: until the pass is done (device clear, at the interface, and the serial poll act at once too)
RUN_TIME_COMMANDS = (":ABOR", ":SYST:PRES", "*TRG", "*RST", "*RCL")
#: per source-measure cycle beyond integration and delays; per trigger command (:READ?, :INIT)
SDM_OVERHEAD_S = 0.002
TRIGGER_OVERHEAD_S = 0.010


@dataclass
class _Pass:
    """One pass through the trigger model in progress (``:INIT`` is overlapped)."""

    levels: list[float | None]  # the source level of each cycle (None: the fixed level)
    cycle_s: float  # one source-measure cycle on the bench clock
    next_done_s: float  # when the next reading is complete
    arm_gap_s: float = 0.0  # the arm timer between arm cycles
    per_arm: int = 1
    index: int = 0


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
        self.source = SourceSweep()
        #: the pass :INIT started, until it ends (None: idle)
        self.running: _Pass | None = None
        self._sweep_level: float | None = None  # the level a pass sources now (None: the fixed level)
        device._match = self.match  # the hook (pyvisa-sim private API; version pinned)

    def value(self, name: str):
        return self.device._properties[name].get_value()

    def _set(self, name: str, value) -> None:
        self.device._properties[name].set_value(str(value))

    @property
    def output_on(self) -> bool:
        return bool(self.value("output"))

    def match(self, query: bytes):
        command = canonical_2400(query.decode("ascii", errors="replace"))
        header, _, argument = command.partition(" ")
        if self.running is not None:
            self._catch_up()
        if self.running is not None and header not in RUN_TIME_COMMANDS:
            self._complete_pass()  # the 2400 executes it once the pass is done (manual, "Triggering")
        if header in ("*RST", ":SYST:PRES"):
            self.running = None
            for name, default in self._defaults.items():
                self._set(name, default)
            self.trigger.reset()
            self.source.reset()
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
        switching_off = header == ":OUTP" and command.split(" ", 1)[-1].strip().upper() in ("0", "OFF")
        if switching_off and self.bench.faults.output_off_ignored(self.measurements):
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
                self._start_pass()
            return NoResponse
        if header == ":ABOR":
            trigger.waiting = False
            if self.running is not None:
                self._end_pass()
            return NoResponse
        if header == ":STAT:OPER:COND?":  # asked once the pass is done (match waits for it): idle, or armed
            return str(0 if trigger.waiting else OPERATION_IDLE_BIT).encode()
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
        for model in (trigger, self.source):
            try:
                reply = model.setting(header, argument)
            except ValueError as exc:
                return self._error(str(exc))
            if reply is not False:
                return NoResponse if reply is None else reply.encode("ascii")
        return False

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
        if self._counts() == 1 and self._source_mode() == "FIX":
            self.bench.spend(TRIGGER_OVERHEAD_S)
            return self._measure()
        if self.trigger.arm_source not in ("IMM", "TIM"):
            self.trigger.waiting = True
            return NoResponse  # waits for a trigger; the client times out, as on the instrument
        if self._output_disabled():
            return self._error(OUTPUT_DISABLED)
        started = self._start_pass()
        if started is not None:
            return started
        self._complete_pass()
        return self._format_readings(self.trigger.last_readings)

    def _initiate(self):
        if self._output_disabled():
            return self._error(OUTPUT_DISABLED)
        if self.running is not None:
            return self._error('-213,"Init ignored"')
        if self.trigger.arm_source in ("IMM", "TIM"):
            return self._start_pass() or NoResponse
        self.trigger.waiting = True
        return NoResponse

    def _output_disabled(self) -> bool:
        """A reading now would meet error +803: output off and not in auto output-off mode."""
        return not self.output_on and not bool(self.value("auto_output_off"))

    def _counts(self) -> int:
        return int(self.value("arm_count")) * int(self.value("trigger_count"))

    def _source_mode(self) -> str:
        return self.source.functions[self._function()].mode

    def _function(self) -> str:
        return "VOLT" if self.value("source_function") == "VOLT" else "CURR"

    # --- a pass through the trigger model, on the bench clock ----------------------------
    def _cycle_s(self) -> float:
        """One source-measure cycle: delays, integration (x3 with auto zero), overhead."""
        if not self.bench.latency:
            return 0.0
        nplc = float(self.value("current_nplc"))
        integrations = 3 if int(self.value("auto_zero")) else 1
        source_delay = 0.0 if int(self.value("source_delay_auto")) else float(self.value("source_delay"))
        return (float(self.value("trigger_delay")) + source_delay
                + integrations * nplc / float(self.value("line_frequency")) + SDM_OVERHEAD_S)

    def _start_pass(self):
        """Start a pass (arm count x trigger count cycles, the source list or sweep cycled over
        them); an error reply if the source settings cannot run, else None."""
        try:
            sweep = self.source.levels(self._function())
        except ValueError as exc:
            return self._error(str(exc))
        count = self._counts()
        levels: list[float | None] = [sweep[i % len(sweep)] for i in range(count)] if sweep else [None] * count
        self.bench.spend(TRIGGER_OVERHEAD_S)
        cycle = self._cycle_s()
        gap = self.trigger.arm_timer_s if self.trigger.arm_source == "TIM" and self.bench.latency else 0.0
        self.trigger.begin()
        self.running = _Pass(levels, cycle, self.bench.clock.monotonic() + cycle, gap,
                             int(self.value("trigger_count")))
        self._catch_up()
        if isinstance(self.bench.clock, VirtualClock):
            self._complete_pass()  # virtual time passes only when spent: the pass is done at once
        return None

    def _catch_up(self) -> None:
        """Take every reading of the running pass that is complete by now."""
        run = self.running
        assert run is not None
        now = self.bench.clock.monotonic()
        while run.index < len(run.levels) and run.next_done_s <= now + 1e-12:
            self.measurements += 1
            if self.bench.faults:  # one-off actions (signals, a pulled cable) at this reading
                self.bench.faults.on_reading(self.measurements)
            reading = self._take_reading(run.levels[run.index], run.next_done_s, spend=False)
            run.index += 1
            compliance = bool(int(reading[4]) & STATUS_COMPLIANCE)
            if compliance and self.source.cabort == "EARL":
                self._end_pass()
                return
            self.trigger.add(reading)
            if compliance and self.source.cabort == "LATE":
                self._end_pass()
                return
            run.next_done_s += run.cycle_s + (run.arm_gap_s if run.index % run.per_arm == 0 else 0.0)
        if run.index >= len(run.levels):
            self._end_pass()
        else:
            self._apply_level(run.levels[run.index])  # the cycle in progress sources its level

    def _complete_pass(self) -> None:
        """Wait (on the bench clock) until the running pass is done."""
        run = self.running
        if run is None:
            return
        later = range(run.index + 1, len(run.levels))
        last_done = (run.next_done_s + len(later) * run.cycle_s
                     + sum(run.arm_gap_s for j in later if j % run.per_arm == 0))
        self.bench.spend(max(0.0, last_done - self.bench.clock.monotonic()))
        if self.running is not None:
            self._catch_up()
        if self.running is not None:  # latency off, or rounding: the remaining cycles at once
            now = self.bench.clock.monotonic()
            self.running.next_done_s = min(self.running.next_done_s, now)
            self.running.cycle_s = self.running.arm_gap_s = 0.0
            self._catch_up()

    def serial_poll(self) -> int:
        """The status byte by serial poll (VISA read_stb): answered at any time, also during a pass."""
        if self.running is not None:
            self._catch_up()
        return self.trigger.status_byte(bool(self._error_queue()))

    def device_clear(self) -> None:
        """SDC/DCL: abort a pass in progress and return to idle (manual, "Triggering")."""
        self.trigger.waiting = False
        if self.running is not None:
            self._catch_up()
            if self.running is not None:
                self._end_pass()

    def _end_pass(self) -> None:
        """The pass ends (done, aborted or on compliance): the source returns to its bias level, and
        the operation event register records the return to idle."""
        self.trigger.operation_event |= OPERATION_IDLE_BIT
        self.running = None
        self._sweep_level = None
        self._update_drive()

    def _apply_level(self, level: float | None) -> None:
        if level != self._sweep_level:
            self._sweep_level = level
            self._update_drive()

    def _elements(self) -> list[str]:
        requested = set(str(self.value("format_elements")).split(","))
        return [name for name in ELEMENT_ORDER if name in requested]

    def drive(self) -> Drive | None:
        if not self.output_on:
            return None
        level = self._sweep_level
        if self.value("source_function") == "VOLT":
            return Drive("voltage", self.value("source_voltage") if level is None else level,
                         self.value("compliance_current"))
        return Drive("current", self.value("source_current") if level is None else level,
                     self.value("compliance_voltage"))

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

    def _take_reading(self, level: float | None = None, time_s: float | None = None, spend: bool = True) -> Reading:
        """One source-measure cycle at ``level`` (None: the fixed level): its time on the bench
        clock (``spend``), the model's point with the instrument's noise (output on for the
        reading in auto-off mode), time-stamped ``time_s`` (default: now)."""
        auto_off = bool(self.value("auto_output_off"))
        if auto_off and not self.output_on:
            self._set("output", 1)
            self._sweep_level = level
            self._update_drive()
        else:
            self._apply_level(level)
        nplc = float(self.value("current_nplc"))
        if spend:
            self.bench.spend(self._cycle_s())
        if self.bench.disconnected:  # the pixel switch connects nothing: an open circuit
            voltage_V, current_A, in_compliance = self._open_circuit()
        else:
            point, in_compliance = self.bench.led.solve(photometry_totals=False)
            voltage_V, current_A = self._with_noise(point.voltage_V, point.current_A, nplc)
        if auto_off:
            self._set("output", 0)
            self._update_drive()
        return self._reading(voltage_V, current_A, in_compliance, time_s)

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

    def _reading(self, voltage_V: float, current_A: float, in_compliance: bool,
                 time_s: float | None = None) -> Reading:
        status = STATUS_V_MEAS | STATUS_I_MEAS
        status |= STATUS_V_SOURCE if self.value("source_function") == "VOLT" else STATUS_I_SOURCE
        if self.value("terminals") == "FRON":
            status |= STATUS_FRONT_TERMINALS
        if in_compliance:
            status |= STATUS_COMPLIANCE
        resistance = voltage_V / current_A if self.value("sense_function") == "'RES'" and current_A else OVERFLOW
        timestamp = self.bench.clock.monotonic() if time_s is None else time_s
        return (voltage_V, current_A, resistance, timestamp, float(status))
