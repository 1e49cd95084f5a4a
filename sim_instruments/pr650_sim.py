"""Simulated Photo Research PR-650 (its own remote protocol, serial).

What it answers, as :mod:`drivers.pr650` documents from PsychoPy and Psychtoolbox:
commands in either case ending with LF (CR or CRLF accepted), replies ending with CRLF;
``b1``..``b3`` (backlight) ``000``; ``m0`` measures (adaptive exposure up to 6 s plus
about 3.5 s of processing: slower than the PR-655) and answers ``000``; ``d2``
``qq,0,X,Y,Z`` in fixed-width ``%.3e`` (units code 0: cd/m^2); ``d5`` two header lines
(``qq,0`` and the peak wavelength and integrated radiance, an assumption: neither source
documents them) then ``0380.,v.vvve-ee`` lines every 4 nm to 780 nm; ``d110`` the serial
number. Light too low: quality 18 and no spectral lines. Anything else: ``E`` (an
assumption; the clients never send unknown commands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pyvisa_sim.component import NoResponse

from drivers.pr6xx import SPECTRAL_REPEATABILITY_FRACTION, grid_nm
from drivers.pr650 import SPECTRAL_GRID
from station.core import photometry

from .pr6xx_sim import LOW_LIGHT_RADIANCE_W_SR_M2
from .serial_line import SerialLineInstrument

if TYPE_CHECKING:
    from pyvisa_sim.devices import Device

    from .bench import SimulatedBench

QUALITY_OK = 0
QUALITY_LIGHT_LOW = 18
PROCESSING_S = 3.5
LONGEST_EXPOSURE_S = 6.0


class SimulatedPR650(SerialLineInstrument):
    """Model-backed PR-650 behind a pyvisa-sim serial device."""

    model = "PR-650"

    def __init__(self, device: Device, bench: SimulatedBench, serial_number: str = "60981234") -> None:
        super().__init__(device)
        self.bench = bench
        self.serial_number = serial_number
        self.wavelength_nm = grid_nm(SPECTRAL_GRID)
        self.measurements = 0
        self._quality: int | None = None
        self._spectral_radiance: np.ndarray | None = None
        photometry.grid_weights(self.wavelength_nm)

    def match(self, query: bytes):
        command = query.decode("ascii", errors="replace").strip().lower()
        if command in ("b1", "b2", "b3"):
            return b"000"
        if command == "m0":
            self._measure()
            return b"000"
        if command == "d110":
            return f"{self.serial_number:<8}".encode()
        if command in ("d2", "d5"):
            return self._report(command)
        if not command:
            return NoResponse
        return b"E"

    def _measure(self) -> None:
        self.measurements += 1
        point, _ = self.bench.led.solve(photometry_totals=False)
        radiance = self.bench.led.model.spectral_radiance_W_sr_m2_nm(point, self.wavelength_nm)
        total = photometry.radiometric_total(radiance, self.wavelength_nm)
        exposure_s = min(LONGEST_EXPOSURE_S, max(0.006, 0.02 / max(total, 1e-12)))
        self.bench.spend(exposure_s + PROCESSING_S)
        if total < LOW_LIGHT_RADIANCE_W_SR_M2:
            self._quality, self._spectral_radiance = QUALITY_LIGHT_LOW, None
            return
        noise = self.bench.rng.normal(0.0, 1.0, radiance.shape) * (SPECTRAL_REPEATABILITY_FRACTION * radiance + 2e-8)
        self._quality, self._spectral_radiance = QUALITY_OK, np.clip(radiance + noise, 0.0, None)

    def _report(self, command: str) -> bytes:
        if self._quality is None:
            return b"07,0"  # no measurement held
        if self._quality != QUALITY_OK or self._spectral_radiance is None:
            return f"{self._quality:02d},0".encode()
        wl, s = self.wavelength_nm, self._spectral_radiance
        totals = photometry.spectrum_totals(s, wl)
        if command == "d2":
            big_x, big_y, big_z = (photometry.K_M_LM_PER_W * float(totals[k])
                                   for k in (photometry.X, photometry.Y, photometry.Z))
            return f"00,0,{big_x:.3e},{big_y:.3e},{big_z:.3e}".encode()
        peak = float(wl[int(np.argmax(s))])
        lines = ["00,0", f"{peak:04.0f}.,{float(totals[photometry.TOTAL]):.3e}"]
        lines += [f"{w:04.0f}.,{v:.3e}" for w, v in zip(wl, s, strict=True)]
        return "\r\n".join(lines).encode()
