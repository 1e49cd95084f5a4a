"""Station configuration: a TOML file naming instruments, geometry, pixel, data policy and limits.

Every key is checked before any instrument is touched; a problem raises
:class:`~station.core.errors.ConfigError` naming the file and the key. The
``[simulation]`` table belongs to the simulated bench, which checks it itself
(:mod:`sim_instruments.settings`) when, and only when, the configuration uses it.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.keithley2400 import MAX_CURRENT_A, MAX_VOLTAGE_V, NPLC_RANGE
from drivers.radiometers import RADIOMETER_MODELS
from station.core.durations import MAX_DURABILITY_INTERVAL_S, MAX_INSTRUMENT_TIMEOUT_S, check_duration_s
from station.core.errors import ConfigError
from station.core.user_files import read_user_file

if TYPE_CHECKING:
    from sim_instruments.settings import SimulationSettings

SIMULATED = "sim"
#: the [simulation] key that allows real and simulated instruments in one station
MIX_KEY = "mix_with_hardware"
AUTO = "auto"
GEOMETRIES = ("sphere", "radiometer", "photodiode", "none")
#: no light instrument: a station for dark electrical runs (single-carrier devices, films)
NO_LIGHT = "none"
#: what may run beside the light meter as a second, simultaneous channel
SECOND_CHANNELS = ("", "photodiode")
PHOTODIODE_METERS = ("keithley6485", "keithley2000")
#: durability interval of a fully simulated bench when the configuration says "auto"
SIMULATED_DURABILITY_INTERVAL_S = 1.0
DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_station.toml")
DEFAULT_CONFIG_TEXT = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")


@dataclass(frozen=True)
class SMUConfig:
    address: str
    nplc: float
    visa_library: str


@dataclass(frozen=True)
class SpectrometerConfig:
    address: str
    model: str
    calibration_file: str
    min_integration_s: float
    max_integration_s: float
    low_fraction: float
    high_fraction: float
    dark_scans: int
    wavelength_range_nm: tuple[float, float]
    #: scans averaged per reading (the least, with a target below)
    averages: int = 1
    #: > 0: average more scans until the band total's relative 1 sigma reaches this
    target_relative_uncertainty: float = 0.0
    #: the longest auto averaging spends on one reading, s
    max_time_per_point_s: float = 10.0


@dataclass(frozen=True)
class RadiometerConfig:
    address: str
    timeout_s: float
    model: str


@dataclass(frozen=True)
class PhotodiodeConfig:
    meter: str  # "keithley6485" or "keithley2000" (over a transimpedance amplifier)
    address: str
    #: geometry factor and spectral weighting (ledstation calibrate-photodiode); "" = none yet
    calibration_file: str
    responsivity_file: str  # the photodiode's certificate, A/W; "sim" = the simulated photodiode's
    transimpedance_gain_V_A: float
    nplc: float
    dark_readings: int


@dataclass(frozen=True)
class Pixel:
    """One pixel of the substrate: its name, its area and the switch channel that connects it."""

    name: str
    area_cm2: float
    channel: str  # in the switch's own notation (drivers.pixel_switch)


@dataclass(frozen=True)
class SubstrateConfig:
    """The substrate on the stage: names stored with every run (searchable), and its pixels."""

    name: str
    batch: str
    structure: str  # the device stack, free text
    pixels: tuple[Pixel, ...]  # empty: one device on the source meter, no switch
    #: the conditions of a stress test, as the user gives them (free text): stored with every run
    encapsulation: str = ""
    atmosphere: str = ""

    def pixel(self, name: str) -> Pixel:
        for p in self.pixels:
            if p.name == name:
                return p
        raise ConfigError(f"no pixel {name!r} on the substrate (pixels: {', '.join(p.name for p in self.pixels)})")


@dataclass(frozen=True)
class SwitchConfig:
    kind: str  # NO_SWITCH or a kind of drivers.pixel_switch.switch_kinds()
    address: str
    settle_s: float  # wait after switching before the read-back


@dataclass(frozen=True)
class StationConfig:
    source: str  # file path or "default"
    smu: SMUConfig
    geometry: str
    spectrometer: SpectrometerConfig
    radiometer: RadiometerConfig
    photodiode: PhotodiodeConfig
    second_channel: str
    #: the band the device emits in, nm (declared, or the simulated preset's); None: unknown
    emission_nm: tuple[float, float] | None
    pixel_area_cm2: float
    max_voltage_V: float
    max_current_A: float
    #: keep trying this long (wall time) to switch off an output that does not read back "off"
    output_off_timeout_s: float
    #: flush + fsync the run file at least this often (wall time, s); 0 = every point
    durability_interval_s: float
    simulation: Mapping[str, Any]  # the [simulation] table, for the simulated bench
    text: str  # the TOML as read, for the data file
    substrate: SubstrateConfig = SubstrateConfig("", "", "", ())
    switch: SwitchConfig = SwitchConfig("none", "", 0.0)
    #: the pixel this run measures (None: the one device, no switch)
    pixel: Pixel | None = None
    #: where the simulated bench keeps its device's state between programs (set by the command
    #: line for runs that can be resumed; None: the device lives only as long as the program)
    simulated_device_state: str | None = None
    #: the simulated device starts fresh even when its state file keeps an aged one (a new run)
    simulated_device_fresh: bool = False
    #: sinks every run also feeds, by registry name ([sinks] extra; station.sinks.registry)
    extra_sinks: tuple[str, ...] = ()

    def for_pixel(self, pixel: Pixel, substrate: str | None = None, batch: str | None = None) -> StationConfig:
        """This configuration measuring ``pixel`` (its area) of substrate ``substrate``."""
        sub = replace(self.substrate, name=substrate if substrate is not None else self.substrate.name,
                      batch=batch if batch is not None else self.substrate.batch)
        return replace(self, pixel=pixel, pixel_area_cm2=pixel.area_cm2, substrate=sub)

    def without_light(self) -> StationConfig:
        """This configuration for a dark run: no light instrument is opened."""
        return replace(self, geometry=NO_LIGHT, second_channel="")

    def with_default_pixel(self) -> StationConfig:
        """A command that measures one device, on a station with a substrate switch and no
        pixel chosen: the substrate's first pixel."""
        if self.substrate.pixels and self.pixel is None:
            return self.for_pixel(self.substrate.pixels[0])
        return self

    def sample_metadata(self) -> dict[str, str]:
        """What a run stores of its sample (searchable: ``ledstation batch`` groups by it)."""
        s = self.substrate
        meta = {"batch": s.batch, "substrate": s.name, "device_structure": s.structure,
                "encapsulation": s.encapsulation, "atmosphere": s.atmosphere}
        if self.pixel is not None:
            meta.update(pixel=self.pixel.name, switch_channel=self.pixel.channel)
        return {k: v for k, v in meta.items() if v}

    @property
    def light_address(self) -> str:
        """The light meter's address (second of :attr:`instrument_addresses`; "" without one)."""
        return "" if self.geometry == NO_LIGHT else self.instrument_addresses[1][1]

    @property
    def instrument_addresses(self) -> list[tuple[str, str]]:
        """(table, address) of every instrument the station opens: the source meter, the light
        meter and the second channel."""
        return _used_addresses(self.geometry, self.second_channel, self.smu, self.spectrometer, self.radiometer,
                               self.photodiode, self.switch)

    @property
    def uses_photodiode(self) -> bool:
        return self.geometry == "photodiode" or self.second_channel == "photodiode"

    @property
    def uses_simulation(self) -> bool:
        return any(address == SIMULATED for _, address in self.instrument_addresses)

    @property
    def simulated_roles(self) -> list[str]:
        """The tables of the instruments that are simulated (all, none, or a declared mix)."""
        return [role for role, address in self.instrument_addresses if address == SIMULATED]

    @property
    def mixes_simulation(self) -> bool:
        """Some instruments are real and some simulated (only when [simulation] says so)."""
        return 0 < len(self.simulated_roles) < len(self.instrument_addresses)

    def instruments_text(self) -> str:
        """"simulated", "hardware", or which are simulated in a mix (for every summary)."""
        if self.mixes_simulation:
            return f"hardware instruments with SIMULATED {', '.join(self.simulated_roles)}"
        return "simulated instruments" if self.uses_simulation else "hardware instruments"

    def simulation_settings(self) -> SimulationSettings:
        """The checked ``[simulation]`` table (imports the simulated bench)."""
        from sim_instruments.settings import simulation_settings

        return simulation_settings(self.simulation, self.source)

    @property
    def stored_spectrum_points(self) -> int:
        """Points of a spectrum the light instrument stores per reading, at most (the
        free-space check): the spectrometer's pixels (3840, the largest supported, for a real
        one), the radiometer's grid twice over (it is stored as float64), none for a photodiode
        (its spectrum is not stored)."""
        if self.geometry == "radiometer":
            first, last, step = RADIOMETER_MODELS[self.radiometer.model].grid_nm
            return 2 * ((last - first) // step + 1)
        if self.geometry != "sphere":
            return 0
        if self.spectrometer.address == SIMULATED:
            from sim_instruments.spectrometer_models import SPECTROMETER_MODELS

            return SPECTROMETER_MODELS[self.spectrometer.model].pixels
        return LARGEST_SPECTROMETER_PIXELS

    def files_read(self) -> list[tuple[str, Path]]:
        """(what, path) of every file this configuration makes a command read: the file
        itself, the sphere's calibration, the photodiode's certificate and calibration. A
        command never writes over any of them (:func:`station.cli.output.check_files`)."""
        files = [] if self.source == "default" else [("--config", Path(self.source))]
        if self.geometry == "sphere" and self.spectrometer.calibration_file != SIMULATED:
            files.append(("[spectrometer] calibration_file", self.resolved_calibration_path()))
        if self.uses_photodiode:
            calibration, responsivity = self.resolved_photodiode_paths()
            if self.photodiode.responsivity_file != SIMULATED:
                files.append(("[photodiode] responsivity_file", responsivity))
            if calibration is not None:
                files.append(("[photodiode] calibration_file", calibration))
        return files

    def resolved_calibration_path(self) -> Path:
        value = self.spectrometer.calibration_file
        if value == SIMULATED:
            from sim_instruments.calibration_lamp import sim_calibration_path

            return sim_calibration_path(self.spectrometer.model)
        return self._resolved(value)

    def resolved_photodiode_paths(self) -> tuple[Path | None, Path]:
        """(calibration file or None, responsivity certificate) of the photodiode."""
        p = self.photodiode
        if p.responsivity_file == SIMULATED:
            from sim_instruments.photodiode_sim import RESPONSIVITY_PATH

            responsivity = RESPONSIVITY_PATH
        else:
            responsivity = self._resolved(p.responsivity_file)
        return (self._resolved(p.calibration_file) if p.calibration_file else None), responsivity

    def _resolved(self, value: str) -> Path:
        """A path from the configuration: relative to the configuration file."""
        path = Path(value).expanduser()
        if not path.is_absolute() and self.source != "default":
            path = Path(self.source).parent / path
        return path


class _Reader:
    """Typed access to one table with errors that name file and key."""

    def __init__(self, source: str, data: dict[str, Any]) -> None:
        self.source = source
        self.data = data

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"config {self.source}: [{key.replace('.', '] ', 1) if '.' in key else key}: {message}")

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            raise ConfigError(f"config {self.source}: missing table [{name}]")
        return value

    def get(self, table: str, key: str, kind: type) -> Any:
        values = self.table(table)
        if key not in values:
            raise self.fail(f"{table}.{key}", "missing")
        value = values[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise self.fail(f"{table}.{key}", "number too large") from None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"{table}.{key}", f"expected {kind.__name__}, got {_short(value)}")
        if kind is str and ("\x00" in value or len(value) > 4096):
            raise self.fail(f"{table}.{key}", "contains a NUL character or is too long")
        if kind is float and not math.isfinite(value):
            raise self.fail(f"{table}.{key}", f"must be finite, got {value!r}")
        return value

    def between(self, table: str, key: str, low: float, high: float, units: str) -> float:
        value = self.get(table, key, float)
        if not low <= value <= high:
            raise self.fail(f"{table}.{key}", f"must be within {low:g}-{high:g} {units}, got {value:g}")
        return value

    def positive(self, table: str, key: str) -> float:
        value = self.get(table, key, float)
        if value <= 0:
            raise self.fail(f"{table}.{key}", f"must be positive, got {value:g}")
        return value


_KNOWN_KEYS = {
    "smu": {"address", "nplc", "visa_library"},
    "light": {"geometry", "second_channel"},
    "spectrometer": {"address", "model", "calibration_file", "min_integration_s", "max_integration_s",
                     "low_fraction", "high_fraction", "dark_scans", "wavelength_range_nm", "averages",
                     "target_relative_uncertainty", "max_time_per_point_s"},
    "radiometer": {"address", "model", "timeout_s"},
    "photodiode": {"meter", "address", "calibration_file", "responsivity_file", "transimpedance_gain_V_A", "nplc",
                   "dark_readings"},
    "device": {"pixel_area_cm2", "emission_nm"},
    "substrate": {"name", "batch", "structure", "pixels", "encapsulation", "atmosphere"},
    "switch": {"kind", "address", "settle_s"},
    "data": {"durability_interval_s"},
    "sinks": {"extra"},
    "safety": {"max_voltage_V", "max_current_A", "output_off_timeout_s"},
    "simulation": None,  # checked by the simulated bench
}


#: largest device area the station accepts (a 10 cm x 10 cm substrate)
MAX_PIXEL_AREA_CM2 = 100.0
#: bounds that keep a typo from hanging a run (a dark library of 10^18 scans)
MAX_DARK_SCANS = 1000
#: the longest auto averaging may spend on one reading, s
MAX_POINT_BUDGET_S = 3600.0
INTEGRATION_RANGE_S = (1e-6, 600.0)
OUTPUT_OFF_TIMEOUT_RANGE_S = (0.5, 600.0)
NO_SWITCH = "none"
#: pixel, substrate and batch names: they go into file names
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")
NAME_RULE = "1-40 letters, digits, '_', '.', '+' or '-', starting with a letter or digit"
MAX_PIXELS = 64
#: the most pixels a supported spectrometer has (Ocean Optics USB4000: 3840)
LARGEST_SPECTROMETER_PIXELS = 3840
#: a spectrometer pixel is < 1 nm wide: a window this close to the calibration's ends is cut inside it
WINDOW_TOLERANCE_NM = 2.0


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e300 \
        and math.isfinite(value)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {source}: not valid TOML ({exc})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ConfigError(f"config {source}: not valid TOML (nested too deeply or too large)") from None


def validate_config(data: dict[str, Any], source: str, text: str, check_calibration: bool = True,
                    photodiode_calibration: bool = True) -> StationConfig:
    """Check every key of parsed configuration data and build the configuration
    (``photodiode_calibration`` False: the photodiode's calibration may be missing, for
    ``calibrate-photodiode``, which makes it)."""
    r = _Reader(source, data)
    for table, value in data.items():
        if table not in _KNOWN_KEYS:
            raise ConfigError(f"config {source}: unknown table [{table}]")
        known = _KNOWN_KEYS[table]
        for key in value if isinstance(value, dict) and known is not None else ():
            if key not in known:
                raise r.fail(f"{table}.{key}", "unknown key (a typo?)")

    nplc = r.positive("smu", "nplc")
    if not NPLC_RANGE[0] <= nplc <= NPLC_RANGE[1]:
        raise r.fail("smu.nplc", f"must be within {NPLC_RANGE[0]:g}-{NPLC_RANGE[1]:g}, got {nplc:g}")
    smu = SMUConfig(r.get("smu", "address", str), nplc, r.get("smu", "visa_library", str))

    geometry = r.get("light", "geometry", str)
    if geometry not in GEOMETRIES:
        raise r.fail("light.geometry", f"must be one of {', '.join(GEOMETRIES)}, got {geometry!r}")
    second = r.table("light").get("second_channel", "")
    if second not in SECOND_CHANNELS:
        raise r.fail("light.second_channel", f'must be "" or "photodiode", got {_short(second)}')
    if second == "photodiode" and geometry == "photodiode":
        raise r.fail("light.second_channel", "the photodiode is already the light meter (geometry)")
    if second == "photodiode" and geometry == NO_LIGHT:
        raise r.fail("light.second_channel", 'a second light channel needs a light meter (geometry is "none")')

    s = "spectrometer"
    window = r.get(s, "wavelength_range_nm", list)
    if len(window) != 2 or not all(_finite_number(v) for v in window) or not 0 < window[0] < window[1] <= 20000:
        raise r.fail(f"{s}.wavelength_range_nm", f"must be [low, high] with 0 < low < high nm, got {_short(window)}")
    min_t = r.between(s, "min_integration_s", *INTEGRATION_RANGE_S, "s")
    max_t = r.between(s, "max_integration_s", *INTEGRATION_RANGE_S, "s")
    if min_t > max_t:
        raise r.fail(f"{s}.min_integration_s", f"{min_t:g} s is above max_integration_s {max_t:g} s")
    low, high = r.positive(s, "low_fraction"), r.positive(s, "high_fraction")
    if not low < high < 1:
        raise r.fail(f"{s}.high_fraction", f"need low_fraction < high_fraction < 1, got {low:g}, {high:g}")
    dark_scans = r.get(s, "dark_scans", int)
    if not 1 <= dark_scans <= MAX_DARK_SCANS:
        raise r.fail(f"{s}.dark_scans", f"must be within 1-{MAX_DARK_SCANS}, got {_short(dark_scans)}")
    averages = r.get(s, "averages", int)
    if not 1 <= averages <= MAX_DARK_SCANS:
        raise r.fail(f"{s}.averages", f"must be within 1-{MAX_DARK_SCANS}, got {_short(averages)}")
    target = r.get(s, "target_relative_uncertainty", float)
    if not (_finite_number(target) and (target == 0 or 1e-4 <= target <= 0.5)):
        raise r.fail(f"{s}.target_relative_uncertainty", f"must be 0 (off) or within 1e-4-0.5, got {_short(target)}")
    budget = r.between(s, "max_time_per_point_s", 0.01, MAX_POINT_BUDGET_S, "s")
    spectrometer = SpectrometerConfig(r.get(s, "address", str), r.get(s, "model", str),
                                      r.get(s, "calibration_file", str), min_t, max_t, low, high, dark_scans,
                                      (float(window[0]), float(window[1])), averages, float(target), budget)

    if geometry == "sphere" and spectrometer.address != SIMULATED and spectrometer.calibration_file == SIMULATED:
        raise r.fail(f"{s}.calibration_file", '"sim" is the simulated sphere\'s responsivity; give your '
                     "spectrometer's file (ledstation calibrate-sphere)")
    radiometer_model = r.get("radiometer", "model", str)
    if radiometer_model not in RADIOMETER_MODELS:
        raise r.fail("radiometer.model", f"must be one of {', '.join(RADIOMETER_MODELS)}, "
                                         f"got {_short(radiometer_model)}")
    timeout = r.get("radiometer", "timeout_s", float)
    check_duration_s(timeout, f"config {source}: [radiometer] timeout_s", MAX_INSTRUMENT_TIMEOUT_S, 0.001)
    radiometer = RadiometerConfig(r.get("radiometer", "address", str), timeout, radiometer_model)
    photodiode = _photodiode(r)
    area = r.positive("device", "pixel_area_cm2")
    if area > MAX_PIXEL_AREA_CM2:
        raise r.fail("device.pixel_area_cm2", f"{area:g} cm^2 is not a pixel area (at most {MAX_PIXEL_AREA_CM2:g})")
    max_v, max_i = r.positive("safety", "max_voltage_V"), r.positive("safety", "max_current_A")
    if max_v > MAX_VOLTAGE_V:
        raise r.fail("safety.max_voltage_V", f"{max_v:g} V is beyond the Keithley 2400's {MAX_VOLTAGE_V:g} V")
    if max_i > MAX_CURRENT_A:
        raise r.fail("safety.max_current_A", f"{max_i:g} A is beyond the Keithley 2400's {MAX_CURRENT_A:g} A")
    off_timeout = (r.between("safety", "output_off_timeout_s", *OUTPUT_OFF_TIMEOUT_RANGE_S, "s")
                   if "output_off_timeout_s" in r.table("safety") else 10.0)

    emission = _declared_emission(r)
    simulation = data.get("simulation", {})
    if not isinstance(simulation, dict):
        raise ConfigError(f"config {source}: [simulation] must be a table")
    switch = _switch(r)
    substrate = _substrate(r, switch)
    used = _used_addresses(geometry, second, smu, spectrometer, radiometer, photodiode, switch)
    durability = _durability_interval(r, all(address == SIMULATED for _, address in used))
    config = StationConfig(source, smu, geometry, spectrometer, radiometer, photodiode, second, emission, area, max_v,
                           max_i, off_timeout, durability, simulation, text, substrate, switch,
                           extra_sinks=_extra_sinks(r))
    for role, address in used:
        _check_address(r, role, address, visa=role != "spectrometer")
    _check_no_silent_mix(used, simulation, source)
    if geometry == "sphere" and spectrometer.address == SIMULATED:
        _check_simulated_spectrometer(r, spectrometer.model)
    if config.uses_photodiode:
        _check_photodiode(r, config, check_calibration and photodiode_calibration)
    if geometry == "sphere" and check_calibration:
        _check_calibration(config)
    if config.uses_simulation:
        config.simulation_settings()  # the simulated bench checks its own table
        if emission is None:
            from sim_instruments.presets import emission_band_nm

            preset = config.simulation_settings().preset
            config = replace(config, emission_nm=emission_band_nm(preset))  # None: a dark device
            _check_emission_in_range(config, f"the simulated preset {preset}")
            return config
    _check_emission_in_range(config, "[device] emission_nm")
    return config


def _used_addresses(geometry: str, second: str, smu: SMUConfig, spectrometer: SpectrometerConfig,
                    radiometer: RadiometerConfig, photodiode: PhotodiodeConfig,
                    switch: SwitchConfig) -> list[tuple[str, str]]:
    used = [("smu", smu.address)]
    if geometry != NO_LIGHT:
        used.append({"sphere": ("spectrometer", spectrometer.address), "radiometer": ("radiometer", radiometer.address),
                     "photodiode": ("photodiode", photodiode.address)}[geometry])
    if second == "photodiode":
        used.append(("photodiode", photodiode.address))
    if switch.kind != NO_SWITCH:
        used.append(("switch", switch.address))
    return used


def _check_no_silent_mix(used: list[tuple[str, str]], simulation: dict, source: str) -> None:
    """A real instrument beside a simulated one only when ``[simulation] mix_with_hardware``
    says so: setting only ``[smu] address`` left the light meter simulated, and a bright
    device was recorded as dark."""
    simulated = [role for role, address in used if address == SIMULATED]
    real = [role for role, address in used if address != SIMULATED]
    if simulated and real and simulation.get(MIX_KEY) is not True:
        raise ConfigError(f"config {source}: [{real[0]}] is real hardware but [{simulated[0]}] address is "
                          f'"{SIMULATED}" (simulated); give every instrument its address, or set [simulation] '
                          f"{MIX_KEY} = true to mix real and simulated instruments on purpose")


def check_name(value: object, where: str) -> str:
    """A substrate, pixel or batch name (it becomes part of file names)."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise ConfigError(f"{where}: must be {NAME_RULE}, got {_short(value)}")
    return value


def _switch(r: _Reader) -> SwitchConfig:
    from drivers.pixel_switch import switch_kinds

    table = r.data.get("switch", {})
    kind = table.get("kind", NO_SWITCH) if isinstance(table, dict) else None
    kinds = switch_kinds()
    if not isinstance(kind, str) or (kind != NO_SWITCH and kind not in kinds):
        raise r.fail("switch.kind", f"must be one of {NO_SWITCH}, {', '.join(kinds)}, got {_short(kind)}")
    if kind == NO_SWITCH:
        return SwitchConfig(NO_SWITCH, "", 0.0)
    return SwitchConfig(kind, r.get("switch", "address", str), r.between("switch", "settle_s", 0.0, 10.0, "s"))


def _substrate(r: _Reader, switch: SwitchConfig) -> SubstrateConfig:
    t = "substrate"
    table = r.data.get(t, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config {r.source}: [substrate] must be a table")
    name = check_name(table.get("name", "substrate-1"), f"config {r.source}: [substrate] name")
    batch = table.get("batch", "")
    if batch != "":
        check_name(batch, f"config {r.source}: [substrate] batch")
    structure = table.get("structure", "")
    if not isinstance(structure, str) or len(structure) > 500 or "\x00" in structure:
        raise r.fail(f"{t}.structure", "must be text of at most 500 characters")
    conditions = {}
    for key in ("encapsulation", "atmosphere"):  # e.g. "glass lid, UV epoxy", "N2 glovebox, < 1 ppm O2"
        value = table.get(key, "")
        if not isinstance(value, str) or len(value) > 200 or not value.isprintable():
            raise r.fail(f"{t}.{key}", "must be printable text of at most 200 characters")
        conditions[key] = value
    entries = table.get("pixels", [])
    if not isinstance(entries, list) or len(entries) > MAX_PIXELS:
        raise r.fail(f"{t}.pixels", f"must be a list of at most {MAX_PIXELS} tables "
                                    '{name = "A", area_cm2 = 0.04, channel = "1"}')
    if entries and switch.kind == NO_SWITCH:
        raise r.fail(f"{t}.pixels", "pixels need a [switch] (kind = \"relay_board\" or \"keithley7001\")")
    if switch.kind != NO_SWITCH and not entries:
        raise r.fail(f"{t}.pixels", "empty: a [switch] needs the substrate's pixels and their channels")
    pixels = [_pixel(r, i, entry, switch) for i, entry in enumerate(entries)]
    for key in ("name", "channel"):
        values = [getattr(p, key) for p in pixels]
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise r.fail(f"{t}.pixels", f"{key} {', '.join(repeated)} given to more than one pixel")
    return SubstrateConfig(name, batch, structure, tuple(pixels), **conditions)


def _pixel(r: _Reader, i: int, entry: object, switch: SwitchConfig) -> Pixel:
    from drivers.pixel_switch import switch_kinds

    where = f"config {r.source}: [substrate] pixels[{i}]"
    if not isinstance(entry, dict) or set(entry) - {"name", "area_cm2", "channel"}:
        raise ConfigError(f'{where}: must be a table {{name = "A", area_cm2 = 0.04, channel = "1"}}')
    for key in ("name", "area_cm2", "channel"):
        if key not in entry:
            raise ConfigError(f"{where}: {key} missing")
    name = check_name(entry["name"], f"{where} name")
    area = entry["area_cm2"]
    if not _finite_number(area) or not 0 < area <= MAX_PIXEL_AREA_CM2:
        raise ConfigError(f"{where} area_cm2: must be a pixel area above 0 and at most {MAX_PIXEL_AREA_CM2:g} cm^2, "
                          f"got {_short(area)}")
    try:
        channel = switch_kinds()[switch.kind].driver.check_channel(entry["channel"])
    except ValueError as exc:
        raise ConfigError(f"{where} channel: the {switch.kind} takes {exc}, got {_short(entry['channel'])}") from None
    return Pixel(name, float(area), channel)


def _photodiode(r: _Reader) -> PhotodiodeConfig:
    p = "photodiode"
    meter = r.get(p, "meter", str)
    if meter not in PHOTODIODE_METERS:
        raise r.fail(f"{p}.meter", f"must be one of {', '.join(PHOTODIODE_METERS)}, got {_short(meter)}")
    gain = r.get(p, "transimpedance_gain_V_A", float)
    if gain == 0 or abs(gain) > 1e12:
        raise r.fail(f"{p}.transimpedance_gain_V_A", f"must be a non-zero gain up to 1e12 V/A, got {gain:g}")
    nplc = r.between(p, "nplc", 0.01, 6.0, "power-line cycles")
    dark = r.get(p, "dark_readings", int)
    if not 2 <= dark <= 1000:
        raise r.fail(f"{p}.dark_readings", f"must be within 2-1000, got {dark}")
    return PhotodiodeConfig(meter, r.get(p, "address", str), r.get(p, "calibration_file", str),
                            r.get(p, "responsivity_file", str), gain, nplc, dark)


def _declared_emission(r: _Reader) -> tuple[float, float] | None:
    value = r.table("device").get("emission_nm", [])
    if value == []:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(_finite_number(v) for v in value)
            and 100 < value[0] < value[1] < 3000):
        raise r.fail("device.emission_nm", f"must be [shortest, longest] nm the device emits, or [], got "
                                           f"{_short(value)}")
    return float(value[0]), float(value[1])


def _check_emission_in_range(config: StationConfig, where: str) -> None:
    """A device whose emission (from ``where``) lies beyond the spectrometer's window or the
    radiometer's range is refused before anything is switched on."""
    if config.emission_nm is None or config.geometry in ("photodiode", NO_LIGHT):
        return
    if config.geometry == "radiometer":
        model = config.radiometer.model
        (low, high), what = RADIOMETER_MODELS[model].range_nm, f"[radiometer] the {model}"
    else:
        (low, high), what = config.spectrometer.wavelength_range_nm, "[spectrometer] wavelength_range_nm"
    first, last = config.emission_nm
    if first < low or last > high:
        raise ConfigError(f"config {config.source}: {what} measures {low:g}-{high:g} nm but the device emits "
                          f"{first:g}-{last:g} nm ({where}); choose a light instrument that covers it "
                          f"(e.g. the PR-745, 380-1060 nm, or the sphere spectrometer)")


def _check_simulated_spectrometer(r: _Reader, model: str) -> None:
    from sim_instruments.spectrometer_models import SPECTROMETER_MODELS

    if model not in SPECTROMETER_MODELS:
        raise r.fail("spectrometer.model", f"the simulated bench has {', '.join(SPECTROMETER_MODELS)}, got "
                                           f"{_short(model)}")


def _check_photodiode(r: _Reader, config: StationConfig, check_calibration: bool) -> None:
    """The photodiode's responsivity certificate loads; a photodiode used as a channel has its
    calibration (geometry factor and spectral weighting), and that calibration loads."""
    from drivers.photodiode import PhotodiodeCalibration, PhotodiodeResponsivity

    calibration_path, responsivity_path = config.resolved_photodiode_paths()
    PhotodiodeResponsivity.load(responsivity_path)
    if not check_calibration:
        return
    if calibration_path is None:
        raise r.fail("photodiode.calibration_file", "empty: a photodiode needs a spectral weighting and geometry "
                                                    "factor from one spectrum of this device (ledstation "
                                                    "calibrate-photodiode)")
    PhotodiodeCalibration.load(calibration_path)


def _check_address(r: _Reader, role: str, address: str, visa: bool) -> None:
    """A VISA resource name that pyvisa can parse ("sim" aside); a spectrometer serial number."""
    if address == SIMULATED or not visa:
        if not address.strip():
            raise r.fail(f"{role}.address", "empty")
        return
    from pyvisa import rname

    try:
        rname.parse_resource_name(address)
    except Exception:  # noqa: BLE001 - pyvisa raises several types
        raise r.fail(f"{role}.address", f"{_short(address)} is not a VISA resource name "
                                        '(e.g. "GPIB0::24::INSTR", "ASRL/dev/ttyUSB0::INSTR")') from None


def _check_calibration(config: StationConfig) -> None:
    """The sphere's responsivity file loads and covers the spectrometer window (to within
    :data:`WINDOW_TOLERANCE_NM`: the window is cut to whole pixels, which only the
    opened spectrometer knows; it checks exactly)."""
    from drivers.calibration import ResponsivityCalibration

    calibration = ResponsivityCalibration.load(config.resolved_calibration_path())
    low, high = config.spectrometer.wavelength_range_nm
    covered = float(calibration.wavelength_nm[0]), float(calibration.wavelength_nm[-1])
    if low < covered[0] - WINDOW_TOLERANCE_NM or high > covered[1] + WINDOW_TOLERANCE_NM:
        raise ConfigError(f"config {config.source}: [spectrometer] wavelength_range_nm {low:g}-{high:g} nm is "
                          f"outside the calibration's {covered[0]:g}-{covered[1]:g} nm")


def check_pixel_area(value: float, option: str) -> float:
    """A pixel area given on the command line, by the configuration's rule."""
    if not (math.isfinite(value) and 0 < value <= MAX_PIXEL_AREA_CM2):
        raise ConfigError(f"{option} must be a pixel area in cm^2, above 0 and at most {MAX_PIXEL_AREA_CM2:g}, "
                          f"got {value:g}")
    return value


def _extra_sinks(r: _Reader) -> tuple[str, ...]:
    """[sinks] extra: names of sinks every run also feeds (each checked against the sink
    registry when a run is planned: a name, never a module path)."""
    value = r.table("sinks").get("extra", [])
    if not (isinstance(value, list) and all(isinstance(v, str) and v.isidentifier() and len(v) <= 64 for v in value)):
        raise r.fail("sinks.extra", f"must be a list of sink names, got {value!r}")
    if len(set(value)) != len(value):
        raise r.fail("sinks.extra", "names a sink twice")
    return tuple(value)


def _durability_interval(r: _Reader, fully_simulated: bool) -> float:
    value = r.table("data").get("durability_interval_s", AUTO)
    if value == AUTO:
        return SIMULATED_DURABILITY_INTERVAL_S if fully_simulated else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
            or value > MAX_DURABILITY_INTERVAL_S:
        raise r.fail("data.durability_interval_s", f'must be "auto" or a number of seconds within 0-'
                                                   f'{MAX_DURABILITY_INTERVAL_S:g}, got {value!r}')
    return float(value)


def load_config(path: str | Path | None = None, check_calibration: bool = True,
                photodiode_calibration: bool = True) -> StationConfig:
    """Load a configuration file, or the simulated-bench default when ``path`` is None.

    Keys missing from a user's file take the default's values, table by table. With
    ``check_calibration`` the sphere's responsivity file is loaded and checked too
    (``calibrate-sphere``, which writes that file, skips it).
    """
    if path is None:
        return config_from_text(DEFAULT_CONFIG_TEXT, "default", check_calibration, photodiode_calibration)
    path = Path(path)
    data = read_user_file(path, "config")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config {path}: not a text file (UTF-8)") from None
    return config_from_text(text, str(path), check_calibration, photodiode_calibration)


def config_from_text(text: str, source: str, check_calibration: bool = True,
                     photodiode_calibration: bool = True) -> StationConfig:
    """A configuration from its TOML text (a run file keeps the one it ran with), on the defaults."""
    defaults = _parse_toml(DEFAULT_CONFIG_TEXT, "default")
    if source == "default" and text == DEFAULT_CONFIG_TEXT:
        return validate_config(defaults, "default", DEFAULT_CONFIG_TEXT, check_calibration, photodiode_calibration)
    user = _parse_toml(text, source)
    for table, values in user.items():
        if isinstance(values, dict) and isinstance(defaults.get(table), dict):
            defaults[table] = {**defaults[table], **values}
        else:
            defaults[table] = values
    return validate_config(defaults, source, text, check_calibration, photodiode_calibration)
