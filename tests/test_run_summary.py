"""The run summary a rack view shows (station.sinks.run_summary): L/L0, the T_x prediction,
elapsed and remaining, checked against the run's own file and records."""

from __future__ import annotations

import json

import pytest

from station.data.reader import read_run
from station.gui.rack_view import COLUMNS, AgentAddress, _row_texts
from station.run.records import Event, Progress, RunStart
from station.session.plan import execute, plan_run
from station.setup.config import load_config
from station.sinks.run_summary import RunSummarySink

LIFETIME = {"drive_mode": "current", "current_density": 20.0, "monitor_interval": 60.0, "stop_at_percent": 50,
            "stop_when_predicted_within": 0.05, "spectrum_interval": 1e5, "max_duration": 20.0}


@pytest.fixture(scope="module")
def lifetime_records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("summary")
    out = folder / "l.h5"
    (folder / "station.toml").write_text('[simulation]\npreset = "red-cspbbri-qd"\n', encoding="utf-8")
    records: list = []
    outcome = execute(plan_run("lifetime", LIFETIME, load_config(folder / "station.toml"), out), [records.append],
                      queue_sinks=False)
    assert outcome.status == "finished"
    return out, records


def test_the_summary_holds_the_runs_last_l_over_l0_prediction_and_time(tmp_path, lifetime_records):
    out, records = lifetime_records
    sink = RunSummarySink(tmp_path / "s.json", interval_s=0.0)
    start = next(r for r in records if isinstance(r, RunStart))
    max_s = float(start.parameters["max_duration"][0]) * 3600
    checked = 0
    for record in records:
        sink(record)
        if isinstance(record, Progress) and 0 < record.fraction < 1:
            written = json.loads((tmp_path / "s.json").read_text())
            # a lifetime's progress is its time under drive over the maximum: what remains is the rest
            assert written["remaining_s"] == pytest.approx(max_s - written["elapsed_s"], rel=1e-9)
            checked += 1
    assert checked > 10
    summary = json.loads((tmp_path / "s.json").read_text())
    run = read_run(out)
    monitor = run.read_columns(["relative_light", "elapsed_s"], "monitor")
    assert summary["relative_light"] == pytest.approx(float(monitor["relative_light"][-1]), rel=1e-12)
    assert summary["elapsed_s"] == pytest.approx(float(monitor["elapsed_s"][-1]), rel=1e-12)
    last_prediction = [r.values for r in records if isinstance(r, Progress) and r.values][-1]
    assert summary["predicted_s"] == pytest.approx(last_prediction["predicted_s"], rel=1e-12)
    assert summary["predicted_low_s"] < summary["predicted_s"] < summary["predicted_high_s"]
    assert summary["status"] == "finished" and summary["remaining_s"] is None  # JSON has no NaN


def test_a_sweep_has_no_l_over_l0_and_the_file_is_rewritten_at_most_once_an_interval(tmp_path, lifetime_records):
    _, records = lifetime_records
    now = [0.0]
    sink = RunSummarySink(tmp_path / "s.json", interval_s=1.0, clock=lambda: now[0])
    writes = []
    original = sink._write
    sink._write = lambda: (writes.append(now[0]), original())
    start = next(r for r in records if isinstance(r, RunStart))
    sink(start)
    for i, record in enumerate(r for r in records if isinstance(r, Event)):
        now[0] = i * 0.1  # ten records a second
        sink(record)
    assert len(writes) == pytest.approx(1 + now[0], abs=2)
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(writes[1:], writes[2:], strict=False))


def test_the_rack_row_shows_the_summary_in_hours_and_l_over_l0():
    status = {"channel": "A", "busy": True, "paused": False, "holder": "", "queue": [{}, {}],
              "current": {"procedure": "lifetime", "launched_wall_s": 0.0}, "last": None,
              "summary": {"relative_light": 0.8123, "elapsed_s": 3723.0, "remaining_s": 90061.0,
                          "predicted_percent": 50.0, "predicted_s": 43200.0, "predicted_low_s": 36000.0,
                          "predicted_high_s": 54000.0}}
    row = dict(zip(COLUMNS, _row_texts(AgentAddress("rack1"), status, None), strict=True))
    assert row["L/L0"] == "0.812" and row["elapsed"] == "1:02:03" and row["remaining"] == "1d 1:01:01"
    assert row["T_x predicted"] == "T50 ~ 12:00:00 [10:00:00, 15:00:00]" and row["queued"] == "2"
    idle = dict(zip(COLUMNS, _row_texts(AgentAddress("rack1"), {**status, "busy": False, "current": None}, None),
                    strict=True))
    assert idle["L/L0"] == idle["remaining"] == idle["elapsed"] == "" and idle["state"] == "idle"
