"""Simulated spectral-flux calibration lamp and its certificate.

A quartz-tungsten-halogen standard behaves close to a grey body at its colour
temperature; the simulated lamp is a Planck spectrum at 2856 K (CIE illuminant A
temperature) scaled to a fixed spectral flux at 700 nm. Its certificate is written at
2 nm steps, as a calibration laboratory would supply it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from station.core.photometry import PLANCK_J_S, SPEED_OF_LIGHT_M_S

BOLTZMANN_J_K = 1.380649e-23
CERTIFICATE_PATH = Path(__file__).with_name("data") / "sim_lamp_certificate.csv"


class SimulatedCalibrationLamp:
    """Grey-body lamp with a known total spectral flux into the sphere."""

    def __init__(self, temperature_K: float = 2856.0, flux_at_700nm_W_nm: float = 2.0e-6) -> None:
        self.temperature_K = temperature_K
        self._scale = flux_at_700nm_W_nm / self._planck(np.array([700.0]))[0]

    def _planck(self, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        wl_m = wavelength_nm * 1e-9
        exponent = PLANCK_J_S * SPEED_OF_LIGHT_M_S / (wl_m * BOLTZMANN_J_K * self.temperature_K)
        return 1.0 / (wl_m**5 * np.expm1(exponent))

    def spectral_flux_W_nm(self, wavelength_nm: ArrayLike) -> NDArray[np.float64]:
        return self._scale * self._planck(np.asarray(wavelength_nm, float))

    def write_certificate(self, path: Path, first_nm: float = 300.0, last_nm: float = 1100.0,
                          step_nm: float = 2.0) -> None:
        """Write the lamp's certified spectral flux (W/nm) as CSV."""
        wl = np.arange(first_nm, last_nm + step_nm / 2, step_nm)
        with open(path, "w", newline="") as f:
            f.write(f"# simulated QTH lamp certificate: grey body {self.temperature_K:g} K\n")
            f.write("# units: W/nm (total spectral flux into the sphere)\n")
            writer = csv.writer(f)
            writer.writerow(["wavelength_nm", "spectral_flux_W_nm"])
            for w, v in zip(wl, self.spectral_flux_W_nm(wl), strict=True):
                writer.writerow([f"{w:.1f}", f"{v:.6e}"])
SIM_CALIBRATION_PATH = Path(__file__).with_name("data") / "sim_sphere_calibration.csv"


def sim_calibration_path(model: str = "generic") -> Path:
    """The shipped responsivity calibration of a simulated spectrometer model (made with
    ``ledstation calibrate-sphere`` against the simulated lamp)."""
    if model == "generic":
        return SIM_CALIBRATION_PATH
    return SIM_CALIBRATION_PATH.with_name(f"sim_sphere_calibration_{model}.csv")
