"""Instrument kinds come from registries: a new kind is one module and one registry line,
with no change to the configuration's code (docs/adding-an-instrument.md).

The light kind added here is a test's own: a spectroradiometer given its own table
(``[reference_radiometer]``, declared as a dataclass), opened by its own function. The
configuration checks its table, lists its address, refuses an unknown key in it, and the
station opens it and measures with it; none of that needed an edit of
``station/setup/config.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec
import pytest

from drivers.radiometers import RADIOMETER_MODELS
from drivers.source_meters import SOURCE_METERS
from sim_instruments.bench import SimulatedBench
from station.core.errors import ConfigError
from station.core.photometry import photometric_total
from station.setup import light_kinds
from station.setup.config import config_from_text
from station.setup.light_kinds import LightKind
from station.setup.light_meters import visa_resource
from station.setup.station import open_station


@dataclass(frozen=True)
class ReferenceRadiometerTable:
    """[reference_radiometer]: a PR-655 kept as the lab's reference."""

    address: str
    timeout_s: Annotated[float, msgspec.Meta(ge=0.5, le=120)] = 30.0


def open_reference_radiometer(config, bench):
    table = config.table("reference_radiometer")
    address, kwargs = visa_resource(config, table.address, bench, lambda b: b.radiometer_address)
    radiometer = RADIOMETER_MODELS["PR-655"].driver(address, timeout_s=table.timeout_s, model="PR-655", **kwargs)
    radiometer.enter_remote()
    return radiometer


REFERENCE = LightKind("reference_radiometer", "reference_radiometer", f"{__name__}:open_reference_radiometer",
                      spectrum_points=lambda config: 2 * 201,
                      band_nm=lambda config: (380.0, 780.0, "[reference_radiometer] the PR-655"),
                      table_type=ReferenceRadiometerTable)


@pytest.fixture
def reference_kind(monkeypatch):
    monkeypatch.setitem(light_kinds.LIGHT_KINDS, "reference_radiometer", REFERENCE)  # the one registry line


TEXT = '[light]\ngeometry = "reference_radiometer"\n[reference_radiometer]\naddress = "sim"\ntimeout_s = 10\n'


def test_a_new_light_kind_is_configured_opened_and_measured_with(reference_kind):
    config = config_from_text(TEXT, "test.toml")
    assert config.table("reference_radiometer") == ReferenceRadiometerTable("sim", 10.0)
    assert ("reference_radiometer", "sim") in config.instrument_addresses
    assert config.stored_spectrum_points == 402 and config.light_address == "sim"
    bench = SimulatedBench(radiometer_model="PR-655")
    with open_station(config, bench=bench) as station:
        station.prepare_light()
        station.smu.configure_current_source(8.0, 1.0)
        station.smu.enable_source()
        station.smu.apply_current(0.002)
        result = station.measure_light(5.0)
        truth = bench.led.solve()[0]
    assert result.quantity == "spectral_radiance"  # W/(sr m^2 nm)
    luminance = photometric_total(result.spectral, result.wavelength_nm)
    assert luminance == pytest.approx(truth.luminance_cd_m2, rel=0.03)


@pytest.mark.parametrize("text, message", [
    (TEXT + "gain = 2\n", r"\[reference_radiometer\] gain: unknown key"),
    (TEXT.replace("timeout_s = 10", "timeout_s = 500"), r"\[reference_radiometer\] timeout_s: must be within 0.5-120"),
    ('[light]\ngeometry = "reference_radiometer"\n', r"missing table \[reference_radiometer\]"),
    (TEXT.replace('address = "sim"\n', ""), r"\[reference_radiometer\] address: missing"),
])
def test_a_new_kinds_table_is_checked_by_its_declaration(reference_kind, text, message):
    with pytest.raises(ConfigError, match=message):
        config_from_text(text, "test.toml")


def test_without_its_registry_line_the_kind_and_its_table_are_unknown():
    with pytest.raises(ConfigError, match=r"\[light\] geometry: must be one of sphere, radiometer, photodiode"):
        config_from_text('[light]\ngeometry = "reference_radiometer"\n', "test.toml")
    with pytest.raises(ConfigError, match=r"unknown table \[reference_radiometer\]"):
        config_from_text('[reference_radiometer]\naddress = "sim"\n', "test.toml")


def test_every_kind_takes_its_facts_from_its_driver():
    from drivers import keithley2400, keithley2450

    assert SOURCE_METERS["keithley2400"].max_voltage_V == keithley2400.MAX_VOLTAGE_V
    assert SOURCE_METERS["keithley2450"].max_current_A == keithley2450.MAX_CURRENT_A
    assert SOURCE_METERS["keithley2400"].max_buffered_sweep_points == keithley2400.MAX_SWEEP_POINTS
    assert SOURCE_METERS["keithley2450"].max_buffered_sweep_points == 0  # it sweeps one level at a time
    for kind in SOURCE_METERS.values():
        assert kind.driver_class().MODEL == kind.model
