"""The live display's data (station.sinks.live_data): bounded memory, the envelope of
every bin exact, flags and log axes, marks, the spectrum image; the file watcher."""

from __future__ import annotations

import numpy as np
import pytest

from procedures import procedure_class
from station.run.records import CURVE, Column, Event, Marks, Plot, Progress, RunStop, Stream
from station.sinks.live_data import DecimatedSeries, LiveRunData, SpectrumImage


def test_decimated_series_keeps_every_point_until_full_then_the_exact_min_max_of_each_bin():
    rng = np.random.default_rng(1)
    x = np.arange(100_000, dtype=float)
    y = rng.normal(size=x.size)
    small = DecimatedSeries(256)
    small.extend(x[:200], y[:200])
    sx, sy = small.arrays()
    assert np.array_equal(sx, x[:200]) and np.array_equal(sy, y[:200])  # below capacity: every point
    series = DecimatedSeries(256)
    for start in range(0, x.size, 777):  # in uneven blocks, and one by one for part of it
        if start < 5000:
            for i in range(start, min(start + 777, x.size)):
                series.extend(x[i:i + 1], y[i:i + 1])  # one point at a time, as the sink gets them
        else:
            series.extend(x[start:start + 777], y[start:start + 777])
    bx, by = series.arrays()
    assert series.count == x.size and len(bx) <= 2 * 256
    width = series.width
    for k in range(0, len(bx) // 2 - 1):  # each full bin: its first x, its lowest and highest y
        block = y[k * width:(k + 1) * width]
        assert bx[2 * k] == x[k * width]
        assert by[2 * k] == block.min() and by[2 * k + 1] == block.max()
    assert by.min() == y.min() and by.max() == y.max()  # no extreme is ever lost


def test_a_million_points_take_bounded_memory():
    series = DecimatedSeries()
    before = series.nbytes
    for _ in range(100):
        series.extend(np.arange(10_000.0), np.ones(10_000))
    assert series.count == 10**6 and series.nbytes == before
    assert len(series.arrays()[0]) <= 2 * series.capacity


def test_nan_gaps_are_kept_and_do_not_swallow_values():
    series = DecimatedSeries(4)
    series.extend(np.arange(16.0), [np.nan, 1, np.nan, np.nan] * 4)
    x, y = series.arrays()
    assert np.nanmin(y) == 1 and np.nanmax(y) == 1


def test_the_sink_follows_plots_flags_log_axes_and_marks():
    cls = procedure_class("lifetime")
    live = LiveRunData()
    live.begin("lifetime", cls.STREAMS, cls.plots())
    n = 50
    t = np.arange(n) * 60.0
    live.add_rows("monitor", {"elapsed_s": t, "relative_light": np.exp(-t / 3000), "voltage_V": np.full(n, 3.0),
                              "in_compliance": np.zeros(n)})
    live.add_rows("events", {"elapsed_s": np.array([0.0, 1200.0, 1500.0]), "kind": np.array([1.0, 3.0, 6.0]),
                             "value": np.array([0.0, 90.0, 1.0])})
    live(Progress(0.5, "t=...", {"predicted_s": 2000.0}))
    snap = live.snapshot()
    curve = next(p for p in snap.plots if p.plot.y == "relative_light")
    assert curve.points == n and np.allclose(curve.x, t / 3600)  # in hours, as the plot asks
    assert curve.marks == [(1200.0 / 3600, "T90")]  # only the T_x event, labelled from its value
    assert snap.status.prediction == {"predicted_s": 2000.0}
    assert snap.status.rows == {"monitor": n, "events": 3}
    live(RunStop("aborted", "aborted by the operator", 0.0, {}, "monitor", output="output confirmed off"))
    snap = live.snapshot()
    assert snap.status.status == "aborted" and "output confirmed off" in snap.log[-1]

    stream = Stream("s", (Column("v", "V"), Column("j", "mA/cm^2", hidden_by=("bad",)), Column("bad", "1")))
    plot = Plot("J", "s", CURVE, "v", "j", log_y=True)
    live = LiveRunData()
    live.begin("x", (stream,), (plot,))
    for i, (j, bad) in enumerate([(1.0, 0), (-2.0, 0), (3.0, 1), (4.0, 0)]):
        live(Event("s", i, {"v": float(i), "j": j, "bad": bad}))
    y = live.snapshot().plots[0].y
    assert np.array_equal(np.isnan(y), [False, True, True, False])  # <= 0 on a log axis, and a flagged value


def test_plot_declarations_are_checked_against_the_streams():
    for name in ("jvl", "eqe", "lifetime", "cycling"):
        cls = procedure_class(name)
        for plot in cls.plots():
            plot.check({s.name: s for s in cls.STREAMS})
    stream = Stream("s", (Column("v", "V"),))
    with pytest.raises(ValueError, match="no columns"):
        Plot("bad", "s", CURVE, "v", "nope").check({"s": stream})
    with pytest.raises(ValueError, match="no spectra"):
        Plot("bad", "s", "spectrum").check({"s": stream})
    with pytest.raises(ValueError, match="unknown columns"):
        Plot("m", "s", CURVE, "v", "v", marks=(Marks("s", "v", "kind", 3, "v", "T"),)).check({"s": stream})


def test_the_spectrum_image_is_bounded_and_averages_merged_rows():
    wavelength = np.linspace(350, 1010, 2048)
    image = SpectrumImage(wavelength, rows=8, columns=512)
    for i in range(64):
        image.add(float(i), np.full(2048, float(i)))
    x, rows = image.arrays()
    assert rows.shape == (8, 512) and image.width == 8
    assert np.allclose(rows[:, 0], [np.mean(range(k * 8, k * 8 + 8)) for k in range(8)])
    assert np.array_equal(x, np.arange(0, 64, 8))


@pytest.mark.parametrize("reopen", [False, True], ids=["kept open (SWMR)", "reopened each poll (network disk)"])
def test_the_watcher_reads_only_new_rows_of_a_file_another_process_writes(headless_lifetime, reopen):
    import signal
    import time

    from station.data.reader import read_run
    from station.data.watch import RunWatcher

    process, out = headless_lifetime(written=True)
    deadline = time.monotonic() + 60
    watcher = RunWatcher(out, columns={"monitor": ["elapsed_s", "relative_light"]}, reopen=reopen)
    seen, statuses = [], set()
    while len(seen) < 3 and time.monotonic() < deadline:
        update = watcher.poll()
        statuses.add(update.status)
        if "monitor" in update.rows:
            rows = update.rows["monitor"]
            assert set(rows) == {"elapsed_s", "relative_light"}  # only the columns asked for
            seen.append(len(rows["elapsed_s"]))
        time.sleep(0.2)
    assert len(seen) >= 2 and "running" in statuses  # several polls brought rows while it ran
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 143
    for _ in range(20):
        update = watcher.poll()
        seen.append(len(update.rows.get("monitor", {}).get("elapsed_s", [])))
        if update.status == "aborted" and watcher.seen["monitor"] == read_run(out).rows("monitor"):
            break
        time.sleep(0.2)
    assert update.status == "aborted"
    assert sum(seen) == watcher.seen["monitor"] == read_run(out).rows("monitor")  # each row once
    watcher.close()
