"""The kinds of light instrument a station may have: ``[light] geometry`` names one.

Each kind says, before anything is opened, what the configuration needs to know of it:
the table that holds its instrument (and so its address), whether that address is a VISA
resource, how many spectrum points a reading stores (the free-space check), the band it
measures (a device emitting outside it is refused), the files it reads, its own checks;
and how it is opened (a function named by a fixed import path: code, never data).

Adding a light instrument is its driver, one opening function and one line in
:data:`LIGHT_KINDS` (``docs/adding-an-instrument.md`` is the worked example).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.radiometers import RADIOMETER_MODELS

if TYPE_CHECKING:
    from drivers.light_meter import LightMeter

    from .config import StationConfig

#: an address (or calibration) that names the simulated bench's instrument
SIMULATED = "sim"
#: the most pixels a supported spectrometer has (Ocean Optics USB4000: 3840)
LARGEST_SPECTROMETER_PIXELS = 3840


def _nothing(config: StationConfig, check_files: bool) -> None:
    """No check of a kind's own beyond its table's declared types."""


def _no_files(config: StationConfig) -> list[tuple[str, Path]]:
    return []


@dataclass(frozen=True)
class LightKind:
    """One kind of light instrument, as the configuration knows it."""

    geometry: str  # what [light] geometry says
    table: str  # the configuration table of its instrument ("" for none)
    opener: str  # "module:function(config, bench) -> LightMeter"
    #: its address is a VISA resource name (else a serial number or the like)
    visa: bool = True
    #: spectrum points one reading stores, at most (the free-space check)
    spectrum_points: Callable[[StationConfig], int] = lambda config: 0
    #: (low, high nm, what) it measures; None: it sees any band (a photodiode)
    band_nm: Callable[[StationConfig], tuple[float, float, str]] | None = None
    #: (what, path) of the files it makes a command read
    files: Callable[[StationConfig], list[tuple[str, Path]]] = _no_files
    #: its own checks before anything opens (``check_files``: its calibration files load too)
    check: Callable[[StationConfig, bool], None] = _nothing
    #: a new kind's table, declared as a dataclass with an ``address`` (msgspec converts it;
    #: ``config.table(name)`` gives it); None for the built-in tables of StationConfig
    table_type: type | None = None

    def address(self, config: StationConfig) -> str:
        return config.table(self.table).address if self.table else ""

    def open(self, config: StationConfig, bench: Any | None) -> LightMeter:
        module, _, name = self.opener.partition(":")
        return getattr(importlib.import_module(module), name)(config, bench)


# --- the sphere spectrometer -------------------------------------------------------------
def _sphere_points(config: StationConfig) -> int:
    if config.spectrometer.address == SIMULATED:
        from sim_instruments.spectrometer_models import SPECTROMETER_MODELS

        return SPECTROMETER_MODELS[config.spectrometer.model].pixels
    return LARGEST_SPECTROMETER_PIXELS


def _sphere_band(config: StationConfig) -> tuple[float, float, str]:
    low, high = config.spectrometer.wavelength_range_nm
    return low, high, "[spectrometer] wavelength_range_nm"


def _sphere_files(config: StationConfig) -> list[tuple[str, Path]]:
    if config.spectrometer.calibration_file == SIMULATED:
        return []
    return [("[spectrometer] calibration_file", config.resolved_calibration_path())]


def _sphere_check(config: StationConfig, check_files: bool) -> None:
    from .config import check_sphere

    check_sphere(config, check_files)


# --- the spectroradiometer ---------------------------------------------------------------
def _radiometer_points(config: StationConfig) -> int:
    first, last, step = RADIOMETER_MODELS[config.radiometer.model].grid_nm
    return 2 * ((last - first) // step + 1)  # stored as float64: twice a float32 spectrum


def _radiometer_band(config: StationConfig) -> tuple[float, float, str]:
    model = config.radiometer.model
    low, high = RADIOMETER_MODELS[model].range_nm
    return low, high, f"[radiometer] the {model}"


# --- the calibrated photodiode -----------------------------------------------------------
def _photodiode_files(config: StationConfig) -> list[tuple[str, Path]]:
    from .config import photodiode_files

    return photodiode_files(config)


def _photodiode_check(config: StationConfig, check_files: bool) -> None:
    from .config import check_photodiode

    check_photodiode(config, check_files)


LIGHT_KINDS: dict[str, LightKind] = {
    "sphere": LightKind("sphere", "spectrometer", "station.setup.light_meters:open_sphere", visa=False,
                        spectrum_points=_sphere_points, band_nm=_sphere_band, files=_sphere_files,
                        check=_sphere_check),
    "radiometer": LightKind("radiometer", "radiometer", "station.setup.light_meters:open_radiometer",
                            spectrum_points=_radiometer_points, band_nm=_radiometer_band),
    "photodiode": LightKind("photodiode", "photodiode", "station.setup.light_meters:open_photodiode",
                            files=_photodiode_files, check=_photodiode_check),
    "none": LightKind("none", "", ""),
}
