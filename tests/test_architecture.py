"""Architecture rules that import-linter cannot see: one light-meter interface, instrument
facts in their driver only. (The import layers are checked by ``lint-imports``.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pymeasure.test import expected_protocol

from drivers import keithley2400
from drivers.keithley2400 import MAX_CURRENT_A, MAX_VOLTAGE_V, SafetyLimits, StationKeithley2400
from drivers.light_meter import LightMeter
from procedures.eqe_sweep import EQESweep
from procedures.jvl_sweep import JVLSweep
from sim_instruments.bench import SimulatedBench
from sim_instruments.visa_library import DEFINITIONS
from station.core.clock import VirtualClock
from station.core.errors import SafetyLimitError
from station.setup.config import load_config
from station.setup.light_meters import open_light_meter

ROOT = Path(__file__).resolve().parents[1]
ABOVE_DRIVERS = [p for d in ("station", "procedures") for p in (ROOT / d).rglob("*.py")]


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_no_type_switch_on_the_light_instrument_above_its_opener():
    switch = re.compile(r"isinstance\([^)]*(SphereSpectrometer|PR6xx)|hasattr\([^)]*light")
    offenders = [str(p.relative_to(ROOT)) for p in ABOVE_DRIVERS if switch.search(source(p))]
    assert offenders == []
    users = [str(p.relative_to(ROOT)) for p in ABOVE_DRIVERS if re.search(r"\b(SphereSpectrometer|PR6xx)\b",
                                                                               source(p))]
    # the opener, and the sphere calibration (which works on an uncalibrated spectrometer)
    assert sorted(users) == ["station/setup/light_meters.py", "station/setup/sphere_calibration.py"]


@pytest.mark.parametrize("geometry", ["sphere", "radiometer"])
def test_both_light_instruments_are_light_meters(geometry):
    import dataclasses

    bench = SimulatedBench()
    light = open_light_meter(dataclasses.replace(load_config(), geometry=geometry), bench)
    try:
        assert isinstance(light, LightMeter)
        light.prepare()
        description = light.describe()
        assert description.identity == light.identity and len(description.axis.wavelength_nm) > 50
        assert (description.darks is not None) == (geometry == "sphere")
        reading = light.measure()
        assert reading.quantity == description.axis.quantity
        assert (reading.dark_index >= 0) == (geometry == "sphere")
    finally:
        light.close()
        bench.close()


def test_keithley_ranges_live_in_the_driver_and_the_simulation_agrees():
    numbers = re.compile(r"(?<![\d.])(210|1\.05)(?![\d.])")
    offenders = [str(p.relative_to(ROOT)) for p in ABOVE_DRIVERS if numbers.search(source(p))]
    assert offenders == []
    from procedures.cycling import Cycling
    from procedures.lifetime import Lifetime

    for cls in (JVLSweep, EQESweep, Lifetime, Cycling):
        for name, parameter in cls.parameter_definitions().items():
            if getattr(parameter, "units", None) == "V" and "voltage" in name and parameter.maximum != float("inf"):
                assert parameter.maximum == MAX_VOLTAGE_V, name
            if getattr(parameter, "units", None) == "A":
                assert parameter.maximum == MAX_CURRENT_A, name
    spec = yaml.safe_load(DEFINITIONS.read_text())["devices"]["keithley2400"]["properties"]
    assert float(spec["source_voltage"]["specs"]["max"]) == MAX_VOLTAGE_V
    assert float(spec["source_current"]["specs"]["max"]) == MAX_CURRENT_A


def test_radiometer_grids_live_in_the_driver():
    grids = re.compile(r"380\s*,\s*780")
    offenders = [str(p.relative_to(ROOT)) for d in ("station", "procedures", "sim_instruments")
                 for p in (ROOT / d).rglob("*.py") if grids.search(source(p))]
    assert offenders == []


@pytest.mark.parametrize("command", ["OUTPUT:STATE ON", ":outp:stat 1"])
def test_the_long_output_form_is_guarded_too(command):
    limits = SafetyLimits(8.0, 0.05)
    fmt = (b":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None)
    with expected_protocol(StationKeithley2400, [fmt, (b":SOURCE:FUNCTION CURR", None)], limits=limits,
                           clock=VirtualClock()) as smu:
        smu.source_mode = "current"  # compliance voltage still the *RST 21 V, above the 8 V limit
        with pytest.raises(SafetyLimitError, match="refusing to switch the output on"):
            smu.write(command)
    assert keithley2400.RESET_COMPLIANCE_VOLTAGE_V > limits.max_voltage_V


def test_the_simulated_2400_accepts_the_long_output_form():
    bench = SimulatedBench()
    smu = StationKeithley2400(bench.smu_address, SafetyLimits(10.0, 0.1), clock=bench.clock,
                              visa_library=bench.visa_library, read_termination="\n", write_termination="\n")
    smu.configure_voltage_source(0.01)
    smu.write("OUTPUT:STATE ON")
    assert bench.keithley.output_on and smu.output_on
    assert smu.ask(":OUTP:STAT?").strip() == "1"
    smu.write(":OUTP:STAT 0")
    assert not bench.keithley.output_on and bench.led.drive is None
    bench.close()
