"""One run in a process of its own, started by the agent (``python -m station.service.run_process``).

The run is planned and executed by the session's plan/execute, exactly as the command line
runs it. Beside it a LECO component named ``<agent>-<channel>`` (its *control*) answers the
agent, a window or a script:

* ``abort()`` and ``emergency_stop()``: the run ends as on Ctrl-C (the runner's abort: ramp
  to zero, or straight off for an emergency, output read back, the file closed
  ``aborted``). A message, never a signal: on Windows terminating a process is a hard kill
  that would leave the output on. An abort that arrives while the station is still opening
  is kept and applied as soon as the run starts.
* ``status()``: the run's state as plain data.

Exit codes: 0 finished, 1 failed or aborted, 2 the plan was refused (bad input).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EXIT_FINISHED, EXIT_ENDED, EXIT_REFUSED = 0, 1, 2


class RunControl:
    """What the control component does to the run (thread-safe: called from its listener)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runner: Any = None
        self._pending: tuple[str, bool] | None = None
        self.state = "opening"
        self.points = 0

    def attach(self, runner: Any) -> None:
        with self._lock:
            self._runner = runner
            self.state = "running"
            pending, self._pending = self._pending, None
        if pending is not None:
            runner.abort(*pending)

    def abort(self, emergency: bool = False) -> str:
        reason = "emergency stop by the operator" if emergency else "aborted by the operator"
        with self._lock:
            runner = self._runner
            if runner is None:
                self._pending = (reason, emergency)
        if runner is not None:
            runner.abort(reason, emergency=emergency)
        return reason

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"state": self.state, "abort_requested": self._pending is not None}


def _control_component(name: str, host: str, port: int, control: RunControl, stop: threading.Event):
    """The LECO component that answers for the run, listening on its own thread."""
    from pyleco.utils.message_handler import MessageHandler

    handler = MessageHandler(name=name, host=host, port=port)
    handler.register_rpc_method(lambda: control.abort(False), name="abort")
    handler.register_rpc_method(lambda: control.abort(True), name="emergency_stop")
    handler.register_rpc_method(control.status, name="status")
    thread = threading.Thread(target=handler.listen, kwargs={"stop_event": stop}, name="run-control", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m station.service.run_process", description=__doc__.splitlines()[0])
    parser.add_argument("--job", required=True, help="the run, as JSON (written by the agent)")
    parser.add_argument("--control-name", default="", help="LECO name of the run's control ('' for none)")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=12300)
    parser.add_argument("--data-port", type=int, default=0, help="publish the documents to this data proxy (0: no)")
    parser.add_argument("--summary", default="", help="keep the run's summary (a rack view's numbers) in this file")
    args = parser.parse_args(argv)
    from station.core.errors import StationError
    from station.core.signals import INTERRUPTS
    from station.session.plan import execute, plan_run
    from station.setup.config import load_config

    job = json.loads(Path(args.job).read_text(encoding="utf-8"))
    control, stop = RunControl(), threading.Event()
    if args.control_name:
        _control_component(args.control_name, args.host, args.port, control, stop)
    try:
        with INTERRUPTS.installed():
            try:
                config = load_config(job["config"]) if job["config"] != "default" else load_config()
                if job.get("device_state") and config.uses_simulation:
                    config = dataclasses.replace(config, simulated_device_state=job["device_state"])
                if job.get("resume"):  # the stored run continued, as `ledstation resume` does
                    from station.session.plan import plan_resume

                    plan = plan_resume(job["out"], config)
                else:
                    plan = plan_run(job["procedure"], job["parameters"], config, job["out"],
                                    overwrite=job.get("overwrite", False), title=job.get("title", ""))
                plan = dataclasses.replace(plan, run_id=job.get("run_id", ""))  # the agent's id for the run
            except StationError as exc:
                print(f"ledstation run: {exc}", file=sys.stderr)
                return EXIT_REFUSED
            sinks: list = []
            if args.summary:
                from station.sinks.run_summary import RunSummarySink

                sinks.append(RunSummarySink(args.summary))
            if args.data_port and args.control_name:
                from station.sinks.leco_publisher import LecoPublisherSink

                sinks.append(LecoPublisherSink(args.control_name, args.host, args.data_port))
            outcome = execute(plan, sinks, on_runner=control.attach)
    finally:
        control.state = "ended"
        stop.set()
    print(json.dumps({"status": outcome.status, "reason": outcome.reason, "output": outcome.output,
                      "output_confirmed_off": outcome.output_confirmed_off}), flush=True)
    return EXIT_FINISHED if outcome.status == "finished" else EXIT_ENDED


if __name__ == "__main__":
    sys.exit(main())
