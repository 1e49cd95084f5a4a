"""The window's live plots and event loop under long, fast runs.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--points 1000000] [--latency-s 20]

1. **Redraw of the lifetime plot** (L/L0 against time) holding N = 1e5, 1e6, 1e7 points:
   the time of one redraw as the window does it (snapshot of the bounded live data,
   setData, paint of the plot widget), the median of 20 redraws each after one more point
   arrived. Against it, in the same run, on the same widget size and the same points:
   pyqtgraph given every point with its peak downsampling and clip-to-view (the best
   pyqtgraph does alone), and pyqtgraph given every point with neither (what a live plot
   that re-plots the whole run does; up to 1e6). Also: the cost of feeding one point to
   the live data, and the memory each holds. Target: under 20 ms at 1e6.
2. **Event-loop latency** while a simulated lifetime run streams at full speed (virtual
   clock: no waits, every point as fast as the station computes it) through the window:
   the lateness of a 10 ms timer, p50 / p99 / max, against the same timer with no run.
   Target: p99 under 50 ms.
3. **RSS after a run of --points points** through the window's queue (the two-stream test
   procedure: a source-meter reading per point, a spectrum every 100, on the virtual
   clock), with the window following it live: RSS before, after, and the live data's bytes.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the two-stream test procedure lives with the tests

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402

from procedures import procedure_class, register  # noqa: E402
from station.gui.app import application  # noqa: E402
from station.gui.plot_panel import PlotPanel, _PlotView  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.sinks.live_data import LiveRunData  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
SIZE = (900, 600)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def decay(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n) * 60.0
    return t, np.exp(-((t / (n * 30.0)) ** 0.7)) * (1 + 0.002 * rng.normal(size=n))


def timed_paint(app, widget) -> float:
    started = time.perf_counter()
    widget.repaint()
    app.processEvents()
    return time.perf_counter() - started


def redraw_ours(app, n: int, rng: np.random.Generator) -> dict:
    cls = procedure_class("lifetime")
    plot = next(p for p in cls.plots() if p.y == "relative_light")
    data = LiveRunData([plot])
    data.begin("lifetime", cls.STREAMS, [plot])
    t, y = decay(n, rng)
    started = time.perf_counter()
    for i in range(0, n, 100_000):
        data.add_rows("monitor", {"elapsed_s": t[i:i + 100_000], "relative_light": y[i:i + 100_000]})
    feed_s = time.perf_counter() - started
    single = []
    for k in range(2000):  # one point at a time, as the sink gets them
        s = time.perf_counter()
        data.add_rows("monitor", {"elapsed_s": np.array([t[-1] + 60.0 * (k + 1)]), "relative_light": y[-1:]})
        single.append(time.perf_counter() - s)
    panel = PlotPanel(data, columns=1)
    panel.timer.stop()
    panel.resize(*SIZE)
    panel.show()
    panel.refresh()
    timed_paint(app, panel)
    times = []
    for k in range(20):
        data.add_rows("monitor", {"elapsed_s": np.array([t[-1] + 60.0 * (2001 + k)]), "relative_light": y[-1:]})
        started = time.perf_counter()
        panel.refresh()
        times.append(time.perf_counter() - started + timed_paint(app, panel))
    result = {"median_ms": 1e3 * statistics.median(times), "feed_us_per_point_bulk": 1e6 * feed_s / n,
              "feed_us_per_point_single": 1e6 * statistics.median(single), "bytes": data.memory_bytes()}
    panel.close()
    panel.deleteLater()
    app.processEvents()
    return result


def redraw_pyqtgraph(app, n: int, rng: np.random.Generator, downsample: bool) -> dict:
    """The same plot widget as the window's (axes, grid, labels, title, pen), given every point."""
    cls = procedure_class("lifetime")
    plot = next(p for p in cls.plots() if p.y == "relative_light")
    data = LiveRunData([plot])
    data.begin("lifetime", cls.STREAMS, [plot])
    view = _PlotView(data.snapshot().plots[0])
    widget, curve = view.widget, view.curve
    widget.resize(*SIZE)
    widget.show()
    if not downsample:
        curve.setDownsampling(auto=False)
        curve.setClipToView(False)
    t, y = decay(n, rng)
    t, y = t / 3600, y
    curve.setData(t, y)
    timed_paint(app, widget)
    times = []
    for _ in range(20 if n <= 10**6 else 5):
        t = np.append(t, t[-1] + 1 / 60)  # one more point: the whole curve is handed over again
        y = np.append(y, y[-1])
        started = time.perf_counter()
        curve.setData(t, y)
        times.append(time.perf_counter() - started + timed_paint(app, widget))
    result = {"median_ms": 1e3 * statistics.median(times), "bytes": t.nbytes + y.nbytes}
    widget.close()
    widget.deleteLater()
    app.processEvents()
    return result


def latency(app, seconds: float, with_run: bool, folder: Path, agent=None, channel: str = "") -> dict:
    """``agent``: an AgentAddress whose ``channel`` runs the window's queue (the run in the
    agent's process; the window follows it)."""
    from PyQt6 import QtCore

    from station.gui.window import StationWindow

    queue = None
    if agent is not None:
        from station.gui.agent_queue import AgentRunQueue

        queue = AgentRunQueue(load_config(None), folder, agent, channel)
    window = StationWindow(load_config(None), folder, queue=queue)
    window.confirm_close = lambda: True
    window.resize(1400, 900)
    window.show()
    if with_run:
        window.queue.add("lifetime", {"monitor_interval": 60.0, "max_duration": 10_000.0, "spectrum_interval": 600.0})
        window.run_queue()
        end = time.monotonic() + 60
        while window.queue.live.status.rows.get("monitor", 0) < 5 and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
    late: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        late.append(max(0.0, now - last[0] - 0.010))
        last[0] = now

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start(10)
    rows_before = window.queue.live.status.rows.get("monitor", 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.001)
    timer.stop()
    rows = window.queue.live.status.rows.get("monitor", 0) - rows_before
    redraws = window.plots.redraws
    if agent is not None:
        window.queue.abort()
    window.close()
    window.deleteLater()
    app.processEvents()
    ms = np.array(late[1:]) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "ticks": len(ms), "rows_per_s": rows / seconds, "redraws": redraws}


def through_agent(app, seconds: float, folder: Path) -> dict:
    """`latency` with the run in the window's own local agent, as ``ledstation gui`` runs it by
    default: the coordinator and the agent started as processes of their own
    (station.service.local_agent), the window following the run."""
    import psutil

    from station.gui.rack_view import AgentAddress
    from station.service.local_agent import LOCAL_CHANNEL, ensure_running, local_agent

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ["LEDSTATION_DATA_DIR"] = str(folder / "data")
    agent = local_agent(load_config(None), folder, port, 11300)
    ensure_running(agent)
    try:
        return latency(app, seconds, True, folder, AgentAddress(agent.name, "localhost", port, 11300), LOCAL_CHANNEL)
    finally:
        time.sleep(2.0)  # the abort reaches the run
        for process in psutil.process_iter(["cmdline"]):
            if f"--port {port}" in " ".join(process.info["cmdline"] or []) or agent.name in " ".join(
                    process.info["cmdline"] or []):
                process.terminate()


def long_run_rss(app, points: int, folder: Path) -> dict:
    from station.gui.window import StationWindow

    register("two_streams", "tests.two_stream_procedure:TwoStreamProcedure")
    window = StationWindow(load_config(None), folder)
    window.confirm_close = lambda: True
    window.show()
    app.processEvents()
    before = rss_mb()
    window.queue.add("two_streams", {"steps": points, "spectrum_every": 100, "interval": 1.0, "voltage": 3.0})
    started = time.perf_counter()
    window.run_queue()
    peak = before
    while window.queue.running:
        app.processEvents()
        time.sleep(0.02)
        peak = max(peak, rss_mb())
    seconds = time.perf_counter() - started
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    after = rss_mb()
    item = window.queue.items[0]
    result = {"points": window.queue.live.status.rows.get("samples", 0), "state": item.state, "seconds": seconds,
              "rss_before_mb": before, "rss_peak_mb": peak, "rss_after_mb": after,
              "live_bytes": window.queue.live.memory_bytes(), "redraws": window.plots.redraws}
    window.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the RSS run")
    parser.add_argument("--latency-s", type=float, default=20.0)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-redraw", action="store_true")
    parser.add_argument("--through-agent", action="store_true",
                        help="also: the same run by a local agent (its own process), the window following it")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="override the GUI's Python thread switch interval (to see its effect)")
    args = parser.parse_args()
    app = application()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    print(f"(Python thread switch interval {sys.getswitchinterval() * 1000:g} ms)")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    rng = np.random.default_rng(0)
    print(f"1. redraw of the lifetime plot, {SIZE[0]}x{SIZE[1]} px, median of 20 (ms)")
    print("   points  | window (bounded live data) | pyqtgraph: every point, peak downsampling + clip | "
          "every point, plain")
    for n in () if args.skip_redraw else (10**5, 10**6, 10**7):
        ours = redraw_ours(app, n, rng)
        best = redraw_pyqtgraph(app, n, rng, downsample=True)
        plain = redraw_pyqtgraph(app, n, rng, downsample=False) if n <= 10**6 else None
        print(f"   {n:>8.0e} | {ours['median_ms']:6.2f} ms, {ours['bytes'] / 2**10:.0f} KiB held "
              f"(feed {ours['feed_us_per_point_single']:.1f} us/point one by one, "
              f"{ours['feed_us_per_point_bulk']:.2f} in bulk) | {best['median_ms']:7.1f} ms, "
              f"{best['bytes'] / 2**20:.0f} MiB held | "
              + (f"{plain['median_ms']:.1f} ms" if plain else "-"))
    with tempfile.TemporaryDirectory() as tmp:
        idle = latency(app, args.latency_s / 2, False, Path(tmp))
        busy = latency(app, args.latency_s, True, Path(tmp))
        print("2. event-loop latency (lateness of a 10 ms timer)")
        print(f"   no run:                 p50 {idle['p50_ms']:.2f} ms, p99 {idle['p99_ms']:.2f} ms, "
              f"max {idle['max_ms']:.1f} ms ({idle['ticks']} ticks)")
        print(f"   lifetime at full speed: p50 {busy['p50_ms']:.2f} ms, p99 {busy['p99_ms']:.2f} ms, "
              f"max {busy['max_ms']:.1f} ms ({busy['ticks']} ticks; the run streamed {busy['rows_per_s']:.0f} "
              f"monitor rows/s, {busy['redraws']} redraws)  (target p99 < 50 ms)")
        if args.through_agent:
            remote = through_agent(app, args.latency_s, Path(tmp))
            print(f"   the same, run by an agent: p50 {remote['p50_ms']:.2f} ms, p99 {remote['p99_ms']:.2f} ms, "
                  f"max {remote['max_ms']:.1f} ms ({remote['ticks']} ticks; {remote['rows_per_s']:.0f} monitor rows/s "
                  f"drawn, {remote['redraws']} redraws)  (target p99 < 20 ms)")
        if not args.skip_rss:
            r = long_run_rss(app, args.points, Path(tmp))
            print(f"3. a {r['points']}-point run through the window ({r['state']}, {r['seconds']:.0f} s): RSS "
                  f"{r['rss_before_mb']:.0f} MB before, peak {r['rss_peak_mb']:.0f} MB, {r['rss_after_mb']:.0f} MB "
                  f"after; live data held {r['live_bytes'] / 2**10:.0f} KiB; {r['redraws']} redraws")


if __name__ == "__main__":
    main()
