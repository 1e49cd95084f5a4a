"""Pixels and batches: a substrate measured pixel by pixel through a relay board or a
Keithley 7001 (simulated, with device-to-device spread), the safety of switching, batch
statistics against an independent computation from the per-pixel files, and the
reference-device check."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.keithley7001 import Keithley7001, parse_channel_list
from drivers.relay_board import NumatoRelayBoard
from sim_instruments.bench import SimulatedBench
from sim_instruments.presets import preset
from sim_instruments.substrate_sim import SimulatedSubstrate
from station.analysis.batch import OUTLIER_Z, batch_statistics
from station.cli import main
from station.core.clock import VirtualClock
from station.core.errors import ConfigError, InstrumentFault
from station.data.reader import read_run
from station.session import batch_devices
from station.setup.config import config_from_text
from station.setup.station import open_station

from .sweep_helpers import write_config

ROOT = Path(__file__).resolve().parent.parent
PIXELS = "ABCDEFGH"
CHANNELS = {"relay_board": [str(i) for i in range(8)], "keithley7001": [f"1!{i}" for i in range(1, 9)]}
FAST_SWEEP = ["--step-voltage", "0.2", "--stop-voltage", "6", "--settle-time", "0", "--status-interval", "1000"]


def substrate_toml(kind: str = "relay_board", simulation: str = "", name: str = "S1", batch: str = "B1") -> str:
    pixels = ",\n".join(f'  {{name = "{p}", area_cm2 = 0.04, channel = "{c}"}}'
                        for p, c in zip(PIXELS, CHANNELS[kind], strict=True))
    return (f'[substrate]\nname = "{name}"\nbatch = "{batch}"\nstructure = "ITO/PEDOT:PSS/poly-TPD/NCs/TPBi/LiF/Al"\n'
            f'pixels = [\n{pixels},\n]\n[switch]\nkind = "{kind}"\naddress = "sim"\n[simulation]\n{simulation}\n')


def pixel_model(pixel: str, substrate: str = "S1", seed: int = 0, preset_name: str = "deep-red-cspbi3-fret",
                leaky: tuple[str, ...] = ()):
    """The simulated pixel's own device model, built independently of the station."""
    sub = SimulatedSubstrate(preset(preset_name), [(p, 0.04, str(i)) for i, p in enumerate(PIXELS)], substrate, seed,
                             VirtualClock(), leaky=leaky)
    return sub.led_of_pixel(pixel).model


# --- drivers: what a real client sends --------------------------------------------------
def test_relay_board_driver_speaks_the_numato_protocol():
    echo = [(b"relay readall", b"relay readall\n\r00\n\r"), (b"ver", b"ver\n\r00000008\n\r"),
            (b"id get", b"id get\n\r00000001\n\r")]
    with expected_protocol(NumatoRelayBoard, [*echo, (b"relay writeall 08", b"relay writeall 08\n\r"),
                                              (b"relay readall", b"relay readall\n\r08\n\r"),
                                              (b"relay writeall 00", b"relay writeall 00\n\r")],
                           read_termination="\n\r>") as board:
        assert board.relays == 8
        board.close_only("3")
        assert board.closed_channels() == {"3"}
        board.open_all()


def test_keithley7001_driver_opens_all_then_closes_one_channel():
    with expected_protocol(Keithley7001, [(b"*IDN?", b"KEITHLEY INSTRUMENTS INC.,MODEL 7001,0746384,A06  /A02"),
                                          (b":OPEN ALL", None), (b":CLOS (@1!5)", None),
                                          (b":CLOS:STAT?", b"(@1!5)")]) as switch:
        switch.close_only("1!5")
        assert switch.closed_channels() == {"1!5"}
    assert parse_channel_list("(@)") == frozenset()
    assert parse_channel_list("(@1!1:1!3,2!7)") == {"1!1", "1!2", "1!3", "2!7"}


def test_simulated_switches_answer_raw_clients_as_their_manuals_say():
    bench = SimulatedBench(pixels=[("A", 0.04, "0"), ("B", 0.04, "1")])
    try:
        rm = bench.resource_manager()
        relay = rm.open_resource(bench.switch_addresses["relay_board"], read_termination=">", write_termination="\r")
        assert relay.query("relay on 1") == "relay on 1\n\r"
        assert relay.query("relay readall") == "relay readall\n\r02\n\r"
        assert relay.query("relay read 1") == "relay read 1\n\ron\n\r"
        assert bench.led.parameters.name.endswith("/B") and not bench.disconnected
        assert relay.query("reset") == "reset\n\r" and bench.disconnected
        k7001 = rm.open_resource(bench.switch_addresses["keithley7001"], read_termination="\n",
                                 write_termination="\n")
        assert "MODEL 7001" in k7001.query("*IDN?")
        k7001.write(":CLOSE (@1!3)")
        assert k7001.query(":CLOSe:STATe?") == "(@1!3)"
        k7001.write(":CLOS (@1!99)")
        assert k7001.query(":SYST:ERR?").startswith("-222")
    finally:
        bench.close()


def test_the_source_meter_sees_an_open_circuit_when_no_pixel_is_connected():
    bench = SimulatedBench(pixels=[("A", 0.04, "0")])
    try:
        rm = bench.resource_manager()
        smu = rm.open_resource(bench.smu_address, read_termination="\n", write_termination="\n")
        smu.write(":SOUR:FUNC VOLT;:SOUR:VOLT 4;:SENS:CURR:PROT 0.05;:OUTP 1")
        current = float(smu.query(":READ?").split(",")[1])
        assert abs(current) < 1e-9  # nothing connected
        bench.visa_library.relay_board.reply("relay on 0")
        current = float(smu.query(":READ?").split(",")[1])
        assert current > 1e-3  # the pixel at 4 V, switched hot (the station never does this)
    finally:
        bench.close()


# --- configuration ----------------------------------------------------------------------
@pytest.mark.parametrize("text,message", [
    ('[substrate]\npixels = [{name = "A", area_cm2 = 0.04, channel = "0"}]\n', "pixels need a [switch]"),
    ('[switch]\nkind = "relay_board"\n', "a [switch] needs the substrate's pixels"),
    ('[switch]\nkind = "relay_board"\n[substrate]\npixels = [{name = "A", area_cm2 = 0.04, channel = "1!1"}]\n',
     "the relay_board takes a relay name 0-9 or A-V"),
    ('[switch]\nkind = "keithley7001"\n[substrate]\npixels = [{name = "A", area_cm2 = 0.04, channel = "3"}]\n',
     'the keithley7001 takes a channel "card!channel"'),
    ('[switch]\nkind = "keithley7001"\n[substrate]\npixels = [{name = "A", area_cm2 = 0.04, channel = "11!1"}]\n',
     "slot 1-2 on a 7001, 1-10 on a 7002"),
    ('[switch]\nkind = "relay_board"\n[substrate]\npixels = [{name = "A", area_cm2 = 0.04, channel = "0"}, '
     '{name = "B", area_cm2 = 0.04, channel = "0"}]\n', "channel 0 given to more than one pixel"),
    ('[switch]\nkind = "relay_board"\n[substrate]\npixels = [{name = "A/1", area_cm2 = 0.04, channel = "0"}]\n',
     "must be 1-40 letters"),
    ('[switch]\nkind = "relay_board"\n[substrate]\npixels = [{name = "A", area_cm2 = 0, channel = "0"}]\n',
     "area_cm2: must be a pixel area"),
    ('[switch]\nkind = "relays"\n', "must be one of none, relay_board, keithley7001"),
    ('[simulation]\nsphere_throughput = 0\n', "sphere_throughput: must be a number within 0.1-2"),
])
def test_bad_substrate_or_switch_tables_are_refused_with_the_key(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        config_from_text(text, "t.toml")


@pytest.mark.parametrize("args,message", [
    (["--out", "{substrate}.h5"], "several pixels need {pixel}"),
    (["--out", "{pixel}-{colour}.h5"], "unknown field {colour}"),
    (["--pixels", "A,Z"], "no pixel 'Z'"),
    (["--pixels", "A,A"], "give pixel names once each"),
    (["--pixel-area", "0.1"], "the [substrate] pixels have their own areas"),
    (["--substrates", "S1,S2", "--yes", "--out", "{pixel}.h5"], "several substrates need {substrate}"),
    (["--substrates", "S1,S2", "--out", "{substrate}-{pixel}.h5"], "run at a terminal, or pass --yes"),
    (["--batch", "a b"], "--batch: must be 1-40 letters"),
])
def test_pixel_runs_refuse_bad_plans_before_any_instrument(tmp_path, monkeypatch, capsys, recorded, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    config = write_config(tmp_path, substrate_toml())
    assert main(["run", "jvl", "--config", str(config), *args]) == 2
    assert message in capsys.readouterr().err
    assert recorded == [] and list(tmp_path.glob("*.h5")) == []


def test_an_existing_pixel_file_stops_the_plan_before_anything_is_measured(tmp_path, monkeypatch, capsys, recorded):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "S1-C.h5").write_bytes(b"keep me")
    config = write_config(tmp_path, substrate_toml())
    assert main(["run", "jvl", "--config", str(config), "--out", "{substrate}-{pixel}.h5"]) == 2
    assert "S1-C.h5 exists; pass --overwrite" in capsys.readouterr().err
    assert recorded == [] and (tmp_path / "S1-C.h5").read_bytes() == b"keep me"


# --- safety -------------------------------------------------------------------------------
def test_the_switch_refuses_to_change_pixel_with_the_output_on(tmp_path):
    config = config_from_text(substrate_toml("keithley7001"), str(tmp_path / "s.toml"))
    a, b = config.substrate.pixel("A"), config.substrate.pixel("B")
    station = open_station(config.for_pixel(a))
    try:
        bench = station.bench
        station.smu.write(":SOUR:FUNC VOLT;:SOUR:VOLT 3")
        station.smu.enable_source()
        assert bench.led.drive is not None
        with pytest.raises(InstrumentFault, match="pixel B: refusing to switch pixels while the source output"):
            station.select_pixel(b)
        assert station.switch.closed_channels() == {"1!1"}  # nothing moved
        assert bench.substrate.led_of_pixel("B").drive is None and bench.substrate.led_of_pixel("B").on_off_cycles == 0
        station.ensure_output_off()
        station.select_pixel(b)  # with the output confirmed off it switches, and reads back
        assert station.switch.closed_channels() == {"1!2"} and station.config.pixel == b
    finally:
        station.close()
    assert station.output_report.confirmed
    assert bench.visa_library.switch_system.closed == frozenset()  # closing disconnects every pixel


def test_a_stuck_relay_ends_the_run_with_the_output_off_and_names_the_pixel(tmp_path, monkeypatch, capsys, recorded):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, substrate_toml(simulation='faults = [{kind = "relay_stuck", at = 2}]'))
    code = main(["run", "jvl", "--config", str(config), "--pixels", "C,D", "--out", "{pixel}.h5", *FAST_SWEEP])
    err = capsys.readouterr().err
    assert code == 1
    assert "pixel C: the switch reads back channel(s) none closed, not 2 (a stuck or failed relay?)" in err
    assert "output confirmed off" in err
    assert len(recorded) == 1  # pixel D was never tried
    bench = recorded[0]
    assert not bench.keithley.output_on and bench.keithley.measurements == 0  # the output never went on
    assert list(tmp_path.glob("*.h5")) == [] and list(tmp_path.glob(".*partial")) == []


def test_a_relay_that_drops_out_after_selection_fails_the_run_before_the_output_goes_on(tmp_path):
    from sim_instruments.faults import Fault
    from station.session import run_to_file
    from tests.sweep_helpers import jvl

    config = config_from_text(substrate_toml(), str(tmp_path / "s.toml")).for_pixel(
        config_from_text(substrate_toml(), "s").substrate.pixel("E"))
    bench = SimulatedBench(pixels=[(p, 0.04, c) for p, c in zip(PIXELS, CHANNELS["relay_board"], strict=True)],
                           substrate="S1", faults=(Fault("relay_stuck", at=3, count=0),))
    station = open_station(config, bench=bench)
    bench.visa_library.relay_board.closed = frozenset()  # the relay releases (a driver fault), unseen
    bench.switched(frozenset())
    with station:
        outcome = run_to_file(jvl(stop_voltage=4.0, step_voltage=0.5), station, tmp_path / "e.h5")
    assert outcome.status == "failed" and "pixel E: the switch reads back channel(s) none closed" in outcome.reason
    assert bench.keithley.measurements == 0
    assert station.output_report.confirmed


# --- an 8-pixel substrate, through each switch --------------------------------------------
@pytest.mark.parametrize("kind", ["relay_board", "keithley7001"])
def test_an_8_pixel_substrate_is_measured_pixel_by_pixel_through_the_switch(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, substrate_toml(kind))
    code = main(["run", "jvl", "--config", str(config), "--out", "{batch}-{substrate}-{pixel}.h5", *FAST_SWEEP])
    assert code == 0, capsys.readouterr().err
    peaks = {}
    for pixel, channel in zip(PIXELS, CHANNELS[kind], strict=True):
        run = read_run(tmp_path / f"B1-S1-{pixel}.h5")
        assert run.status == "finished"
        assert run.metadata["sample"] == {"batch": "B1", "substrate": "S1", "pixel": pixel, "switch_channel": channel,
                                          "device_structure": "ITO/PEDOT:PSS/poly-TPD/NCs/TPBi/LiF/Al"}
        assert run.metadata["instruments"]["simulated_device"].endswith(f"S1/{pixel}")
        assert ("Numato" if kind == "relay_board" else "Model 7001") in run.metadata["instruments"]["pixel_switch"]
        # the light measured is this pixel's: its EQE at each measured current is its own model's
        c = run.read_columns(["current_A", "eqe", "luminance_unreliable", "low_light"])
        model = pixel_model(pixel)
        good = (c["low_light"] == 0) & (c["luminance_unreliable"] == 0) & (c["current_A"] > 4e-5)
        truth = np.array([model.at_current(i).eqe for i in c["current_A"][good]])
        np.testing.assert_allclose(c["eqe"][good], truth, rtol=0.01)
        peaks[pixel] = run.analysis["peak_eqe"]
    spread = np.std(list(peaks.values())) / np.mean(list(peaks.values()))
    assert 0.01 < spread < 0.15  # the pixels differ: a wrong connection would show


def test_substrates_one_after_another_hold_different_devices(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, substrate_toml())
    code = main(["run", "jvl", "--config", str(config), "--pixels", "A,B", "--substrates", "S1,S2", "--yes",
                 "--out", "{substrate}-{pixel}.h5", *FAST_SWEEP])
    assert code == 0, capsys.readouterr().err
    runs = {(s, p): read_run(tmp_path / f"{s}-{p}.h5") for s in ("S1", "S2") for p in "AB"}
    assert {k: (r.metadata["sample"]["substrate"], r.metadata["sample"]["pixel"]) for k, r in runs.items()} == \
        {k: k for k in runs}
    for p in "AB":  # another substrate, another device in the same position
        assert runs[("S1", p)].analysis["peak_eqe"] != pytest.approx(runs[("S2", p)].analysis["peak_eqe"], rel=1e-3)
        assert runs[("S2", p)].analysis["peak_eqe"] == pytest.approx(
            max(pixel_model(p, "S2").at_current(j * 4e-5).eqe for j in np.logspace(-1, 3, 200)), rel=0.01)


# --- batch statistics -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def batch_files(tmp_path_factory):
    """An 8-pixel substrate with a shorted pixel (H, stopped by the run's short check) and a
    leaky one (G, an outlier), measured once for the batch tests."""
    folder = tmp_path_factory.mktemp("batch")
    config = write_config(folder, substrate_toml("keithley7001", 'shorted_pixels = ["H"]\nleaky_pixels = ["G"]'))
    result = subprocess.run([sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(config),
                             "--out", str(folder / "{substrate}-{pixel}.h5"), *FAST_SWEEP], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 1, result.stderr  # H failed
    return folder, sorted(folder.glob("S1-*.h5"))


def independent_peak_eqe(path: Path) -> float:
    """Peak EQE recomputed from the stored columns: the vertex of the weighted parabola in
    log10 J through the reliable points within half a decade of the largest EQE."""
    c = read_run(path).read_columns(["eqe", "eqe_uncertainty", "current_density_mA_cm2", "low_light",
                                     "luminance_unreliable", "saturated", "direction"])
    ok = ((c["low_light"] == 0) & (c["luminance_unreliable"] == 0) & (c["saturated"] == 0) & np.isfinite(c["eqe"])
          & (c["direction"] >= 0))
    x, y, s = np.log10(c["current_density_mA_cm2"][ok]), c["eqe"][ok], c["eqe_uncertainty"][ok]
    distance = np.abs(x - x[np.argmax(y)])
    near = distance <= max(0.5, np.sort(distance)[4])  # at least the 5 nearest points
    centre = x[near].mean()
    a, b, c0 = np.polyfit(x[near] - centre, y[near], 2, w=1 / s[near])
    return float(c0 - b * b / (4 * a))


def test_batch_statistics_equal_those_computed_from_the_per_pixel_files(batch_files, tmp_path, capsys):
    folder, files = batch_files
    assert len(files) == 8
    values = {}
    for path in files:
        run = read_run(path)
        if run.status == "finished":
            values[run.metadata["sample"]["pixel"]] = independent_peak_eqe(path)
        else:
            assert run.metadata["sample"]["pixel"] == "H" and "short circuit" in run.reason
    x = np.array(list(values.values()))
    median = np.median(x)
    z = 0.6745 * np.abs(x - median) / np.median(np.abs(x - median))
    outliers = {p for p, zi in zip(values, z, strict=True) if zi > OUTLIER_Z}
    assert outliers == {"G"}  # the leaky pixel, and only it
    kept = np.array([v for p, v in values.items() if p not in outliers])

    [b] = batch_statistics(batch_devices(files))
    s = b.figures["peak_eqe"]
    assert [d.label for d in b.failed] == ["S1/H"]
    assert s.outliers == ("S1/G",) and s.n == 7 - 1
    assert s.mean == pytest.approx(np.mean(kept), rel=1e-9)
    assert s.std == pytest.approx(np.std(kept, ddof=1), rel=1e-9)
    assert s.median == pytest.approx(np.median(kept), rel=1e-9)
    assert (s.minimum, s.maximum) == pytest.approx((kept.min(), kept.max()), rel=1e-9)
    assert s.mean_all == pytest.approx(np.mean(x), rel=1e-9) and s.mean_all < s.mean - 0.005  # G would drag it
    champion = max((p for p in values if p not in outliers), key=values.get)
    assert b.champion == f"S1/{champion}" and b.lead_figure == "peak_eqe"
    luminance = {read_run(p).metadata["sample"]["pixel"]: float(np.nanmax(read_run(p).read_columns(
        ["luminance_cd_m2"])["luminance_cd_m2"])) for p in files if read_run(p).status == "finished"}
    assert b.figures["max_luminance_cd_m2"].values == pytest.approx({f"S1/{k}": v for k, v in luminance.items()})

    out_csv, devices_csv, figure = tmp_path / "stats.csv", tmp_path / "devices.csv", tmp_path / "batch.png"
    assert main(["batch", *map(str, files), "--csv", str(out_csv), "--devices-csv", str(devices_csv), "--figure",
                 str(figure)]) == 0
    printed = capsys.readouterr().out
    assert "left out: S1/H failed (short circuit" in printed and f"champion: S1/{champion}" in printed
    rows = {r["figure"]: r for r in csv.DictReader(out_csv.open())}
    assert float(rows["peak_eqe"]["mean"]) == pytest.approx(np.mean(kept), rel=1e-12)
    assert rows["peak_eqe"]["outliers"] == "S1/G" and rows["peak_eqe"]["champion"] == f"S1/{champion}"
    devices = list(csv.DictReader(devices_csv.open()))
    assert [d["device"] for d in devices] == [f"S1/{p}" for p in PIXELS]
    assert "peak_eqe" in devices[6]["outlier_in"] and devices[7]["status"] == "failed"
    assert figure.stat().st_size > 30_000


def test_batch_groups_by_batch_and_refuses_to_write_over_its_inputs(batch_files, tmp_path, capsys):
    folder, files = batch_files
    assert main(["batch", *map(str, files), "--json"]) == 0
    [b] = json.loads(capsys.readouterr().out)
    assert b["batch"] == "B1" and len(b["devices"]) == 8
    assert main(["batch", str(files[0]), "--csv", str(files[1])]) == 2
    assert "HDF5 data file" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "missing.h5")]) == 2
    assert main(["batch", str(files[0]), str(folder / ".." / folder.name / files[0].name)]) == 2
    assert "a file is given twice" in capsys.readouterr().err
    (tmp_path / "again").mkdir()
    twins = [tmp_path / "S1-A-first.h5", tmp_path / "S1-A.h5", tmp_path / "again" / "S1-A.h5"]
    for twin in twins:  # the same pixel measured three times: three devices, told apart
        twin.write_bytes(files[0].read_bytes())
    assert main(["batch", *map(str, twins), "--json"]) == 0
    [b] = json.loads(capsys.readouterr().out)
    assert b["devices"] == ["S1/A (S1-A-first.h5)", f"S1/A ({twins[1]})", f"S1/A ({twins[2]})"]
    assert b["figures"]["peak_eqe"]["n"] == 3


def test_the_window_shows_the_batch_statistics_of_the_ticked_files(batch_files, tmp_path):
    from PyQt6 import QtWidgets

    from station.gui.browser import RunBrowser
    from station.session import analyze_run, batch_devices

    _ = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    folder, files = batch_files
    browser = RunBrowser(analyze=analyze_run, batch_devices=batch_devices)
    assert browser.open_files(files) == []
    dialog = browser.show_batch()
    [b] = dialog.batches
    assert dialog.table.rowCount() == len(b.figures)
    assert "champion" in dialog.summary.text() and "left out S1/H" in dialog.summary.text()
    assert not dialog.picture.pixmap().isNull()
    assert "wrote" in dialog.save_csv(tmp_path / "gui.csv")
    assert (tmp_path / "gui.csv").read_text().startswith("batch,figure")
    dialog.close()


# --- lifetime over pixels -------------------------------------------------------------------
LIFETIME = ["--current-density", "5", "--stop-at-percent", "95", "--max-duration", "10", "--monitor-interval", "60",
            "--spectrum-interval", "3600", "--status-interval", "1000"]


def test_a_lifetime_test_runs_pixel_by_pixel_and_its_lifetimes_follow_each_pixel(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, substrate_toml(simulation='preset = "red-cspbbri-qd"\npixel_spread = 0.1'))
    code = main(["run", "lifetime", "--config", str(config), "--pixels", "A,B,C", "--out", "life-{pixel}.h5",
                 *LIFETIME])
    assert code == 0, capsys.readouterr().err
    files = [tmp_path / f"life-{p}.h5" for p in "ABC"]
    t95 = {}
    for path, pixel in zip(files, "ABC", strict=True):
        run = read_run(path)
        assert run.metadata["sample"]["pixel"] == pixel and run.analysis["T95_h"] > 0  # stored in the file now
        t95[pixel] = run.analysis["T95_h"]
    reference = {p: pixel_model(p, preset_name="red-cspbbri-qd").parameters.ageing.reference_lifetime_h
                 for p in "ABC"}
    order = sorted("ABC", key=t95.get)
    assert order == sorted("ABC", key=reference.get)  # the longer-lived pixel model lives longer
    [b] = batch_statistics(batch_devices(files))
    assert b.lead_figure == "T95_h" and b.champion == f"S1/{order[-1]}"
    assert b.figures["T95_h"].mean == pytest.approx(np.mean(list(t95.values())), rel=1e-9)


def test_a_pixel_lifetime_run_resumes_on_its_own_pixel(tmp_path):
    clean = write_config(tmp_path, substrate_toml(simulation='preset = "red-cspbbri-qd"'), "clean.toml")
    faulty = write_config(tmp_path, substrate_toml(
        simulation='preset = "red-cspbbri-qd"\nfaults = [{kind = "sigterm", at = 40}]'), "faulty.toml")
    out = tmp_path / "life-{pixel}.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run([sys.executable, "-m", "station.cli", "run", "lifetime", "--config", str(faulty),
                            "--pixels", "F", "--out", str(out), *LIFETIME], capture_output=True, text=True,
                           timeout=120, env=env)
    assert first.returncode == 143, first.stderr
    path = tmp_path / "life-F.h5"
    stopped = read_run(path)
    assert stopped.status == "aborted" and stopped.metadata["sample"]["pixel"] == "F"
    rows_before = stopped.rows("monitor")
    resumed = subprocess.run([sys.executable, "-m", "station.cli", "resume", str(path), "--config", str(clean),
                              "--status-interval", "1000"], capture_output=True, text=True, timeout=120, env=env)
    assert resumed.returncode == 0, resumed.stderr
    after = read_run(path)
    assert after.status == "finished" and after.rows("monitor") > rows_before
    assert after.metadata["sample"]["pixel"] == "F"
    assert after.metadata["instruments"]["simulated_device"].endswith("S1/F")
    light = after.read_columns(["relative_light"], "monitor")["relative_light"]
    assert light[rows_before] == pytest.approx(light[rows_before - 1], abs=0.01)  # the same device, aged as it was


# --- the reference-device check ------------------------------------------------------------
def test_the_reference_check_passes_an_unchanged_bench_and_catches_a_3_percent_sphere_drift(tmp_path, capsys):
    reference = tmp_path / "ref.json"
    assert main(["reference", "save", "--out", str(reference), "--name", "reference OLED 1",
                 "--run-out", str(tmp_path / "saved.h5")]) == 0
    saved = json.loads(reference.read_text())
    assert saved["format"] == "ledstation-reference/1" and saved["parameters"]["current_density_limit"] == 100.0
    assert {"peak_eqe", "luminance_cd_m2_at_10_mA_cm2", "voltage_V_at_10_mA_cm2"} <= set(saved["figures"])
    capsys.readouterr()

    other_seed = write_config(tmp_path, "[simulation]\nseed = 11\n", "same.toml")
    log = tmp_path / "history.csv"
    assert main(["reference", "check", str(reference), "--config", str(other_seed), "--log", str(log), "--json",
                 "--run-out", str(tmp_path / "check1.h5")]) == 0
    capsys.readouterr()

    drifted = write_config(tmp_path, "[simulation]\nseed = 11\nsphere_throughput = 0.97\n", "drift.toml")
    assert main(["reference", "check", str(reference), "--config", str(drifted), "--log", str(log), "--json",
                 "--run-out", str(tmp_path / "check2.h5")]) == 1
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{\n"):])
    assert report["passed"] is False
    for d in report["deviations"]:
        if d["compare"] == "relative":  # every light figure about 3 % low, each failing a 2 % tolerance
            assert d["deviation"] == pytest.approx(-3.0, abs=0.3) and not d["passed"]
        else:  # the voltages do not move
            assert abs(d["deviation"]) < 0.01 and d["passed"]
    history = list(csv.DictReader(log.open()))
    assert [h["result"] for h in history] == ["pass", "FAIL"]
    unchanged_deviations = [float(v) for k, v in history[0].items() if k not in ("time", "reference", "run_file",
                                                                                   "result")]
    assert max(abs(v) for v in unchanged_deviations) < 0.5  # another seed: noise only, well inside 2 % and 0.05 V


def test_a_reference_file_that_is_not_one_is_refused(tmp_path, capsys):
    bad = tmp_path / "ref.json"
    bad.write_text('{"format": "something else"}')
    assert main(["reference", "check", str(bad)]) == 2
    assert "not a reference file" in capsys.readouterr().err
    assert main(["reference", "save", "--out", str(tmp_path / "r.json"), "--tolerance-percent", "0"]) == 2


def test_reference_check_fails_for_a_device_that_is_not_lit(tmp_path, capsys):
    reference = tmp_path / "ref.json"
    assert main(["reference", "save", "--out", str(reference), "--run-out", str(tmp_path / "a.h5")]) == 0
    dark = write_config(tmp_path, '[simulation]\nfaults = [{kind = "spectrometer_dark", at = 1, count = 0}]\n')
    assert main(["reference", "check", str(reference), "--config", str(dark), "--run-out",
                 str(tmp_path / "b.h5")]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_ctrl_c_during_a_pixel_stops_the_substrate_with_the_output_off(tmp_path):
    config = write_config(tmp_path, substrate_toml(simulation='faults = [{kind = "sigint", at = 30}]'))
    result = subprocess.run([sys.executable, "-m", "station.cli", "run", "jvl", "--config", str(config), "--pixels",
                             "A,B", "--out", str(tmp_path / "{pixel}.h5"), *FAST_SWEEP], capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 130, result.stderr
    assert "interrupted (Ctrl-C); output confirmed off" in result.stderr
    run = read_run(tmp_path / "A.h5")
    assert run.status == "aborted" and run.metadata["sample"]["pixel"] == "A"
    assert not (tmp_path / "B.h5").exists()  # the next pixel is never switched to


def test_a_figure_in_other_units_is_a_figure_apart():
    from station.analysis.batch import Device

    devices = [Device("a", "a", "B", "finished", "", {"L0": 100.0}, {"L0": "cd/m^2"}),
               Device("b", "b", "B", "finished", "", {"L0": 3.0}, {"L0": "W/(sr m^2)"}),
               Device("c", "c", "B", "finished", "", {"L0": 110.0}, {"L0": "cd/m^2"})]
    [b] = batch_statistics(devices)
    assert b.figures["L0 [cd/m^2]"].mean == 105.0 and b.figures["L0 [W/(sr m^2)]"].n == 1
