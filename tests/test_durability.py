"""The durability policy: after a kill the file holds every point older than S seconds."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from station.data.reader import read_run

WRITER = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    from drivers.light_meter import LightDescription, SpectrumAxis
    from drivers.spectral_result import SpectralResult
    from station.data.writer import HDF5RunWriter
    from station.run.records import Column, Event, MainCurve, RunStart, Stream

    path, interval, early, late = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    wl = np.linspace(400.0, 800.0, 64)
    axis = SpectrumAxis(wl, "spectral_flux", "W/nm", "counts")
    streams = (Stream("samples", (Column("i", "1", "", "i8"), Column("x", "V"))),
               Stream("shots", (Column("i", "1", "", "i8"),), spectra=True))
    start = RunStart("id", "test", "", {}, streams, MainCurve("samples", "i", "x"), LightDescription("sim", axis),
                     "sphere", 0.04, "", "", {}, "test", time.time(), interval)
    writer = HDF5RunWriter(path)
    writer(start)

    def event(i):
        writer(Event("samples", i, {"i": i, "x": 0.5 * i}))
        if i % 10 == 0:
            spectrum = SpectralResult(wl, np.full(64, float(i)), "spectral_flux", np.full(64, i + 0.5), "counts", 0.1)
            writer(Event("shots", i // 10, {"i": i}, spectrum))

    for i in range(early):
        event(i)
    time.sleep(max(2 * interval, 0.1) + 0.5)  # the early points are now older than S
    for i in range(early, early + late):
        event(i)
    print("syncs", writer.syncs, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no stop record: as kill -9
""")


@pytest.mark.parametrize("interval_s", [0.0, 0.3])
def test_after_a_kill_every_point_older_than_the_interval_is_in_the_file(tmp_path, interval_s):
    path = tmp_path / "killed.h5"
    result = subprocess.run([sys.executable, "-c", WRITER, str(path), str(interval_s), "500", "40"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, result.stderr
    run = read_run(path)
    assert run.status == "running" and run.metadata["durability_interval_s"] == interval_s
    rows = run.rows("samples")
    if interval_s == 0:
        assert rows == 540  # every point is flushed before the next one is taken
    else:
        assert 500 <= rows <= 540  # the last 40 came less than S before the kill
        syncs = int(result.stdout.split()[-1])
        assert syncs < 10  # one flush + fsync per interval, not one per point
    columns = run.read_columns(["i", "x"], "samples")
    assert columns["i"].tolist() == list(range(rows)) and columns["x"] == pytest.approx(0.5 * columns["i"])
    shots = run.spectra_of("shots")
    assert len(shots.rows) == run.rows("shots") >= 50
    for k in range(len(shots.rows)):
        assert shots.spectral[k] == pytest.approx(10.0 * k) and shots.raw[k] == pytest.approx(10.0 * k + 0.5)
