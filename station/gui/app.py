"""Start the window: the Qt application, Ctrl-C and SIGTERM, the exit code.

Qt's event loop runs in C++, so Python's signal handlers only run when Python code
does: a 100 ms timer gives them the chance. The first Ctrl-C or SIGTERM aborts the run
(output off, read back; file closed as aborted) and closes the window, exit 130 or 143
(when an agent measures, the default, it only closes the window: the run goes on there);
later ones are only acknowledged, they cannot cut the shutdown short, and once the
window has closed the rest of a burst is ignored (the exit code stays the first one's).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError
from station.core.signals import INTERRUPTS
from station.setup.config import StationConfig

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: libraries Qt 6's xcb platform plugin loads beyond libxcb (seen missing on minimal Debian) -> package
X11_PACKAGES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                "xcb-image": "libxcb-image0", "xcb-render-util": "libxcb-render-util0",
                "xkbcommon-x11": "libxkbcommon-x11-0"}
X11_LIBRARIES = tuple(X11_PACKAGES)


def check_display() -> None:
    """A one-line error instead of Qt's abort (a core dump) when there is no screen to open
    a window on, or when Qt's X11 plugin lacks a system library it needs."""
    if not sys.platform.startswith("linux"):
        return
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or platform):
        raise ConfigError("no display to open the window on: run it on a desktop, under xvfb-run, or with "
                          "QT_QPA_PLATFORM=offscreen")
    if (platform in ("", "xcb") and os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        from ctypes.util import find_library

        missing = [name for name in X11_LIBRARIES if find_library(name) is None]
        if missing:
            raise ConfigError(f"Qt's X11 plugin needs the system libraries {', '.join('lib' + m for m in missing)} "
                              f"(Debian/Ubuntu: apt install {' '.join(X11_PACKAGES[m] for m in missing)})")


def application():
    """The QApplication (one per process)."""
    from PyQt6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(sys.argv[:1])
        app.setApplicationName("ledstation")
    return app


def run_window(config: StationConfig, folder: Path, pattern: str, watch: Sequence[Path] = (),
               open_files: Sequence[Path] = (), on_station_closed: Callable[[Any], None] | None = None,
               network: Sequence[Any] = (), queue: Any = None) -> int:
    """Show the window until it is closed; the exit code (130/143 after a signal).

    ``on_station_closed`` gets each station the queue closed (the command line reports what
    the last shutdown confirmed, as for every command)."""
    import pyqtgraph as pg
    from PyQt6 import QtCore

    from .run_queue import RunQueue
    from .window import StationWindow

    app = application()
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    window = StationWindow(config, folder, pattern,
                           queue=queue or RunQueue(config, folder, pattern, on_station_closed=on_station_closed),
                           network=list(network))
    for path in watch:
        window.watch(path)
    if open_files:
        window.browser.open_files(list(open_files))
    received: list[int] = []

    def handler(signum: int, _frame) -> None:
        received.append(signum)
        if len(received) > 1:
            os.write(2, b"\nledstation: signal received; switching the output off and closing the file first\n")

    previous = {s: signal.signal(s, handler) for s in EXIT_CODES}
    handled = [False]

    outlive = getattr(window.queue, "runs_outlive_window", False)  # an agent measures: the window only follows

    def look_at_signals() -> None:
        if received and not handled[0]:
            handled[0] = True
            window.confirm_close = lambda: True
            if not outlive:
                window.shut_down("Ctrl-C" if received[0] == signal.SIGINT else "SIGTERM")
            window.close()
            app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(look_at_signals)
    timer.start(100)
    window.show()
    if hasattr(window.queue, "reattach"):
        window.queue.reattach()  # the run the agent is measuring, if any, followed with its plots filled
    try:
        app.exec()
    finally:
        timer.stop()
        if window.queue.running and not outlive:  # the loop ended some other way: never leave a run going
            window.shut_down("the window's event loop ended")
        for s, h in previous.items():  # after a signal, the rest of a burst is ignored, never raised
            signal.signal(s, signal.SIG_IGN if received else h)
        INTERRUPTS.received.extend(received)  # the command line's exit code and last line know of them
    return EXIT_CODES[received[0]] if received else 0

