"""``ledstation gui``: the station window (PyQt6 and pyqtgraph).

Above the session, beside the command line: the window builds procedures with the
command line's own parameter check, runs them through :func:`station.session.plan.execute`
on a worker thread (:mod:`.run_queue`), and draws what a
:class:`~station.sinks.live_data.LiveRunData` sink holds (:mod:`.plot_panel`). Watch
mode follows a file another process writes (:mod:`station.data.watch`).
"""
