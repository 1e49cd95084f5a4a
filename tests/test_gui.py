"""The station window, offscreen (pytest-qt): queue, abort and emergency stop during a
long radiometer reading, closing during a run, watch mode, the parameter check."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from station.core.errors import ConfigError
from station.data.file_claim import is_hdf5
from station.data.reader import read_run
from station.gui.window import StationWindow
from station.setup.config import config_from_text, load_config

pytest.importorskip("pytestqt")

def bench_config(tmp_path: Path, geometry: str = "radiometer"):
    """The simulated bench (virtual clock: waits cost nothing, so only the window's own
    reaction is timed) with the light instrument asked for."""
    text = f'[light]\ngeometry = "{geometry}"\n'
    (tmp_path / "station.toml").write_text(text)
    return config_from_text(text, str(tmp_path / "station.toml"))


#: a lifetime run that lasts minutes of real time on the virtual clock (closed long before)
LONG_LIFETIME = {"monitor_interval": 60.0, "max_duration": 1000.0}


@pytest.fixture
def window(qtbot, tmp_path):
    made = []

    def make(config=None):
        w = StationWindow(config or load_config(None), tmp_path)
        w.confirm_close = lambda: True
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w
    yield make
    for w in made:  # no run left going, and the window's Qt objects freed here, on the GUI thread
        w.queue.abort()
        w.queue.wait(60)
    made.clear()
    gc.collect()


def wait_for_queue(qtbot, w, timeout_s=120.0):
    qtbot.waitUntil(lambda: not w.queue.running, timeout=int(timeout_s * 1000))


def test_two_queued_runs_write_two_files(qtbot, window, tmp_path):
    w = window()
    w.queue.add("jvl", {"step_voltage": 0.25, "stop_voltage": 5.0}, title="pixel A")
    w.queue.add("eqe", {"points_per_decade": 3, "stop_current_density": 10.0}, title="pixel A")
    w.run_queue()
    wait_for_queue(qtbot, w)
    items = w.queue.items
    assert [i.state for i in items] == ["finished", "finished"], [i.describe() for i in items]
    files = sorted(tmp_path.glob("*.h5"))
    assert len(files) == 2 and {i.path for i in items} == set(files)
    runs = [read_run(i.path) for i in items]
    assert [r.procedure for r in runs] == ["jvl", "eqe"]
    assert all(r.status == "finished" and r.points > 5 for r in runs)
    # the live plots were fed by the record stream: the J-V curve holds every point of the last run
    w.plots.refresh()
    curves = {p.plot.title: p for p in w.plots.last_snapshot.plots}
    assert curves["EQE-J"].points == runs[1].points
    assert w.queue.station.smu.confirmed_off


def _slow_radiometer(bench, started: threading.Event, release: threading.Event, seconds: float = 60.0):
    """The simulated PR-655's next measurement takes up to ``seconds`` (a dim source on a
    real one can take a minute), until ``release``."""
    radiometer = bench.radiometer
    original = radiometer._measure

    def measure():
        if not started.is_set() and radiometer.measurements >= 2:  # a point into the sweep
            started.set()
            release.wait(seconds)
        original()

    radiometer._measure = measure


@pytest.mark.parametrize("emergency", [False, True], ids=["abort", "emergency stop"])
def test_abort_during_a_long_radiometer_reading_switches_the_output_off_within_one_second(
        qtbot, window, tmp_path, recorded, emergency):
    w = window(bench_config(tmp_path))
    w.queue.add("jvl", {"start_voltage": 2.5, "step_voltage": 0.25, "stop_voltage": 5.0, "settle_time": 0.0})
    started, release = threading.Event(), threading.Event()
    w.run_queue()
    qtbot.waitUntil(lambda: len(recorded) == 1, timeout=30000)
    bench = recorded[0]
    _slow_radiometer(bench, started, release)
    qtbot.waitUntil(started.is_set, timeout=60000)
    time.sleep(0.3)
    assert bench.keithley.output_on, "the output should be on while the radiometer measures"
    clicked = time.monotonic()
    qtbot.mouseClick(w.stop_button if emergency else w.abort_button, Qt.MouseButton.LeftButton)
    while bench.keithley.output_on and time.monotonic() - clicked < 5:
        qtbot.wait(10)
    off_after_s = time.monotonic() - clicked
    assert not bench.keithley.output_on
    assert off_after_s < 1.0, f"output off {off_after_s:.2f} s after the click"
    assert not release.is_set()  # the radiometer was still in its reading
    release.set()
    wait_for_queue(qtbot, w, 60)
    item = w.queue.items[0]
    assert item.state == "aborted", item.describe()
    run = read_run(item.path)
    assert run.status == "aborted"
    assert ("emergency stop" if emergency else "aborted by the operator") in run.reason
    assert w.queue.station.output_report.confirmed


def test_closing_the_window_during_a_run_leaves_the_output_off_and_the_file_aborted(qtbot, window, tmp_path,
                                                                                      recorded):
    w = window(bench_config(tmp_path, "sphere"))
    w.queue.add("lifetime", LONG_LIFETIME)
    w.run_queue()
    qtbot.waitUntil(lambda: w.queue.live.status.rows.get("monitor", 0) >= 2, timeout=60000)
    assert recorded[0].keithley.output_on
    asked = []
    w.confirm_close = lambda: asked.append(1) or True
    assert w.close()
    assert asked == [1]
    assert not w.queue.running
    assert not recorded[0].keithley.output_on
    item = w.queue.items[0]
    run = read_run(item.path)
    assert run.status == "aborted" and "operator" in run.reason
    assert run.points >= 2


def test_closing_can_be_refused_and_the_run_goes_on(qtbot, window, tmp_path, recorded):
    w = window(bench_config(tmp_path, "sphere"))
    w.queue.add("lifetime", LONG_LIFETIME)
    w.run_queue()
    qtbot.waitUntil(lambda: w.queue.live.status.rows.get("monitor", 0) >= 1, timeout=60000)
    w.confirm_close = lambda: False
    assert not w.close()
    assert w.queue.running and recorded[0].keithley.output_on
    w.confirm_close = lambda: True
    assert w.close()
    assert not recorded[0].keithley.output_on


def test_watch_mode_follows_a_run_written_by_another_process(qtbot, window, headless_lifetime):
    process, out = headless_lifetime()
    w = window()
    view = w.watch(out)  # (the name may still be claimed, empty, until the first point is flushed)
    assert view is not None, w.message.text()
    qtbot.waitUntil(lambda: view.watcher is not None and view.watcher.seen["monitor"] >= 2, timeout=30000)
    first = view.watcher.seen["monitor"]
    qtbot.waitUntil(lambda: view.watcher.seen["monitor"] > first + 20, timeout=30000)
    assert process.poll() is None, "the run should still be going while the window follows it"
    assert view.data.status.status == "running"
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 143
    stored = read_run(out)
    assert stored.status == "aborted"
    qtbot.waitUntil(lambda: view.data.status.status == "aborted", timeout=30000)
    qtbot.waitUntil(lambda: view.watcher.seen["monitor"] == stored.rows("monitor"), timeout=30000)
    view.panel.refresh()
    curve = next(p for p in view.panel.last_snapshot.plots if p.plot.y == "relative_light")
    assert curve.points == stored.rows("monitor")
    assert np.allclose(curve.x[:5], stored.read_columns(["elapsed_s"], "monitor")["elapsed_s"][:5] / 3600)


def test_the_parameter_form_uses_the_command_lines_check(qtbot, window):
    from procedures import procedure_class
    from procedures.parameters import build_procedure

    w = window()
    w.procedure.setCurrentIndex(w.procedure.findData("jvl"))
    w.form.inputs["step_voltage"].setText("0")
    assert w.form.error and not w.add_button.isEnabled()
    with pytest.raises(ConfigError) as cli:
        build_procedure(procedure_class("jvl"), {**w.form.values()}, load_config(None))
    assert w.form.error == str(cli.value)
    assert "step" in w.form.error
    assert w.form.inputs["step_voltage"].styleSheet()  # the field named turns red
    w.form.inputs["step_voltage"].setText("abc")
    assert "not a number" in w.form.error
    w.form.inputs["step_voltage"].setText("0.5")
    assert not w.form.error and w.add_button.isEnabled()


def test_queue_editing_and_file_names(qtbot, window, tmp_path):
    w = window()
    q = w.queue
    q.pattern = "{procedure}-settle{settle_time:g}-{n}.h5"
    q.add("jvl", {"settle_time": 0.1, "stop_voltage": 4.0, "step_voltage": 0.5})
    q.duplicate(0, {"settle_time": 0.5})
    q.duplicate(1, {"settle_time": 1.0})
    assert [i.values["settle_time"] for i in q.items] == [0.1, 0.5, 1.0]
    q.move(2, 0)
    q.remove(1)
    assert [i.values["settle_time"] for i in q.items] == [1.0, 0.5]
    with pytest.raises(ConfigError):
        q.duplicate(0, {"settle_time": -1.0})
    with pytest.raises(ConfigError, match="unknown field"):
        from station.gui.run_queue import check_pattern

        check_pattern("{nonsense}.h5", "jvl", {})
    for outside in ("../{n}.h5", "/tmp/{n}.h5", "{n}.csv"):
        with pytest.raises(ConfigError, match="inside the folder|ending in .h5"):
            check_pattern(outside, "jvl", {})
    (tmp_path / "jvl-settle0.5-2.h5").write_bytes(b"not to be replaced")
    w.run_queue()
    wait_for_queue(qtbot, w)
    assert [i.state for i in q.items] == ["finished", "finished"]
    assert (tmp_path / "jvl-settle0.5-2.h5").read_bytes() == b"not to be replaced"  # a name taken is kept
    assert q.items[1].path == tmp_path / "jvl-settle0.5-2-2.h5"
    assert read_run(tmp_path / "jvl-settle1-1.h5").parameters["settle_time"][0] == 1.0


def test_the_browser_shows_figures_overlays_and_exports(qtbot, window, tmp_path):
    w = window()
    w.queue.add("jvl", {"step_voltage": 0.25, "stop_voltage": 5.0})
    w.queue.add("jvl", {"step_voltage": 0.5, "stop_voltage": 5.0})
    w.run_queue()
    wait_for_queue(qtbot, w)
    paths = [i.path for i in w.queue.items]
    errors = w.browser.open_files([*paths, tmp_path / "missing.h5"])
    assert len(errors) == 1 and "no such file" in errors[0]
    assert w.browser.files.count() == 2
    figures = {w.browser.figures.item(r, 0).text(): w.browser.figures.item(r, 1).text()
               for r in range(w.browser.figures.rowCount())}
    stored = read_run(paths[1]).analysis
    assert float(figures["peak_eqe"].rstrip(" %")) == pytest.approx(100 * stored["peak_eqe"], rel=1e-3)  # in %
    assert len(w.browser.plot.getPlotItem().listDataItems()) == 2
    message = w.browser.export(read_run(paths[0]), tmp_path / "a.csv")
    assert message.startswith("wrote") and (tmp_path / "a.csv").read_text().count("\n") == read_run(paths[0]).points + 2
    assert "never replaced" in w.browser.export(read_run(paths[0]), paths[1])


def test_the_gui_command_refuses_bad_input_with_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from station.cli import main

    assert main(["gui", "--folder", str(tmp_path / "nowhere")]) == 2
    assert main(["gui", "--folder", str(tmp_path), "--pattern", "{bogus}.h5"]) == 2
    assert main(["gui", "--folder", str(tmp_path), "--watch", str(tmp_path / "missing.h5")]) == 2
    (tmp_path / "text.h5").write_text("not a run")
    assert main(["gui", "--folder", str(tmp_path), "--open", str(tmp_path / "text.h5")]) == 2
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main(["gui", "--folder", str(tmp_path)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 5 and all(line.startswith("ledstation: error:") for line in lines), lines
    assert "no display" in lines[-1] and "Traceback" not in "".join(lines)


SIGNALLED_WINDOW = """
import sys
from station.gui import window as window_module
from station.cli import main

class Started(window_module.StationWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queue.add("lifetime", {"monitor_interval": 60.0, "max_duration": 1000.0})
        self.run_queue()

window_module.StationWindow = Started
sys.argv = ["ledstation", "gui", "--folder", sys.argv[1], "--pattern", "run.h5", "--in-process"]
sys.exit(main())  # as the installed program runs it (argv from the command line)
"""


@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGINT,) * 5, (signal.SIGTERM,)],
                         ids=["Ctrl-C", "Ctrl-C five times", "SIGTERM"])
def test_signals_to_the_window_switch_the_output_off_and_close_the_file(tmp_path, signals):
    script = tmp_path / "window.py"
    script.write_text(SIGNALLED_WINDOW)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    out = tmp_path / "run.h5"
    deadline = time.monotonic() + 60
    while not (out.exists() and is_hdf5(out)) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    for s in signals:
        process.send_signal(s)
        time.sleep(0.02)
    code = process.wait(60)
    errors = "\n".join(line for line in process.stderr.read().decode().splitlines() if "propagateSizeHints" not in line)
    assert code == (130 if signals[0] == signal.SIGINT else 143), f"exit {code}: {errors}"
    assert errors.splitlines()[-1].endswith("output confirmed off"), errors
    run = read_run(out)
    assert run.status == "aborted" and run.points > 0
    with run.open() as f:
        assert f["entry/output_state"][0].decode() == "output confirmed off"


@pytest.mark.parametrize("stop_on_failure", [False, True])
def test_a_failed_run_stops_the_queue_only_when_asked(qtbot, window, tmp_path, stop_on_failure):
    from sim_instruments.bench import SimulatedBench
    from sim_instruments.faults import Fault
    from station.setup.station import open_station

    w = window()
    opened = []

    def opener(config):  # the first run's device shorts at its 5th reading
        opened.append(1)
        faults = (Fault("short_circuit", 5, 0),) if len(opened) == 1 else ()
        return open_station(config, bench=SimulatedBench(faults=faults))

    w.queue._opener = opener
    w.stop_on_failure.setChecked(stop_on_failure)
    w.queue.add("jvl", {"step_voltage": 0.25, "stop_voltage": 5.0})
    w.queue.add("jvl", {"step_voltage": 0.25, "stop_voltage": 5.0})
    w.run_queue()
    wait_for_queue(qtbot, w)
    first, second = w.queue.items
    assert first.state == "failed" and "short circuit" in first.reason
    assert read_run(first.path).status == "failed"
    assert second.state == ("queued" if stop_on_failure else "finished")


def test_run_files_dropped_on_the_browser_are_opened(qtbot, window, tmp_path):
    from PyQt6 import QtCore, QtGui

    w = window()
    w.queue.add("jvl", {"step_voltage": 0.5, "stop_voltage": 4.0})
    w.run_queue()
    wait_for_queue(qtbot, w)
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(w.queue.items[0].path))])
    position = QtCore.QPointF(10, 10)
    enter = QtGui.QDragEnterEvent(position.toPoint(), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    w.browser.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(position, QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton,
                            QtCore.Qt.KeyboardModifier.NoModifier)
    w.browser.dropEvent(drop)
    assert w.browser.files.count() == 1 and "jvl, finished" in w.browser.files.item(0).text()


def test_an_abort_while_the_station_opens_never_switches_the_output_on(qtbot, window):
    from sim_instruments.bench import SimulatedBench
    from station.setup.station import open_station

    w = window()
    benches = []

    def opener(config):  # the operator clicks Abort while the instruments are being opened
        benches.append(SimulatedBench())
        station = open_station(config, bench=benches[-1])
        w.queue.abort()
        return station

    w.queue._opener = opener
    w.queue.add("jvl", {})
    w.run_queue()
    wait_for_queue(qtbot, w)
    item = w.queue.items[0]
    assert item.state == "aborted" and "aborted by the operator" in item.reason
    assert item.path is None or (read_run(item.path).status == "aborted" and read_run(item.path).points == 0)
    assert benches[0].readings == 0 and not benches[0].keithley.output_on


def test_a_title_or_a_link_cannot_take_a_run_file_outside_the_folder(tmp_path):
    """Issue 23, item 4: pattern a/{title}/{title}/... with a run titled '..' wrote outside --folder."""
    from station.gui.run_queue import QueuedRun, RunQueue

    folder = tmp_path / "runs"
    folder.mkdir()
    queue = RunQueue(load_config(), folder, "a/{title}/{title}/{n}-{procedure}.h5")
    for title in ("..", "../..", ".", "/etc", "..\\..", ".hidden"):
        path = queue.file_for(QueuedRun("jvl", {}, title), 1)
        assert folder.resolve() in path.resolve().parents, (title, path)
        assert ".." not in path.parts and not path.parts[-2].startswith(".")
    (folder / "out").symlink_to(tmp_path, target_is_directory=True)
    queue.pattern = "out/{n}-{procedure}.h5"
    with pytest.raises(ConfigError, match="outside the folder"):
        queue.file_for(QueuedRun("jvl", {}, ""), 1)


@pytest.mark.parametrize("pattern", ["{n:1000000000}.h5", "{n!r}.h5", "{procedure.__class__}.h5", "{procedure[0]}.h5",
                                     "{n:{n}}.h5", "{title:d}.h5", "{n:s}.h5", "{date:%Y}.h5", "{}.h5", "{0}.h5"])
def test_every_bad_pattern_is_refused_in_one_line_with_exit_2(tmp_path, capsys, pattern):
    """Issue 23, item 11: some format specs exited 1 (or ran out of memory) instead of exit 2."""
    from station.cli import main

    assert main(["gui", "--folder", str(tmp_path), "--pattern", pattern]) == 2
    substrate = str(Path(__file__).resolve().parent.parent / "docs" / "substrate-example.toml")
    pixel_pattern = str(tmp_path / pattern.replace("{n:s}", "{pixel:d}").replace("{n", "{pixel").replace("{title",
                                                                                                        "{pixel"))
    assert main(["run", "jvl", "--config", substrate, "--out", pixel_pattern, "--stop-voltage", "2"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("ledstation: error:") for line in lines), lines
