"""Spectral integrals against closed-form values."""

import math

import numpy as np
import pytest

from station.core import photometry as ph


def gaussian(wl, peak, fwhm, area=1.0):
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    return area * np.exp(-0.5 * ((wl - peak) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def test_narrow_line_at_555nm_has_683_lm_per_W():
    wl = np.arange(500, 610, 0.01)
    flux = gaussian(wl, 555.0, 0.05, area=1e-3)  # 1 mW
    assert ph.photometric_total(flux, wl) == pytest.approx(0.683002, rel=2e-3)


def test_photon_rate_of_a_narrow_line_is_power_over_photon_energy():
    wl = np.arange(600, 700, 0.01)
    flux = gaussian(wl, 650.0, 0.1, area=2e-3)
    expected = 2e-3 / (ph.PLANCK_J_S * ph.SPEED_OF_LIGHT_M_S / 650e-9)
    assert ph.photon_rate(flux, wl) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("peak,fwhm", [(685.0, 31.0), (517.3, 20.0), (778.0, 42.0)])
def test_peak_and_fwhm_of_a_gaussian_on_a_coarse_grid(peak, fwhm):
    wl = np.arange(380, 1000, 4.0)  # PR-655-like sampling
    s = gaussian(wl, peak, fwhm)
    assert ph.peak_wavelength_nm(s, wl) == pytest.approx(peak, abs=0.3)
    assert ph.fwhm_nm(s, wl) == pytest.approx(fwhm, rel=0.02)
    assert ph.centroid_nm(s, wl) == pytest.approx(peak, abs=0.05)


def test_equal_energy_spectrum_is_at_the_white_point():
    wl = np.arange(360, 831, 1.0)
    x, y = ph.chromaticity_xy(np.ones_like(wl), wl)
    assert (x, y) == pytest.approx((1 / 3, 1 / 3), abs=2e-4)


def test_cie_tables_are_zero_outside_their_range_and_follow_the_grid():
    wl = np.array([300.0, 555.0, 900.0])
    t = ph.cie_tables(wl)
    assert t.photopic_v[0] == 0 and t.photopic_v[2] == 0
    assert t.photopic_v[1] == pytest.approx(1.0, abs=1e-4)


def test_fwhm_is_nan_when_the_band_leaves_the_range():
    wl = np.arange(380, 781, 4.0)
    assert math.isnan(ph.fwhm_nm(gaussian(wl, 790.0, 40.0), wl))


def test_mccamy_cct_of_illuminant_a():
    assert ph.cct_mccamy_K(0.44757, 0.40745) == pytest.approx(2856, abs=5)
