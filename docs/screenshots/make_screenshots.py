"""Screenshots of the station window in a real (X) window, for the README.

Run under a display, e.g. a virtual one:

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

It queues a J-V-L sweep on the simulated bench (real time, so the run is caught half-way),
then a lifetime run of the red QD preset on the virtual clock (caught after T90, with the
running prediction of T50), then opens both files in the run browser; each is grabbed
from the screen into this folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from station.gui.app import application, check_display  # noqa: E402
from station.setup.config import config_from_text  # noqa: E402


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app, condition, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def grab(app, window, name: str) -> None:
    pump(app, 0.6)  # two redraws of the plots
    window.plots.refresh()
    app.processEvents()
    picture = app.primaryScreen().grabWindow(int(window.winId()))
    picture.save(str(HERE / name))
    print(f"wrote {HERE / name} ({picture.width()}x{picture.height()})")


def main() -> None:
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        raise SystemExit("this script wants a real display (xvfb-run), not the offscreen platform")
    check_display()
    import pyqtgraph as pg

    from station.gui.window import StationWindow

    app = application()
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    folder = Path(tempfile.mkdtemp(prefix="ledstation-screens-"))
    realtime = config_from_text('[simulation]\nrealtime = true\n', "screenshots (real-time simulated bench)")
    window = StationWindow(realtime, folder)
    window.move(0, 0)
    window.resize(1560, 960)
    window.show()
    window.form.set_values({"step_voltage": 0.05, "stop_voltage": 5.0, "settle_time": 0.05})
    window.title.setText("FRET pixel 3")
    window.add_to_queue()
    window.run_queue()
    wait_for(app, lambda: window.queue.live.status.rows.get("points", 0) >= 60, 300)
    grab(app, window, "jvl-run.png")
    window.queue.wait(300)
    pump(app, 0.5)

    red = config_from_text('[simulation]\npreset = "red-cspbbri-qd"\n', "screenshots (red QD preset)")
    window.queue.config = red
    window.station_label.setText(window.station_label.text().replace("deep-red-cspbi3-fret", "red-cspbbri-qd")
                                 .replace(", real time", "").replace("(screenshots (real-time simulated bench))",
                                                                     "(virtual clock)"))
    window.procedure.setCurrentIndex(window.procedure.findData("lifetime"))
    window.form.set_values({"current_density": 5.0, "monitor_interval": 60.0, "max_duration": 200.0,
                            "stop_at_percent": 50.0})
    window.title.setText("red QD pixel 1, 5 mA/cm^2")
    window.add_to_queue()
    window.run_queue()
    wait_for(app, lambda: window.queue.live.status.rows.get("monitor", 0) >= 2600, 300)
    grab(app, window, "lifetime-run.png")
    window.abort()
    window.queue.wait(60)
    pump(app, 0.5)

    window.browser.open_files([item.path for item in window.queue.items if item.path is not None])
    window.tabs.setCurrentWidget(window.browser)
    window.browser.files.setCurrentRow(0)
    window.browser.files.item(1).setCheckState(pg.QtCore.Qt.CheckState.Unchecked)
    window.browser.log_y.setChecked(True)
    pump(app, 0.5)
    picture = app.primaryScreen().grabWindow(int(window.winId()))
    picture.save(str(HERE / "run-browser.png"))
    print(f"wrote {HERE / 'run-browser.png'}")
    window.close()


if __name__ == "__main__":
    main()
