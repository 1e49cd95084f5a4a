"""Documents (issue 26, items 2 and 3): every record of every procedure has a JSON form that
round-trips; a JSON-lines file of a run replays into an HDF5 file identical to the one the
run wrote; plot declarations travel with the run, so a viewer draws a run whose procedure
it does not know; a bad document is refused in one line."""

from __future__ import annotations

import base64
import json

import h5py
import numpy as np
import pytest

from procedures import procedure_class, procedure_names
from station.core.errors import DataFileError
from station.data.reader import read_run
from station.run.documents import RecordDecoder, documents_of
from station.run.records import RunStart
from station.session.plan import execute, plan_run
from station.setup.config import load_config
from station.sinks.json_lines import JsonLinesSink


def quick_parameters(name: str) -> dict:
    return dict(getattr(procedure_class(name), "FAULT_MATRIX_PARAMETERS", {}))


def as_json(documents: list[dict]) -> str:
    return json.dumps(documents, allow_nan=False, sort_keys=True)


@pytest.mark.parametrize("name", procedure_names())
def test_every_record_of_every_procedure_round_trips_through_json(tmp_path, name):
    records = []
    outcome = execute(plan_run(name, quick_parameters(name), load_config(), tmp_path / f"{name}.h5"),
                      [records.append], queue_sinks=False)
    assert outcome.points > 0 and isinstance(records[0], RunStart)
    kinds = set()
    decoder = RecordDecoder()
    for record in records:
        documents = documents_of(record)
        text = as_json(documents)  # standard JSON: no NaN tokens
        back = [r for d in json.loads(text) for r in decoder.feed(d)]
        assert len(back) == 1
        assert as_json(documents_of(back[0])) == text  # the same documents from the decoded record
        kinds.update(d["kind"] for d in documents)
    assert {"start", "descriptor", "event", "stop"} <= kinds
    assert decoder.start.plots == records[0].plots and decoder.start.streams == records[0].streams


def test_a_documents_file_replays_into_the_same_hdf5_file(tmp_path):
    from station.session.replay import replay_documents

    jsonl = tmp_path / "run.jsonl"
    with JsonLinesSink(jsonl) as sink:
        direct = execute(plan_run("jvl", {"stop_voltage": 4.0, "step_voltage": 0.25}, load_config(),
                                  tmp_path / "direct.h5"), [sink])
    replayed = replay_documents(jsonl, tmp_path / "replayed.h5")
    a, b = read_run(direct.path), read_run(replayed.path)
    assert a.stream_names() == b.stream_names() and a.points == b.points > 10
    for stream in a.stream_names():
        names = a.column_names(stream)
        ca, cb = a.read_columns(names, stream), b.read_columns(names, stream)
        for n in names:
            np.testing.assert_array_equal(ca[n], cb[n])
    np.testing.assert_array_equal(a.spectra.spectral[:], b.spectra.spectral[:])
    np.testing.assert_array_equal(a.spectra.raw[:], b.spectra.raw[:])
    assert json.dumps(direct.analysis["figures"], sort_keys=True) == json.dumps(replayed.analysis["figures"],
                                                                                 sort_keys=True)
    assert a.plots == b.plots and a.declared_streams() == b.declared_streams() and b.figure_set == "sweep"
    assert (a.status, a.reason) == (b.status, b.reason)


def test_a_run_of_a_procedure_the_reader_does_not_know_still_plots(tmp_path):
    """Live plot, watch mode and `ledstation plot` draw from the file's own declarations."""
    from station.cli import main
    from station.sinks.live_data import LiveRunData

    out = tmp_path / "l.h5"
    execute(plan_run("lifetime", quick_parameters("lifetime"), load_config(), out))
    with h5py.File(out, "r+") as f:
        f["entry"].attrs["procedure"] = "a-procedure-from-elsewhere"
    run = read_run(out)
    assert [p.title for p in run.plots] == [p.title for p in procedure_class("lifetime").PLOTS]
    data = LiveRunData()
    data.begin(run.procedure, run.declared_streams(), run.plots)
    assert "monitor" in data.needed_columns() and "spectra" in data.needed_columns()
    assert main(["plot", str(out), "-o", str(tmp_path / "l.png")]) == 0  # its figure set, stored


def test_bad_documents_are_refused_in_one_line():
    decoder = RecordDecoder()
    for document, message in (({"kind": "event", "stream": "x", "index": 0}, "before the run's start"),
                              ({"kind": "exec"}, "kind must be one of"),
                              ("not an object", "an object is expected")):
        with pytest.raises(DataFileError, match=message):
            list(decoder.feed(document))
    from station.run.documents import decode_array, plot_from

    with pytest.raises(DataFileError, match="dtype must be one of"):
        decode_array({"dtype": "|O", "shape": [1], "base64": ""}, "x")
    with pytest.raises(DataFileError, match="does not match"):
        decode_array({"dtype": "<f8", "shape": [3], "base64": base64.b64encode(b"\0" * 8).decode()}, "x")
    with pytest.raises(DataFileError, match="value"):  # a format string that reaches into objects
        plot_from({"title": "t", "stream": "s", "x": "a", "y": "b",
                   "marks": [{"stream": "e", "x": "t", "where": "k", "equals": 3, "value": "v",
                              "label": "{value.__class__.__init__.__globals__}"}]})


def test_a_documents_file_that_is_not_one_is_bad_input(tmp_path):
    from station.data.documents_file import read_documents

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "start", "x": NaN}\n')
    with pytest.raises(DataFileError, match="line 1 is not JSON"):
        list(read_documents(bad))
    with pytest.raises(DataFileError, match="is a directory"):
        list(read_documents(tmp_path))


def test_a_configured_sink_feeds_every_run_and_is_checked_before_anything_opens(tmp_path, capsys):
    """[sinks] extra = ["json_lines"]: the documents beside the run file, replayable; an
    unknown name or an existing documents file is refused before an instrument opens."""
    from station.cli import main
    from station.session.replay import replay_documents

    config = tmp_path / "c.toml"
    config.write_text('[sinks]\nextra = ["json_lines"]\n')
    out = tmp_path / "a.h5"
    assert main(["run", "jvl", "--config", str(config), "--out", str(out), "--stop-voltage", "3"]) == 0
    replayed = replay_documents(tmp_path / "a.h5.jsonl", tmp_path / "b.h5")
    assert replayed.points == read_run(out).points > 0
    capsys.readouterr()
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "new.h5")]) == 0
    (tmp_path / "taken.h5.jsonl").write_text("")
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "taken.h5")]) == 2
    assert "taken.h5.jsonl exists" in capsys.readouterr().err and not (tmp_path / "taken.h5").exists()
    config.write_text('[sinks]\nextra = ["os.system"]\n')
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "x.h5")]) == 2
    config.write_text('[sinks]\nextra = ["database"]\n')
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert "[sinks] extra: must be a list of sink names" in err and "no sink 'database'; known: json_lines" in err


def test_the_documents_of_a_killed_run_replay_into_a_file_that_says_so(tmp_path):
    """No stop document and a last line cut short (the writer killed mid-line): the rows up to
    there, the file marked failed with the reason, nothing read past the cut."""
    from station.session.replay import replay_documents

    jsonl = tmp_path / "run.jsonl"
    with JsonLinesSink(jsonl) as sink:
        execute(plan_run("jvl", {"stop_voltage": 4.0}, load_config(), tmp_path / "a.h5"), [sink])
    lines = jsonl.read_bytes().splitlines(keepends=True)
    events = [i for i, line in enumerate(lines) if b'"kind":"event"' in line]
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:events[10]]) + lines[events[10]][:40])  # 10 events, then half a line
    outcome = replay_documents(cut, tmp_path / "cut.h5")
    stored = read_run(tmp_path / "cut.h5")
    assert stored.status == "failed" and "before the run's stop" in stored.reason and stored.points == 10
    assert outcome.status == "failed"


def test_any_json_is_a_record_or_a_one_line_refusal():
    """Whatever JSON arrives (a remote peer, a damaged file), decoding either gives records or
    raises DataFileError: never another exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
    kinds = st.sampled_from(["start", "descriptor", "event", "progress", "notice", "stop", "other"])
    documents = st.fixed_dictionaries({"kind": kinds}, optional={k: values for k in (
        "stream", "index", "values", "columns", "name", "streams", "parameters", "main", "light", "spectrum",
        "fraction", "status", "reason", "events", "end_time_s", "time_s", "message", "plots")})

    @settings(max_examples=300, deadline=None)
    @given(st.lists(documents, max_size=4))
    def check(sequence):
        decoder = RecordDecoder()
        for document in sequence:
            try:
                list(decoder.feed(document))
            except DataFileError:
                pass

    check()
