"""Memory stays flat however long a run is (the short version; the 10^6-point one is slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_memory  # noqa: E402


def test_a_long_stream_through_runner_and_writer_keeps_memory_flat(tmp_path):
    figures = bench_memory.record_run(tmp_path / "long.h5", 30_000, 100, samples=6)
    assert figures["points"] == 30_000 and figures["spectra"] == 300
    rss = [mb for _, mb in figures["rss_samples_mb"]]
    assert rss[-1] - rss[1] < 3.0, figures["rss_samples_mb"]  # no growth after the first sample
    assert figures["peak_growth_mb"] < 20.0
    assert figures["bytes_per_point"] < 400  # 6 float64 columns + a spectrum pair every 100 points


@pytest.mark.slow
def test_a_million_points_stay_under_50_mb_and_analyse_in_bounded_memory(tmp_path):
    small, large = tmp_path / "small.h5", tmp_path / "large.h5"
    bench_memory.record_run(small, 10_000, 100)
    figures = bench_memory.record_run(large, 1_000_000, 100)
    assert figures["points"] == 1_000_000 and figures["peak_growth_mb"] < 50.0
    small_rss, _ = bench_memory.analyze_peak_rss_mb(small)
    large_rss, analysis = bench_memory.analyze_peak_rss_mb(large)
    assert analysis["rows"] == {"samples": 1_000_000, "spectra": 10_000}
    assert large_rss - small_rss < 30.0
