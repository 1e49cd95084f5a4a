"""pymeasure's own, unmodified ``Keithley2400`` against the simulated 2400: every
property and method of the class runs without a time-out or an instrument error."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2400

from sim_instruments.bench import SimulatedBench

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pymeasure's deprecated members, called on purpose

#: arguments for the methods that need them (everything else is called without)
METHOD_ARGUMENTS = {
    "beep": (2000, 0.05), "triad": (1000, 0.02), "ramp_to_current": (1e-4,), "ramp_to_voltage": (3.0,),
    "set_trigger_counts": (1, 5), "set_timed_arm": (0.5,), "output_trigger_on_external": (2,),
    "trigger_on_external": (2,), "config_buffer": (5, 0.001), "measure_current": (1, 1.05e-4),
    "measure_voltage": (1, 21.0), "measure_resistance": (1, 2.1e5), "apply_current": (None, 5.0),
    "apply_voltage": (None, 0.01), "wait_for_buffer": (), "check_errors": (), "check_get_errors": (),
    "check_set_errors": (),
}
#: members that are not instrument commands, or would end the session, or need a
#: different adapter (Prologix), or are deprecated aliases that only warn
SKIPPED = {"adapter", "shutdown", "read", "write", "ask", "values", "binary_values", "read_bytes", "write_bytes",
           "write_binary_values", "read_binary_values", "clear", "close", "wait_for", "get_channel_pairs",
           "get_channels", "add_child", "remove_child", "channels", "functions", "next_write_time",
           "read_termination", "write_termination", "isShutdown", "name", "query_delay", "includeSCPI",
           "ask_values", "control", "measurement", "setting", "write_delay", "process", "reset"}
#: methods that need a configured, started buffer (exercised after one is filled)
ORDER_LAST = ("wait_for_buffer",)
#: deprecated properties whose reply pymeasure's own validator does not accept back
#: ("0"/"1", as the instrument answers): written with a value from their own set
WRITE_VALUES = {"filter_state": "OFF"}


def members() -> tuple[list[str], list[str]]:
    """(properties, methods) of pymeasure's Keithley2400, every class in its MRO."""
    properties, methods = [], []
    for name in sorted(dir(Keithley2400)):
        if name.startswith("_") or name in SKIPPED:
            continue
        attribute = inspect.getattr_static(Keithley2400, name)
        if isinstance(attribute, property):
            properties.append(name)
        elif inspect.isfunction(attribute):
            methods.append(name)
    return properties, methods


PROPERTIES, METHODS = members()


@pytest.fixture()
def smu():
    bench = SimulatedBench(latency=False)
    instrument = Keithley2400(bench.smu_address, visa_library=bench.visa_library, timeout=2000)
    yield instrument, bench
    instrument.adapter.close()
    bench.close()


def _no_errors(instrument) -> None:
    errors = []
    for _ in range(20):
        code, _, message = instrument.ask(":SYST:ERR?").partition(",")
        if int(code) == 0:
            break
        errors.append(f"{code},{message}")
    assert not errors, errors


def _values_of(descriptor_value) -> list:
    values = getattr(descriptor_value, "values", None)
    return values


def test_every_property_reads_and_every_control_writes_back(smu):
    instrument, bench = smu
    instrument.apply_voltage(compliance_current=0.01)
    instrument.source_voltage = 3.0
    instrument.enable_source()
    instrument.config_buffer(4)  # the statistics properties need a filled buffer
    instrument.start_buffer()
    instrument.wait_for_buffer(timeout=5)
    for name in PROPERTIES:
        value = getattr(instrument, name)  # a time-out raises here
        _no_errors(instrument)
        static = inspect.getattr_static(Keithley2400, name)
        if static.fset is None or value is None or isinstance(value, (list, np.ndarray)):
            continue
        try:
            setattr(instrument, name, WRITE_VALUES.get(name, value))
        except LookupError:  # a measurement: read-only
            continue
        _no_errors(instrument)
    instrument.disable_source()


@pytest.mark.parametrize("name", [m for m in METHODS if m not in ORDER_LAST])
def test_every_method_runs(smu, name):
    instrument, bench = smu
    instrument.apply_voltage(compliance_current=0.01)
    instrument.source_voltage = 3.0
    instrument.enable_source()
    getattr(instrument, name)(*METHOD_ARGUMENTS.get(name, ()))
    _no_errors(instrument)
    instrument.disable_source()


def test_the_buffer_takes_points_and_gives_their_statistics(smu):
    instrument, bench = smu
    instrument.apply_voltage(compliance_current=0.01)
    instrument.source_voltage = 3.5
    instrument.enable_source()
    instrument.config_buffer(8)
    instrument.start_buffer()
    instrument.wait_for_buffer(timeout=5)
    data = instrument.buffer_data
    assert data.shape == (8 * 5,)  # five elements a point
    readings = data.reshape(8, 5)
    model_current = bench.led.solve(photometry_totals=False)[0].current_A  # the device as it is now
    assert readings[:, 1] == pytest.approx(model_current, rel=1e-3)
    means = instrument.means
    assert means[0] == pytest.approx(readings[:, 0].mean(), rel=1e-6)
    assert instrument.mean_current == pytest.approx(readings[:, 1].mean(), rel=1e-6)
    assert instrument.max_current == pytest.approx(readings[:, 1].max(), rel=1e-6)
    assert instrument.min_voltage == pytest.approx(readings[:, 0].min(), rel=1e-6)
    assert instrument.std_current == pytest.approx(readings[:, 1].std(ddof=1), rel=0.05)  # of 7-digit data
    assert math.isfinite(instrument.standard_devs[0])
    _no_errors(instrument)
    instrument.disable_source()


def test_measure_resets_compliance_and_switches_the_output_on_as_the_manual_says(smu):
    """:MEASure? is :CONFigure + :READ?: :CONF resets the function's settings, compliance
    included, to their *RST values and switches the output on."""
    instrument, bench = smu
    instrument.apply_voltage(compliance_current=1e-6)
    instrument.source_voltage = 0.0
    assert not instrument.source_enabled
    instrument.ask(":MEAS:CURR?")
    assert instrument.source_enabled
    assert instrument.compliance_current == pytest.approx(105e-6)  # the *RST value
    instrument.disable_source()
