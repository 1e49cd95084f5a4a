"""The one interface every light instrument offers the station.

A sphere spectrometer, a spectroradiometer and (later) a photodiode channel each
implement :class:`LightMeter`; the run engine, the procedures and the data file use
nothing else of them. Only ``station.setup.light_meters`` knows which concrete driver a
configuration names.

Life cycle: open (driver constructor) → :meth:`~LightMeter.prepare` with the source
output off (darks) → :meth:`~LightMeter.describe` (what goes into the run file) →
:meth:`~LightMeter.measure` any number of times → :meth:`~LightMeter.close`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from .spectral_result import SpectralResult


@dataclass(frozen=True)
class SpectrumAxis:
    """What every spectrum of this instrument looks like (known before the first reading)."""

    wavelength_nm: NDArray[np.float64]
    quantity: str  # "spectral_flux" (W/nm) or "spectral_radiance" (W/(sr m^2 nm))
    units: str
    raw_units: str  # the instrument's native data: "counts", or the radiometer's own radiance
    #: how spectra are stored: float32 holds a spectrometer's counts exactly; a radiometer's
    #: figures are computed from its float64 numbers, which float32 would round (2e-8)
    stored_dtype: str = "f4"


@dataclass(frozen=True)
class DarkLibrary:
    """Dark spectra recorded with the output off, one per integration time.

    A reading's ``dark_index`` is the row of ``spectra`` it subtracted.
    """

    integration_time_s: NDArray[np.float64]
    spectra: NDArray[np.float64]  # [times, pixels]
    units: str = "counts"


@dataclass(frozen=True)
class LightDescription:
    """Everything about the light instrument that a run file records."""

    identity: str
    axis: SpectrumAxis
    darks: DarkLibrary | None = None
    #: calibration in force: scalars (path, sha256, source ...) and arrays (wavelength_nm, responsivity)
    calibration: dict[str, Any] = field(default_factory=dict)
    calibration_units: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class LightMeter(Protocol):
    """What the station needs from a light instrument."""

    @property
    def identity(self) -> str:
        """Model and serial number."""

    @property
    def measure_timeout_s(self) -> float:
        """Longest one :meth:`measure` takes on a working instrument; the station gives up
        (and switches the output off) after this long."""

    def prepare(self) -> None:
        """Everything needed before readings, e.g. dark spectra. The source output is off."""

    def describe(self) -> LightDescription:
        """Axis, darks and calibration, for the run file (after :meth:`prepare`)."""

    def measure(self, drive_mA_cm2: float = float("nan")) -> SpectralResult:
        """One calibrated reading, with its noise, its emission band (``spectral_result.assess``),
        its flags and the dark row it used. ``drive_mA_cm2`` is the point's current density:
        an instrument that measures a spectrum ignores it; a photodiode chooses its spectral
        weighting by it."""

    def close(self) -> None:
        """Release the instrument."""
