"""The simulated bench: one LED on a source meter, in a sphere, under a radiometer."""

from __future__ import annotations

import numpy as np
import pyvisa
from numpy.typing import NDArray

from station.core.clock import Clock, VirtualClock, WallClock

from .calibration_lamp import SimulatedCalibrationLamp
from .faults import Fault, FaultPlan
from .presets import DEFAULT_PRESET, preset
from .settings import SimulationSettings
from .simulated_led import SimulatedLED
from .spectrometer_sim import SimulatedSpectrometer
from .visa_library import RADIOMETER_RESOURCE, SMU_RESOURCE, SimBenchLibrary

LIGHT_SOURCES = ("dut", "lamp", "dark")


class SimulatedBench:
    """Everything a station talks to, simulated around one :class:`SimulatedLED`.

    ``light_source`` says what sits on the sphere port: the device under test, the
    calibration lamp, or nothing (a cap: dark).
    """

    smu_address = SMU_RESOURCE
    radiometer_address = RADIOMETER_RESOURCE

    def __init__(self, preset_name: str = DEFAULT_PRESET, *, pixel_area_cm2: float | None = None,
                 clock: Clock | None = None, seed: int | None = 0, latency: bool = True,
                 radiometer_model: str = "PR-655", faults: tuple[Fault, ...] = ()) -> None:
        parameters = preset(preset_name)
        if pixel_area_cm2 is not None:
            parameters = parameters.with_area(pixel_area_cm2)
        self.clock = clock if clock is not None else VirtualClock()
        self.latency = latency
        #: the seed in force (drawn from the OS when none is given), recorded with every run
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.rng = np.random.default_rng(self.seed)
        self.radiometer_model = radiometer_model
        self.faults = FaultPlan(faults)
        self.led = SimulatedLED(parameters, self.clock)
        self.lamp = SimulatedCalibrationLamp()
        self.light_source = "dut"
        self.spectrometer = SimulatedSpectrometer(self)
        self.visa_library = SimBenchLibrary.for_bench(self, radiometer_model)
        self._resource_manager: pyvisa.ResourceManager | None = None

    @classmethod
    def from_settings(cls, settings: SimulationSettings, pixel_area_cm2: float | None = None) -> SimulatedBench:
        """The bench a configuration's ``[simulation]`` table describes."""
        return cls(settings.preset, pixel_area_cm2=pixel_area_cm2, seed=settings.seed, latency=settings.latency,
                   radiometer_model=settings.radiometer_model, clock=WallClock() if settings.realtime else None,
                   faults=settings.faults)

    def describe(self) -> str:
        """The bench in force, one line, for the run file."""
        clock = "wall clock" if isinstance(self.clock, WallClock) else "virtual clock"
        faults = f"; faults {', '.join(f.kind for f in self.faults.faults)}" if self.faults.faults else ""
        return (f"preset {self.led.parameters.name}; seed {self.seed}; latency {'on' if self.latency else 'off'}; "
                f"{clock}; radiometer {self.radiometer_model}{faults}")

    @property
    def keithley(self):
        return self.visa_library.keithley

    @property
    def radiometer(self):
        return self.visa_library.radiometer

    def resource_manager(self) -> pyvisa.ResourceManager:
        if self._resource_manager is None:
            self._resource_manager = pyvisa.ResourceManager(self.visa_library)
        return self._resource_manager

    def spend(self, seconds: float) -> None:
        """Instrument latency, on the bench clock (virtual time costs nothing)."""
        if self.latency and seconds > 0:
            self.clock.sleep(seconds)

    def mount(self, light_source: str) -> None:
        if light_source not in LIGHT_SOURCES:
            raise ValueError(f"light source must be one of {LIGHT_SOURCES}")
        self.light_source = light_source

    def sphere_spectral_flux_W_nm(self, wavelength_nm: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.light_source == "lamp":
            return self.lamp.spectral_flux_W_nm(wavelength_nm)
        if self.light_source == "dark":
            return np.zeros_like(wavelength_nm)
        point, _ = self.led.solve(photometry_totals=False)
        return self.led.model.spectral_flux_W_nm(point, wavelength_nm)

    @property
    def readings(self) -> int:
        """Source-meter readings taken so far (the clock of the fault plan)."""
        return self.keithley.measurements

    def close(self) -> None:
        self.faults.released.set()  # a hung simulated instrument returns
        if self._resource_manager is not None:
            self._resource_manager.close()
            self._resource_manager = None
