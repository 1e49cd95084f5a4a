"""The Keithley 2450: the simulated instrument answers pymeasure's unmodified ``Keithley2450``
as the manual says the 2450 does, the station's driver guards it as it guards the 2400, and
every procedure gives the same figures on the simulated 2450 as on the simulated 2400."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2450
from pymeasure.test import expected_protocol

from drivers import keithley2450 as facts
from drivers.keithley2450.driver import StationKeithley2450, parse_read_reply
from drivers.output_guard import SafetyLimits
from drivers.source_meters import SOURCE_METERS, kind_of_identity
from procedures import procedure_class
from sim_instruments.bench import SimulatedBench
from station.core.errors import ConfigError, InstrumentError, SafetyLimitError
from station.session import run_to_file
from station.setup.config import config_from_text, load_config
from station.setup.station import open_station

LIMITS = SafetyLimits(max_voltage_V=8.0, max_current_A=0.05)


@pytest.fixture
def bench_2450():
    bench = SimulatedBench(smu_model="keithley2450")
    yield bench
    bench.close()


def pymeasure_2450(bench: SimulatedBench) -> Keithley2450:
    return Keithley2450(bench.smu_address, visa_library=bench.visa_library, read_termination="\n",
                        write_termination="\n", timeout=300)


def station_2450(bench: SimulatedBench, limits: SafetyLimits = LIMITS) -> StationKeithley2450:
    return StationKeithley2450(bench.smu_address, limits, clock=bench.clock, visa_library=bench.visa_library,
                               read_termination="\n", write_termination="\n", timeout=300)


# --- the simulated 2450 and pymeasure's own driver ---------------------------------------
def test_pymeasures_own_keithley2450_sources_voltage_and_reads_the_models_current(bench_2450):
    smu = pymeasure_2450(bench_2450)
    assert "MODEL 2450" in smu.id
    smu.reset()
    smu.apply_voltage(compliance_current=0.1)  # :SOUR:FUNC VOLT, auto range, :SOUR:VOLT:ILIM, check_errors
    smu.measure_current(nplc=1)  # :SENS:FUNC 'CURR'; :SENS:CURR:NPLC, auto range, check_errors
    smu.source_voltage = 3.5
    smu.enable_source()
    assert smu.source_enabled
    assert smu.source_mode == "voltage" and smu.compliance_current == pytest.approx(0.1)
    expected_A = bench_2450.led.model.current_at_voltage_A(3.5, bench_2450.led.condition())
    assert smu.current == pytest.approx(expected_A, rel=2e-3)  # :READ?: the measured value only
    assert smu.check_errors() == []
    smu.shutdown()  # ramps to 0 V, :ABOR, OUTPUT OFF
    assert not smu.source_enabled and bench_2450.led.drive is None


def test_the_2450_limits_the_current_and_says_so_in_the_source_status(bench_2450):
    smu = pymeasure_2450(bench_2450)
    smu.apply_voltage(compliance_current=1e-3)
    smu.source_voltage = 6.0
    smu.enable_source()
    measured, sourced, status = (float(v) for v in smu.ask(':READ? "defbuffer1", READ, SOUR, SOURSTAT').split(","))
    assert measured == pytest.approx(1e-3, rel=2e-3)  # held at the limit
    expected_V = bench_2450.led.model.voltage_at_current_V(1e-3, bench_2450.led.condition())
    assert sourced == pytest.approx(expected_V, abs=2e-3) and sourced < 6.0  # the read-back, not 6 V
    assert int(status) & facts.SOURCE_STATUS_LIMIT and int(status) & facts.SOURCE_STATUS_OUTPUT
    assert smu.ask(":SOUR:VOLT:ILIM:TRIP?").strip() == "1"


def test_current_source_reads_back_the_current_and_measures_the_voltage(bench_2450):
    smu = pymeasure_2450(bench_2450)
    smu.apply_current(compliance_voltage=8.0)
    smu.measure_voltage()
    smu.source_current = 0.01
    smu.enable_source()
    expected_V = bench_2450.led.model.voltage_at_current_V(0.01, bench_2450.led.condition())
    assert smu.voltage == pytest.approx(expected_V, abs=2e-3)
    assert float(smu.ask(':READ? "defbuffer1", SOURce').strip()) == pytest.approx(0.01, rel=1e-3)


def test_the_simulated_2450_refuses_what_the_instrument_refuses(bench_2450):
    smu = pymeasure_2450(bench_2450)
    smu.write(":SOUR:VOLT 300")  # beyond the 200 V range's 210 V
    smu.write(":SENS:CURR:NPLC 20")
    smu.write(":NOSUCH:COMMAND 1")
    codes = [smu.next_error[0] for _ in range(3)]
    assert codes == [-222, -222, -113]
    assert float(smu.ask(":SOUR:VOLT?")) == 0.0 and smu.next_error[0] == 0


def test_rst_restores_the_manuals_defaults(bench_2450):
    smu = pymeasure_2450(bench_2450)
    smu.apply_current(compliance_voltage=5)
    smu.write("*RST")
    assert smu.source_mode == "voltage"
    assert smu.compliance_current == pytest.approx(facts.RESET_COMPLIANCE_CURRENT_A)
    assert smu.compliance_voltage == pytest.approx(facts.RESET_COMPLIANCE_VOLTAGE_V)


# --- the station's driver -----------------------------------------------------------------
def test_the_station_driver_reads_v_i_and_compliance_from_one_read(bench_2450):
    smu = station_2450(bench_2450)
    smu.configure_voltage_source(compliance_current_A=0.02, nplc=1)
    smu.enable_source()
    smu.apply_voltage(3.5)
    reading = smu.read_point()
    expected_A = bench_2450.led.model.current_at_voltage_A(3.5, bench_2450.led.condition())
    assert reading.voltage_V == pytest.approx(3.5, abs=1e-3)
    assert reading.current_A == pytest.approx(expected_A, rel=2e-3) and not reading.in_compliance
    smu.apply_voltage(7.9)
    assert smu.read_point().in_compliance and smu.read_point().current_A == pytest.approx(0.02, rel=2e-3)
    report = smu.safe_shutdown()
    assert report.confirmed and not bench_2450.keithley.output_on and bench_2450.led.drive is None


@pytest.mark.parametrize("command", [":SOUR:VOLT 8.5", ":SOUR:VOLT:LEV:IMM:AMPL -9", ":SOUR:CURR 0.06",
                                     ":SOUR:VOLT:ILIM 0.2", ":SOUR:CURR:VLIM 9", "SOURce1:VOLTage:ILIMit:LEVel 1",
                                     ":SOUR:SWE:VOLT:LIN 0, 5, 11, 0.01", ":SOUR:LIST:VOLT 1,2,3",
                                     ':TRIG:LOAD "SimpleLoop", 10', ":TRIG:BLOC:SOUR:STAT 1, ON", "*RCL 1",
                                     ":SOUR:CONF:LIST:REC 'x', 1"])
def test_the_guard_refuses_what_the_station_may_not_source(bench_2450, command):
    smu = station_2450(bench_2450)
    with pytest.raises(SafetyLimitError):
        smu.write(command)


def test_the_output_stays_off_while_the_reset_limit_is_above_the_station_limit():
    # after *RST the voltage limit is 21 V: a current source may not switch on under an 8 V station limit
    with expected_protocol(StationKeithley2450, [(b"*RST", None), (b":SOUR:FUNC CURR", None)],
                           limits=LIMITS) as smu:
        smu.write("*RST")
        smu.source_mode = "current"  # pymeasure's own control
        with pytest.raises(SafetyLimitError, match="compliance voltage 21 V"):
            smu.enable_source()


def test_read_reply_parsing():
    reading = parse_read_reply("1.0E-03,3.5E+00,128,1.2E+00", "VOLT")
    assert (reading.voltage_V, reading.current_A, reading.in_compliance) == (3.5, 1e-3, False)
    reading = parse_read_reply("4.1E+00,2.0E-02,160,1.2E+00", "CURR")
    assert (reading.voltage_V, reading.current_A, reading.in_compliance) == (4.1, 0.02, True)
    assert math.isnan(parse_read_reply("9.9E+37,1.0E+00,128,0", "VOLT").current_A)
    for garbled in ("1.0E-03,3.5E+00", "1.0E-03,3.5E+00,1.5,0", "x,1,2,3"):
        with pytest.raises(ValueError):
            parse_read_reply(garbled, "VOLT")


# --- configuration and opening --------------------------------------------------------------
def test_the_configured_kind_must_be_the_instrument_found(tmp_path):
    config = load_config()
    with pytest.raises(InstrumentError, match='not a Keithley 2450 but a Keithley 2400 .*model = "keithley2400"'):
        open_station(dataclasses.replace(config, smu=dataclasses.replace(config.smu, model="keithley2450")),
                     bench=SimulatedBench())
    assert kind_of_identity("KEITHLEY INSTRUMENTS INC.,MODEL 2410,1234,C30") is SOURCE_METERS["keithley2400"]
    assert kind_of_identity("KEITHLEY INSTRUMENTS,MODEL 2450,04412345,1.7.12b") is SOURCE_METERS["keithley2450"]
    assert kind_of_identity("KEITHLEY INSTRUMENTS,MODEL 2460,1,1") is None


@pytest.mark.parametrize("text, message", [
    ('[smu]\nmodel = "keithley2460"', r"\[smu\] model: must be one of keithley2400, keithley2450"),
    ('[smu]\nmodel = "keithley2450"\nnplc = 12', r"\[smu\] nplc: must be within 0.01-10 on the Keithley 2450"),
    ('[smu]\nmodel = 2450', r"\[smu\] model: expected str, got 2450"),
])
def test_the_smu_model_is_checked_before_anything_opens(text, message):
    with pytest.raises(ConfigError, match=message):
        config_from_text(text, "test.toml")


def test_a_buffered_dark_jv_is_refused_on_a_model_without_one():
    config = config_from_text('[smu]\nmodel = "keithley2450"\n[light]\ngeometry = "none"', "test.toml")
    with pytest.raises(ConfigError, match="no buffered sweep on the Keithley 2450; use mode point"):
        procedure_class("dark_jv")(mode="buffered").validate(config)
    procedure_class("dark_jv")(mode="point").validate(config)


# --- every procedure: the same figures on both ---------------------------------------------
#: short runs of each procedure; the figures compared, with the tolerance of two simulated
#: instruments' noise (each reading has its own draws) beside the stored uncertainty
SAME_FIGURES = {
    "jvl": ({}, ("peak_eqe", "turn_on_voltage_V", "max_luminance_cd_m2", "eqe_at_100_cd_m2")),
    "eqe": ({}, ("peak_eqe", "max_luminance_cd_m2", "eqe_at_100_cd_m2")),
    "lifetime": ({"max_duration": 60.0, "monitor_interval": 300.0, "current_density": 50.0},
                 ("L0", "voltage_at_L0_V", "T95_h", "T90_extrapolated_h")),
    "cycling": ({"cycles": 8, "on_time": 2.0, "off_time": 1.0},
                ("first_cycle_luminance_cd_m2", "final_relative_light", "trend_per_100_cycles")),
}


def _uncertainty(figures: dict, name: str) -> float:
    """A figure's stored 1-sigma: NAME_uncertainty, or with the unit kept last (peak_V -> peak_uncertainty_V)."""
    head, _, unit = name.rpartition("_")
    for key in (f"{name}_uncertainty", f"{head}_uncertainty_{unit}", name.replace("_per_", "_uncertainty_per_", 1)):
        value = figures.get(key)
        if isinstance(value, float) and math.isfinite(value):
            return value
    return 0.0


def _run(procedure_name: str, parameters: dict, smu_model: str, path) -> dict:
    config = load_config()
    config = dataclasses.replace(config, smu=dataclasses.replace(config.smu, model=smu_model))
    procedure = procedure_class(procedure_name)(**parameters)
    procedure.validate(config)
    with open_station(config, bench=SimulatedBench(smu_model=smu_model)) as station:
        outcome = run_to_file(procedure, station, path)
    assert outcome.status == "finished", outcome.reason
    assert outcome.output_confirmed_off
    return dict(outcome.figures)


@pytest.mark.parametrize("procedure_name", list(SAME_FIGURES))
def test_every_procedure_gives_the_same_figures_on_the_2450_as_on_the_2400(procedure_name, tmp_path):
    parameters, names = SAME_FIGURES[procedure_name]
    on_2400 = _run(procedure_name, parameters, "keithley2400", tmp_path / "k2400.h5")
    on_2450 = _run(procedure_name, parameters, "keithley2450", tmp_path / "k2450.h5")
    compared = [name for name in names if name in on_2400]
    assert compared, f"none of {names} among {sorted(on_2400)}"
    for name in compared:
        a, b = float(on_2400[name]), float(on_2450[name])
        sigma = math.hypot(_uncertainty(on_2400, name), _uncertainty(on_2450, name))
        assert np.isfinite(a) and np.isfinite(b), name
        assert abs(a - b) <= max(3 * sigma, 2e-3 * abs(a)), (name, a, b)
