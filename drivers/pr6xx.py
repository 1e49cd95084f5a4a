"""Photo Research PR-655 / PR-670 spectroradiometer over its serial remote protocol.

A :class:`~drivers.light_meter.LightMeter` (factory calibrated: nothing to prepare).
The models' spectral grids (:data:`SPECTRAL_GRIDS`) live here and nowhere else; the
PR-7xx family (:mod:`.pr7xx`) shares this command set with its own grids, the PR-650
(:mod:`.pr650`) has a protocol of its own.

Sources of the protocol: ``PHOTO`` / ``Q``, ``M5`` and ``D1``..``D5``, ``D110``
(serial) and ``D111`` (model) as PsychoPy's ``PR655`` class (psychopy/hardware/pr.py)
and Psychtoolbox's PR655 toolbox send and parse them; the D5 line format and status
codes as issue 7 of this project records them from the instrument.
"""

from __future__ import annotations

import numpy as np
from pymeasure.instruments import Instrument

from station.core import photometry
from station.core.emission_band import noise_floor
from station.core.errors import InstrumentError

from .light_meter import LightDescription, SpectrumAxis
from .spectral_result import SPECTRAL_RADIANCE, UNITS, SpectralResult, assess

#: model -> (first nm, last nm, step nm) of the D5 spectral report
SPECTRAL_GRIDS = {"PR-655": (380, 780, 4), "PR-670": (380, 780, 2)}


def grid_nm(grid: tuple[int, int, int]) -> np.ndarray:
    """The wavelengths of a spectral report grid (first nm, last nm, step nm)."""
    first, last, step = grid
    return np.arange(first, last + step / 2, step, dtype=float)
STATUS_MESSAGES = {
    0: "OK",
    1: "unknown command",
    7: "no measurement taken yet",
    10: "light too low for a photometric reading",
    18: "light too low for a measurement",
    19: "light source too bright (over range)",
}
LOW_LIGHT_CODES = {10, 18}
#: per-sample repeatability of a reported spectral radiance (fraction, 1 sigma): the
#: instrument reports no noise, so the station's uncertainties combine this with the noise
#: floor estimated from the spectrum. Assumed, not from a datasheet (the simulated PR-6xx
#: uses the same figure): set it from your instrument's repeatability.
SPECTRAL_REPEATABILITY_FRACTION = 0.002
FOOTLAMBERT_TO_CD_M2 = 3.4262590996


class FactoryCalibratedRadiometer:
    """The :class:`~drivers.light_meter.LightMeter` parts every Photo Research driver shares
    (the driver provides ``model``, ``serial_number``, ``wavelength_nm``, ``shutdown``)."""

    model: str
    serial_number: str
    wavelength_nm: np.ndarray

    @property
    def identity(self) -> str:
        return f"{self.model} {self.serial_number}".strip()

    def prepare(self) -> None:
        """Nothing: the instrument is factory calibrated and handles its own dark."""

    def describe(self) -> LightDescription:
        return radiometer_description(self.identity, self.wavelength_nm, self.model)

    def close(self) -> None:
        """``shutdown`` (leaving remote mode where the model has a command for it), then release the port."""
        try:
            self.shutdown()  # type: ignore[attr-defined]
        finally:
            self.adapter.close()  # type: ignore[attr-defined]


class PR6xx(FactoryCalibratedRadiometer, Instrument):
    """PR-655/670 in remote mode. Measurements may take tens of seconds on dim devices.

    ``model``: the model the configuration names; the instrument's own (``D111``) must
    match it. ``GRIDS``: the spectral grids of the models this class drives.
    """

    GRIDS: dict[str, tuple[int, int, int]] = SPECTRAL_GRIDS

    def __init__(self, adapter, name: str = "Photo Research PR-655/670", timeout_s: float = 60.0,
                 model: str | None = None, **kwargs) -> None:
        kwargs.setdefault("read_termination", "\r\n")
        kwargs.setdefault("write_termination", "\r")
        kwargs.setdefault("asrl", {"baud_rate": 9600})
        super().__init__(adapter, name, includeSCPI=False, timeout=int(timeout_s * 1000), **kwargs)
        self.timeout_s = timeout_s
        self.expected_model = model
        self.model = ""
        self.serial_number = ""

    def enter_remote(self) -> None:
        """Send ``PHOTO`` and read the instrument's acknowledgement; then identify it."""
        reply = self.ask("PHOTO").strip()
        if "REMOTE" not in reply.upper():
            raise InstrumentError(f"{self.name}: unexpected reply to PHOTO: {reply!r}")
        self.model = self._report_field("D111")
        self.serial_number = self._report_field("D110")
        if self.model not in self.GRIDS:
            raise InstrumentError(f"{self.name}: unsupported model {self.model!r} (this driver: "
                                  f"{', '.join(self.GRIDS)})")
        if self.expected_model is not None and self.model != self.expected_model:
            raise InstrumentError(f"{self.name}: the instrument is a {self.model}, the configuration says "
                                  f"{self.expected_model}")
        photometry.grid_weights(self.wavelength_nm)  # the colour tables on this grid, before any reading

    def leave_remote(self) -> None:
        self.write("Q")

    def shutdown(self) -> None:
        try:
            self.leave_remote()
        finally:
            super().shutdown()

    # --- LightMeter -----------------------------------------------------------------
    @property
    def measure_timeout_s(self) -> float:
        """A measurement is a few commands, each bounded by the VISA time-out."""
        return 3 * self.timeout_s + 5.0

    @property
    def wavelength_nm(self) -> np.ndarray:
        return grid_nm(self.GRIDS[self.model])

    def _report_field(self, command: str) -> str:
        code, fields = _split_status(self.ask(command))
        _raise_for_status(code, command, self.name)
        return fields[-1].strip() if fields else ""

    def measure(self, drive_mA_cm2: float = float("nan")) -> SpectralResult:
        """Measure and return the spectral radiance (``M5``); low light gives a flagged result."""
        header = self.ask("M5")
        code, fields = _split_status(header)
        wl = self.wavelength_nm
        if code in LOW_LIGHT_CODES:
            return radiance_result(wl, None, self.identity)
        _raise_for_status(code, "M5", self.name)
        values = np.array([parse_spectral_line(self.read(), float(nm), self.name) for nm in wl])
        return radiance_result(wl, values, self.identity, self._instrument_photometry())

    def _instrument_photometry(self) -> dict[str, float]:
        """The instrument's own luminance and (x, y) (D1) and tristimulus X, Y, Z (D2) of
        the last measurement: an independent cross-check stored next to the station's."""
        return {**parse_photometry(self.ask("D1")), **parse_tristimulus(self.ask("D2"))}


def radiometer_description(identity: str, wavelength_nm: np.ndarray, model: str) -> LightDescription:
    """What a factory-calibrated spectroradiometer records in the run file."""
    units = UNITS[SPECTRAL_RADIANCE]
    return LightDescription(identity, SpectrumAxis(wavelength_nm, SPECTRAL_RADIANCE, units, units, "f8"),
                            calibration={"source": f"{model} factory calibration"})


def radiance_result(wavelength_nm: np.ndarray, values: np.ndarray | None, identity: str,
                    extras: dict[str, float] | None = None) -> SpectralResult:
    """A spectroradiometer's reading: ``values`` None (a light-too-low code) gives a flagged
    result without numbers; otherwise the spectral radiance with its noise (reported by no
    model: estimated from the spectrum and :data:`SPECTRAL_REPEATABILITY_FRACTION`) and band."""
    wl, units = wavelength_nm, UNITS[SPECTRAL_RADIANCE]
    if values is None:
        nan = np.full(wl.shape, np.nan)
        return SpectralResult(wl, nan, SPECTRAL_RADIANCE, nan, units, float("nan"), low_light=True,
                              instrument=identity)
    noise = np.hypot(noise_floor(values), SPECTRAL_REPEATABILITY_FRACTION * values)
    return SpectralResult(wl, values, SPECTRAL_RADIANCE, values.copy(), units, float("nan"), instrument=identity,
                          extras=extras or {}, noise=noise, **assess(wl, values, noise).as_fields())


def _split_status(reply: str) -> tuple[int, list[str]]:
    parts = reply.strip().split(",")
    try:
        code = int(parts[0])
    except ValueError:
        raise InstrumentError(f"PR-6xx: reply without a status code: {reply[:80]!r}") from None
    return code, parts[1:]


def parse_spectral_line(line: str, expected_nm: float, name: str = "PR-6xx") -> float:
    """The value of one ``nm,value`` line of an M5 report at ``expected_nm``."""
    line = line.strip()
    nm_text, _, value_text = line.partition(",")
    try:
        nm, value = float(nm_text), float(value_text)
    except ValueError:
        raise InstrumentError(f"{name}: malformed spectral line {line[:80]!r}") from None
    if not (np.isfinite(nm) and np.isfinite(value)):
        raise InstrumentError(f"{name}: spectral line with a value that is not a number: {line[:80]!r}")
    if abs(nm - expected_nm) > 0.5:
        raise InstrumentError(f"{name}: expected {expected_nm:g} nm, got line {line[:80]!r}")
    return value


def _three_values(reply: str) -> tuple[bool, list[float]] | None:
    """(in English units, the three numbers) of a D1/D2 reply ``qqqqq,U,a,b,c``; None if it
    has none or a garbled one (a cross-check only: left out, never fatal)."""
    code, fields = _split_status(reply)
    if code != 0 or len(fields) < 4:
        return None
    try:
        values = [float(f) for f in fields[1:4]]
    except ValueError:
        return None
    return fields[0].strip() == "0", values


def parse_photometry(reply: str) -> dict[str, float]:
    """The instrument's own luminance and (x, y) from a D1 reply; {} if it has none."""
    parsed = _three_values(reply)
    if parsed is None:
        return {}
    english, (luminance, x, y) = parsed
    if english:
        luminance *= FOOTLAMBERT_TO_CD_M2
    return {"instrument_luminance_cd_m2": luminance, "instrument_cie_x": x, "instrument_cie_y": y}


def parse_tristimulus(reply: str) -> dict[str, float]:
    """The instrument's own CIE 1931 X, Y, Z from a D2 reply (cd/m^2 scale); {} if none."""
    parsed = _three_values(reply)
    if parsed is None:
        return {}
    english, values = parsed
    scale = FOOTLAMBERT_TO_CD_M2 if english else 1.0
    return {name: value * scale for name, value in zip(("instrument_X", "instrument_Y", "instrument_Z"), values,
                                                       strict=True)}


def _raise_for_status(code: int, command: str, name: str) -> None:
    if code != 0:
        message = STATUS_MESSAGES.get(code, "instrument error")
        raise InstrumentError(f"{name}: {command} failed with code {code:05d} ({message})")
