"""The emission band of a calibrated spectrum, judged against the spectrum's own noise.

Every optical figure is integrated over the band only, never over the instrument's whole
window: outside the band a spectrum holds noise, and in the near-infrared the
responsivity multiplies that noise many times. The band comes from the data:

1. boxcar-smooth the spectrum over :data:`DETECTION_WIDTH_NM` and divide by the
   smoothed noise: a signal-to-noise ratio per pixel;
2. no pixel at :data:`DETECTION_SNR` or more: nothing detected (low light);
3. the core is the contiguous run of pixels at :data:`CORE_SNR` or more around the best
   one; its half-maximum width (of the smoothed spectrum) is the band's width estimate;
4. the band spans every pixel at :data:`DETECTION_SNR` or more and the half-maximum
   points, widened by :data:`BAND_MARGIN_FWHM` widths on each side (a Gaussian band
   loses less than 1e-8 of its power), clipped to the window;
5. the emission runs off an end of the window when the mean over the end's pixels is
   both :data:`EDGE_SNR` sigmas above zero (noise alone: about 3e-7 per spectrum) and
   above :data:`TRUNCATION_FRACTION` of the smoothed peak.

A detected band must also carry a significant radiometric total: the band integral at
least :data:`TOTAL_SNR` sigmas above zero. The band's limits are stored with every
point, so each figure can be recomputed from the raw data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

DETECTION_WIDTH_NM = 5.0
DETECTION_SNR = 6.0
CORE_SNR = 3.0
BAND_MARGIN_FWHM = 2.0
EDGE_SNR = 5.0
TRUNCATION_FRACTION = 0.05
TOTAL_SNR = 5.0
#: bits of :attr:`EmissionBand.runs_off`
SHORT_END, LONG_END = 1, 2


@dataclass(frozen=True)
class EmissionBand:
    """Where a spectrum's emission lies, as pixel indices (``stop`` included) and nm."""

    detected: bool
    start: int
    stop: int
    start_nm: float
    stop_nm: float
    peak_snr: float
    #: 0, or :data:`SHORT_END` | :data:`LONG_END`: the emission runs off that end of the window
    runs_off: int = 0

    @property
    def pixels(self) -> slice:
        return slice(self.start, self.stop + 1)


@lru_cache(maxsize=16)
def _window_edges(n: int, width: int) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]:
    """(first, one past last, count) of the centred window of odd ``width`` at each pixel."""
    half = width // 2
    k = np.arange(n)
    lo, hi = np.maximum(k - half, 0), np.minimum(k + half + 1, n)
    return lo, hi, (hi - lo).astype(float)


def _boxcar(values: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Centred moving sum over ``width`` pixels (odd; shorter windows at the ends), by
    cumulative sums: O(n) whatever the width."""
    lo, hi, _ = _window_edges(len(values), width)
    sums = np.concatenate(([0.0], np.cumsum(values)))
    return sums[hi] - sums[lo]


def detection_width_pixels(wavelength_nm: NDArray[np.float64]) -> int:
    """Pixels in :data:`DETECTION_WIDTH_NM` on this grid (at least 1)."""
    if len(wavelength_nm) < 2:
        return 1
    step = float(wavelength_nm[-1] - wavelength_nm[0]) / (len(wavelength_nm) - 1)  # mean step
    width = int(min(max(1, round(DETECTION_WIDTH_NM / step)), len(wavelength_nm)))
    return width if width % 2 else max(1, width - 1)  # odd: a window centred on its pixel


def signal_to_noise(spectral: NDArray[np.float64], noise: NDArray[np.float64],
                    width: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(smoothed spectrum, its signal-to-noise ratio) per pixel."""
    counts = _window_edges(len(spectral), width)[2]
    smooth = _boxcar(spectral, width) / counts
    sigma = np.sqrt(_boxcar(noise * noise, width)) / counts
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(sigma > 0, smooth / sigma, np.where(smooth > 0, np.inf, 0.0))
    return smooth, snr


def _half_max_crossing(wl: NDArray[np.float64], smooth: NDArray[np.float64], peak: int, direction: int) -> float:
    """Wavelength where the smoothed spectrum first falls below half its value at ``peak``."""
    half = smooth[peak] / 2
    if direction < 0:
        below = np.flatnonzero(smooth[:peak] < half)
        if not len(below):
            return float(wl[0])
        a = int(below[-1])
        b = a + 1
    else:
        below = np.flatnonzero(smooth[peak + 1:] < half)
        if not len(below):
            return float(wl[-1])
        b = peak + 1 + int(below[0])
        a = b - 1
    span = smooth[b] - smooth[a]
    fraction = (half - smooth[a]) / span if span != 0 else 0.5
    return float(wl[a] + fraction * (wl[b] - wl[a]))


def find_emission_band(wavelength_nm: ArrayLike, spectral: ArrayLike, noise: ArrayLike) -> EmissionBand:
    """The emission band of a spectrum with per-pixel noise (1 sigma, the spectrum's units)."""
    wl = np.asarray(wavelength_nm, float)
    s = np.asarray(spectral, float)
    sigma = np.asarray(noise, float)
    if sigma.shape != s.shape:
        sigma = np.broadcast_to(sigma, s.shape)
    n = len(wl)
    width = detection_width_pixels(wl)
    smooth, snr = signal_to_noise(s, sigma, width)
    best = int(np.argmax(snr)) if n else 0
    peak_snr = float(snr[best]) if n else 0.0
    if not peak_snr >= DETECTION_SNR:
        return EmissionBand(False, 0, max(n - 1, 0), float(wl[0]) if n else math.nan,
                            float(wl[-1]) if n else math.nan, peak_snr)
    weak = snr < CORE_SNR
    left_weak = np.flatnonzero(weak[:best])
    right_weak = np.flatnonzero(weak[best + 1:])
    core_lo = int(left_weak[-1]) + 1 if len(left_weak) else 0
    core_hi = best + int(right_weak[0]) if len(right_weak) else n - 1
    peak = core_lo + int(np.argmax(smooth[core_lo:core_hi + 1]))
    left_nm = _half_max_crossing(wl, smooth, peak, -1)
    right_nm = _half_max_crossing(wl, smooth, peak, +1)
    margin = BAND_MARGIN_FWHM * max(right_nm - left_nm, float(wl[min(width, n - 1)] - wl[0]))
    significant = np.flatnonzero(snr >= DETECTION_SNR)
    lo_nm = min(left_nm, float(wl[significant[0]])) - margin
    hi_nm = max(right_nm, float(wl[significant[-1]])) + margin
    start = int(np.searchsorted(wl, lo_nm, side="left"))
    stop = int(np.searchsorted(wl, hi_nm, side="right")) - 1
    start, stop = max(0, min(start, peak)), min(n - 1, max(stop, peak))
    return EmissionBand(True, start, stop, float(wl[start]), float(wl[stop]), peak_snr,
                        _runs_off(s, sigma, float(smooth[peak]), width))


def _runs_off(s: NDArray[np.float64], sigma: NDArray[np.float64], peak: float, width: int) -> int:
    n = len(s)
    edge = min(n, max(width, n // 50, 3))
    flags = 0
    for bit, pixels in ((SHORT_END, slice(0, edge)), (LONG_END, slice(n - edge, n))):
        mean = float(s[pixels].mean())
        mean_sigma = float(np.sqrt(np.sum(sigma[pixels] ** 2))) / edge
        if mean > EDGE_SNR * mean_sigma and mean > TRUNCATION_FRACTION * peak:
            flags |= bit
    return flags


def noise_floor(spectral: ArrayLike) -> float:
    """Noise (1 sigma) of a spectrum whose instrument does not report it: from the
    median absolute second difference (smooth bands hardly contribute; 1.4826 turns a
    median absolute deviation into sigma; a second difference has variance 6 sigma^2)."""
    s = np.asarray(spectral, float)
    s = s[np.isfinite(s)]
    if len(s) < 5:
        return math.nan
    second = s[:-2] - 2 * s[1:-1] + s[2:]
    sigma = 1.4826 * float(np.median(np.abs(second))) / math.sqrt(6.0)
    scale = float(np.max(np.abs(s)))
    return max(sigma, 1e-6 * scale, np.finfo(float).tiny)


def runs_off_text(runs_off: int) -> str:
    """'short-wavelength end', 'long-wavelength end', 'both ends' or ''."""
    return {SHORT_END: "short-wavelength end", LONG_END: "long-wavelength end",
            SHORT_END | LONG_END: "both ends"}.get(runs_off, "")
