"""Guard the pyvisa-sim internals the simulation hook relies on (pinned version)."""

import pyvisa_sim
from pyvisa_sim.devices import Device

from sim_instruments.bench import SimulatedBench


def test_pyvisa_sim_version_is_the_pinned_one():
    assert pyvisa_sim.__version__ == "0.7.1"


def test_hooked_devices_expose_the_private_attributes_we_use():
    bench = SimulatedBench()
    device = bench.visa_library.devices[bench.smu_address]
    assert isinstance(device, Device)
    assert device._match == bench.keithley.match
    assert "source_voltage" in device._properties
    assert b":SYST:ERR?" in device._error_queues
