"""The simulated 2400 speaks the instrument's language and clamps like it."""

import pytest
from pymeasure.instruments.keithley import Keithley2400
from pyvisa.errors import VisaIOError

from sim_instruments.bench import SimulatedBench
from sim_instruments.keithley2400_sim import SDM_OVERHEAD_S, STATUS_COMPLIANCE, TRIGGER_OVERHEAD_S

from .conftest import station_smu


def pymeasure_2400(bench):
    return Keithley2400(bench.smu_address, visa_library=bench.visa_library, read_termination="\n",
                        write_termination="\n", timeout=300)


def test_pymeasures_own_keithley2400_reads_the_models_current(bench):
    smu = pymeasure_2400(bench)
    assert "MODEL 2400" in smu.id
    smu.source_mode = "voltage"
    smu.compliance_current = 0.1
    smu.source_voltage = 3.5
    smu.enable_source()
    model_current = bench.led.model.current_at_voltage_A(3.5, bench.led.condition())
    reading = smu.measure_all()  # :READ?
    assert reading["voltage"] == pytest.approx(3.5, abs=1e-3)
    assert reading["current"] == pytest.approx(model_current, rel=1e-3)
    assert not reading["status"] & STATUS_COMPLIANCE
    # pymeasure's `current` is :MEAS:CURR?, i.e. :CONF:CURR + :READ?: as on the instrument,
    # the current compliance goes back to its *RST value of 105 uA, which this device exceeds
    assert smu.current == pytest.approx(105e-6, rel=1e-3)
    assert smu.compliance_current == pytest.approx(105e-6)
    smu.shutdown()
    assert smu.source_enabled is False
    assert bench.led.drive is None


def test_voltage_source_clamps_at_compliance_current_with_the_flag(bench):
    smu = pymeasure_2400(bench)
    smu.source_mode = "voltage"
    smu.compliance_current = 1e-3
    smu.source_voltage = 6.0
    smu.enable_source()
    reading = smu.measure_all()
    assert reading["status"] & STATUS_COMPLIANCE
    assert reading["current"] == pytest.approx(1e-3, rel=1e-3)
    expected_V = bench.led.model.voltage_at_current_V(1e-3, bench.led.condition())
    assert reading["voltage"] == pytest.approx(expected_V, abs=1e-3)
    assert reading["voltage"] < 6.0


def test_current_source_clamps_at_compliance_voltage_with_the_flag(bench):
    smu = pymeasure_2400(bench)
    smu.source_mode = "current"
    smu.compliance_voltage = 3.0
    smu.source_current = 0.05
    smu.enable_source()
    reading = smu.measure_all()
    assert reading["status"] & STATUS_COMPLIANCE
    assert reading["voltage"] == pytest.approx(3.0, abs=1e-3)
    expected_A = bench.led.model.current_at_voltage_A(3.0, bench.led.condition())
    assert reading["current"] == pytest.approx(expected_A, rel=1e-3)


def test_short_and_long_forms_and_case_reach_the_same_setting(bench):
    smu = pymeasure_2400(bench)
    smu.write(":sour:volt 1.25")
    assert float(smu.ask(":SOURCE:VOLTAGE?")) == 1.25
    smu.write("SOURCE:VOLTAGE:LEVEL 2.5")
    assert float(smu.ask(":Sour:Volt?")) == 2.5


def test_unknown_commands_go_to_the_error_queue(bench):
    smu = pymeasure_2400(bench)
    smu.write(":BOGUS:COMMAND 1")
    assert smu.ask("SYST:ERR?").startswith("-113")
    assert smu.ask("SYST:ERR?").startswith("0,")


def test_read_with_output_off_gives_error_803_not_a_number(bench):
    smu = pymeasure_2400(bench)
    with pytest.raises(VisaIOError):
        smu.ask(":READ?")
    assert smu.ask("SYST:ERR?").startswith("+803")


def test_reset_switches_the_output_off_and_restores_defaults(bench):
    smu = pymeasure_2400(bench)
    smu.source_voltage = 3.0
    smu.enable_source()
    assert bench.led.drive is not None
    smu.reset()
    assert bench.led.drive is None
    assert float(smu.ask(":SOUR:VOLT?")) == 0.0


def test_nplc_costs_virtual_time(bench):
    smu = station_smu(bench)
    smu.configure_voltage_source(0.01, nplc=10)
    smu.enable_source()
    before = bench.clock.monotonic()
    smu.read_point()
    # auto zero on: three integrations, the cycle's overhead, the single reading's trigger processing
    assert bench.clock.monotonic() - before == pytest.approx(3 * 10 / 50 + SDM_OVERHEAD_S + TRIGGER_OVERHEAD_S)
    smu.write(":SYST:AZER:STAT 0")
    before = bench.clock.monotonic()
    smu.read_point()
    assert bench.clock.monotonic() - before == pytest.approx(10 / 50 + SDM_OVERHEAD_S + TRIGGER_OVERHEAD_S)


def test_benches_do_not_share_instrument_state():
    a, b = SimulatedBench(), SimulatedBench()
    pymeasure_2400(a).source_voltage = 2.0
    assert float(pymeasure_2400(b).ask(":SOUR:VOLT?")) == 0.0
    assert a.visa_library is not b.visa_library


def test_injected_fault_raises_from_the_simulated_instrument(bench):
    from sim_instruments.keithley2400_sim import SimulatedInstrumentFault

    smu = station_smu(bench)
    smu.configure_voltage_source(0.01)
    smu.enable_source()
    bench.keithley.fail_at_measurement = 2
    smu.read_point()
    with pytest.raises(SimulatedInstrumentFault):
        smu.read_point()
