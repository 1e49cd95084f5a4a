"""Simulated Photo Research PR-655/670 and PR-730/745 spectroradiometers (remote protocol, serial).

The PR-7xx models answer the same commands on their own grids (:mod:`drivers.pr7xx`
gives the sources); their exposure runs up to 30 s (cooled detector) instead of 6 s.

The protocol as the instrument implements it, and the sources for each part:

* Framing: a command ends with CR, LF or CRLF, and several commands may arrive in one
  write, answered in order; ``PHOTO`` and ``Q`` are acted on as soon as they are typed,
  with or without a terminator. Sources: the behaviour of the instrument that issue 7
  of this project reports (clients that send LF, CRLF, a bare ``Q`` or two commands at
  once work on it), and the clients themselves: Psychtoolbox's ``PR655write`` ends
  commands with CR, ISET's PR-6xx code with LF then CR. Replies end with CRLF.
* ``PHOTO`` enters remote mode (reply ``REMOTE MODE``); nothing else is answered before.
* ``M0`` measures and replies with the 5-digit status code; ``M1``..``M5`` measure and
  reply as the matching ``D`` report. A measurement takes the instrument's own time
  (adaptive exposure up to 6 s plus about 1.2 s of processing), on the bench clock.
* ``D1`` ``qqqqq,U,Y,x,y``; ``D2`` ``qqqqq,U,X,Y,Z``; ``D3`` ``qqqqq,U,Y,u',v'`` (U: the
  units code, 1 = metric cd/m^2, 0 = English fL).
* ``D4`` ``qqqqq,U,Y,CCT,duv``: correlated colour temperature (K) from the nearest point
  of the Planckian locus in the CIE 1960 (u, v) diagram, and duv, the signed distance
  from it (+ above the locus). CIE 15 defines CCT only within |duv| <= 0.05: outside
  (saturated colours such as a deep-red LED) CCT is reported as 0.
* ``D5`` header ``qqqqq,UUUU,w.wwwe+eee,i.iiie+eee,p.pppe+ppp``: status, the 4-digit
  units code, peak wavelength (nm), integrated radiance (W/(sr m^2)) and integrated
  photon radiance (photons/(s sr m^2)); then one ``nnn,v.vvvve-ee`` line per
  wavelength of the model's grid (W/(sr m^2 nm)), 16 bytes with CRLF, the fixed width
  that Psychtoolbox's ``PR655parsespdstr`` reads; ISET's PR-6xx reader takes the peak
  wavelength from the header's third field.
* ``D110`` ``00000,serial``; ``D111`` ``00000,model``.
* Status ``00018`` = light too low: no numbers follow; ``00001`` = unknown command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pyvisa_sim.component import NoResponse

from drivers.pr6xx import SPECTRAL_REPEATABILITY_FRACTION
from drivers.radiometers import RADIOMETER_MODELS as _MODELS
from station.core import photometry

from .serial_line import SerialLineInstrument

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

#: the models this class simulates; their spectral grids are the drivers' (one home for instrument facts)
RADIOMETER_MODELS = tuple(m for m in _MODELS if m != "PR-650")
#: longest adaptive exposure and processing time per measurement, s
LONGEST_EXPOSURE_S = {"PR-655": 6.0, "PR-670": 6.0, "PR-730": 30.0, "PR-745": 30.0}
PROCESSING_S = {"PR-655": 1.2, "PR-670": 1.2, "PR-730": 1.5, "PR-745": 1.5}
STATUS_OK = 0
STATUS_LIGHT_TOO_LOW = 18
STATUS_NO_MEASUREMENT = 7
STATUS_UNKNOWN_COMMAND = 1
#: below this band-integrated radiance the instrument reports light-too-low
LOW_LIGHT_RADIANCE_W_SR_M2 = 2e-4


class SimulatedPR6xx(SerialLineInstrument):
    """Model-backed PR-655/670/730/745 behind a pyvisa-sim serial device."""

    BARE_COMMANDS = (b"PHOTO", b"Q")

    def __init__(self, device: Device, bench: SimulatedBench, model: str = "PR-655",
                 serial_number: str = "65512345") -> None:
        if model not in RADIOMETER_MODELS:
            raise ValueError(f"unknown radiometer model {model!r}")
        super().__init__(device)
        self.bench = bench
        self.model = model
        self.serial_number = serial_number
        self.wavelength_nm = _MODELS[model].wavelength_nm()
        self.remote = False
        self.measurements = 0
        self._status = STATUS_NO_MEASUREMENT
        self._spectral_radiance: np.ndarray | None = None
        photometry.grid_weights(self.wavelength_nm)  # colour tables warm at open
        self._planckian = planckian_locus_uv()

    def match(self, query: bytes):
        command = query.decode("ascii", errors="replace").strip().upper()
        if command == "PHOTO":
            self.remote = True
            return b"REMOTE MODE"
        if not self.remote or command == "":
            return NoResponse
        if command == "Q":
            self.remote = False
            return NoResponse
        if command in ("M0", "M1", "M2", "M3", "M4", "M5"):
            self._measure()
            return f"{self._status:05d}".encode() if command == "M0" else self._report(int(command[1:]))
        if command.startswith("D") and command[1:].isdigit():
            return self._report(int(command[1:]))
        return f"{STATUS_UNKNOWN_COMMAND:05d}".encode()

    def _measure(self) -> None:
        self.measurements += 1
        point, _ = self.bench.led.solve(photometry_totals=False)
        radiance = self.bench.led.model.spectral_radiance_W_sr_m2_nm(point, self.wavelength_nm)
        total = photometry.radiometric_total(radiance, self.wavelength_nm)
        # adaptive exposure: longer for dim sources, 6 ms .. 6 s, plus overhead
        exposure_s = min(LONGEST_EXPOSURE_S[self.model], max(0.006, 0.02 / max(total, 1e-12)))
        self.bench.spend(exposure_s + PROCESSING_S[self.model])
        if total < LOW_LIGHT_RADIANCE_W_SR_M2:
            self._status, self._spectral_radiance = STATUS_LIGHT_TOO_LOW, None
            return
        noise = self.bench.rng.normal(0.0, 1.0, radiance.shape) * (SPECTRAL_REPEATABILITY_FRACTION * radiance + 2e-8)
        self._status, self._spectral_radiance = STATUS_OK, np.clip(radiance + noise, 0.0, None)

    def _report(self, code: int) -> bytes:
        if code == 110:
            return f"00000,{self.serial_number}".encode()
        if code == 111:
            return f"00000,{self.model}".encode()
        if code not in (1, 2, 3, 4, 5):
            return f"{STATUS_UNKNOWN_COMMAND:05d}".encode()
        if self._status != STATUS_OK or self._spectral_radiance is None:
            return f"{self._status:05d}".encode()
        wl, s = self.wavelength_nm, self._spectral_radiance
        totals = photometry.spectrum_totals(s, wl)
        luminance = float(totals[photometry.LUMINOUS])
        big_x, big_y, big_z = (photometry.K_M_LM_PER_W * float(totals[k])
                               for k in (photometry.X, photometry.Y, photometry.Z))
        head = f"{STATUS_OK:05d},1"
        x, y = photometry.xy_from_tristimulus(big_x, big_y, big_z)
        if code == 1:
            return f"{head},{luminance:.4e},{x:.4f},{y:.4f}".encode()
        if code == 2:
            return f"{head},{big_x:.4e},{big_y:.4e},{big_z:.4e}".encode()
        u, v = photometry.uv_prime_from_tristimulus(big_x, big_y, big_z)
        if code == 3:
            return f"{head},{luminance:.4e},{u:.4f},{v:.4f}".encode()
        if code == 4:
            cct, duv = correlated_colour_temperature(u, v * 2 / 3, self._planckian)
            return f"{head},{luminance:.4e},{cct:.0f},{duv:.4f}".encode()
        peak = float(wl[int(np.argmax(s))])
        header = f"{STATUS_OK:05d},0001,{peak:.3e},{float(totals[photometry.TOTAL]):.4e}," \
                 f"{float(totals[photometry.PHOTONS]):.4e}"
        lines = [header] + [f"{w:.0f},{v:.4e}" for w, v in zip(wl, s, strict=True)]
        return "\r\n".join(lines).encode()


#: CIE 15: CCT is defined only this close to the Planckian locus (CIE 1960 uv)
MAX_DUV = 0.05


def planckian_locus_uv(temperatures_K: np.ndarray | None = None) -> np.ndarray:
    """[T, u, v] rows of the Planckian locus in the CIE 1960 diagram, from Planck's law
    and the CIE 1931 functions (the tables the station uses), 1000-25000 K."""
    from station.core import cie

    temperatures = temperatures_K if temperatures_K is not None else np.geomspace(1000.0, 25000.0, 4000)
    tables = cie.source_tables()
    wl_m = np.asarray(tables.wavelength_nm, float) * 1e-9
    c2 = photometry.PLANCK_J_S * photometry.SPEED_OF_LIGHT_M_S / 1.380649e-23
    radiance = 1.0 / (wl_m[None, :] ** 5 * np.expm1(c2 / (wl_m[None, :] * temperatures[:, None])))
    xyz = radiance @ np.asarray(tables.xyz, float).T
    denominator = xyz[:, 0] + 15 * xyz[:, 1] + 3 * xyz[:, 2]
    return np.column_stack([temperatures, 4 * xyz[:, 0] / denominator, 6 * xyz[:, 1] / denominator])


def correlated_colour_temperature(u: float, v: float, locus: np.ndarray) -> tuple[float, float]:
    """(CCT in K, duv) of a CIE 1960 (u, v); CCT 0 where |duv| > :data:`MAX_DUV` or the
    nearest locus point is an end of the 1000-25000 K table (out of range)."""
    distance = np.hypot(locus[:, 1] - u, locus[:, 2] - v)
    k = int(np.argmin(distance))
    lo, hi = max(k - 1, 0), min(k + 1, len(locus) - 1)
    du, dv = locus[hi, 1] - locus[lo, 1], locus[hi, 2] - locus[lo, 2]  # locus direction
    sign = 1.0 if du * (v - locus[k, 2]) - dv * (u - locus[k, 1]) <= 0 else -1.0  # + above the locus
    duv = sign * float(distance[k])
    if abs(duv) > MAX_DUV or k in (0, len(locus) - 1):
        return 0.0, duv
    return float(locus[k, 0]), duv
