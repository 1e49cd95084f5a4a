"""Photo Research PR-650 SpectraScan over its serial remote protocol.

The PR-650 predates the PR-655/670 command set and differs from it throughout. Sources,
and where they disagree:

* Framing: 9600 baud 8N1; commands are lower case and end with LF (Psychtoolbox
  ``PR650init.m`` / ``PR650rawspd.m`` send ``['m0' char(10)]``; PsychoPy's ``PR650``
  appends ``'\\n'``). Replies end with CRLF (PsychoPy's ``'000\\r\\n'``).
* Remote mode: there is no ``PHOTO``; the meter answers commands sent within a few
  seconds of being switched on (PsychoPy's note on ``PR650``). The station sends
  ``b3`` (backlight, Psychtoolbox ``PR650init``) and expects the ``000`` reply PsychoPy
  checks for.
* ``m0`` measures and holds the data; it answers ``000`` when the measurement is done
  (PsychoPy ``PR650.measure``). The measurement is slow: PsychoPy and Psychtoolbox wait
  up to 30 s for it.
* ``d2``: ``qq,U,X........,Y........,Z........`` with fixed-width fields (Psychtoolbox
  ``PR650measxyz.m`` reads the quality code from characters 1-2, the units code from
  character 4 and X, Y, Z from 6-14, 16-24, 26-34; PsychoPy takes Y as the fourth
  comma-separated field). Units code 0 is cd/m^2 here (Psychtoolbox refuses anything
  else): the opposite of the PR-655/670's D-report code, where 1 is metric.
* ``d5``: two header lines (PsychoPy skips two) then 101 lines ``0380.,1.234e-03``
  from 380 to 780 nm every 4 nm, 17 characters with CRLF (Psychtoolbox
  ``PR650parsespdstr.m`` finds ``'0380.'`` and reads every 17th character; it multiplies
  by 4 to get power per 4-nm band, so the values are per nm: W/(sr m^2 nm)). The
  header's content is documented by neither: the station reads the quality code from
  the first field of the first line and nothing else.
* ``d110``: the serial number in the first 8 characters (Psychtoolbox
  ``PR650getserialnumber.m``).
* Quality codes: PsychoPy treats 10 and 18 as "light low"; Psychtoolbox treats 10 as
  low light but reads the data of 18 as valid, and 7/8 as a sync failure. The station
  takes the cautious reading: 10 and 18 give a flagged result without numbers.
"""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument

from station.core import photometry
from station.core.errors import InstrumentError

from .pr6xx import FOOTLAMBERT_TO_CD_M2, FactoryCalibratedRadiometer, grid_nm, parse_spectral_line, radiance_result
from .spectral_result import SpectralResult

MODEL = "PR-650"
#: (first nm, last nm, step nm) of the d5 report
SPECTRAL_GRID = (380, 780, 4)
HEADER_LINES = 2
LOW_LIGHT_CODES = {10, 18}
QUALITY_MESSAGES = {0: "OK", 7: "sync failed (no sync signal)", 8: "sync failed (signal too low)",
                    10: "light low", 18: "light low"}
#: a measurement can take this long on a dim source (both clients wait up to 30 s)
LONGEST_MEASUREMENT_S = 30.0


class PR650(FactoryCalibratedRadiometer, Instrument):
    """PR-650 in remote mode; a :class:`~drivers.light_meter.LightMeter`."""

    def __init__(self, adapter, name: str = "Photo Research PR-650", timeout_s: float = 60.0,
                 model: str | None = MODEL, **kwargs) -> None:
        kwargs.setdefault("read_termination", "\r\n")
        kwargs.setdefault("write_termination", "\n")
        kwargs.setdefault("asrl", {"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, timeout=int(timeout_s * 1000), **kwargs)
        if model not in (None, MODEL):
            raise InstrumentError(f"{name}: this driver drives the {MODEL}, not the {model}")
        self.timeout_s = timeout_s
        self.model = MODEL
        self.serial_number = ""

    def enter_remote(self) -> None:
        """Send ``b3`` and check the ``000`` reply; read the serial number."""
        reply = self.ask("b3").strip()
        if reply != "000":
            raise InstrumentError(f"{self.name}: unexpected reply to b3: {reply[:40]!r} (is it a PR-650, switched "
                                  "on within the last few seconds?)")
        self.serial_number = self.ask("d110")[:8].strip()
        photometry.grid_weights(self.wavelength_nm)

    # --- LightMeter (identity, prepare, describe, close: FactoryCalibratedRadiometer; the PR-650
    # has no command to leave remote mode, so closing releases the port only) ---------------
    @property
    def measure_timeout_s(self) -> float:
        return LONGEST_MEASUREMENT_S + 2 * self.timeout_s + 5.0

    @property
    def wavelength_nm(self) -> np.ndarray:
        return grid_nm(SPECTRAL_GRID)

    def measure(self, drive_mA_cm2: float = float("nan")) -> SpectralResult:
        """``m0`` then ``d5`` (spectrum) and ``d2`` (the meter's own X, Y, Z)."""
        done = self.ask("m0").strip()
        if not done.isdigit() or int(done) != 0:
            raise InstrumentError(f"{self.name}: m0 failed: {done[:40]!r}")
        self.write("d5")
        header = self.read()
        quality = _quality(header, self.name)
        wl = self.wavelength_nm
        if quality in LOW_LIGHT_CODES:
            return radiance_result(wl, None, self.identity)
        if quality != 0:
            raise InstrumentError(f"{self.name}: d5 quality code {quality:02d} "
                                  f"({QUALITY_MESSAGES.get(quality, 'instrument error')})")
        for _ in range(HEADER_LINES - 1):
            self.read()
        values = np.array([parse_spectral_line(self.read(), float(nm), self.name) for nm in wl])
        return radiance_result(wl, values, self.identity, parse_d2(self.ask("d2")))


def _quality(line: str, name: str) -> int:
    field = line.strip().split(",")[0]
    try:
        return int(field)
    except ValueError:
        raise InstrumentError(f"{name}: reply without a quality code: {line[:60]!r}") from None


def parse_d2(reply: str) -> dict[str, float]:
    """The meter's own X, Y, Z (cd/m^2) from a d2 reply; {} when it has none (a cross-check only)."""
    fields = [f.strip() for f in reply.strip().split(",")]
    if len(fields) < 5 or not fields[0].isdigit() or int(fields[0]) != 0:
        return {}
    try:
        big_x, big_y, big_z = (float(f) for f in fields[2:5])
    except ValueError:
        return {}
    scale = 1.0 if fields[1] == "0" else FOOTLAMBERT_TO_CD_M2
    big_x, big_y, big_z = big_x * scale, big_y * scale, big_z * scale
    x, y = photometry.xy_from_tristimulus(big_x, big_y, big_z)
    return {"instrument_luminance_cd_m2": big_y, "instrument_cie_x": x, "instrument_cie_y": y,
            "instrument_X": big_x, "instrument_Y": big_y, "instrument_Z": big_z}
