"""The run engine: streams through the real runner and writer, sinks that cannot slow a run,
the registry, constant memory."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import h5py
import numpy as np
import pytest

import procedures
from station import cli
from station.data.reader import read_run
from station.run.record_stream import QueuedSink, RecordStream
from station.run.records import Event, Progress, RunStop
from station.run.runner import ProcedureRunner
from station.session import run_to_file
from station.setup.config import load_config
from station.setup.station import open_station

from .two_stream_procedure import TwoStreamProcedure


def two_stream_run(path, durability_interval_s: float, steps: int = 23, every: int = 5, sinks=()):
    config = dataclasses.replace(load_config(), durability_interval_s=durability_interval_s)
    procedure = TwoStreamProcedure(steps=steps, spectrum_every=every, interval=2.0)
    recorded: list[Event] = []
    with open_station(config) as station:
        outcome = run_to_file(procedure, station, path, sinks=[recorded.append, *sinks], queue_sinks=False)
    return outcome, [r for r in recorded if isinstance(r, Event)], station


@pytest.mark.parametrize("durability_interval_s", [0.0, 0.5])
def test_two_streams_hold_exactly_the_rows_recorded_and_no_filler(tmp_path, durability_interval_s):
    path = tmp_path / "two.h5"
    outcome, events, station = two_stream_run(path, durability_interval_s)
    assert outcome.status == "finished" and outcome.stop.events == {"samples": 23, "spectra": 5}
    assert not station.bench.keithley.output_on

    run = read_run(path)
    assert run.file_format == "ledstation-run/2" and run.stream_names() == ["samples", "spectra"]
    assert run.metadata["durability_interval_s"] == durability_interval_s
    assert run.rows("samples") == 23 and run.rows("spectra") == 5
    samples = run.read_columns(["step", "voltage_V", "current_A"], "samples")
    assert samples["step"].tolist() == list(range(23))
    assert samples["voltage_V"] == pytest.approx(3.0, abs=1e-3)
    assert np.isfinite(samples["current_A"]).all()
    spectra_steps = run.read_columns(["step"], "spectra")["step"]
    assert spectra_steps.tolist() == [0, 5, 10, 15, 20]

    assert run.spectra_of("samples") is None  # no spectrum datasets, no NaN rows, for the scalar stream
    spectra = run.spectra_of("spectra")
    assert spectra.rows.tolist() == list(range(5)) and spectra.spectral.shape[0] == 5
    sent = [e for e in events if e.stream == "spectra"]
    for k, event in enumerate(sent):
        np.testing.assert_allclose(spectra.spectral[k], event.spectrum.spectral.astype("f4"), rtol=1e-6)
        np.testing.assert_array_equal(spectra.raw[k], event.spectrum.raw.astype("f4"))
    with h5py.File(path, "r") as f:
        entry = f["entry"]
        assert "spectra_spectra" in entry and "spectra_samples" not in entry and "spectra" not in entry
        assert entry["spectra_spectra/spectral"].shape == (5, len(spectra.wavelength_nm))
        assert not np.isnan(entry["spectra_spectra/spectral"][()]).any()
        assert entry["data"].attrs["signal"] == "current_A" and entry["data/elapsed_s"].shape == (23,)
        assert entry["instrument/light/dark_library"].shape[0] == len(spectra.dark_library)


def test_records_outside_the_declaration_fail_the_run_with_the_output_off(tmp_path):
    class Careless(TwoStreamProcedure):
        def execute(self):
            self.record("samples", {"step": 0, "no_such_column": 1.0})

    config = load_config()
    with open_station(config) as station:
        outcome = run_to_file(Careless(steps=1), station, tmp_path / "bad.h5")
        assert not station.smu.output_on
    assert outcome.status == "failed" and "no_such_column" in outcome.reason
    assert read_run(tmp_path / "bad.h5").status == "failed"


def test_a_registered_procedure_runs_from_the_command_line_without_cli_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(procedures.REGISTRY, "two_streams", "tests.two_stream_procedure:TwoStreamProcedure")
    out = tmp_path / "cli.h5"
    assert cli.main(["run", "two_streams", "--steps", "12", "--spectrum-every", "4", "--interval", "60",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stream samples: 12 rows" in printed and "stream spectra: 3 rows" in printed
    run = read_run(out)
    assert run.parameters["interval"] == (60.0, "s") and run.rows("spectra") == 3
    assert run.analysis["summary"]["rows"] == {"samples": 12, "spectra": 3}
    csv_out = tmp_path / "spectra.csv"
    assert cli.main(["export", str(out), "--csv", "--stream", "spectra", "-o", str(csv_out)]) == 0
    assert len(csv_out.read_text().splitlines()) == 2 + 3  # comment, header, rows
    capsys.readouterr()
    assert cli.main(["analyze", str(out), "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    elapsed = analysis["summary"]["streams"]["samples"]["elapsed_s"]
    assert elapsed["rows"] == 12 and 12 * 60 <= elapsed["max"] < 12 * 60 + 30  # + instrument time on the bench clock


def test_a_slow_sink_never_delays_the_measurement_and_a_failing_one_is_dropped(caplog):
    seen: list = []

    def slow(record):
        time.sleep(0.05)
        seen.append(record)

    def broken(record):
        raise RuntimeError("display gone")

    stream = RecordStream()
    slow_sink, broken_sink = QueuedSink(slow, max_records=1000, name="slow"), QueuedSink(broken, name="broken")
    stream.subscribe(slow_sink)
    stream.subscribe(broken_sink)
    start = time.perf_counter()
    for i in range(100):
        stream.emit(Event("s", i, {"x": float(i)}))
    emitted_in = time.perf_counter() - start
    assert emitted_in < 0.5  # the slow sink alone needs 5 s for these
    stream.emit(RunStop("finished", "completed", 0.0, {"s": 100}, "s"))
    stream.close(timeout_s=10)
    assert len(seen) == 101 and isinstance(seen[-1], RunStop)
    assert broken_sink.failed and "broken failed" in caplog.text


def test_a_full_queue_drops_events_but_not_the_stop_record():
    release = threading.Event()
    seen: list = []

    def stuck(record):
        release.wait(5)
        seen.append(record)

    sink = QueuedSink(stuck, max_records=5)
    for i in range(50):
        sink(Progress(i / 50))
    assert sink.dropped >= 40
    release.set()
    sink(RunStop("finished", "completed", 0.0, {}, ""))
    sink.close()
    assert isinstance(seen[-1], RunStop)


def test_the_runner_keeps_no_rows_and_the_procedure_no_history(tmp_path):
    """Constant memory: nothing in the runner or the procedure grows with the run."""
    config = dataclasses.replace(load_config(), durability_interval_s=0.2)
    procedure = TwoStreamProcedure(steps=3000, spectrum_every=1000, interval=1.0)
    with open_station(config) as station:
        writer_path = tmp_path / "long.h5"
        from station.data.writer import HDF5RunWriter

        writer = HDF5RunWriter(writer_path)
        runner = ProcedureRunner(procedure, station, [(writer, True)])
        stop = runner.run()
    assert stop.events == {"samples": 3000, "spectra": 3}
    sizes = {name: len(value) for name, value in vars(procedure).items() if hasattr(value, "__len__")
             and not isinstance(value, str)}
    sizes.update({f"runner.{name}": len(value) for name, value in vars(runner).items()
                  if hasattr(value, "__len__") and not isinstance(value, str)})
    assert max(sizes.values()) < 20, sizes
    assert read_run(writer_path).rows("samples") == 3000


def test_a_run_switches_the_output_off_once(tmp_path, recorded):
    """The run's shutdown switches it off; closing the station confirms and does not repeat it."""
    config = load_config()
    procedure = TwoStreamProcedure(steps=5, spectrum_every=5)
    with open_station(config) as station:
        keithley = station.bench.keithley
        commands: list[str] = []
        original = keithley.match

        def spy(query):
            commands.append(query.decode())
            return original(query)

        keithley.device._match = spy
        run_to_file(procedure, station, tmp_path / "once.h5")
    output_commands = [c for c in commands if c.upper().startswith(("OUTP", ":OUTP"))]
    assert output_commands == [":OUTP 1", ":OUTP 0", ":OUTP?"]  # off once, read back once
    assert not keithley.output_on and recorded[0].led.drive is None
