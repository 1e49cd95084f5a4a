"""Device figures from one source-meter reading and one calibrated spectrum.

Formulas of MEASUREMENTS.md section 3, for both light geometries:

* sphere (spectral flux, W/nm): N_ph = integral Phi lambda/(hc); L = Phi_v / (pi A)
* radiometer (spectral radiance): N_ph = pi A integral L_e lambda/(hc); L = K_m int V L_e

EQE = N_ph / (I/q); CE = L A / I; PE = pi L A / (I V) (Lambertian pixel). All spectral
integrals come from one product with the grid's weight matrix
(:func:`station.core.photometry.spectrum_totals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivers.spectral_result import SPECTRAL_FLUX, SPECTRAL_RADIANCE, SpectralResult
from station.core import photometry

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class DeviceFigures:
    """Electrical and optical figures of one operating point (units in the names)."""

    voltage_V: float
    current_A: float
    current_density_mA_cm2: float
    photon_rate_per_s: float
    eqe: float
    radiant_flux_W: float
    luminous_flux_lm: float
    luminance_cd_m2: float
    radiance_W_sr_m2: float
    current_efficiency_cd_A: float
    power_efficiency_lm_W: float
    peak_wavelength_nm: float
    fwhm_nm: float
    centroid_nm: float
    cie_x: float
    cie_y: float
    cie_u_prime: float
    cie_v_prime: float

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FIGURE_NAMES}


FIGURE_NAMES: tuple[str, ...] = tuple(DeviceFigures.__dataclass_fields__)


def device_figures(spectrum: SpectralResult, voltage_V: float, current_A: float,
                   pixel_area_cm2: float) -> DeviceFigures:
    """Figures of merit from a reading; optical figures are NaN for an unusable spectrum."""
    area_m2 = pixel_area_cm2 * 1e-4
    current_density = current_A / pixel_area_cm2 * 1e3
    if not spectrum.usable:
        return DeviceFigures(voltage_V, current_A, current_density, *([NAN] * 15))
    if spectrum.quantity == SPECTRAL_FLUX:
        to_pixel = 1.0  # already the pixel's forward flux
    elif spectrum.quantity == SPECTRAL_RADIANCE:
        to_pixel = math.pi * area_m2
    else:
        raise ValueError(f"unknown spectral quantity {spectrum.quantity!r}")
    projected = math.pi * area_m2  # flux -> radiance of a Lambertian pixel
    wl, s = spectrum.wavelength_nm, np.asarray(spectrum.spectral, float)
    totals = photometry.spectrum_totals(s, wl)
    photons = float(totals[photometry.PHOTONS]) * to_pixel
    radiant = float(totals[photometry.TOTAL]) * to_pixel
    luminous = float(totals[photometry.LUMINOUS]) * to_pixel
    luminance = luminous / projected
    radiance = radiant / projected
    positive = current_A > 0
    eqe = photons / (current_A / photometry.ELEMENTARY_CHARGE_C) if positive else NAN
    ce = luminance * area_m2 / current_A if positive else NAN
    pe = luminous / (current_A * voltage_V) if positive and voltage_V > 0 else NAN
    return DeviceFigures(voltage_V, current_A, current_density, photons, eqe, radiant, luminous, luminance,
                         radiance, ce, pe, *photometry.spectrum_figures_from_totals(s, wl, totals))
