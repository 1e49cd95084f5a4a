"""Spectral integrals and spectrum figures (MEASUREMENTS.md sections 2 and 3).

All integrals use the trapezoid rule over wavelength in nm on the instrument's own grid.
The CIE tables (:mod:`station.core.cie`, from colour-science) are interpolated onto the
instrument grid, never the other way round; outside their 360-830 nm range they are
zero.

For speed every integral a reading needs is one row of a weight matrix built once per
grid (trapezoid weights times the CIE functions, photon energy ...), so all of them are
one matrix-vector product (:func:`spectrum_totals`); the results equal
``numpy.trapezoid`` of the same products to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import cie

PLANCK_J_S = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299792458.0
ELEMENTARY_CHARGE_C = 1.602176634e-19
K_M_LM_PER_W = 683.002

FloatArray = NDArray[np.float64]
NAN = float("nan")


@dataclass(frozen=True)
class CIETables:
    """CIE functions sampled on one instrument grid."""

    wavelength_nm: FloatArray
    photopic_v: FloatArray
    xbar: FloatArray
    ybar: FloatArray
    zbar: FloatArray
    xyz: FloatArray  # the three stacked [3, n]


@dataclass(frozen=True)
class GridWeights:
    """Everything one grid needs, built once: CIE tables and the integral weights.

    ``matrix @ spectrum`` gives, in order, the integrals of: the spectrum (radiometric
    total), spectrum x lambda/(hc) (photon rate), K_m V spectrum (photometric total),
    x-bar, y-bar and z-bar spectrum (tristimulus, relative), and spectrum x lambda
    (centroid numerator).
    """

    tables: CIETables
    trapezoid: FloatArray
    matrix: FloatArray  # [7, n]
    functions: FloatArray  # [7, n]: the matrix without the trapezoid weights


TOTAL, PHOTONS, LUMINOUS, X, Y, Z, FIRST_MOMENT = range(7)
_grid_cache: dict[bytes, GridWeights] = {}
#: the grid asked for last, by identity: an instrument passes the same array every reading
_last_grid: list = [None, None]


def trapezoid_weights(wavelength_nm: ArrayLike) -> FloatArray:
    """w such that sum(w * y) is the trapezoid integral of y over the grid."""
    wl = np.asarray(wavelength_nm, float)
    if len(wl) < 2:
        return np.zeros_like(wl)
    steps = np.diff(wl)
    w = np.zeros_like(wl)
    w[:-1] += steps / 2
    w[1:] += steps / 2
    return w


def grid_weights(wavelength_nm: ArrayLike) -> GridWeights:
    """The tables and weights of one grid (cached per grid; grids are not modified in place)."""
    if wavelength_nm is _last_grid[0]:
        return _last_grid[1]
    weights = _grid_weights(wavelength_nm)
    _last_grid[:] = [wavelength_nm, weights]
    return weights


def _grid_weights(wavelength_nm: ArrayLike) -> GridWeights:
    wl = np.ascontiguousarray(wavelength_nm, dtype=float)
    key = wl.tobytes()
    cached = _grid_cache.get(key)
    if cached is not None:
        return cached
    source = cie.source_tables()

    def on_grid(y: FloatArray) -> FloatArray:
        return np.interp(wl, source.wavelength_nm, y, left=0.0, right=0.0)

    bars = [on_grid(source.xyz[0]), on_grid(source.xyz[1]), on_grid(source.xyz[2])]
    tables = CIETables(wl, on_grid(source.photopic_v), *bars, np.vstack(bars))
    w = trapezoid_weights(wl)
    photons_per_joule = wl * (1e-9 / (PLANCK_J_S * SPEED_OF_LIGHT_M_S))
    functions = np.vstack([np.ones_like(wl), photons_per_joule, K_M_LM_PER_W * tables.photopic_v,
                           bars[0], bars[1], bars[2], wl])
    weights = GridWeights(tables, w, np.ascontiguousarray(functions * w), np.ascontiguousarray(functions))
    if len(_grid_cache) > 64:
        _grid_cache.clear()
    _grid_cache[key] = weights
    return weights


def cie_tables(wavelength_nm: ArrayLike) -> CIETables:
    """CIE tables linearly interpolated onto ``wavelength_nm`` (cached per grid)."""
    return grid_weights(wavelength_nm).tables


def spectrum_totals(spectral: ArrayLike, wavelength_nm: ArrayLike) -> FloatArray:
    """All seven integrals of :class:`GridWeights` in one product."""
    return grid_weights(wavelength_nm).matrix @ np.asarray(spectral, float)


def band_totals(spectral: ArrayLike, wavelength_nm: ArrayLike, band: slice,
                noise: ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
    """The seven integrals of :class:`GridWeights` over the pixels ``band`` only (trapezoid
    on the band's own samples), and their variances from independent per-pixel noise
    (zeros when ``noise`` is None)."""
    g = grid_weights(wavelength_nm)
    wl = np.asarray(wavelength_nm, float)[band]
    s = np.asarray(spectral, float)[band]
    functions = g.functions[:, band]
    w = trapezoid_weights(wl)
    totals = functions @ (w * s)
    if noise is None:
        return totals, np.zeros(len(totals))
    sigma = _band_noise(noise, band, len(wl))
    return totals, (functions * functions) @ (w * w * sigma * sigma)


def _band_noise(noise: ArrayLike, band: slice, pixels: int) -> FloatArray:
    """Per-pixel noise over ``band`` (a spectrum's noise, or one value for all pixels)."""
    sigma = np.asarray(noise, float)
    return sigma[band] if sigma.ndim else np.full(pixels, float(sigma))


def chromaticity_sigma(wavelength_nm: ArrayLike, band: slice, noise: ArrayLike | None,
                       totals: FloatArray) -> tuple[float, float]:
    """1-sigma uncertainty of CIE 1931 (x, y) over ``band`` from independent per-pixel
    noise, by first-order propagation through x = X/(X+Y+Z), y = Y/(X+Y+Z)."""
    if noise is None:
        return 0.0, 0.0
    g = grid_weights(wavelength_nm)
    wl = np.asarray(wavelength_nm, float)[band]
    bars = g.functions[X:Z + 1, band]
    big_x, big_y, big_z = float(totals[X]), float(totals[Y]), float(totals[Z])
    total = big_x + big_y + big_z
    if not total > 0:
        return NAN, NAN
    sigma = _band_noise(noise, band, len(wl)) * trapezoid_weights(wl)
    d_x = np.array([big_y + big_z, -big_x, -big_x]) / total**2 @ bars
    d_y = np.array([-big_y, big_x + big_z, -big_y]) / total**2 @ bars
    return float(np.sqrt(np.sum((d_x * sigma) ** 2))), float(np.sqrt(np.sum((d_y * sigma) ** 2)))


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


def xy_from_tristimulus(big_x: float, big_y: float, big_z: float) -> tuple[float, float]:
    """CIE 1931 (x, y) from X, Y, Z; NaN when they sum to nothing."""
    total = big_x + big_y + big_z
    return (big_x / total, big_y / total) if total > 0 else (NAN, NAN)


def uv_prime_from_tristimulus(big_x: float, big_y: float, big_z: float) -> tuple[float, float]:
    """CIE 1976 (u', v') from X, Y, Z; NaN when undefined."""
    denominator = big_x + 15 * big_y + 3 * big_z
    return (4 * big_x / denominator, 9 * big_y / denominator) if denominator > 0 else (NAN, NAN)


def chromaticity_xy(spectral: ArrayLike, wavelength_nm: ArrayLike) -> tuple[float, float]:
    """CIE 1931 (x, y); NaN when the spectrum has no weight under the CMFs."""
    return xy_from_tristimulus(*tristimulus(spectral, wavelength_nm))


def chromaticity_uv_prime(spectral: ArrayLike, wavelength_nm: ArrayLike) -> tuple[float, float]:
    """CIE 1976 (u', v')."""
    return uv_prime_from_tristimulus(*tristimulus(spectral, wavelength_nm))


@lru_cache(maxsize=1)
def spectral_locus_hull() -> FloatArray:
    """Convex hull (counter-clockwise, [k, 2]) of the CIE 1931 spectral locus and the
    purple line: no real spectrum has chromaticity outside it."""
    source = cie.source_tables()
    xyz = np.asarray(source.xyz, float)
    total = xyz.sum(axis=0)
    keep = total > 1e-6 * total.max()
    points = sorted({(float(a), float(b)) for a, b in zip(xyz[0][keep] / total[keep], xyz[1][keep] / total[keep],
                                                          strict=True)})

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in points:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(points):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


#: chromaticities this close to the locus (numerical rounding) count as on it
LOCUS_TOLERANCE = 1e-4


def inside_spectral_locus(x: float, y: float) -> bool:
    """True when (x, y) is a chromaticity some spectrum can have (within the locus's
    convex hull, to :data:`LOCUS_TOLERANCE`)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    hull = spectral_locus_hull()
    a, b = hull, np.roll(hull, -1, axis=0)
    edge = b - a
    lengths = np.hypot(edge[:, 0], edge[:, 1])
    cross = edge[:, 0] * (y - a[:, 1]) - edge[:, 1] * (x - a[:, 0])
    return bool(np.all(cross >= -LOCUS_TOLERANCE * lengths))


def cct_mccamy_K(x: float, y: float) -> float:
    """Correlated colour temperature from (x, y) by McCamy's cubic (valid ~2000-12500 K)."""
    n = (x - 0.3320) / (0.1858 - y)
    return 449.0 * n**3 + 3525.0 * n**2 + 6823.3 * n + 5520.33


def peak_wavelength_nm(spectral: ArrayLike, wavelength_nm: ArrayLike, top_fraction: float = 0.8) -> float:
    """Wavelength of the maximum: vertex of a parabola fitted to the contiguous samples
    above ``top_fraction`` of the maximum around it (at least the top three samples)."""
    return peak_fit(spectral, wavelength_nm, top_fraction)[0]


def peak_fit(spectral: ArrayLike, wavelength_nm: ArrayLike, top_fraction: float = 0.8) -> tuple[float, float]:
    """(wavelength, height) of the maximum from the parabola of :func:`peak_wavelength_nm`.
    The fitted height, unlike the largest sample, is not raised by noise."""
    s = np.asarray(spectral, float)
    wl = np.asarray(wavelength_nm, float)
    i = int(np.argmax(s))
    if not s[i] > 0:
        return NAN, NAN
    low = s < top_fraction * s[i]
    left = np.flatnonzero(low[:i])
    right = np.flatnonzero(low[i + 1:])
    lo = int(left[-1]) + 1 if len(left) else 0
    hi = i + int(right[0]) if len(right) else len(s) - 1
    lo, hi = max(0, min(lo, i - 1)), min(len(s) - 1, max(hi, i + 1))
    if hi - lo < 2:
        return float(wl[i]), float(s[i])
    x = wl[lo:hi + 1] - wl[i]
    top = s[lo:hi + 1]
    logarithmic = bool(np.all(top > 0))  # a parabola in log space: exact for a Gaussian band
    a, b, c = _quadratic_fit(x, np.log(top) if logarithmic else top)
    if a >= 0:
        return float(wl[i]), float(s[i])
    vertex = min(max(-b / (2 * a), float(x[0])), float(x[-1]))
    value = a * vertex * vertex + b * vertex + c
    return float(wl[i]) + vertex, float(math.exp(value) if logarithmic else value)


def _quadratic_fit(x: FloatArray, y: FloatArray) -> tuple[float, float, float]:
    """Least-squares a x^2 + b x + c by the normal equations (x centred near 0), solved
    by Cramer's rule (a 3 x 3 system: numpy.linalg costs more than it computes here)."""
    x2 = x * x
    s0, s1, s2, s3, s4 = float(len(x)), float(x.sum()), float(x2.sum()), float(x2 @ x), float(x2 @ x2)
    t2, t1, t0 = float(y @ x2), float(y @ x), float(y.sum())

    def det(m: tuple[tuple[float, float, float], ...]) -> float:
        (p, q, r), (u, v, w), (g, h, k) = m
        return p * (v * k - w * h) - q * (u * k - w * g) + r * (u * h - v * g)

    d = det(((s4, s3, s2), (s3, s2, s1), (s2, s1, s0)))
    if d == 0:
        return 0.0, 0.0, t0 / s0
    a = det(((t2, s3, s2), (t1, s2, s1), (t0, s1, s0))) / d
    b = det(((s4, t2, s2), (s3, t1, s1), (s2, t0, s0))) / d
    c = det(((s4, s3, t2), (s3, s2, t1), (s2, s1, t0))) / d
    return a, b, c


#: the half-maximum crossings are fitted over the samples between these fractions of the peak
HALF_MAX_FIT_RANGE = (0.3, 0.7)


def fwhm_nm(spectral: ArrayLike, wavelength_nm: ArrayLike, peak: tuple[float, float] | None = None) -> float:
    """Full width at half maximum: the half of the fitted peak height (:func:`peak_fit`,
    or ``peak`` when already known), each crossing from a parabola fitted to the samples
    between 30 % and 70 % of the peak on that side (linear interpolation where fewer than
    four). Noise neither raises the half-maximum level nor moves a crossing to the first
    noisy sample below it.

    NaN when either crossing lies outside the measured range.
    """
    s = np.asarray(spectral, float)
    wl = np.asarray(wavelength_nm, float)
    i = int(np.argmax(s))
    height = (peak or peak_fit(s, wl))[1]
    half = height / 2.0
    if not half > 0:
        return NAN
    low, high = HALF_MAX_FIT_RANGE[0] * height, HALF_MAX_FIT_RANGE[1] * height
    crossings = []
    for side in (slice(i, None, -1), slice(i, None)):  # from the peak outwards, each way
        values, wavelengths = s[side], wl[side]
        below = np.flatnonzero(values < half)
        if not len(below):
            return NAN
        first_below = int(below[0])
        beyond = np.flatnonzero(values < low)
        span = slice(0, int(beyond[0]) + 1 if len(beyond) else len(values))
        near = (values[span] >= low) & (values[span] <= high)
        crossing = NAN
        if near.sum() >= 4:  # a local parabola through the crossing's neighbourhood
            x = wavelengths[span][near] - wl[i]
            crossing = _parabola_crossing(*_quadratic_fit(x, values[span][near]), half, float(x.min()),
                                          float(x.max()))
        if math.isnan(crossing):
            a, b = first_below - 1, first_below
            crossing = (wavelengths[a] + (half - values[a]) * (wavelengths[b] - wavelengths[a])
                        / (values[b] - values[a]) - wl[i])
        crossings.append(wl[i] + crossing)
    return float(crossings[1] - crossings[0])


def _parabola_crossing(a: float, b: float, c: float, level: float, lo: float, hi: float) -> float:
    """The one x in [lo, hi] where a x^2 + b x + c = level; NaN if none or two."""
    c -= level
    if a == 0:
        roots = [-c / b] if b else []
    else:
        discriminant = b * b - 4 * a * c
        if discriminant < 0:
            return NAN
        root = math.sqrt(discriminant)
        q = -0.5 * (b + math.copysign(root, b))  # the stable form
        roots = [q / a] + ([c / q] if q else [])
    inside = [r for r in roots if lo - 1e-9 <= r <= hi + 1e-9]
    return inside[0] if len(inside) == 1 else NAN


def centroid_nm(spectral: ArrayLike, wavelength_nm: ArrayLike) -> float:
    """Power-weighted mean wavelength."""
    s = np.asarray(spectral, float)
    total = integrate(s, wavelength_nm)
    if not total > 0:
        return NAN
    return integrate(s * np.asarray(wavelength_nm, float), wavelength_nm) / total


def spectrum_figures_from_totals(spectral: FloatArray, wavelength_nm: FloatArray,
                                 totals: FloatArray) -> tuple[float, ...]:
    """Peak, FWHM, centroid, CIE (x, y) and (u', v') of a spectrum, given its totals."""
    big_x, big_y, big_z, total = float(totals[X]), float(totals[Y]), float(totals[Z]), float(totals[TOTAL])
    x, y = xy_from_tristimulus(big_x, big_y, big_z)
    u, v = uv_prime_from_tristimulus(big_x, big_y, big_z)
    centroid = float(totals[FIRST_MOMENT]) / total if total > 0 else NAN
    peak = peak_fit(spectral, wavelength_nm)
    return (peak[0], fwhm_nm(spectral, wavelength_nm, peak), centroid, x, y, u, v)

