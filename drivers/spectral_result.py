"""The one result type both light instruments return."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

SPECTRAL_FLUX = "spectral_flux"
SPECTRAL_RADIANCE = "spectral_radiance"
UNITS = {SPECTRAL_FLUX: "W/nm", SPECTRAL_RADIANCE: "W/(sr m^2 nm)"}


@dataclass(frozen=True)
class SpectralResult:
    """A calibrated spectrum with the raw data behind it.

    ``spectral`` is spectral flux (sphere, W/nm) or spectral radiance (radiometer,
    W/(sr m^2 nm)), as ``quantity`` says. ``raw`` is the instrument's native data
    (counts for the sphere spectrometer; the radiometer's own spectral radiance), and
    ``dark`` the dark spectrum subtracted (None where the instrument handles dark) and
    ``dark_index`` its row in the instrument's :class:`~drivers.light_meter.DarkLibrary`
    (-1: none).
    """

    wavelength_nm: NDArray[np.float64]
    spectral: NDArray[np.float64]
    quantity: str
    raw: NDArray[np.float64]
    raw_units: str
    integration_time_s: float
    dark: NDArray[np.float64] | None = None
    dark_index: int = -1
    saturated: bool = False
    low_light: bool = False
    truncated: bool = False  # the emission runs off the instrument's wavelength range
    instrument: str = ""
    calibration_sha256: str | None = None
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def units(self) -> str:
        return UNITS[self.quantity]

    @property
    def valid(self) -> bool:
        """True when the spectrum is fit for every figure (not saturated, cut off or dim)."""
        return self.usable and not self.low_light

    @cached_property
    def _finite(self) -> tuple[bool, bool]:
        """(any, all) of the spectrum's values finite; computed once."""
        finite = np.isfinite(self.spectral)
        return bool(finite.any()), bool(finite.all())

    @property
    def has_spectrum(self) -> bool:
        """False when the instrument returned no numbers (e.g. a radiometer's low-light code)."""
        return self._finite[0]

    @property
    def usable(self) -> bool:
        """True when figures can be computed: dim spectra give noisy but unbiased figures;
        saturated or cut-off spectra, or a radiometer's low-light code, give none."""
        return not (self.saturated or self.truncated) and self._finite[1]


#: a spectrum whose first or last sample exceeds this fraction of its maximum is cut off
TRUNCATION_FRACTION = 0.05


def runs_off_range(spectral: NDArray[np.float64]) -> bool:
    """True when the emission is still strong at either end of the measured range."""
    s = np.asarray(spectral, float)
    peak = np.nanmax(s) if s.size else np.nan
    if not peak > 0:
        return False
    edge = max(np.nanmean(s[:3]), np.nanmean(s[-3:]))
    return bool(edge > TRUNCATION_FRACTION * peak)
