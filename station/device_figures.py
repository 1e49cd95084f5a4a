"""Device figures from one source-meter reading and one calibrated spectrum.

Formulas of MEASUREMENTS.md section 3, for both light geometries:

* sphere (spectral flux, W/nm): N_ph = integral Phi lambda/(hc); L = Phi_v / (pi A)
* radiometer (spectral radiance): N_ph = pi A integral L_e lambda/(hc); L = K_m int V L_e

EQE = N_ph / (I/q); CE = L A / I; PE = pi L A / (I V) (Lambertian pixel).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from drivers.spectral_result import SPECTRAL_FLUX, SPECTRAL_RADIANCE, SpectralResult

from . import photometry

NAN = float("nan")


@dataclass(frozen=True)
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
        return asdict(self)


def device_figures(spectrum: SpectralResult, voltage_V: float, current_A: float,
                   pixel_area_cm2: float) -> DeviceFigures:
    """Figures of merit from a reading; optical figures are NaN for an unusable spectrum."""
    area_m2 = pixel_area_cm2 * 1e-4
    current_density = current_A / pixel_area_cm2 * 1e3
    if not spectrum.usable:
        return DeviceFigures(voltage_V, current_A, current_density, *([NAN] * 15))
    wl, s = spectrum.wavelength_nm, spectrum.spectral
    if spectrum.quantity == SPECTRAL_FLUX:
        to_pixel = 1.0  # already the pixel's forward flux
        projected = math.pi * area_m2  # flux -> radiance of a Lambertian pixel
    elif spectrum.quantity == SPECTRAL_RADIANCE:
        to_pixel = math.pi * area_m2
        projected = math.pi * area_m2
    else:
        raise ValueError(f"unknown spectral quantity {spectrum.quantity!r}")
    photons = photometry.photon_rate(s, wl) * to_pixel
    radiant = photometry.radiometric_total(s, wl) * to_pixel
    luminous = photometry.photometric_total(s, wl) * to_pixel
    luminance = luminous / projected
    radiance = radiant / projected
    electrons = current_A / photometry.ELEMENTARY_CHARGE_C
    eqe = photons / electrons if current_A > 0 else NAN
    ce = luminance * area_m2 / current_A if current_A > 0 else NAN
    pe = luminous / (current_A * voltage_V) if current_A > 0 and voltage_V > 0 else NAN
    return DeviceFigures(voltage_V, current_A, current_density, photons, eqe, radiant, luminous,
                         luminance, radiance, ce, pe, **asdict(photometry.spectrum_figures(s, wl)))
