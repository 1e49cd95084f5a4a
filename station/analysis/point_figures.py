"""Device figures from one source-meter reading and one calibrated spectrum.

Formulas of MEASUREMENTS.md section 3, for both light geometries:

* sphere (spectral flux, W/nm): N_ph = integral Phi lambda/(hc); L = Phi_v / (pi A)
* radiometer (spectral radiance): N_ph = pi A integral L_e lambda/(hc); L = K_m int V L_e

EQE = N_ph / (I/q); CE = L A / I; PE = pi L A / (I V) (Lambertian pixel). All spectral
integrals are taken over the spectrum's emission band only
(:mod:`station.core.emission_band`; :func:`station.core.photometry.band_totals`), with
their 1-sigma uncertainty from the spectrum's per-pixel noise (detector noise only: not
shot noise, not the calibration's uncertainty).

A value no spectrum can give is never passed on unflagged:

* ``luminance_unreliable``: luminance below :data:`LUMINANCE_SNR` sigmas (the sweep's
  luminance figures leave the point out);
* ``chromaticity_unreliable``: luminance below :data:`CHROMATICITY_LUMINANCE_SNR` sigmas,
  a chromaticity outside the spectral locus, or :data:`CHROMATICITY_SIGMAS` sigmas of
  x, y beyond :data:`CHROMATICITY_TOLERANCE` (near-infrared emitters: their colour lies in
  a tail below the detector's dynamic range);
* ``shape_unreliable``: band total below :data:`SHAPE_SNR` sigmas (peak, FWHM, centroid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivers.spectral_result import SPECTRAL_FLUX, SPECTRAL_RADIANCE, SpectralResult
from station.core import photometry
from station.core.units import current_density_mA_cm2

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
    band_start_nm: float
    band_stop_nm: float
    radiance_uncertainty_W_sr_m2: float
    luminance_uncertainty_cd_m2: float
    eqe_uncertainty: float
    cie_xy_uncertainty: float
    luminance_unreliable: int
    chromaticity_unreliable: int
    shape_unreliable: int

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FIGURE_NAMES}


FIGURE_NAMES: tuple[str, ...] = tuple(DeviceFigures.__dataclass_fields__)


#: luminance below this many of its own sigmas is not significant
LUMINANCE_SNR = 3.0
#: colour is reported when CHROMATICITY_SIGMAS of its uncertainty stay within
#: CHROMATICITY_TOLERANCE (the third decimal that CIE coordinates are quoted to) ...
CHROMATICITY_SIGMAS = 3.0
CHROMATICITY_TOLERANCE = 0.001
#: ... and its luminance is at least this many sigmas (first-order propagation holds)
CHROMATICITY_LUMINANCE_SNR = 10.0
#: peak, FWHM and centroid are noise-limited below this band-total signal-to-noise ratio
SHAPE_SNR = 100.0


def device_figures(spectrum: SpectralResult, voltage_V: float, current_A: float,
                   pixel_area_cm2: float) -> DeviceFigures:
    """Figures of merit from a reading; optical figures are NaN for an unusable spectrum."""
    area_m2 = pixel_area_cm2 * 1e-4
    current_density = current_density_mA_cm2(current_A, pixel_area_cm2)
    band = spectrum.band
    if not spectrum.usable or band is None or not band.detected:
        start, stop = (band.start_nm, band.stop_nm) if band is not None and band.detected else (NAN, NAN)
        return DeviceFigures(voltage_V, current_A, current_density, *([NAN] * 15), start, stop, *([NAN] * 4),
                             1, 1, 1)
    if spectrum.quantity == SPECTRAL_FLUX:
        to_pixel = 1.0  # already the pixel's forward flux
    elif spectrum.quantity == SPECTRAL_RADIANCE:
        to_pixel = math.pi * area_m2
    else:
        raise ValueError(f"unknown spectral quantity {spectrum.quantity!r}")
    projected = math.pi * area_m2  # flux -> radiance of a Lambertian pixel
    wl, s = spectrum.wavelength_nm, np.asarray(spectrum.spectral, float)
    totals, variances = spectrum.band_totals or photometry.band_totals(s, wl, band.pixels, spectrum.noise)
    sigma = np.sqrt(variances)
    photons = float(totals[photometry.PHOTONS]) * to_pixel
    radiant = float(totals[photometry.TOTAL]) * to_pixel
    luminous = float(totals[photometry.LUMINOUS]) * to_pixel
    luminance = luminous / projected
    radiance = radiant / projected
    luminance_sigma = float(sigma[photometry.LUMINOUS]) * to_pixel / projected
    positive = current_A > 0
    per_electron = photometry.ELEMENTARY_CHARGE_C / current_A if positive else NAN
    eqe = photons * per_electron
    eqe_sigma = float(sigma[photometry.PHOTONS]) * to_pixel * per_electron
    ce = luminance * area_m2 / current_A if positive else NAN
    pe = luminous / (current_A * voltage_V) if positive and voltage_V > 0 else NAN
    faint = not luminance > LUMINANCE_SNR * luminance_sigma
    if spectrum.synthetic:  # a photodiode: shape and colour are the reference's, not measured
        figures, xy_sigma, doubtful_colour = (NAN,) * 7, NAN, True
    else:
        figures = photometry.spectrum_figures_from_totals(s[band.pixels], wl[band.pixels], totals)
        x, y = figures[3], figures[4]
        xy_sigma = max(photometry.chromaticity_sigma(wl, band.pixels, spectrum.noise, totals))
        doubtful_colour = (not luminance > CHROMATICITY_LUMINANCE_SNR * luminance_sigma
                           or not photometry.inside_spectral_locus(x, y)
                           or not CHROMATICITY_SIGMAS * xy_sigma <= CHROMATICITY_TOLERANCE)
    return DeviceFigures(voltage_V, current_A, current_density, photons, eqe, radiant, luminous, luminance,
                         radiance, ce, pe, *figures, band.start_nm, band.stop_nm,
                         float(sigma[photometry.TOTAL]) * to_pixel / projected, luminance_sigma, eqe_sigma,
                         xy_sigma, int(faint), int(doubtful_colour),
                         int(spectrum.synthetic or not radiant > SHAPE_SNR * float(sigma[photometry.TOTAL]) * to_pixel))
