"""Station configuration: a TOML file naming instruments, geometry, pixel, data policy and limits.

Every key is checked before any instrument is touched; a problem raises
:class:`~station.core.errors.ConfigError` naming the file and the key. The instrument
tables are declared: each is a dataclass whose fields carry their types and bounds
(``Annotated[..., msgspec.Meta(...)]``), converted by msgspec, whose message becomes the one
line the user reads. What depends on more than one key (a window's ends in order, the
kinds in use) is checked after. The kinds of instrument come from registries:
``[smu] model`` from :mod:`drivers.source_meters`, ``[light] geometry`` from
:mod:`station.setup.light_kinds`. The ``[simulation]`` table belongs to the simulated
bench, which checks it itself (:mod:`sim_instruments.settings`) when, and only when, the
configuration uses it.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from drivers.radiometers import RADIOMETER_MODELS
from drivers.source_meters import DEFAULT_SOURCE_METER, SOURCE_METERS
from station.core.durations import MAX_DURABILITY_INTERVAL_S, MAX_INSTRUMENT_TIMEOUT_S
from station.core.errors import ConfigError
from station.core.user_files import read_user_file

from .light_kinds import LIGHT_KINDS, SIMULATED, LightKind

if TYPE_CHECKING:
    from sim_instruments.settings import SimulationSettings

#: the [simulation] key that allows real and simulated instruments in one station
MIX_KEY = "mix_with_hardware"
AUTO = "auto"
GEOMETRIES = tuple(LIGHT_KINDS)
#: no light instrument: a station for dark electrical runs (single-carrier devices, films)
NO_LIGHT = "none"
#: what may run beside the light meter as a second, simultaneous channel
SECOND_CHANNELS = ("", "photodiode")
PHOTODIODE_METERS = ("keithley6485", "keithley2000")
#: durability interval of a fully simulated bench when the configuration says "auto"
SIMULATED_DURABILITY_INTERVAL_S = 1.0
DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_station.toml")
DEFAULT_CONFIG_TEXT = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
#: bounds that keep a typo from hanging a run (a dark library of 10^18 scans)
MAX_DARK_SCANS = 1000
#: the longest auto averaging may spend on one reading, s
MAX_POINT_BUDGET_S = 3600.0
INTEGRATION_RANGE_S = (1e-6, 600.0)
OUTPUT_OFF_TIMEOUT_RANGE_S = (0.5, 600.0)
#: largest device area the station accepts (a 10 cm x 10 cm substrate)
MAX_PIXEL_AREA_CM2 = 100.0

#: the declared types of the tables' keys
Text = Annotated[str, msgspec.Meta(max_length=4096, pattern="^[^\x00]*$")]
Positive = Annotated[float, msgspec.Meta(gt=0)]
IntegrationTime = Annotated[float, msgspec.Meta(ge=INTEGRATION_RANGE_S[0], le=INTEGRATION_RANGE_S[1])]
Wavelength = Annotated[float, msgspec.Meta(gt=0, le=20000)]
Scans = Annotated[int, msgspec.Meta(ge=1, le=MAX_DARK_SCANS)]


@dataclass(frozen=True)
class SMUConfig:
    address: Text
    nplc: Positive  # within the model's range (checked against the kind)
    visa_library: Text
    #: the kind of source meter (drivers.source_meters)
    model: str = DEFAULT_SOURCE_METER


@dataclass(frozen=True)
class SpectrometerConfig:
    address: Text
    model: Text
    calibration_file: Text
    min_integration_s: IntegrationTime
    max_integration_s: IntegrationTime
    low_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)]
    high_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)]
    dark_scans: Scans
    wavelength_range_nm: tuple[Wavelength, Wavelength]
    #: scans averaged per reading (the least, with a target below)
    averages: Scans = 1
    #: > 0: average more scans until the band total's relative 1 sigma reaches this (0 or 1e-4-0.5)
    target_relative_uncertainty: Annotated[float, msgspec.Meta(ge=0, le=0.5)] = 0.0
    #: the longest auto averaging spends on one reading, s
    max_time_per_point_s: Annotated[float, msgspec.Meta(ge=0.01, le=MAX_POINT_BUDGET_S)] = 10.0


@dataclass(frozen=True)
class RadiometerConfig:
    address: Text
    timeout_s: Annotated[float, msgspec.Meta(ge=0.001, le=MAX_INSTRUMENT_TIMEOUT_S)]
    model: Text  # one of drivers.radiometers.RADIOMETER_MODELS


@dataclass(frozen=True)
class PhotodiodeConfig:
    meter: Text  # "keithley6485" or "keithley2000" (over a transimpedance amplifier)
    address: Text
    #: geometry factor and spectral weighting (ledstation calibrate-photodiode); "" = none yet
    calibration_file: Text
    responsivity_file: Text  # the photodiode's certificate, A/W; "sim" = the simulated photodiode's
    transimpedance_gain_V_A: Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)]  # not 0
    nplc: Annotated[float, msgspec.Meta(ge=0.01, le=6.0)]
    dark_readings: Annotated[int, msgspec.Meta(ge=2, le=1000)]


@dataclass(frozen=True)
class LightTable:
    geometry: str  # a kind of station.setup.light_kinds
    second_channel: str = ""


@dataclass(frozen=True)
class SafetyTable:
    max_voltage_V: Positive  # within the source meter's range (checked against the kind)
    max_current_A: Positive
    output_off_timeout_s: Annotated[float, msgspec.Meta(ge=OUTPUT_OFF_TIMEOUT_RANGE_S[0],
                                                        le=OUTPUT_OFF_TIMEOUT_RANGE_S[1])] = 10.0


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
    #: the tables of light kinds that declare their own (LightKind.table_type), by table name
    kind_tables: Mapping[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> Any:
        """An instrument table by name: the built-in ones, or a light kind's own."""
        return getattr(self, name) if name in _BUILT_IN_TABLES else self.kind_tables[name]

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
    def light_kind(self) -> LightKind:
        """The kind of light instrument ([light] geometry)."""
        return LIGHT_KINDS[self.geometry]

    @property
    def light_kinds_in_use(self) -> list[LightKind]:
        """The light meter's kind and the second channel's, when there is one."""
        return [LIGHT_KINDS[self.geometry]] + ([LIGHT_KINDS[self.second_channel]] if self.second_channel else [])

    @property
    def light_address(self) -> str:
        """The light meter's address (second of :attr:`instrument_addresses`; "" without one)."""
        return "" if self.geometry == NO_LIGHT else self.instrument_addresses[1][1]

    @property
    def instrument_addresses(self) -> list[tuple[str, str]]:
        """(table, address) of every instrument the station opens: the source meter, the light
        meter and the second channel."""
        return _used_addresses(self.geometry, self.second_channel, self.smu, self.table, self.switch)

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
        free-space check; :attr:`LightKind.spectrum_points`)."""
        return self.light_kind.spectrum_points(self)

    def files_read(self) -> list[tuple[str, Path]]:
        """(what, path) of every file this configuration makes a command read: the file
        itself, the sphere's calibration, the photodiode's certificate and calibration. A
        command never writes over any of them (:func:`station.cli.output.check_files`)."""
        files = [] if self.source == "default" else [("--config", Path(self.source))]
        for kind in self.light_kinds_in_use:
            files.extend(f for f in kind.files(self) if f not in files)
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

    def declared(self, table: str, cls: type) -> Any:
        """The table converted to its declared dataclass ``cls`` (types and bounds of each key);
        msgspec's complaint becomes one line naming the file, the table and the key."""
        values = self.table(table)
        for key, value in values.items():  # inf and nan are no value (a bound would call nan "not positive")
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(f"{table}.{key}", f"must be finite, got {value!r}")
        try:
            result = msgspec.convert(values, cls)
        except msgspec.ValidationError as exc:
            raise self._declared_error(table, cls, values, str(exc)) from None
        return result

    def _declared_error(self, table: str, cls: type, values: dict[str, Any], message: str) -> ConfigError:
        missing = re.match(r"Object missing required field `([^`]+)`", message)
        if missing:
            return self.fail(f"{table}.{missing.group(1)}", "missing")
        detail, _, where = message.partition(" - at `$")
        key = re.split(r"[\[.`]", where.lstrip("."), maxsplit=1)[0] if where else ""
        given = f", got {_short(values[key])}" if key in values else ""
        if re.match(r"Expected `\w+` [<>]=? ", detail):  # a bound: say the whole range declared
            detail = f"must be {_bounds_text(cls, key)}"
        elif "matching regex" in detail:
            detail, given = "contains a NUL character", ""
        elif "of length <=" in detail:
            detail = "is too long"
        else:
            detail = detail.replace("`", "").split(", got")[0]
            detail = detail[:1].lower() + detail[1:]
        return self.fail(f"{table}.{key}" if key else table, detail + given)

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


_BUILT_IN_TABLES = ("smu", "spectrometer", "radiometer", "photodiode", "switch")
#: the tables whose keys are declared by a dataclass (msgspec converts them)
_DECLARED: dict[str, type] = {"smu": SMUConfig, "light": LightTable, "spectrometer": SpectrometerConfig,
                              "radiometer": RadiometerConfig, "photodiode": PhotodiodeConfig, "safety": SafetyTable}
_KNOWN_KEYS: dict[str, set[str] | None] = {
    **{table: {f.name for f in fields(cls)} for table, cls in _DECLARED.items()},
    "device": {"pixel_area_cm2", "emission_nm"},
    "substrate": {"name", "batch", "structure", "pixels", "encapsulation", "atmosphere"},
    "switch": {"kind", "address", "settle_s"},
    "data": {"durability_interval_s"},
    "sinks": {"extra"},
    "simulation": None,  # checked by the simulated bench
}
NO_SWITCH = "none"
#: pixel, substrate and batch names: they go into file names
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,39}$")
NAME_RULE = "1-40 letters, digits, '_', '.', '+' or '-', starting with a letter or digit"
MAX_PIXELS = 64
#: a spectrometer pixel is < 1 nm wide: a window this close to the calibration's ends is cut inside it
WINDOW_TOLERANCE_NM = 2.0


def _bounds_text(cls: type, key: str) -> str:
    """The range a declared field allows, in words ("within 0.01-10", "positive")."""
    import typing

    hint = typing.get_type_hints(cls, include_extras=True).get(key)
    metas = [m for m in _metas(hint) if isinstance(m, msgspec.Meta)]
    low = next((m.ge if m.ge is not None else m.gt for m in metas if m.ge is not None or m.gt is not None), None)
    high = next((m.le if m.le is not None else m.lt for m in metas if m.le is not None or m.lt is not None), None)
    if low is not None and high is not None:
        return f"within {low:g}-{high:g}"
    if low == 0 and any(m.gt is not None for m in metas):
        return "positive"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _metas(hint: Any) -> list[Any]:
    """The Annotated metadata of a hint, and of the items of a tuple hint."""
    import typing

    if typing.get_origin(hint) is Annotated:
        return list(typing.get_args(hint)[1:])
    return [m for arg in typing.get_args(hint) for m in _metas(arg)]


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
    known_keys = {**_KNOWN_KEYS, **{kind.table: {f.name for f in fields(kind.table_type)}
                                    for kind in LIGHT_KINDS.values() if kind.table_type is not None}}
    for table, value in data.items():
        if table not in known_keys:
            raise ConfigError(f"config {source}: unknown table [{table}]")
        known = known_keys[table]
        for key in value if isinstance(value, dict) and known is not None else ():
            if key not in known:
                raise r.fail(f"{table}.{key}", "unknown key (a typo?)")

    smu = r.declared("smu", SMUConfig)
    if smu.model not in SOURCE_METERS:
        raise r.fail("smu.model", f"must be one of {', '.join(SOURCE_METERS)}, got {_short(smu.model)}")
    kind = SOURCE_METERS[smu.model]
    if not kind.nplc_range[0] <= smu.nplc <= kind.nplc_range[1]:
        raise r.fail("smu.nplc", f"must be within {kind.nplc_range[0]:g}-{kind.nplc_range[1]:g} on the {kind.model}, "
                                 f"got {smu.nplc:g}")

    light = r.declared("light", LightTable)
    geometry, second = light.geometry, light.second_channel
    if geometry not in LIGHT_KINDS:
        raise r.fail("light.geometry", f"must be one of {', '.join(LIGHT_KINDS)}, got {_short(geometry)}")
    if second not in SECOND_CHANNELS:
        raise r.fail("light.second_channel", f'must be "" or "photodiode", got {_short(second)}')
    if second == "photodiode" and geometry == "photodiode":
        raise r.fail("light.second_channel", "the photodiode is already the light meter (geometry)")
    if second == "photodiode" and geometry == NO_LIGHT:
        raise r.fail("light.second_channel", 'a second light channel needs a light meter (geometry is "none")')

    s = "spectrometer"
    spectrometer = r.declared(s, SpectrometerConfig)
    low_nm, high_nm = spectrometer.wavelength_range_nm
    if not low_nm < high_nm:
        raise r.fail(f"{s}.wavelength_range_nm", f"must be [low, high] with 0 < low < high nm, got "
                                                 f"{_short([low_nm, high_nm])}")
    if spectrometer.min_integration_s > spectrometer.max_integration_s:
        raise r.fail(f"{s}.min_integration_s", f"{spectrometer.min_integration_s:g} s is above max_integration_s "
                                               f"{spectrometer.max_integration_s:g} s")
    if not spectrometer.low_fraction < spectrometer.high_fraction:
        raise r.fail(f"{s}.high_fraction", f"need low_fraction < high_fraction < 1, got {spectrometer.low_fraction:g}, "
                                           f"{spectrometer.high_fraction:g}")
    target = spectrometer.target_relative_uncertainty
    if 0 < target < 1e-4:
        raise r.fail(f"{s}.target_relative_uncertainty", f"must be 0 (off) or within 1e-4-0.5, got {target!r}")

    radiometer = r.declared("radiometer", RadiometerConfig)
    if radiometer.model not in RADIOMETER_MODELS:
        raise r.fail("radiometer.model", f"must be one of {', '.join(RADIOMETER_MODELS)}, "
                                         f"got {_short(radiometer.model)}")
    photodiode = _photodiode(r)
    area = r.positive("device", "pixel_area_cm2")
    if area > MAX_PIXEL_AREA_CM2:
        raise r.fail("device.pixel_area_cm2", f"{area:g} cm^2 is not a pixel area (at most {MAX_PIXEL_AREA_CM2:g})")
    safety = r.declared("safety", SafetyTable)
    max_v, max_i, off_timeout = safety.max_voltage_V, safety.max_current_A, safety.output_off_timeout_s
    if max_v > kind.max_voltage_V:
        raise r.fail("safety.max_voltage_V", f"{max_v:g} V is beyond the {kind.model}'s {kind.max_voltage_V:g} V")
    if max_i > kind.max_current_A:
        raise r.fail("safety.max_current_A", f"{max_i:g} A is beyond the {kind.model}'s {kind.max_current_A:g} A")

    emission = _declared_emission(r)
    simulation = data.get("simulation", {})
    if not isinstance(simulation, dict):
        raise ConfigError(f"config {source}: [simulation] must be a table")
    switch = _switch(r)
    substrate = _substrate(r, switch)
    built_in = {"spectrometer": spectrometer, "radiometer": radiometer, "photodiode": photodiode}
    kind_tables = {kind.table: r.declared(kind.table, kind.table_type) for kind in LIGHT_KINDS.values()
                   if kind.table_type is not None and kind.table in data}
    for name in (geometry, second):
        kind = LIGHT_KINDS[name] if name else None
        if kind is not None and kind.table_type is not None and kind.table not in kind_tables:
            raise ConfigError(f"config {source}: missing table [{kind.table}] (geometry {name!r})")
    used = _used_addresses(geometry, second, smu, {**built_in, **kind_tables}.__getitem__, switch)
    durability = _durability_interval(r, all(address == SIMULATED for _, address in used))
    config = StationConfig(source, smu, geometry, spectrometer, radiometer, photodiode, second, emission, area, max_v,
                           max_i, off_timeout, durability, simulation, text, substrate, switch,
                           extra_sinks=_extra_sinks(r), kind_tables=kind_tables)
    visa_roles = {kind.table: kind.visa for kind in LIGHT_KINDS.values()}
    for role, address in used:
        _check_address(r, role, address, visa=visa_roles.get(role, True))
    for light_kind in config.light_kinds_in_use:
        light_kind.check(config, check_calibration and (photodiode_calibration or light_kind.table != "photodiode"))
    _check_no_silent_mix(used, simulation, source)
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


def _used_addresses(geometry: str, second: str, smu: SMUConfig, table: Callable[[str], Any],
                    switch: SwitchConfig) -> list[tuple[str, str]]:
    used = [("smu", smu.address)]
    for name in (geometry, second):
        kind = LIGHT_KINDS[name] if name else None
        if kind is not None and kind.table:
            used.append((kind.table, table(kind.table).address))
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
    photodiode = r.declared("photodiode", PhotodiodeConfig)
    if photodiode.meter not in PHOTODIODE_METERS:
        raise r.fail("photodiode.meter", f"must be one of {', '.join(PHOTODIODE_METERS)}, got "
                                         f"{_short(photodiode.meter)}")
    if photodiode.transimpedance_gain_V_A == 0:
        raise r.fail("photodiode.transimpedance_gain_V_A", "must be a non-zero gain up to 1e12 V/A, got 0")
    return photodiode


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
    band = config.light_kind.band_nm
    if config.emission_nm is None or band is None:
        return
    low, high, what = band(config)
    first, last = config.emission_nm
    if first < low or last > high:
        raise ConfigError(f"config {config.source}: {what} measures {low:g}-{high:g} nm but the device emits "
                          f"{first:g}-{last:g} nm ({where}); choose a light instrument that covers it "
                          f"(e.g. the PR-745, 380-1060 nm, or the sphere spectrometer)")


def check_sphere(config: StationConfig, check_files: bool) -> None:
    """The sphere spectrometer's own checks: "sim" calibration only with the simulated
    spectrometer, a simulated model the bench has, and (``check_files``) the responsivity
    file loads and covers the window."""
    s = config.spectrometer
    if s.address != SIMULATED and s.calibration_file == SIMULATED:
        raise ConfigError(f"config {config.source}: [spectrometer] calibration_file: \"sim\" is the simulated "
                          "sphere's responsivity; give your spectrometer's file (ledstation calibrate-sphere)")
    if s.address == SIMULATED:
        from sim_instruments.spectrometer_models import SPECTROMETER_MODELS

        if s.model not in SPECTROMETER_MODELS:
            raise ConfigError(f"config {config.source}: [spectrometer] model: the simulated bench has "
                              f"{', '.join(SPECTROMETER_MODELS)}, got {_short(s.model)}")
    if check_files:
        _check_calibration(config)


def photodiode_files(config: StationConfig) -> list[tuple[str, Path]]:
    """The photodiode's certificate (unless simulated) and its calibration (once made)."""
    calibration, responsivity = config.resolved_photodiode_paths()
    files = [] if config.photodiode.responsivity_file == SIMULATED else [("[photodiode] responsivity_file",
                                                                           responsivity)]
    return files + ([("[photodiode] calibration_file", calibration)] if calibration is not None else [])


def check_photodiode(config: StationConfig, check_calibration: bool) -> None:
    """The photodiode's responsivity certificate loads; a photodiode used as a channel has its
    calibration (geometry factor and spectral weighting), and that calibration loads."""
    from drivers.photodiode import PhotodiodeCalibration, PhotodiodeResponsivity

    calibration_path, responsivity_path = config.resolved_photodiode_paths()
    PhotodiodeResponsivity.load(responsivity_path)
    if not check_calibration:
        return
    if calibration_path is None:
        raise ConfigError(f"config {config.source}: [photodiode] calibration_file: empty: a photodiode needs a "
                          "spectral weighting and geometry factor from one spectrum of this device (ledstation "
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
