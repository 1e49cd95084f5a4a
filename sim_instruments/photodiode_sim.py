"""A simulated silicon photodiode on a sphere port, and the meters that read it.

The photodiode sees a fixed fraction of the sphere's flux (:data:`GEOMETRY_FACTOR`); its
photocurrent is that flux weighted by its responsivity (:func:`responsivity_A_W`, the
curve its certificate ``data/sim_photodiode_responsivity.csv`` tabulates), plus a dark
current, with the meter's noise. Two meters read it, each as its manual describes:

* :class:`SimulatedKeithley6485`: ``*IDN?``, ``*RST``, ``:SYST:ZCH``, ``:SYST:ZCOR``,
  ``:SYST:ZCOR:ACQ``, ``:INIT``, ``:CURR:RANG`` (2 nA-20 mA) and ``:AUTO``,
  ``:CURR:NPLC``, ``:READ?`` -> ``+1.234567E-09A,+1.234567E+02,+0.000000E+00``; beyond
  a fixed range, ``+9.9E37``; zero check on: the input is shorted (reads 0 + noise).
* :class:`SimulatedKeithley2000`: a transimpedance amplifier of :data:`TIA_GAIN_V_A`
  (inverting) in front; ``:CONF:VOLT:DC``, ``:SENS:VOLT:RANG`` / ``:AUTO``,
  ``:SENS:VOLT:NPLC``, ``:READ?`` -> volts; beyond the range ``+9.9E37``.

Unknown commands put -113 in the error queue and are otherwise ignored (SCPI).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drivers import keithley6485, transimpedance_dmm
from station.core import photometry

from .scpi_instrument import SCPIInstrument

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

RESPONSIVITY_PATH = Path(__file__).with_name("data") / "sim_photodiode_responsivity.csv"
#: fraction of the sphere's flux that reaches the photodiode (a small port on a sphere)
GEOMETRY_FACTOR = 0.012
DARK_CURRENT_A = 4e-12  # a 10 mm x 10 mm silicon photodiode at 0 V bias (assumed)
#: the picoammeter's noise: a floor plus a fraction of the reading (assumed, within the 6485's spec)
NOISE_FLOOR_A = 2e-14
NOISE_RELATIVE = 2e-4
TIA_GAIN_V_A = -1e5
TIA_NOISE_V = 2e-6
OVERFLOW = 9.9e37
LINE_FREQUENCY_HZ = 50.0


def responsivity_A_W(wavelength_nm: np.ndarray) -> np.ndarray:
    """Responsivity of the simulated silicon photodiode: an internal quantum efficiency
    (blue loss at the surface, red loss as silicon turns transparent) times lambda/1239.84."""
    wl = np.asarray(wavelength_nm, float)
    internal = 0.9 * (1 - np.exp(-(wl - 250.0) / 90.0)) / (1 + np.exp((wl - 1010.0) / 40.0))
    return np.clip(internal, 1e-6, None) * wl / 1239.84


def write_responsivity_certificate(path: Path = RESPONSIVITY_PATH) -> None:
    wl = np.arange(300.0, 1100.1, 5.0)
    with open(path, "w", newline="") as f:
        f.write("# simulated silicon photodiode responsivity certificate\n# units: A/W\n")
        writer = csv.writer(f)
        writer.writerow(["wavelength_nm", "responsivity_A_W"])
        for w, r in zip(wl, responsivity_A_W(wl), strict=True):
            writer.writerow([f"{w:.1f}", f"{r:.6e}"])


class SimulatedPhotodiode:
    """The photodiode on the bench's sphere."""

    def __init__(self, bench: SimulatedBench) -> None:
        self.bench = bench
        self._wl = np.arange(300.0, 1100.1, 1.0)
        self._weights = photometry.trapezoid_weights(self._wl) * responsivity_A_W(self._wl)

    def photocurrent_A(self) -> float:
        """True photocurrent plus dark current (no noise)."""
        flux = self.bench.sphere_spectral_flux_W_nm(self._wl)
        return GEOMETRY_FACTOR * float(np.dot(self._weights, flux)) + DARK_CURRENT_A

    def noisy_current_A(self) -> float:
        current = self.photocurrent_A()
        return current + float(self.bench.rng.normal()) * math.hypot(NOISE_FLOOR_A, NOISE_RELATIVE * current)


def range_for(value: float, ranges: tuple[float, ...], headroom: float = 1.0001) -> float:
    """The smallest range that holds ``value`` (with ``headroom``), else the largest."""
    return next((r for r in ranges if abs(value) <= headroom * r), ranges[-1])


class _SCPIMeter(SCPIInstrument):
    """A simulated meter reading the photodiode."""

    def __init__(self, device: Device, bench: SimulatedBench, photodiode: SimulatedPhotodiode) -> None:
        super().__init__(device)
        self.bench = bench
        self.photodiode = photodiode
        self.readings = 0

    #: what this meter's range and integration commands start with, its ranges, over-range and NPLC limits
    PREFIX = ""
    RANGES: tuple[float, ...] = ()
    OVERRANGE = 1.0
    NPLC_LIMITS = (0.01, 10.0)

    @staticmethod
    def _flag(argument: str) -> int | None:
        return {"1": 1, "0": 0}.get(argument)

    def command(self, command: str) -> str | None:
        """``:READ?`` (its integration time on the bench clock), this meter's own commands, then
        the range and integration commands every meter here has."""
        header, _, argument = command.partition(" ")
        if header == ":READ?":
            self.bench.spend(self.nplc / LINE_FREQUENCY_HZ + 0.004)
            self.readings += 1
            return self.reading()
        reply = self.meter_command(header, argument)
        return reply if reply is not None else self.range_command(header, argument)

    def meter_command(self, header: str, argument: str) -> str | None:
        raise NotImplementedError

    def reading(self) -> str:
        raise NotImplementedError

    def range_command(self, header: str, argument: str) -> str | None:
        """``<PREFIX>:RANG[?]``, ``:RANG:AUTO[?]``, ``:NPLC[?]`` ("" done, a reply, or None: not one of them)."""
        flag = self._flag(argument)
        if header == f"{self.PREFIX}:RANG" and argument:
            self.range, self.auto_range = range_for(float(argument), self.RANGES), 0
        elif header == f"{self.PREFIX}:RANG?":
            return f"{self.range:.6E}"
        elif header == f"{self.PREFIX}:RANG:AUTO" and flag is not None:
            self.auto_range = flag
        elif header == f"{self.PREFIX}:RANG:AUTO?":
            return str(self.auto_range)
        elif header == f"{self.PREFIX}:NPLC" and argument:
            self.nplc = min(max(float(argument), self.NPLC_LIMITS[0]), self.NPLC_LIMITS[1])
        elif header == f"{self.PREFIX}:NPLC?":
            return f"{self.nplc:g}"
        else:
            return None
        return ""

    def ranged(self, value: float) -> float:
        """A reading as the meter shows it: auto range follows it; beyond the range, overflow."""
        if self.auto_range:
            self.range = range_for(value, self.RANGES, self.OVERRANGE)
        return OVERFLOW if abs(value) > self.OVERRANGE * self.range else value


class SimulatedKeithley6485(_SCPIMeter):
    IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 6485,4123456,C01   Jun  2 2004 10:22:00/A02  /E"
    PREFIX, RANGES, OVERRANGE = ":CURR", keithley6485.CURRENT_RANGES_A, keithley6485.OVERRANGE
    NPLC_LIMITS = (0.01, 60.0)

    def __init__(self, device: Device, bench: SimulatedBench, photodiode: SimulatedPhotodiode) -> None:
        super().__init__(device, bench, photodiode)
        self.reset()

    def reset(self) -> None:
        self.range, self.auto_range = keithley6485.CURRENT_RANGES_A[-1], 1
        self.nplc = 0.1 * LINE_FREQUENCY_HZ  # *RST: 100 ms (6 NPLC at 60 Hz, 5 at 50 Hz)
        self.zero_check, self.zero_correct, self.zero_offset_A = 1, 0, 0.0

    def meter_command(self, header: str, argument: str) -> str | None:
        flag = self._flag(argument)
        if header == ":SYST:ZCH" and flag is not None:
            self.zero_check = flag
        elif header == ":SYST:ZCH?":
            return str(self.zero_check)
        elif header == ":SYST:ZCOR" and flag is not None:
            self.zero_correct = flag
        elif header == ":SYST:ZCOR:ACQ":
            self.zero_offset_A = float(self.bench.rng.normal()) * NOISE_FLOOR_A
        elif header == ":INIT":
            pass
        else:
            return None
        return ""

    def reading(self) -> str:
        if self.zero_check:
            current = float(self.bench.rng.normal()) * NOISE_FLOOR_A
        else:
            current = self.photodiode.noisy_current_A() - (self.zero_offset_A if self.zero_correct else 0.0)
        return f"{self.ranged(current):+.6E}A,{self.bench.clock.now() % 1e5:+.6E},+0.000000E+00"


#: the Model 2000's settings an unmodified client (pymeasure's ``Keithley2000``) reads and
#: writes, with their *RST values (Model 2000 User's Manual, SCPI tables): digits, NPLC,
#: range, relative value and state, AC bandwidth, aperture and threshold per function;
#: beeper, trigger count and delay. DC volts' range, auto range and NPLC are the meter's own.
_FUNCTION_DEFAULTS = {"VOLT": ("1000", "1"), "VOLT:AC": ("750", "1"), "CURR": ("3", "1"), "CURR:AC": ("3", "1"),
                      "RES": ("1E8", "1"), "FRES": ("1E8", "1"), "FREQ": ("", ""), "PER": ("", ""),
                      "TEMP": ("", "1")}
_2000_DEFAULTS: dict[str, str] = {
    **{f":SENS:{f}:DIG": ("6" if f in ("FREQ", "PER", "TEMP") else "7") for f in _FUNCTION_DEFAULTS},
    **{f":SENS:{f}:REF": "0" for f in _FUNCTION_DEFAULTS},
    **{f":SENS:{f}:REF:STAT": "0" for f in _FUNCTION_DEFAULTS},
    **{f":SENS:{f}:RANG": r for f, (r, _) in _FUNCTION_DEFAULTS.items() if r and f != "VOLT"},
    **{f":SENS:{f}:RANG:AUTO": "1" for f, (r, _) in _FUNCTION_DEFAULTS.items() if r and f != "VOLT"},
    **{f":SENS:{f}:NPLC": n for f, (_, n) in _FUNCTION_DEFAULTS.items() if n and f != "VOLT"},
    ":SENS:VOLT:AC:DET:BAND": "30", ":SENS:CURR:AC:DET:BAND": "30",
    ":SENS:FREQ:APER": "1", ":SENS:PER:APER": "1",
    ":SENS:FREQ:THR:VOLT:RANG": "10", ":SENS:PER:THR:VOLT:RANG": "10",
    ":SYST:BEEP:STAT": "1", ":TRIG:COUN": "1", ":TRIG:SEQ:DEL": "0", ":TRIG:SEQ:DEL:AUTO": "1",
    ":TRAC:POIN": "100", ":TRAC:FEED": "SENS", ":TRAC:FEED:CONT": "NEV", "*SRE": "0", ":STAT:MEAS:ENAB": "0",
}
#: commands the 2000 takes that change nothing the simulation reads
_2000_ACTIONS = (":SYST:BEEP:IMM", ":SYST:LOC", ":SYST:REM", ":SYST:RWL", ":ABOR", ":INIT:CONT", ":STAT:PRES")


class SimulatedKeithley2000(_SCPIMeter):
    IDN = "KEITHLEY INSTRUMENTS INC.,MODEL 2000,1234567,A20 /A02"
    PREFIX, RANGES, OVERRANGE = ":SENS:VOLT", transimpedance_dmm.VOLTAGE_RANGES_V, transimpedance_dmm.OVERRANGE

    def __init__(self, device: Device, bench: SimulatedBench, photodiode: SimulatedPhotodiode) -> None:
        super().__init__(device, bench, photodiode)
        self.reset()

    def reset(self) -> None:
        self.function, self.auto_range, self.nplc = "VOLT:DC", 1, 1.0
        self.range = transimpedance_dmm.VOLTAGE_RANGES_V[-1]
        self.settings = dict(_2000_DEFAULTS)
        self.buffer: list[str] = []

    def _fill_buffer(self) -> None:
        """``:INIT`` with the buffer fed (``:TRAC:FEED:CONT NEXT``): trigger-count readings,
        up to the buffer's points, then the feed stops (NEVer) as the manual describes."""
        if self.settings[":TRAC:FEED:CONT"] != "NEXT":
            return
        wanted = min(int(float(self.settings[":TRIG:COUN"])), int(float(self.settings[":TRAC:POIN"])))
        for _ in range(max(wanted - len(self.buffer), 0)):
            self.bench.spend(self.nplc / LINE_FREQUENCY_HZ + 0.004)
            self.buffer.append(self.reading())
        self.settings[":TRAC:FEED:CONT"] = "NEV"

    def meter_command(self, header: str, argument: str) -> str | None:
        if header == ":INIT":
            self._fill_buffer()
        elif header == ":TRAC:CLE":
            self.buffer.clear()
        elif header == ":TRAC:DATA?":
            return ",".join(self.buffer) if self.buffer else ""
        elif header == "*OPC?":
            return "1"
        elif header == "*OPT?":
            return "0"  # no scanner card
        elif header == "*STB?":  # bit 0: measurement summary (buffer full), bit 6: MSS
            full = len(self.buffer) >= int(float(self.settings[":TRAC:POIN"]))
            return "65" if full else "0"
        elif header.startswith(":CONF:"):
            self.function = header[len(":CONF:"):]
            self.auto_range = 1
        elif header == ":CONF?":
            return f'"{self.function}"'
        elif header.endswith("?") and header[:-1] in self.settings:
            return self.settings[header[:-1]]
        elif header in self.settings and argument:
            self.settings[header] = argument
        elif header.endswith(":REF:ACQ") or header in _2000_ACTIONS:
            pass
        else:
            return None
        return ""

    def reading(self) -> str:
        if self.function not in ("VOLT:DC", "VOLT"):
            return f"{OVERFLOW:+.8E}"
        current = self.photodiode.photocurrent_A()
        noise_V = math.hypot(TIA_NOISE_V, NOISE_RELATIVE * TIA_GAIN_V_A * current)
        volts = TIA_GAIN_V_A * current + float(self.bench.rng.normal()) * noise_V
        return f"{self.ranged(volts):+.8E}"
