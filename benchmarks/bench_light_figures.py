"""What the noise-aware light figures cost per reading, against whole-window integrals.

Run: python benchmarks/bench_light_figures.py [--spectra N]

Both sides take the same calibrated spectra (a band at 685 nm at three signal levels,
the simulated sphere spectrometer's window and the PR-655's grid) and compute the same
figures: the seven spectral integrals, peak, FWHM, centroid, CIE x, y and u', v'.

* **whole window**: the integrals over the instrument's whole window (one matrix
  product), peak and FWHM of the whole spectrum: what the station did before it judged
  the band, and what a minimal script does;
* **band**: :func:`drivers.spectral_result.assess` (band, low light, truncation) then
  :func:`station.analysis.point_figures.device_figures` (integrals over the band, their
  uncertainties, the flags).

Printed: microseconds per reading for each, and the ratio from the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from drivers.pr6xx import SPECTRAL_GRIDS, grid_nm
from drivers.spectral_result import SPECTRAL_FLUX, SpectralResult, assess
from station.analysis.point_figures import device_figures
from station.core import photometry


def spectra(wavelength_nm: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` noisy spectra (a third each at peak SNR 20, 2000 and 2e5) and their noise."""
    rng = np.random.default_rng(seed)
    shape = np.exp(-0.5 * ((wavelength_nm - 685.0) / 13.2) ** 2)
    noise = np.full(len(wavelength_nm), 1e-9)
    levels = np.array([20, 2000, 200_000])[np.arange(count) % 3] * 1e-9
    return levels[:, None] * shape + rng.normal(0.0, 1e-9, (count, len(wavelength_nm))), noise


def whole_window(wl: np.ndarray, rows: np.ndarray) -> float:
    start = time.perf_counter()
    for s in rows:
        totals = photometry.spectrum_totals(s, wl)
        photometry.spectrum_figures_from_totals(s, wl, totals)
    return (time.perf_counter() - start) / len(rows)


def band_figures(wl: np.ndarray, rows: np.ndarray, noise: np.ndarray) -> float:
    start = time.perf_counter()
    for s in rows:
        result = SpectralResult(wl, s, SPECTRAL_FLUX, s, "counts", 0.1, noise=noise,
                                **assess(wl, s, noise).as_fields())
        device_figures(result, 3.0, 1e-3, 0.04)
    return (time.perf_counter() - start) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=3000)
    args = parser.parse_args()
    p = np.arange(2048, dtype=float)
    sphere = 345.0 + 0.3521 * p - 1.2e-5 * p**2
    grids = {"sphere window (1894 px)": sphere[sphere <= 1010.0],
             "PR-655 grid (101 px)": grid_nm(SPECTRAL_GRIDS["PR-655"])}
    print(f"{args.spectra} spectra per grid; microseconds per reading (best of 3)")
    for name, wl in grids.items():
        rows, noise = spectra(wl, args.spectra)
        photometry.grid_weights(wl)  # tables warm for both
        plain = min(whole_window(wl, rows) for _ in range(3))
        ours = min(band_figures(wl, rows, noise) for _ in range(3))
        print(f"  {name:24s} whole window {plain * 1e6:7.0f}   band + uncertainties + flags {ours * 1e6:7.0f}"
              f"   ratio {ours / plain:.2f}")


if __name__ == "__main__":
    main()
