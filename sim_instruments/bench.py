"""The simulated bench: one LED on a source meter, in a sphere, under a radiometer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyvisa
from numpy.typing import NDArray

from station.core.clock import Clock, VirtualClock, WallClock

from .calibration_lamp import SimulatedCalibrationLamp
from .device_state import DeviceState, DeviceStateFile
from .faults import Fault, FaultPlan
from .photodiode_sim import SimulatedPhotodiode
from .presets import DEFAULT_PRESET, preset
from .settings import SimulationSettings
from .simulated_led import Drive, SimulatedLED
from .spectrometer_models import DEFAULT_SPECTROMETER_MODEL
from .spectrometer_sim import SimulatedSpectrometer
from .substrate_sim import SimulatedSubstrate
from .visa_library import (
    DMM_RESOURCE,
    PICOAMMETER_RESOURCE,
    RADIOMETER_RESOURCE,
    RELAY_BOARD_RESOURCE,
    SMU_RESOURCES,
    SWITCH_SYSTEM_RESOURCE,
    SimBenchLibrary,
)

LIGHT_SOURCES = ("dut", "lamp", "dark")


class SimulatedBench:
    """Everything a station talks to, simulated around one :class:`SimulatedLED`, or around
    a substrate of them behind a pixel switch (``pixels``: (name, area, channel) each).

    ``light_source`` says what sits on the sphere port: the device under test, the
    calibration lamp, or nothing (a cap: dark).
    """

    radiometer_address = RADIOMETER_RESOURCE
    #: where the photodiode's meters answer, by meter
    photodiode_addresses = {"keithley6485": PICOAMMETER_RESOURCE, "keithley2000": DMM_RESOURCE}
    #: where the pixel switches answer, by kind
    switch_addresses = {"relay_board": RELAY_BOARD_RESOURCE, "keithley7001": SWITCH_SYSTEM_RESOURCE}

    def __init__(self, preset_name: str = DEFAULT_PRESET, *, pixel_area_cm2: float | None = None,
                 clock: Clock | None = None, seed: int | None = 0, latency: bool = True,
                 radiometer_model: str = "PR-655", faults: tuple[Fault, ...] = (),
                 state_path: str | Path | None = None, spectrometer_model: str = DEFAULT_SPECTROMETER_MODEL,
                 pixels: Sequence[tuple[str, float, str]] = (), substrate: str = "substrate-1",
                 pixel_spread: float = 0.05, shorted_pixels: Sequence[str] = (), leaky_pixels: Sequence[str] = (),
                 sphere_throughput: float = 1.0, state_pixel: str | None = None, fresh_device: bool = False,
                 smu_model: str = "keithley2400") -> None:
        if smu_model not in SMU_RESOURCES:
            raise ValueError(f"the simulated bench has source meters {', '.join(SMU_RESOURCES)}, not {smu_model!r}")
        #: the source meter's model and where it answers ([smu] model)
        self.smu_model = smu_model
        self.smu_address = SMU_RESOURCES[smu_model]
        parameters = preset(preset_name)
        self.preset_name = parameters.name
        if pixel_area_cm2 is not None:
            parameters = parameters.with_area(pixel_area_cm2)
        self.state_file = DeviceStateFile(state_path) if state_path is not None else None
        # a fresh device forgets what the state file kept (a new run; resume keeps it)
        saved = self.state_file.load() if self.state_file is not None and not fresh_device else None
        if clock is None:  # a saved device brings its clock: the saved time plus the real time since
            clock = VirtualClock(saved.clock_now_s + saved.gap_s) if saved is not None else VirtualClock()
        self.clock = clock
        self.latency = latency
        #: the seed in force (drawn from the OS when none is given), recorded with every run
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.rng = np.random.default_rng(self.seed)
        self.radiometer_model = radiometer_model
        self.faults = FaultPlan(faults)
        self.sphere_throughput = sphere_throughput
        self.pixel_spread = pixel_spread
        #: the substrate behind the pixel switch (None: one device on the source meter)
        self.substrate = (SimulatedSubstrate(parameters, pixels, substrate, self.seed, self.clock, pixel_spread,
                                             shorted_pixels, leaky_pixels) if pixels else None)
        self._device = SimulatedLED(parameters, self.clock) if self.substrate is None else None
        #: the device whose state the state file keeps (a pixel run's pixel)
        kept = self.substrate.led_of_pixel(state_pixel) if self.substrate and state_pixel else self.led
        #: the real time between the saved state and this bench (None: a fresh device)
        self.resumed_gap_s: float | None = None
        if saved is not None:
            drive = Drive(saved.drive_mode, saved.drive_level, saved.drive_compliance) if saved.drive_mode else None
            self.resumed_gap_s = saved.gap_s
            kept.restore(saved.equivalent_age_s, saved.on_time_s, saved.operating_s, saved.on_off_cycles, drive,
                         saved.gap_s, saved.reversible_loss)
        if self.state_file is not None:
            kept.on_change = self._save_device
            if saved is None:  # the file keeps this fresh device from now on, not an older one
                self._save_device(kept)
        self._kept = kept
        self.lamp = SimulatedCalibrationLamp()
        self.light_source = "dut"
        self.spectrometer = SimulatedSpectrometer(self, spectrometer_model)
        self.photodiode = SimulatedPhotodiode(self)
        self.visa_library = SimBenchLibrary.for_bench(self, radiometer_model, smu_model)
        self._resource_manager: pyvisa.ResourceManager | None = None

    @classmethod
    def from_settings(cls, settings: SimulationSettings, pixel_area_cm2: float | None = None,
                      state_path: str | Path | None = None, radiometer_model: str = "PR-655",
                      spectrometer_model: str = DEFAULT_SPECTROMETER_MODEL,
                      pixels: Sequence[tuple[str, float, str]] = (), substrate: str = "substrate-1",
                      state_pixel: str | None = None, fresh_device: bool = False,
                      smu_model: str = "keithley2400") -> SimulatedBench:
        """The bench a configuration's ``[simulation]`` table describes (``state_path``: where
        its device's state is kept between programs, see :mod:`.device_state`), with the
        instrument models the configuration names. ``fresh_device``: the kept state is
        ignored (and overwritten) unless the table's ``keep_device`` says otherwise."""
        return cls(settings.preset, pixel_area_cm2=pixel_area_cm2, seed=settings.seed, latency=settings.latency,
                   radiometer_model=radiometer_model, clock=WallClock() if settings.realtime else None,
                   faults=settings.faults, state_path=state_path, spectrometer_model=spectrometer_model,
                   pixels=pixels, substrate=substrate, pixel_spread=settings.pixel_spread,
                   shorted_pixels=settings.shorted_pixels, leaky_pixels=settings.leaky_pixels,
                   fresh_device=fresh_device and not settings.keep_device,
                   sphere_throughput=settings.sphere_throughput, state_pixel=state_pixel, smu_model=smu_model)

    @property
    def led(self) -> SimulatedLED:
        """The device the source meter sees (with a substrate: the connected pixel's, or the
        last connected, undriven, when the switch connects none)."""
        return self._device if self._device is not None else self.substrate.led  # type: ignore[union-attr]

    @property
    def disconnected(self) -> bool:
        """The switch connects no pixel: the source meter sees an open circuit."""
        return self.substrate is not None and self.substrate.connected is None

    def apply_drive(self, drive: Drive | None) -> None:
        """What the source meter applies reaches the connected device (nothing when none is)."""
        if not self.disconnected:
            self.led.set_drive(drive)

    def switched(self, closed: frozenset[str]) -> None:
        """The pixel switch now has ``closed`` closed."""
        if self.substrate is not None:
            self.substrate.connect(closed, self.keithley.drive())

    def _save_device(self, led: SimulatedLED) -> None:
        assert self.state_file is not None
        drive = led.drive
        self.state_file.save(DeviceState(time.time(), self.clock.now(), led.equivalent_age_s, led.on_time_s,
                                         led.operating_s(), led.on_off_cycles, drive.mode if drive else None,
                                         drive.level if drive else 0.0, drive.compliance if drive else 0.0,
                                         led.reversible_loss))

    def describe(self) -> str:
        """The bench in force, one line, for the run file."""
        clock = "wall clock" if isinstance(self.clock, WallClock) else "virtual clock"
        faults = f"; faults {', '.join(f.kind for f in self.faults.faults)}" if self.faults.faults else ""
        device = f"preset {self.preset_name}" + (
            "" if self.substrate is None else
            f"; substrate {self.substrate.name} of {len(self.substrate.leds)} pixels, spread {self.pixel_spread:g}")
        throughput = f"; sphere throughput {self.sphere_throughput:g}" if self.sphere_throughput != 1.0 else ""
        led = self._kept
        state = ("fresh device" if self.resumed_gap_s is None else
                 f"device kept from an earlier run: equivalent age {led.equivalent_age_s / 3600:.6g} h, "
                 f"{led.on_time_s / 3600:.6g} h under drive, {led.on_off_cycles} on/off cycles")
        latency = "on" if self.latency else "off"
        return (f"{device}; seed {self.seed}; latency {latency}; {clock}; source meter {self.smu_model}; "
                f"radiometer {self.radiometer_model}; spectrometer {self.spectrometer.model}{faults}{throughput}; "
                f"{state}")

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
            return self.sphere_throughput * self.lamp.spectral_flux_W_nm(wavelength_nm)
        if self.light_source == "dark":
            return np.zeros_like(wavelength_nm)
        point, _ = self.led.solve(photometry_totals=False)
        return self.sphere_throughput * self.led.model.spectral_flux_W_nm(point, wavelength_nm)

    @property
    def readings(self) -> int:
        """Source-meter readings taken so far (the clock of the fault plan)."""
        return self.keithley.measurements

    def close(self) -> None:
        self.faults.released.set()  # a hung simulated instrument returns
        if self.state_file is not None:
            self._kept.on_change = None
            self.state_file.close()
            self.state_file = None
        if self._resource_manager is not None:
            self._resource_manager.close()
            self._resource_manager = None

