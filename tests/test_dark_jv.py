"""Issue 13: single-carrier devices and films. The 2400's own sweep (simulated as its manual
describes it, guarded as the point-by-point path is), the dark J-V procedure, and trap
density, mobility and conductivity recovered against the simulated devices' truth."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from drivers.keithley2400_sweep import run_buffered_sweep
from procedures.dark_jv import DarkJV
from sim_instruments.bench import SimulatedBench
from sim_instruments.presets import (
    ELECTRON_ONLY_NC,
    ELECTRON_ONLY_NC_ALPHA,
    HOLE_ONLY_NC,
    HOLE_ONLY_NC_ALPHA,
    LATERAL_NC_FILM,
    SINGLE_CARRIER_AREA_CM2,
)
from station.cli import main
from station.core.clock import WallClock
from station.core.errors import SafetyLimitError
from station.data.reader import read_run
from station.run.runner import ProcedureRunner
from station.setup.station import open_station

from .conftest import station_smu
from .sweep_helpers import config_for, run_sweep, write_config

ROOT = Path(__file__).resolve().parents[1]


#: the single-carrier presets are 1e-4 cm^2 pixels (the published mobilities give hundreds of A/cm^2)
AREA = SINGLE_CARRIER_AREA_CM2


def three_pixels(simulation: str, area: float = 0.04) -> str:
    """A substrate of pixels A, B, C on the simulated relay board, with this [simulation] table."""
    return (f'[substrate]\npixels = [{{name = "A", area_cm2 = {area}, channel = "0"}}, '
            f'{{name = "B", area_cm2 = {area}, channel = "1"}}, {{name = "C", area_cm2 = {area}, channel = "2"}}]\n'
            f'[switch]\nkind = "relay_board"\n[simulation]\n{simulation}\n')


def dark_config(preset: str, **simulation):
    config = config_for(preset, latency=True)
    return config.__class__(**{**config.__dict__, "simulation": {**config.simulation, **simulation},
                               "pixel_area_cm2": AREA})


def raw_client(bench: SimulatedBench):
    smu = bench.resource_manager().open_resource(bench.smu_address, read_termination="\n", write_termination="\n")
    smu.timeout = 2000
    return smu


# --- the simulated 2400's sweep, as a real client drives it ------------------------------
def test_a_source_list_runs_into_the_buffer_and_returns_to_the_bias_level():
    bench = SimulatedBench("hole-only-nc")
    smu = raw_client(bench)
    for command in ("*RST", ":FORM:ELEM VOLT,CURR,RES,TIME,STAT", ":SOUR:FUNC VOLT", ":SOUR:VOLT 0.05",
                    ":SENS:CURR:PROT 0.1", ":SOURce1:LIST:VOLTage 0.1,0.2,0.3", ":SOUR:LIST:VOLT:APP 0.4,0.5",
                    ":SOUR:VOLT:MODE LIST", ":TRIG:COUN 5", ":TRAC:POIN 5", ":TRAC:FEED:CONT NEXT", ":OUTP ON",
                    ":INITiate"):
        smu.write(command)
    assert int(smu.query(":STAT:OPER:COND?")) & (1 << 10)  # virtual clock: the pass is done at once
    assert int(smu.query(":TRAC:POIN:ACT?")) == 5 and smu.query(":SOUR:LIST:VOLT:POIN?") == "5"
    data = np.array(smu.query(":TRAC:DATA?").split(","), float).reshape(5, 5)
    model = [HOLE_ONLY_NC.current_density_A_cm2(v) * HOLE_ONLY_NC.pixel_area_cm2 for v in (0.1, 0.2, 0.3, 0.4, 0.5)]
    assert data[:, 0] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5], abs=1e-4)
    assert data[:, 1] == pytest.approx(model, rel=2e-3)  # the device at each listed level
    assert np.all(np.diff(data[:, 3]) > 0)  # time stamps advance
    assert bench.led.drive.level == 0.05  # back at the bias level after the pass
    assert smu.query(":SYST:ERR?").startswith("0")


def test_a_staircase_sweep_follows_points_spacing_direction_and_centre_span():
    bench = SimulatedBench("lateral-nc-film")
    smu = raw_client(bench)
    for command in ("*RST", ":FORM:ELEM VOLT,CURR", ":SOUR:VOLT:STAR 1", ":SOUR:VOLT:STOP 100",
                    ":SOUR:SWE:SPAC LOG", ":SOUR:SWE:POIN 3", ":SOUR:SWE:DIR DOWN", ":SOUR:VOLT:MODE SWE",
                    ":TRIG:COUN 3", ":OUTP 1"):
        smu.write(command)
    volts = np.array(smu.query(":READ?").split(","), float)[0::2]
    assert volts == pytest.approx([100.0, 10.0, 1.0], rel=1e-4)
    smu.write(":SOUR:VOLT:CENT 5")  # keeps the span (99 V): start and stop move
    assert float(smu.query(":SOUR:VOLT:STAR?")) == pytest.approx(-44.5)
    assert float(smu.query(":SOUR:VOLT:STOP?")) == pytest.approx(54.5)
    smu.write(":SOUR:SWE:SPAC LIN")
    smu.write(":SOUR:VOLT:STEP 33")  # coupled with the points
    assert smu.query(":SOUR:SWE:POIN?") == "4"
    smu.write(":SOUR:LIST:VOLT " + ",".join(["1"] * 101))  # more than 100 values in one command
    assert smu.query(":SYST:ERR?").startswith("-223")


def test_abort_on_compliance_ends_the_pass_at_the_first_reading_in_compliance():
    bench = SimulatedBench("hole-only-nc")
    smu = station_smu(bench)
    levels = list(np.linspace(0.1, 3.0, 60))
    sweep = run_buffered_sweep(smu, levels, compliance=0.02, nplc=0.01, dwell_s=0.0, wait=bench.clock.sleep)
    first = next(i for i, v in enumerate(levels) if HOLE_ONLY_NC.current_density_A_cm2(v) * AREA > 0.02)
    assert len(sweep.current_A) == first + 1 and sweep.in_compliance[-1] and not sweep.in_compliance[:-1].any()
    assert np.all(np.abs(sweep.current_A) <= 0.02 * (1 + 1e-3))  # never beyond the compliance
    assert smu.ask(":SOUR:VOLT:MODE?").strip() == "FIX" and smu.ask(":TRIG:COUN?").strip() == "1"


# --- safety: the limits hold through every sweep setting ---------------------------------
@pytest.mark.parametrize("command", [
    ":SOUR:VOLT:STOP 12", ":SOURce1:VOLTage:STARt -10.5", ":SOUR:LIST:VOLT 1,2,11", ":SOUR:LIST:VOLT:APP 10.01",
    ":SOUR:CURR:STOP 0.2", ":SOUR:LIST:CURR 0.05,-0.15",
])
def test_a_sweep_level_beyond_the_station_limits_is_refused_before_it_is_sent(command):
    bench = SimulatedBench()
    smu = station_smu(bench, max_voltage_V=10.0, max_current_A=0.1)
    before = smu.ask(":SOUR:LIST:VOLT?")
    with pytest.raises(SafetyLimitError):
        smu.write(command)
    assert smu.ask(":SOUR:LIST:VOLT?") == before and float(smu.ask(":SOUR:VOLT:STOP?")) == 0.0


def test_a_centre_and_span_within_the_limits_one_by_one_are_refused_when_their_sweep_is_not():
    bench = SimulatedBench()
    smu = station_smu(bench, max_voltage_V=10.0)
    smu.write(":SOUR:VOLT:STAR 0")
    smu.write(":SOUR:VOLT:STOP 9")  # centre 4.5, span 9
    with pytest.raises(SafetyLimitError, match="13.5 V"):
        smu.write(":SOUR:VOLT:CENT 9")  # would make 4.5 .. 13.5 V
    with pytest.raises(SafetyLimitError):
        smu.write(":SOUR:VOLT:SPAN 10")  # would make -0.5 .. 9.5: fine; then a wider span
        smu.write(":SOUR:VOLT:SPAN 16")  # -3.5 .. 12.5 V
    assert float(smu.ask(":SOUR:VOLT:STOP?")) == pytest.approx(9.5)


def test_compliance_through_the_optional_nodes_is_guarded_too():
    bench = SimulatedBench()
    smu = station_smu(bench, max_current_A=0.1)
    for command in (":CURRent:PROTection 0.5", ":SENSe1:CURRent:DC:PROTection 0.5"):
        with pytest.raises(SafetyLimitError):
            smu.write(command)
    smu.write(":SOURce:FUNCtion:MODE CURRent")  # the guard follows the source function ...
    smu.write(":SOUR:CURR 0.01")
    with pytest.raises(SafetyLimitError, match="compliance voltage 21 V"):  # ... so the *RST compliance stops it
        smu.write(":OUTP 1")
    assert not bench.keithley.output_on


def test_the_buffered_sweep_refuses_levels_beyond_the_limits_before_anything_is_sent():
    bench = SimulatedBench()
    smu = station_smu(bench, max_voltage_V=5.0)
    sent = bench.keithley.measurements
    with pytest.raises(SafetyLimitError, match="5.5 V"):
        run_buffered_sweep(smu, [1.0, 5.5], compliance=0.01, nplc=0.01, dwell_s=0.0, wait=bench.clock.sleep)
    with pytest.raises(SafetyLimitError, match="compliance current 0.5 A"):
        run_buffered_sweep(smu, [1.0, 2.0], compliance=0.5, nplc=0.01, dwell_s=0.0, wait=bench.clock.sleep)
    assert bench.keithley.measurements == sent and not bench.keithley.output_on


def test_sweep_settings_beyond_the_limits_are_refused_with_exit_2(tmp_path, capsys):
    for args in (["--stop-voltage", "12"], ["--compliance-current", "0.2"], ["--start-voltage", "0", "--spacing",
                                                                            "log"]):
        assert main(["run", "dark_jv", "--out", str(tmp_path / "x.h5"), *args]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()


# --- the physics: truth recovered ----------------------------------------------------
@pytest.mark.parametrize("device", [HOLE_ONLY_NC, ELECTRON_ONLY_NC, HOLE_ONLY_NC_ALPHA, ELECTRON_ONLY_NC_ALPHA],
                         ids=lambda d: d.name)
def test_trap_density_and_mobility_come_back_within_10_percent(tmp_path, device):
    config = dark_config(device.name)
    procedure = DarkJV(stop_voltage=4.0, points=300, carrier=device.carrier, thickness=device.thickness_nm,
                       relative_permittivity=device.relative_permittivity)
    outcome, _ = run_sweep(procedure, config.without_light(), tmp_path / "d.h5")
    f = outcome.analysis["figures"]
    assert outcome.status == "finished" and outcome.reason.startswith("compliance reached")
    assert f["trap_density_cm3"] == pytest.approx(device.trap_density_cm3, rel=0.10)
    assert f["trap_filled_limit_V"] == pytest.approx(device.trap_filled_limit_V, rel=0.10)
    assert f["mobility_cm2_Vs"] == pytest.approx(device.mobility_cm2_Vs, rel=0.10)
    assert 0 < f["mobility_uncertainty_cm2_Vs"] < 0.05 * f["mobility_cm2_Vs"]
    # the stated uncertainty covers the error (it was 24-33 times smaller: no model error)
    assert abs(f["mobility_cm2_Vs"] - device.mobility_cm2_Vs) < 2 * f["mobility_uncertainty_cm2_Vs"]
    assert f["ohmic_slope"] == pytest.approx(1.0, abs=0.05) and f["mott_gurney_slope"] == pytest.approx(2.0, abs=0.1)
    assert f["ohmic_to_V"] < device.trap_filled_limit_V < f["mott_gurney_from_V"]
    run = read_run(tmp_path / "d.h5")
    assert run.parameters["thickness"] == (device.thickness_nm, "nm")  # geometry stored with units
    assert run.metadata["instruments"]["light"] == "none"


def test_conductivity_of_a_lateral_film_comes_back_within_2_percent(tmp_path):
    film = LATERAL_NC_FILM
    procedure = DarkJV(structure="lateral", spacing="linear", start_voltage=-10.0, stop_voltage=10.0, points=201,
                       nplc=1.0, thickness=film.film_thickness_nm, channel_length=film.channel_length_um,
                       channel_width=film.channel_width_mm)
    outcome, _ = run_sweep(procedure, dark_config(film.name), tmp_path / "f.h5")
    f = outcome.analysis["figures"]
    assert f["conductivity_S_cm"] == pytest.approx(film.conductivity_S_cm, rel=0.02)
    # a film's current is not a density: no pixel area turns it into one
    density = read_run(tmp_path / "f.h5").read_columns(["current_density_mA_cm2"])["current_density_mA_cm2"]
    assert np.isnan(density).all()
    assert f["conductivity_uncertainty_S_cm"] < 0.01 * film.conductivity_S_cm


def test_regions_given_on_the_command_line_replace_the_detected_ones(tmp_path, capsys):
    config = write_config(tmp_path, f'[device]\npixel_area_cm2 = {AREA}\n[simulation]\npreset = "hole-only-nc"\n')
    out = tmp_path / "h.h5"
    assert main(["run", "dark_jv", "--config", str(config), "--out", str(out), "--stop-voltage", "3"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--json", "--mott-gurney-V", "0.5:0.8"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    f = result["figures"]
    assert result["regions_given"] == "mott_gurney"
    assert 0.5 <= f["mott_gurney_from_V"] and f["mott_gurney_to_V"] <= 0.8
    assert f["mobility_cm2_Vs"] == pytest.approx(HOLE_ONLY_NC.mobility_cm2_Vs, rel=0.05)
    assert main(["plot", str(out), "-o", str(tmp_path / "h.png"), "--ohmic-V", "0.02:0.3"]) == 0
    assert (tmp_path / "h.png").stat().st_size > 10_000
    with pytest.raises(SystemExit) as refused:
        main(["analyze", str(out), "--ohmic-V", "0.5:0.1"])
    assert refused.value.code == 2
    assert main(["analyze", str(out), "--fit-V", "0:1"]) == 2
    jvl = tmp_path / "j.h5"
    assert main(["run", "jvl", "--out", str(jvl), "--stop-voltage", "4", "--step-voltage", "0.5"]) == 0
    assert main(["analyze", str(jvl), "--ohmic-V", "0:1"]) == 2
    assert "apply to dark_jv runs" in capsys.readouterr().err


# --- fast against point by point ---------------------------------------------------------
def test_the_buffered_sweep_measures_what_the_point_by_point_sweep_measures_in_a_fraction_of_the_time(tmp_path):
    results = {}
    for mode in ("buffered", "point"):
        config = dark_config("hole-only-nc")
        bench = SimulatedBench.from_settings(config.simulation_settings(), pixel_area_cm2=AREA)
        start = bench.clock.monotonic()
        outcome, _ = run_sweep(DarkJV(mode=mode, stop_voltage=0.7, points=300), config.without_light(),
                               tmp_path / f"{mode}.h5", bench=bench)
        assert outcome.status == "finished" and outcome.points == 300
        columns = read_run(tmp_path / f"{mode}.h5").read_columns(["set_voltage_V", "current_A"], stream="points")
        results[mode] = (columns, bench.clock.monotonic() - start)
    (fast, fast_s), (slow, slow_s) = results["buffered"], results["point"]
    assert np.array_equal(fast["set_voltage_V"], slow["set_voltage_V"])
    assert np.median(np.abs(fast["current_A"] / slow["current_A"] - 1)) < 2e-3  # the same device, the same noise
    assert slow_s / fast_s > 3  # the single-reading path pays the trigger overhead at every point


def test_forward_and_reverse_in_one_pass_and_back_over_the_levels_reached(tmp_path):
    config = dark_config("hole-only-nc")
    outcome, _ = run_sweep(DarkJV(stop_voltage=0.5, points=50, reverse_sweep=True), config, tmp_path / "a.h5")
    c = read_run(tmp_path / "a.h5").read_columns(["direction", "set_voltage_V"], stream="points")
    assert outcome.points == 99 and (c["direction"] < 0).sum() == 49
    assert c["set_voltage_V"][-1] == pytest.approx(0.01)
    for mode in ("buffered", "point"):  # compliance: the reverse sweep returns over what was reached
        outcome, _ = run_sweep(DarkJV(mode=mode, stop_voltage=3.0, points=60, reverse_sweep=True,
                                      compliance_current=0.02), config, tmp_path / f"{mode}.h5")
        c = read_run(tmp_path / f"{mode}.h5").read_columns(["direction", "set_voltage_V", "in_compliance"],
                                                          stream="points")
        forward = c["direction"] > 0
        assert c["in_compliance"][forward][-1] == 1 and c["in_compliance"][forward][:-1].sum() == 0
        assert (~forward).sum() == forward.sum() - 1
        results = c["set_voltage_V"][forward]
        assert np.allclose(c["set_voltage_V"][~forward], results[-2::-1])
        assert outcome.reason.startswith("compliance reached")


# --- the output is off on every exit path --------------------------------------------------
def test_an_abort_in_the_middle_of_a_buffered_sweep_ends_the_pass_and_switches_the_output_off(tmp_path):
    config = dark_config("hole-only-nc", realtime=True)
    bench = SimulatedBench("hole-only-nc", clock=WallClock())
    station = open_station(config.without_light(), bench=bench)
    procedure = DarkJV(stop_voltage=0.7, points=300, dwell_time=0.01)  # about 4 s in the instrument
    procedure.validate(config)
    from station.data.writer import HDF5RunWriter

    writer = HDF5RunWriter(tmp_path / "abort.h5")
    runner = ProcedureRunner(procedure, station, [(writer, True)])
    threading.Timer(1.0, runner.abort).start()
    started = time.monotonic()
    with station:
        stop = runner.run()
    assert time.monotonic() - started < 3.0  # the pass did not run to its end
    assert stop.status == "aborted" and stop.output.startswith("output confirmed off")
    assert bench.keithley.running is None and not bench.keithley.output_on and bench.led.drive is None
    assert 0 < len(bench.keithley.trigger.last_readings) < 300
    # nothing of the sweep is left for the next :READ? (a leftover source list would run again)
    assert bench.keithley.source.functions["VOLT"].mode == "FIX" and bench.keithley.value("trigger_count") == 1


def test_ctrl_c_and_a_lost_source_meter_in_the_middle_of_a_buffered_sweep_leave_the_output_off(tmp_path):
    for fault, code, words in (('{kind = "sigint", at = 100}', 130, "interrupted (Ctrl-C); output confirmed off"),
                               ('{kind = "sigterm", at = 100}', 143, "output confirmed off"),
                               ('{kind = "smu_gone", at = 100, count = 3}', 1, "output confirmed off")):
        config = write_config(tmp_path, f'[simulation]\npreset = "hole-only-nc"\nrealtime = true\n'
                                        f"faults = [{fault}]\n")
        out = tmp_path / f"{code}.h5"
        result = subprocess.run([sys.executable, "-m", "station.cli", "run", "dark_jv", "--config", str(config),
                                 "--out", str(out), "--stop-voltage", "0.7", "--dwell-time", "0.005"],
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert result.returncode == code, result.stderr
        assert words in result.stderr, result.stderr
        run = read_run(out)
        assert run.status == ("failed" if code == 1 else "aborted")
        if code != 1:  # the readings taken before the abort are read from the buffer and kept
            assert 90 <= run.points < 300
        else:  # the cable back, the buffer holds what the pass took (here: all of it, the abort was lost)
            assert "source meter failed during its own sweep" in run.reason
        import h5py

        with h5py.File(out, "r") as f:
            assert f["entry/output_state"][0].decode().startswith("output confirmed off")


def test_a_station_without_a_light_instrument_runs_dark_and_refuses_light(tmp_path, capsys):
    config = write_config(tmp_path, f'[device]\npixel_area_cm2 = {AREA}\n[light]\ngeometry = "none"\n'
                          '[simulation]\npreset = "electron-only-nc"\n')
    assert main(["run", "jvl", "--config", str(config), "--out", str(tmp_path / "j.h5")]) == 2
    assert 'geometry is "none"' in capsys.readouterr().err
    assert main(["run", "dark_jv", "--config", str(config), "--out", str(tmp_path / "d.h5"), "--points", "50"]) == 0


# --- the J-V-L sweep's dark pre-check ------------------------------------------------------
def test_the_jvl_pre_check_stops_a_leaky_and_a_shorted_pixel_before_light_and_passes_a_good_one(tmp_path, capsys):
    config = write_config(tmp_path, three_pixels('shorted_pixels = ["A"]\nleaky_pixels = ["B"]'))
    assert main(["run", "jvl", "--config", str(config), "--pixels", "all", "--yes", "--out",
                 str(tmp_path / "{pixel}.h5"), "--dark-precheck", "--stop-voltage", "4", "--step-voltage",
                 "0.25"]) == 1
    runs = {p: read_run(tmp_path / f"{p}.h5") for p in "ABC"}
    assert "short circuit" in runs["A"].reason and runs["A"].points == 0
    assert "leakage" in runs["B"].reason and runs["B"].points == 0
    assert runs["C"].status == "finished" and runs["C"].points > 10
    pre = runs["C"].read_columns(["set_voltage_V", "current_density_mA_cm2"], stream="precheck")
    assert len(pre["set_voltage_V"]) == 41 and abs(pre["current_density_mA_cm2"][0]) < 1.0
    assert runs["B"].rows("precheck") == 41


def test_opening_the_station_clears_a_sweep_an_earlier_session_left_in_the_instrument():
    bench = SimulatedBench("hole-only-nc")
    smu = raw_client(bench)
    for command in (":SOUR:LIST:VOLT 1,2,3", ":SOUR:VOLT:MODE LIST", ":TRIG:COUN 3", ":SYST:AZER:STAT 0",
                    ":SOUR:VOLT:STOP 50"):  # another program's settings, beyond this station's limits
        smu.write(command)
    config = dark_config("hole-only-nc").without_light()
    with open_station(config, bench=bench) as station:
        station.smu.configure_voltage_source(0.01)
        station.smu.enable_source()
        reading = station.smu.read_point()  # one reading at the fixed level, not the old list
    assert reading.voltage_V == pytest.approx(0.0, abs=1e-3)
    assert bench.keithley.source.functions["VOLT"].mode == "FIX" and bench.keithley.value("auto_zero") == 1
    assert bench.keithley.source.functions["VOLT"].stop == 0.0 and bench.keithley.source.levels("VOLT") == []


def test_while_its_sweep_runs_the_2400_answers_the_serial_poll_and_abort_and_leaves_queries_until_idle():
    bench = SimulatedBench("hole-only-nc", clock=WallClock())
    smu = raw_client(bench)
    for command in ("*RST", ":SOUR:LIST:VOLT " + ",".join(["0.1"] * 100), ":SOUR:VOLT:MODE LIST", ":SOUR:DEL:AUTO 0",
                    ":SOUR:DEL 0.01", ":TRIG:COUN 100", ":STAT:OPER:ENAB 1024", "*CLS", ":OUTP 1", ":INIT"):
        smu.write(command)  # 100 cycles of at least 10 ms: over a second
    started = time.monotonic()
    assert not smu.read_stb() & (1 << 7)  # answered at once: still sweeping
    assert time.monotonic() - started < 0.2
    time.sleep(0.3)
    smu.write(":ABOR")
    assert smu.read_stb() & (1 << 7)  # idle now
    assert 0 < len(bench.keithley.trigger.last_readings) < 100
    smu.write(":INIT")
    started = time.monotonic()
    assert int(smu.query(":STAT:OPER:COND?")) & (1 << 10)  # a query waits until the pass is done ...
    assert time.monotonic() - started > 0.9 and len(bench.keithley.trigger.last_readings) == 100  # ... all of it


def test_a_substrate_of_single_carrier_pixels_gives_each_pixels_own_trap_density_and_mobility(tmp_path, recorded,
                                                                                             capsys):
    config = write_config(tmp_path, three_pixels('preset = "electron-only-nc"\npixel_spread = 0.2', AREA))
    assert main(["run", "dark_jv", "--config", str(config), "--pixels", "all", "--yes", "--out",
                 str(tmp_path / "{pixel}.h5"), "--stop-voltage", "4"]) == 0
    truths = {}
    for bench in recorded:
        pixel = bench.substrate.led  # the pixel this bench's run measured
        truths[pixel.parameters.name.rsplit("/", 1)[1]] = pixel.parameters
    assert sorted(truths) == ["A", "B", "C"]
    mobilities = []
    for name, truth in truths.items():
        capsys.readouterr()
        assert main(["analyze", str(tmp_path / f"{name}.h5"), "--json"]) == 0
        import json

        f = json.loads(capsys.readouterr().out)["figures"]
        assert f["mobility_cm2_Vs"] == pytest.approx(truth.mobility_cm2_Vs, rel=0.10)
        assert f["trap_density_cm3"] == pytest.approx(truth.trap_density_cm3, rel=0.10)
        mobilities.append(truth.mobility_cm2_Vs)
    assert max(mobilities) / min(mobilities) > 1.05  # the pixels differ, and each is found
    assert main(["batch", *(str(tmp_path / f"{p}.h5") for p in "ABC")]) == 0
    out = capsys.readouterr().out
    assert "mobility_cm2_Vs" in out and "trap_density_cm3" in out and "_from_V" not in out


def test_a_setting_the_instrument_refuses_stops_the_sweep_before_the_output_goes_on():
    from station.core.errors import InstrumentFault

    bench = SimulatedBench("hole-only-nc")
    smu = station_smu(bench)
    with pytest.raises(InstrumentFault, match="refused the sweep.s set-up"):  # a source delay beyond 999.9999 s
        run_buffered_sweep(smu, [0.1, 0.2], compliance=0.01, nplc=0.01, dwell_s=1000.0, wait=bench.clock.sleep)
    assert not bench.keithley.output_on and bench.keithley.source.functions["VOLT"].mode == "FIX"
