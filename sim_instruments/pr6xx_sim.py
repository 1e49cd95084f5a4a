"""Simulated Photo Research PR-655/670 spectroradiometer (remote protocol, serial).

Protocol as implemented (one command per line, CR-terminated; replies CRLF-terminated):

* ``PHOTO`` enters remote mode (reply ``REMOTE MODE``); nothing else is answered before.
* ``M0`` measures and replies with the 5-digit status code; ``M1``..``M5`` measure and
  reply as the matching ``D`` command.
* ``D1`` ``qqqqq,U,Y,x,y``; ``D2`` ``qqqqq,U,X,Y,Z``; ``D3`` ``qqqqq,U,Y,u',v'``;
  ``D4`` ``qqqqq,U,Y,CCT,0``; ``D5`` ``qqqqq,U`` then one ``nm,value`` line per
  wavelength (W/(sr m^2 nm)); ``D110`` ``00000,serial``; ``D111`` ``00000,model``.
* ``Q`` leaves remote mode. Status ``00018`` = light too low: no numbers follow.
* U is the units code: 1 = metric (cd/m^2), 0 = English (footlamberts).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pyvisa_sim.component import NoResponse

from drivers.pr6xx import SPECTRAL_GRIDS, spectral_grid_nm
from station.core import photometry

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

#: the models simulated; their spectral grids are the driver's (one home for instrument facts)
RADIOMETER_MODELS = tuple(SPECTRAL_GRIDS)
STATUS_OK = 0
STATUS_LIGHT_TOO_LOW = 18
STATUS_NO_MEASUREMENT = 7
STATUS_UNKNOWN_COMMAND = 1
#: below this band-integrated radiance the instrument reports light-too-low
LOW_LIGHT_RADIANCE_W_SR_M2 = 2e-4


class SimulatedPR6xx:
    """Model-backed PR-655/670 behind a pyvisa-sim serial device."""

    def __init__(self, device: Device, bench: SimulatedBench, model: str = "PR-655",
                 serial_number: str = "65512345") -> None:
        if model not in RADIOMETER_MODELS:
            raise ValueError(f"unknown radiometer model {model!r}")
        self.device = device
        self.bench = bench
        self.model = model
        self.serial_number = serial_number
        self.wavelength_nm = spectral_grid_nm(model)
        self.remote = False
        self.measurements = 0
        self._status = STATUS_NO_MEASUREMENT
        self._spectral_radiance: np.ndarray | None = None
        device._match = self.match

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
        exposure_s = min(6.0, max(0.006, 0.02 / max(total, 1e-12)))
        self.bench.spend(exposure_s + 1.2)
        if total < LOW_LIGHT_RADIANCE_W_SR_M2:
            self._status, self._spectral_radiance = STATUS_LIGHT_TOO_LOW, None
            return
        noise = self.bench.rng.normal(0.0, 1.0, radiance.shape) * (0.002 * radiance + 2e-8)
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
        luminance = photometry.photometric_total(s, wl)
        head = f"{STATUS_OK:05d},1"
        if code == 1:
            x, y = photometry.chromaticity_xy(s, wl)
            return f"{head},{luminance:.4e},{x:.4f},{y:.4f}".encode()
        if code == 2:
            X, Y, Z = (photometry.K_M_LM_PER_W * t for t in photometry.tristimulus(s, wl))
            return f"{head},{X:.4e},{Y:.4e},{Z:.4e}".encode()
        if code == 3:
            u, v = photometry.chromaticity_uv_prime(s, wl)
            return f"{head},{luminance:.4e},{u:.4f},{v:.4f}".encode()
        if code == 4:
            x, y = photometry.chromaticity_xy(s, wl)
            cct = photometry.cct_mccamy_K(x, y)
            cct = cct if 1000 < cct < 25000 and math.isfinite(cct) else 0.0
            return f"{head},{luminance:.4e},{cct:.0f},0.0000".encode()
        lines = [head] + [f"{w:.0f},{v:.4e}" for w, v in zip(wl, s, strict=True)]
        return "\r\n".join(lines).encode()
