"""The one result type both light instruments return."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from station.core import photometry
from station.core.emission_band import TOTAL_SNR, EmissionBand, find_emission_band

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
    (-1: none). ``noise`` is the 1-sigma noise of ``spectral`` per pixel (or one value
    for all), and ``band`` the emission band judged against it
    (:mod:`station.core.emission_band`); every optical figure is integrated over the band.
    ``truncated`` is 0 or the :data:`~station.core.emission_band.SHORT_END` /
    :data:`~station.core.emission_band.LONG_END` bits.
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
    truncated: int = 0  # the emission runs off the instrument's wavelength range (bits: which end)
    instrument: str = ""
    calibration_sha256: str | None = None
    extras: dict[str, float] = field(default_factory=dict)
    noise: NDArray[np.float64] | None = None
    band: EmissionBand | None = None
    #: the band integrals and their variances (``photometry.band_totals``), when assessed
    band_totals: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    #: ``spectral`` is a reference spectrum scaled to a single-channel reading (a photodiode):
    #: not a measured spectrum, so it is not stored per point and gives no colour or shape
    synthetic: bool = False

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
    def recorded_spectrum(self) -> bool:
        """True when the reading carries a measured spectrum worth storing with its point."""
        return self.has_spectrum and not self.synthetic

    @property
    def usable(self) -> bool:
        """True when figures can be computed: dim spectra give noisy but unbiased figures;
        saturated or cut-off spectra, or a radiometer's low-light code, give none."""
        return not (self.saturated or self.truncated) and self._finite[1]


@dataclass(frozen=True)
class Assessment:
    """What :func:`assess` found: pass ``as_fields()`` to :class:`SpectralResult`."""

    band: EmissionBand
    low_light: bool
    truncated: int
    band_totals: tuple[NDArray[np.float64], NDArray[np.float64]] | None

    def as_fields(self) -> dict:
        return {"band": self.band, "low_light": self.low_light, "truncated": self.truncated,
                "band_totals": self.band_totals}


def assess(wavelength_nm: NDArray[np.float64], spectral: NDArray[np.float64],
           noise: NDArray[np.float64]) -> Assessment:
    """Band, low light and truncation of a calibrated spectrum with its noise: low light
    when no band is detected or the band's radiometric total is not significant."""
    band = find_emission_band(wavelength_nm, spectral, noise)
    if not band.detected:
        return Assessment(band, True, 0, None)
    totals, variances = photometry.band_totals(spectral, wavelength_nm, band.pixels, noise)
    total, sigma = float(totals[photometry.TOTAL]), float(np.sqrt(variances[photometry.TOTAL]))
    low_light = not total > TOTAL_SNR * sigma
    return Assessment(band, low_light, 0 if low_light else band.runs_off, (totals, variances))
