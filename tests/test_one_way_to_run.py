"""One way to run (issue 26, item 1): every front end plans and executes a run through
``station.session.plan``; none claims a file, opens a station or runs the runner itself.
The pixel loop stops on the outcome's fields, not on message text."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from station.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
#: the modules that start runs: the command line (new run, pixels, resume, reference), the window, scripts
FRONT_ENDS = ("station/cli/run_commands.py", "station/cli/pixel_runs.py", "station/cli/lifetime_commands.py",
              "station/cli/reference_command.py", "station/gui/run_queue.py")
#: what only the plan's execution may touch
THE_SEQUENCE = {"open_station", "opened_station", "RunFileClaim", "run_to_file", "check_free_space",
                "config_for_run", "HDF5RunWriter"}


def names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names}
    return used


@pytest.mark.parametrize("module", FRONT_ENDS)
def test_a_front_end_plans_and_executes_and_opens_nothing_itself(module):
    used = names_used(ROOT / module)
    assert not used & THE_SEQUENCE, f"{module} repeats the run sequence: {sorted(used & THE_SEQUENCE)}"
    assert {"execute"} <= used and ({"plan_run", "plan_resume"} & used or "plan" in used)


def test_the_run_sequence_is_written_once():
    """run_to_file is called by the plan's execution only (tests and benchmarks aside)."""
    callers = []
    for path in (ROOT / "station").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "run_to_file":
                callers.append(str(path.relative_to(ROOT)))
    assert callers == ["station/session/plan.py"]


def test_a_plan_checks_everything_before_anything_opens_and_is_plain_data(tmp_path, monkeypatch):
    from station.session import plan as plan_module
    from station.setup.config import load_config

    def no_station(*args, **kwargs):
        raise AssertionError("a station was opened")

    monkeypatch.setattr(plan_module, "open_station", no_station)
    config = load_config()
    for parameters, message in (({"stop_voltage": 1e6}, "stop-voltage"), ({"nonsense": 1}, "no parameter")):
        with pytest.raises(ConfigError, match=message):
            plan_module.plan_run("jvl", parameters, config, tmp_path / "a.h5")
    (tmp_path / "taken.h5").write_text("data")
    with pytest.raises(ConfigError, match="exists; pass --overwrite"):
        plan_module.plan_run("jvl", {}, config, tmp_path / "taken.h5")
    with pytest.raises(ConfigError, match="unknown procedure"):
        plan_module.plan_run("nope", {}, config, tmp_path / "a.h5")
    plan = plan_module.plan_run("lifetime", {"max_duration": 0.01}, config, tmp_path / "l.h5", title="t")
    described = json.loads(json.dumps(plan.describe()))
    assert described["procedure"] == "lifetime" and described["parameters"]["max_duration"] == 0.01
    assert described["out"] == str(tmp_path / "l.h5") and not (tmp_path / "l.h5").exists()


def test_execute_reports_the_output_read_back(tmp_path):
    from station.session.plan import execute, plan_run
    from station.setup.config import load_config

    outcome = execute(plan_run("jvl", {"stop_voltage": 3.0, "step_voltage": 0.5}, load_config(),
                               tmp_path / "j.h5"))
    assert outcome.status == "finished" and outcome.output_confirmed_off and outcome.path == tmp_path / "j.h5"
    assert outcome.output == "output confirmed off" and outcome.analysis["figures"]


def test_the_pixel_loop_stops_when_the_output_is_not_confirmed_off(tmp_path, capsys):
    """Decided by the outcome's field: the loop stops after the first pixel."""
    from station.cli import main

    config = tmp_path / "c.toml"
    config.write_text('[substrate]\nname = "S1"\npixels = [{name = "A", area_cm2 = 0.04, channel = "1!1"}, '
                      '{name = "B", area_cm2 = 0.04, channel = "1!2"}]\n'
                      '[switch]\nkind = "keithley7001"\naddress = "sim"\n'
                      '[simulation]\nfaults = [{kind = "output_off_fails", at = 3, count = 1000}]\n')
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "{pixel}.h5"),
                 "--stop-voltage", "2", "--step-voltage", "0.5"]) == 1
    printed = capsys.readouterr().out
    assert "pixel A" in printed and "pixel B" not in printed
