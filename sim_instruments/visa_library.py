"""pyvisa-sim library subclass that couples the simulated instruments to the LED model.

Following ENGINEERING_NOTES: subclass ``SimVisaLibrary``, and after ``_init`` replace
each device's ``_match`` so chosen queries are answered by Python. Every bench gets its
own library instance (pyvisa caches libraries per path; we remove ours from that cache)
so no state leaks between benches or tests. This leans on pyvisa-sim internals: the
version is pinned in pyproject.toml and ``tests/test_sim_visa_hook.py`` guards it.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pyvisa import constants, errors
from pyvisa.highlevel import VisaLibraryBase
from pyvisa.rname import to_canonical_name
from pyvisa_sim import parser
from pyvisa_sim.highlevel import SimVisaLibrary

from .keithley2400_sim import SimulatedKeithley2400
from .keithley2450_sim import SimulatedKeithley2450
from .photodiode_sim import SimulatedKeithley2000, SimulatedKeithley6485
from .pixel_switch_sim import SimulatedKeithley7001, SimulatedRelayBoard
from .pr6xx_sim import SimulatedPR6xx
from .pr650_sim import SimulatedPR650

if TYPE_CHECKING:
    from .bench import SimulatedBench

DEFINITIONS = Path(__file__).with_name("bench.yaml")
SMU_RESOURCE = "GPIB0::24::INSTR"
#: where each simulated source meter answers, by [smu] model (a bench has the one it was built with)
SMU_RESOURCES = {"keithley2400": SMU_RESOURCE, "keithley2450": "GPIB0::18::INSTR"}
RADIOMETER_RESOURCE = "ASRL1::INSTR"
PICOAMMETER_RESOURCE = "GPIB0::14::INSTR"
DMM_RESOURCE = "GPIB0::16::INSTR"
RELAY_BOARD_RESOURCE = "ASRL2::INSTR"
SWITCH_SYSTEM_RESOURCE = "GPIB0::7::INSTR"


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    """bench.yaml parsed once per process, with libyaml when present.

    pyvisa-sim parses with the pure-Python ``yaml.BaseLoader`` (about 40 ms a bench);
    ``CBaseLoader`` gives the same result (every scalar a string) in a few ms.
    """
    loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
    return yaml.load(DEFINITIONS.read_text(encoding="utf-8"), Loader=loader)


class _ParsedLoader(parser.Loader):
    """pyvisa-sim's definitions loader, given the parsed file instead of parsing it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._cache = {(str(DEFINITIONS), False): data}
        self._filename = str(DEFINITIONS)
        self._bundled = False
        self.data = data


def _fresh_devices() -> parser.Devices:
    """New device objects (their own state) from the parsed definitions, as ``parser.get_devices``."""
    loader = _ParsedLoader(copy.deepcopy(_definitions()))
    devices = parser.Devices()
    for resource_name, resource in loader.data.get("resources", {}).items():
        name = resource["device"]
        definition = loader.get_device_dict(name, resource.get("filename"), resource.get("bundled", False),
                                            parser.SPEC_VERSION_TUPLE[0])
        devices.add_device(to_canonical_name(resource_name), parser.get_device(name, definition, loader, resource))
    return devices


class SimBenchLibrary(SimVisaLibrary):
    """One simulated bench's VISA instruments."""

    keithley: SimulatedKeithley2400 | SimulatedKeithley2450  # the bench's source meter, whichever model
    radiometer: SimulatedPR6xx | SimulatedPR650
    picoammeter: SimulatedKeithley6485
    dmm: SimulatedKeithley2000
    relay_board: SimulatedRelayBoard
    switch_system: SimulatedKeithley7001

    def _init(self) -> None:
        self.sessions = {}
        self.devices = _fresh_devices()

    # --- injected faults (sim_instruments.faults) at the VISA layer ----------------------
    def _smu_session(self, session) -> bool:
        sess = self.sessions.get(session)
        return getattr(sess, "device", None) is getattr(getattr(self, "keithley", None), "device", False)

    def read(self, session, count: int):
        if self._smu_session(session):
            keithley = self.keithley
            if keithley.bench.faults.smu_call_fails():
                raise errors.VisaIOError(constants.VI_ERROR_CONN_LOST)
            if keithley.reply_lost:  # the time-out, spent on the bench clock
                keithley.reply_lost = False
                timeout_ms, _ = self.sessions[session].get_attribute(constants.ResourceAttribute.timeout_value)
                keithley.bench.spend(timeout_ms / 1000)
                raise errors.VisaIOError(constants.VI_ERROR_TMO)
        return super().read(session, count)

    def write(self, session, data: bytes):
        if self._smu_session(session) and self.keithley.bench.faults.smu_call_fails():
            raise errors.VisaIOError(constants.VI_ERROR_CONN_LOST)
        return super().write(session, data)

    def clear(self, session):
        """Device clear: empty the instrument's input and output buffers (VISA viClear)."""
        sess = self.sessions.get(session)
        device = getattr(sess, "device", None)
        if device is None:
            return constants.StatusCode.error_invalid_object
        if self._smu_session(session) and self.keithley.bench.faults.smu_call_fails():
            raise errors.VisaIOError(constants.VI_ERROR_CONN_LOST)
        device._output_buffers.clear()
        device._input_buffer = bytearray()
        if self._smu_session(session):
            self.keithley.reply_lost = False
            self.keithley.device_clear()
        elif device is self.radiometer.device:
            self.radiometer.clear()
        elif device is self.relay_board.device:
            self.relay_board.clear()
        return constants.StatusCode.success

    def read_stb(self, session):
        """Serial poll (viReadSTB): the simulated source meter answers at any time; the other simulated
        instruments do not support it here."""
        if not self._smu_session(session):
            raise errors.VisaIOError(constants.VI_ERROR_NSUP_OPER)
        if self.keithley.bench.faults.smu_call_fails():
            raise errors.VisaIOError(constants.VI_ERROR_CONN_LOST)
        return self.keithley.serial_poll(), constants.StatusCode.success

    @classmethod
    def for_bench(cls, bench: SimulatedBench, radiometer_model: str = "PR-655",
                  smu_model: str = "keithley2400") -> SimBenchLibrary:
        library = cls(str(DEFINITIONS))
        VisaLibraryBase._registry.pop((cls, library.library_path), None)
        smu_device = library.devices[SMU_RESOURCES[smu_model]]
        library.keithley = (SimulatedKeithley2450(smu_device, bench) if smu_model == "keithley2450"
                            else SimulatedKeithley2400(smu_device, bench))
        device = library.devices[RADIOMETER_RESOURCE]
        library.radiometer = (SimulatedPR650(device, bench) if radiometer_model == SimulatedPR650.model
                              else SimulatedPR6xx(device, bench, radiometer_model))
        library.picoammeter = SimulatedKeithley6485(library.devices[PICOAMMETER_RESOURCE], bench, bench.photodiode)
        library.dmm = SimulatedKeithley2000(library.devices[DMM_RESOURCE], bench, bench.photodiode)
        library.relay_board = SimulatedRelayBoard(library.devices[RELAY_BOARD_RESOURCE], bench)
        library.switch_system = SimulatedKeithley7001(library.devices[SWITCH_SYSTEM_RESOURCE], bench)
        return library
