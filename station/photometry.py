"""Spectral integrals and spectrum figures (MEASUREMENTS.md sections 2 and 3).

All integrals use the trapezoid rule over wavelength in nm on the instrument's own grid.
The CIE tables (1924 photopic V(lambda), 1931 2-degree colour matching functions) come
from the ``colour-science`` package and are interpolated onto the instrument grid,
never the other way round. Outside the tables' 360-830 nm range they are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299792458.0
ELEMENTARY_CHARGE_C = 1.602176634e-19
K_M_LM_PER_W = 683.002

FloatArray = NDArray[np.float64]


@lru_cache(maxsize=1)
def _cie_source_tables() -> tuple[FloatArray, FloatArray, FloatArray]:
    """(wavelength_nm, V(lambda), xyz-bar[3, n]) from colour-science, on its 1 nm grid."""
    import colour  # imported lazily: it takes about a second

    cmfs = colour.colorimetry.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    photopic = colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]
    wl = np.asarray(cmfs.wavelengths, dtype=float)
    v = np.asarray(photopic[wl], dtype=float)
    xyz = np.asarray(cmfs.values, dtype=float).T
    return wl, v, xyz


@dataclass(frozen=True)
class CIETables:
    """CIE functions sampled on one instrument grid."""

    wavelength_nm: FloatArray
    photopic_v: FloatArray
    xbar: FloatArray
    ybar: FloatArray
    zbar: FloatArray
    xyz: FloatArray  # the three stacked [3, n]


_grid_cache: dict[bytes, CIETables] = {}


def cie_tables(wavelength_nm: ArrayLike) -> CIETables:
    """CIE tables linearly interpolated onto ``wavelength_nm`` (cached per grid)."""
    wl = np.ascontiguousarray(wavelength_nm, dtype=float)
    key = wl.tobytes()
    cached = _grid_cache.get(key)
    if cached is not None:
        return cached
    src_wl, v, xyz = _cie_source_tables()

    def on_grid(y: FloatArray) -> FloatArray:
        return np.interp(wl, src_wl, y, left=0.0, right=0.0)

    bars = [on_grid(xyz[0]), on_grid(xyz[1]), on_grid(xyz[2])]
    tables = CIETables(wl, on_grid(v), *bars, np.vstack(bars))
    if len(_grid_cache) > 64:
        _grid_cache.clear()
    _grid_cache[key] = tables
    return tables


def integrate(spectral: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Trapezoid integral over wavelength in nm."""
    return float(np.trapezoid(np.asarray(spectral, float), np.asarray(wavelength_nm, float)))


def photon_rate(spectral_power_per_nm: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Photons per second (or per s sr m^2 for radiance) from a spectral power density.

    N = integral P(lambda) lambda / (h c) dlambda, with lambda in metres.
    """
    wl = np.asarray(wavelength_nm, float)
    photons_per_joule = wl * (1e-9 / (PLANCK_J_S * SPEED_OF_LIGHT_M_S))
    return integrate(np.asarray(spectral_power_per_nm, float) * photons_per_joule, wl)


def radiometric_total(spectral_power_per_nm: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Integral of a spectral density: W from W/nm, or W/(sr m^2) from W/(sr m^2 nm)."""
    return integrate(spectral_power_per_nm, wavelength_nm)


def photometric_total(spectral_power_per_nm: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """K_m integral V(lambda) P(lambda) dlambda: lm from W/nm, cd/m^2 from radiance."""
    tables = cie_tables(wavelength_nm)
    return K_M_LM_PER_W * integrate(tables.photopic_v * np.asarray(spectral_power_per_nm, float),
                                    tables.wavelength_nm)


def tristimulus(spectral: ArrayLike, wavelength_nm: ArrayLike) -> tuple[float, float, float]:
    """CIE 1931 X, Y, Z integrals (relative units of the input)."""
    t = cie_tables(wavelength_nm)
    xyz = np.trapezoid(t.xyz * np.asarray(spectral, float), t.wavelength_nm, axis=1)
    return float(xyz[0]), float(xyz[1]), float(xyz[2])


def chromaticity_xy(spectral: ArrayLike, wavelength_nm: ArrayLike) -> tuple[float, float]:
    """CIE 1931 (x, y); NaN when the spectrum has no weight under the CMFs."""
    x, y, z = tristimulus(spectral, wavelength_nm)
    total = x + y + z
    if not total > 0:
        return float("nan"), float("nan")
    return x / total, y / total


def chromaticity_uv_prime(spectral: ArrayLike, wavelength_nm: ArrayLike) -> tuple[float, float]:
    """CIE 1976 (u', v')."""
    x, y, z = tristimulus(spectral, wavelength_nm)
    denominator = x + 15 * y + 3 * z
    if not denominator > 0:
        return float("nan"), float("nan")
    return 4 * x / denominator, 9 * y / denominator


def cct_mccamy_K(x: float, y: float) -> float:
    """Correlated colour temperature from (x, y) by McCamy's cubic (valid ~2000-12500 K)."""
    n = (x - 0.3320) / (0.1858 - y)
    return 449.0 * n**3 + 3525.0 * n**2 + 6823.3 * n + 5520.33


def peak_wavelength_nm(spectral: ArrayLike, wavelength_nm: ArrayLike, top_fraction: float = 0.8) -> float:
    """Wavelength of the maximum: vertex of a parabola fitted to the samples above
    ``top_fraction`` of the maximum around it (at least the top three samples)."""
    s = np.asarray(spectral, float)
    wl = np.asarray(wavelength_nm, float)
    i = int(np.argmax(s))
    if not s[i] > 0:
        return float("nan")
    lo, hi = i, i
    while lo > 0 and s[lo - 1] >= top_fraction * s[i]:
        lo -= 1
    while hi < len(s) - 1 and s[hi + 1] >= top_fraction * s[i]:
        hi += 1
    lo, hi = max(0, min(lo, i - 1)), min(len(s) - 1, max(hi, i + 1))
    if hi - lo < 2:
        return float(wl[i])
    x = wl[lo:hi + 1] - wl[i]
    a, b, _ = _quadratic_fit(x, s[lo:hi + 1])
    if a >= 0:
        return float(wl[i])
    vertex = -b / (2 * a)
    return float(wl[i] + np.clip(vertex, x[0], x[-1]))


def _quadratic_fit(x: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """Least-squares a x^2 + b x + c by the normal equations (x centred near 0)."""
    x2 = x * x
    s0, s1, s2, s3, s4 = len(x), x.sum(), x2.sum(), (x2 * x).sum(), (x2 * x2).sum()
    matrix = np.array([[s4, s3, s2], [s3, s2, s1], [s2, s1, s0]])
    rhs = np.array([(y * x2).sum(), (y * x).sum(), y.sum()])
    a, b, c = np.linalg.solve(matrix, rhs)
    return float(a), float(b), float(c)


def fwhm_nm(spectral: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Full width at half maximum from linearly interpolated half-maximum crossings.

    NaN when either crossing lies outside the measured range.
    """
    s = np.asarray(spectral, float)
    wl = np.asarray(wavelength_nm, float)
    i = int(np.argmax(s))
    half = s[i] / 2.0
    if not half > 0:
        return float("nan")
    below_left = np.nonzero(s[: i + 1] < half)[0]
    below_right = np.nonzero(s[i:] < half)[0]
    if len(below_left) == 0 or len(below_right) == 0:
        return float("nan")
    a = below_left[-1]
    left = wl[a] + (half - s[a]) * (wl[a + 1] - wl[a]) / (s[a + 1] - s[a])
    b = i + below_right[0]
    right = wl[b - 1] + (half - s[b - 1]) * (wl[b] - wl[b - 1]) / (s[b] - s[b - 1])
    return float(right - left)


def centroid_nm(spectral: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Power-weighted mean wavelength."""
    s = np.asarray(spectral, float)
    total = integrate(s, wavelength_nm)
    if not total > 0:
        return float("nan")
    return integrate(s * np.asarray(wavelength_nm, float), wavelength_nm) / total


@dataclass(frozen=True)
class SpectrumFigures:
    """Shape and colour figures of one emission spectrum."""

    peak_wavelength_nm: float
    fwhm_nm: float
    centroid_nm: float
    cie_x: float
    cie_y: float
    cie_u_prime: float
    cie_v_prime: float


def spectrum_figures(spectral: ArrayLike, wavelength_nm: ArrayLike) -> SpectrumFigures:
    """Peak, FWHM, centroid and CIE coordinates of a spectrum."""
    big_x, big_y, big_z = tristimulus(spectral, wavelength_nm)
    total, uv_denominator = big_x + big_y + big_z, big_x + 15 * big_y + 3 * big_z
    x, y = (big_x / total, big_y / total) if total > 0 else (float("nan"), float("nan"))
    u, v = (4 * big_x / uv_denominator, 9 * big_y / uv_denominator) if uv_denominator > 0 else (float("nan"),) * 2
    return SpectrumFigures(
        peak_wavelength_nm(spectral, wavelength_nm),
        fwhm_nm(spectral, wavelength_nm),
        centroid_nm(spectral, wavelength_nm),
        x, y, u, v,
    )
