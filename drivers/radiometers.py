"""Which driver and which wavelength range each supported spectroradiometer model has.

The grids themselves live in each model's driver; this table only gathers them so the
configuration can check a model (and a device's emission against its range) before any
instrument is opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pr6xx, pr7xx, pr650


@dataclass(frozen=True)
class RadiometerModel:
    name: str
    driver: type
    grid_nm: tuple[int, int, int]  # first, last, step

    @property
    def range_nm(self) -> tuple[float, float]:
        return float(self.grid_nm[0]), float(self.grid_nm[1])

    def wavelength_nm(self) -> np.ndarray:
        return pr6xx.grid_nm(self.grid_nm)


RADIOMETER_MODELS: dict[str, RadiometerModel] = {
    pr650.MODEL: RadiometerModel(pr650.MODEL, pr650.PR650, pr650.SPECTRAL_GRID),
    **{m: RadiometerModel(m, pr6xx.PR6xx, g) for m, g in pr6xx.SPECTRAL_GRIDS.items()},
    **{m: RadiometerModel(m, pr7xx.PR7xx, g) for m, g in pr7xx.SPECTRAL_GRIDS.items()},
}
