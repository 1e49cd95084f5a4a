"""pyvisa-sim library subclass that couples the simulated instruments to the LED model.

Following ENGINEERING_NOTES: subclass ``SimVisaLibrary``, and after ``_init`` replace
each device's ``_match`` so chosen queries are answered by Python. Every bench gets its
own library instance (pyvisa caches libraries per path; we remove ours from that cache)
so no state leaks between benches or tests. This leans on pyvisa-sim internals: the
version is pinned in pyproject.toml and ``tests/test_sim_visa_hook.py`` guards it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pyvisa.highlevel import VisaLibraryBase
from pyvisa_sim.highlevel import SimVisaLibrary

from .keithley2400_sim import SimulatedKeithley2400
from .pr6xx_sim import SimulatedPR6xx

if TYPE_CHECKING:
    from .bench import SimulatedBench

DEFINITIONS = Path(__file__).with_name("bench.yaml")
SMU_RESOURCE = "GPIB0::24::INSTR"
RADIOMETER_RESOURCE = "ASRL1::INSTR"


class SimBenchLibrary(SimVisaLibrary):
    """One simulated bench's VISA instruments."""

    keithley: SimulatedKeithley2400
    radiometer: SimulatedPR6xx

    @classmethod
    def for_bench(cls, bench: SimulatedBench, radiometer_model: str = "PR-655") -> SimBenchLibrary:
        library = cls(str(DEFINITIONS))
        VisaLibraryBase._registry.pop((cls, library.library_path), None)
        library.keithley = SimulatedKeithley2400(library.devices[SMU_RESOURCE], bench)
        library.radiometer = SimulatedPR6xx(library.devices[RADIOMETER_RESOURCE], bench, radiometer_model)
        return library
