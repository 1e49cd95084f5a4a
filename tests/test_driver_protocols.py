"""Exact instrument traffic of the station's drivers (pymeasure.test.expected_protocol)."""

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from drivers.keithley2400 import SafetyLimits, StationKeithley2400
from drivers.pr6xx import PR6xx
from station.core.clock import VirtualClock
from station.core.errors import InstrumentError, SafetyLimitError

FORMAT = (b":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)
LIMITS = SafetyLimits(max_voltage_V=8.0, max_current_A=0.05)


def keithley(pairs):
    return expected_protocol(StationKeithley2400, [FORMAT, *pairs], limits=LIMITS, clock=VirtualClock())


def test_read_point_is_one_read_with_the_compliance_flag():
    with keithley([(b":READ?", b"+3.000000E+00,+1.000000E-03,+9.910000E+37,+1.200000E+01,+2.254000E+04")]) as smu:
        reading = smu.read_point()
    assert reading.voltage_V == 3.0 and reading.current_A == 1e-3
    assert reading.in_compliance  # 22540 has bit 3 set


def test_configure_voltage_source_traffic():
    with keithley([
        (b":SOURCE:FUNCTION VOLT", None),
        (b":SOURCE:VOLTAGE:RANGE:AUTO 1", None),
        (b":SENSE:CURRENT:RANGE:AUTO 1", None),
        (b":SENSE:CURRENT:PROTECTION 0.02", None),
        (b":SENSE:CURRENT:NPLCYCLES 1", None),
        (b":SOURCE:VOLTAGE 0", None),
    ]) as smu:
        smu.configure_voltage_source(0.02, nplc=1)


@pytest.mark.parametrize("action", [
    lambda smu: setattr(smu, "source_voltage", 9.0),
    lambda smu: setattr(smu, "source_current", -0.06),
    lambda smu: setattr(smu, "compliance_current", 0.5),
    lambda smu: setattr(smu, "compliance_voltage", 20.0),
    lambda smu: smu.write(":sour:volt 100"),
    lambda smu: smu.write(":SOUR:VOLT MAX"),
    lambda smu: smu.write(":OUTP 0;:SOUR:VOLT 1e3"),
    lambda smu: smu.ramp_to_voltage(12.0),
    lambda smu: smu.ask(":MEAS:CURR?"),  # :CONF:CURR: compliance back to 105 uA, output on
    lambda smu: smu.ask(":measure:voltage?"),
    lambda smu: smu.write(":CONF:CURR"),
    lambda smu: smu.write(":SOUR:CLE:AUTO ON"),
    lambda smu: smu.write("*RCL 1"),
    lambda smu: smu.write(":SENS:RES:MODE AUTO"),
    lambda smu: smu.write(":SOUR:VOLT:STOP 20"),
    lambda smu: smu.write(":SOUR:LIST:VOLT 1,2,30"),
    lambda smu: smu.write(":SOUR:CURR:STAR 0.2"),
])
def test_requests_beyond_the_safety_limits_never_reach_the_instrument(action):
    with keithley([]) as smu:  # any traffic would fail the protocol check
        with pytest.raises(SafetyLimitError):
            action(smu)


def test_the_guard_stops_measure_from_switching_the_output_on_against_the_simulated_2400():
    """On the simulated 2400, as on the instrument, :MEAS:CURR? resets the compliance to
    105 uA and switches the output on; through the station's driver it never leaves."""
    from sim_instruments.bench import SimulatedBench

    bench = SimulatedBench(latency=False)
    smu = StationKeithley2400(bench.smu_address, LIMITS, clock=bench.clock, visa_library=bench.visa_library,
                              read_termination="\n", write_termination="\n")
    smu.compliance_current = 1e-6
    with pytest.raises(SafetyLimitError, match="switches the output on"):
        smu.ask(":MEAS:CURR?")
    assert smu.ask(":OUTP?").strip() == "0"
    assert float(smu.ask(":SENS:CURR:PROT?")) == pytest.approx(1e-6)
    smu.write(":SOUR:VOLT:STOP 5")  # within the limits: allowed
    bench.close()


def test_output_is_refused_while_the_reset_compliance_voltage_exceeds_the_limit():
    with keithley([(b":SOURCE:FUNCTION CURR", None)]) as smu:
        smu.source_mode = "current"
        with pytest.raises(SafetyLimitError, match="compliance voltage 21"):
            smu.enable_source()


def test_safe_shutdown_ramps_then_switches_off():
    levels = [(f":SOUR:VOLT {v:g}".encode(), None) for v in np.linspace(2.0, 0.0, 10)]
    with keithley([(b":SOURCE:VOLTAGE 2", None), *levels, (b":OUTP 0", None), (b":OUTP?", b"0")]) as smu:
        smu.source_voltage = 2.0
        assert smu.safe_shutdown().confirmed


def test_output_goes_off_even_when_the_ramp_fails():
    class BrokenRamp(StationKeithley2400):
        def ramp_to_voltage(self, *args, **kwargs):
            raise OSError("bus error")

    with expected_protocol(BrokenRamp, [FORMAT, (b":OUTP 0", None), (b":OUTP?", b"0")], limits=LIMITS,
                           clock=VirtualClock()) as smu:
        report = smu.safe_shutdown()
    assert report.confirmed and report.summary() == "output confirmed off"


def test_an_output_that_never_reads_back_off_is_reported_not_claimed():
    # the instrument answers "1" to every read-back: the driver keeps trying until its deadline
    traffic = [FORMAT, (b":SOURCE:VOLTAGE 3", None)]
    traffic += [(f":SOUR:VOLT {v:g}".encode(), None) for v in np.linspace(3.0, 0.0, 10)]
    for _ in range(3):
        traffic += [(b":OUTP 0", None), (b":OUTP?", b"1")]
    with expected_protocol(StationKeithley2400, traffic, limits=LIMITS, clock=VirtualClock()) as smu:
        smu.source_voltage = 3.0
        report = smu.safe_shutdown(timeout_s=0.3)
    assert not report.confirmed and report.attempts == 3 and not smu.confirmed_off
    assert "COULD NOT SWITCH THE OUTPUT OFF" in report.summary() and "last set 3 V" in report.summary()


PR_IDENT = [(b"PHOTO", b"REMOTE MODE"), (b"D111", b"00000,PR-655"), (b"D110", b"00000,65512345")]


def pr655(pairs):
    return expected_protocol(PR6xx, [*PR_IDENT, *pairs])


def test_pr655_enters_remote_mode_and_identifies():
    with pr655([]) as pr:
        pr.enter_remote()
        assert (pr.model, pr.serial_number) == ("PR-655", "65512345")
        assert len(pr.wavelength_nm) == 101


def test_pr655_m5_spectrum_is_parsed_line_by_line():
    wl = np.arange(380, 781, 4)
    values = 1e-3 * np.exp(-0.5 * ((wl - 620) / 12.0) ** 2)
    lines = [(None, f"{w},{v:.4e}".encode()) for w, v in zip(wl, values, strict=True)]
    with pr655([(b"M5", b"00000,0001,6.200e+02,3.0081e-02,9.3879e+16"), *lines,
                (b"D1", b"00000,1,1.2345e+02,0.6812,0.3102"), (b"D2", b"00000,1,2.7e+02,1.2345e+02,2.1e+00")]) as pr:
        pr.enter_remote()
        result = pr.measure()
    assert result.quantity == "spectral_radiance" and result.valid
    np.testing.assert_allclose(result.spectral, values, rtol=1e-4)
    assert result.extras["instrument_luminance_cd_m2"] == pytest.approx(123.45)
    assert result.extras["instrument_Y"] == pytest.approx(123.45)


def test_pr655_low_light_code_gives_a_flagged_result_not_numbers():
    with pr655([(b"M5", b"00018")]) as pr:
        pr.enter_remote()
        result = pr.measure()
    assert result.low_light and not result.valid
    assert np.isnan(result.spectral).all()


def test_pr655_other_error_codes_raise_with_their_meaning():
    with pr655([(b"M5", b"00019")]) as pr:
        pr.enter_remote()
        with pytest.raises(InstrumentError, match="00019 .*too bright"):
            pr.measure()


def test_pr655_footlamberts_are_converted():
    wl = np.arange(380, 781, 4)
    lines = [(None, f"{w},1.0000e-04".encode()) for w in wl]
    with pr655([(b"M5", b"00000,0001,6.200e+02,4.0e-02,1.2e+17"), *lines, (b"D1", b"00000,0,10.0,0.3,0.3"),
                (b"D2", b"00000,0,9.0,10.0,11.0")]) as pr:
        pr.enter_remote()
        result = pr.measure()
    assert result.extras["instrument_luminance_cd_m2"] == pytest.approx(34.262591)
    assert result.extras["instrument_X"] == pytest.approx(9.0 * 3.4262591)


def test_both_models_are_source_meters_as_the_procedures_use_one():
    """drivers.source_meter.SourceMeter: what procedures may ask; the 2400 and the 2450 provide all
    of it, and the parameter bounds are the widest of their ranges (each from its driver)."""
    from drivers import keithley2400, keithley2450
    from drivers.keithley2450.driver import StationKeithley2450
    from drivers.source_meter import SourceMeter
    from drivers.source_meters import PARAMETER_MAX_CURRENT_A, PARAMETER_MAX_VOLTAGE_V

    with keithley([]) as smu:
        assert isinstance(smu, SourceMeter)
    with expected_protocol(StationKeithley2450, [], limits=LIMITS) as smu:
        assert isinstance(smu, SourceMeter)
    assert PARAMETER_MAX_VOLTAGE_V == max(keithley2400.MAX_VOLTAGE_V, keithley2450.MAX_VOLTAGE_V)
    assert PARAMETER_MAX_CURRENT_A == max(keithley2400.MAX_CURRENT_A, keithley2450.MAX_CURRENT_A)
