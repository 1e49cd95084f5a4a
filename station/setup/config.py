"""Station configuration: a TOML file naming instruments, geometry, pixel, data policy and limits.

Every key is checked before any instrument is touched; a problem raises
:class:`~station.core.errors.ConfigError` naming the file and the key. The
``[simulation]`` table belongs to the simulated bench, which checks it itself
(:mod:`sim_instruments.settings`) when, and only when, the configuration uses it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.keithley2400 import MAX_CURRENT_A, MAX_VOLTAGE_V, NPLC_RANGE
from station.core.errors import ConfigError

if TYPE_CHECKING:
    from sim_instruments.settings import SimulationSettings

SIMULATED = "sim"
AUTO = "auto"
GEOMETRIES = ("sphere", "radiometer")
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
    calibration_file: str
    min_integration_s: float
    max_integration_s: float
    low_fraction: float
    high_fraction: float
    dark_scans: int
    wavelength_range_nm: tuple[float, float]


@dataclass(frozen=True)
class RadiometerConfig:
    address: str
    timeout_s: float


@dataclass(frozen=True)
class StationConfig:
    source: str  # file path or "default"
    smu: SMUConfig
    geometry: str
    spectrometer: SpectrometerConfig
    radiometer: RadiometerConfig
    pixel_area_cm2: float
    max_voltage_V: float
    max_current_A: float
    #: flush + fsync the run file at least this often (wall time, s); 0 = every point
    durability_interval_s: float
    simulation: Mapping[str, Any]  # the [simulation] table, for the simulated bench
    text: str  # the TOML as read, for the data file

    @property
    def light_address(self) -> str:
        return self.spectrometer.address if self.geometry == "sphere" else self.radiometer.address

    @property
    def uses_simulation(self) -> bool:
        return SIMULATED in (self.smu.address, self.light_address)

    def simulation_settings(self) -> SimulationSettings:
        """The checked ``[simulation]`` table (imports the simulated bench)."""
        from sim_instruments.settings import simulation_settings

        return simulation_settings(self.simulation, self.source)

    def resolved_calibration_path(self) -> Path:
        value = self.spectrometer.calibration_file
        if value == SIMULATED:
            from sim_instruments.calibration_lamp import SIM_CALIBRATION_PATH

            return SIM_CALIBRATION_PATH
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
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"{table}.{key}", f"expected {kind.__name__}, got {value!r}")
        if kind is float and not math.isfinite(value):
            raise self.fail(f"{table}.{key}", f"must be finite, got {value!r}")
        return value

    def positive(self, table: str, key: str) -> float:
        value = self.get(table, key, float)
        if value <= 0:
            raise self.fail(f"{table}.{key}", f"must be positive, got {value:g}")
        return value


_KNOWN_KEYS = {
    "smu": {"address", "nplc", "visa_library"},
    "light": {"geometry"},
    "spectrometer": {"address", "calibration_file", "min_integration_s", "max_integration_s", "low_fraction",
                     "high_fraction", "dark_scans", "wavelength_range_nm"},
    "radiometer": {"address", "timeout_s"},
    "device": {"pixel_area_cm2"},
    "data": {"durability_interval_s"},
    "safety": {"max_voltage_V", "max_current_A"},
    "simulation": None,  # checked by the simulated bench
}


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {source}: not valid TOML ({exc})") from None


def validate_config(data: dict[str, Any], source: str, text: str) -> StationConfig:
    """Check every key of parsed configuration data and build the configuration."""
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

    s = "spectrometer"
    window = r.get(s, "wavelength_range_nm", list)
    if len(window) != 2 or not all(isinstance(v, (int, float)) for v in window) or not 0 < window[0] < window[1]:
        raise r.fail(f"{s}.wavelength_range_nm", f"must be [low, high] with 0 < low < high, got {window!r}")
    min_t, max_t = r.positive(s, "min_integration_s"), r.positive(s, "max_integration_s")
    if min_t > max_t:
        raise r.fail(f"{s}.min_integration_s", f"{min_t:g} s is above max_integration_s {max_t:g} s")
    low, high = r.positive(s, "low_fraction"), r.positive(s, "high_fraction")
    if not low < high < 1:
        raise r.fail(f"{s}.high_fraction", f"need low_fraction < high_fraction < 1, got {low:g}, {high:g}")
    dark_scans = r.get(s, "dark_scans", int)
    if dark_scans < 1:
        raise r.fail(f"{s}.dark_scans", f"must be at least 1, got {dark_scans}")
    spectrometer = SpectrometerConfig(r.get(s, "address", str), r.get(s, "calibration_file", str), min_t, max_t,
                                      low, high, dark_scans, (float(window[0]), float(window[1])))

    if geometry == "sphere" and spectrometer.address != SIMULATED and spectrometer.calibration_file == SIMULATED:
        raise r.fail(f"{s}.calibration_file", '"sim" is the simulated sphere\'s responsivity; give your '
                     "spectrometer's file (ledstation calibrate-sphere)")
    radiometer = RadiometerConfig(r.get("radiometer", "address", str), r.positive("radiometer", "timeout_s"))
    area = r.positive("device", "pixel_area_cm2")
    if area > 100:
        raise r.fail("device.pixel_area_cm2", f"{area:g} cm^2 is not a pixel area")
    max_v, max_i = r.positive("safety", "max_voltage_V"), r.positive("safety", "max_current_A")
    if max_v > MAX_VOLTAGE_V:
        raise r.fail("safety.max_voltage_V", f"{max_v:g} V is beyond the Keithley 2400's {MAX_VOLTAGE_V:g} V")
    if max_i > MAX_CURRENT_A:
        raise r.fail("safety.max_current_A", f"{max_i:g} A is beyond the Keithley 2400's {MAX_CURRENT_A:g} A")

    simulation = data.get("simulation", {})
    if not isinstance(simulation, dict):
        raise ConfigError(f"config {source}: [simulation] must be a table")
    light_address = spectrometer.address if geometry == "sphere" else radiometer.address
    durability = _durability_interval(r, smu.address == SIMULATED and light_address == SIMULATED)
    config = StationConfig(source, smu, geometry, spectrometer, radiometer, area, max_v, max_i, durability,
                           simulation, text)
    if config.uses_simulation:
        config.simulation_settings()  # the simulated bench checks its own table
    return config


def _durability_interval(r: _Reader, fully_simulated: bool) -> float:
    value = r.table("data").get("durability_interval_s", AUTO)
    if value == AUTO:
        return SIMULATED_DURABILITY_INTERVAL_S if fully_simulated else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise r.fail("data.durability_interval_s", f'must be "auto" or a number of seconds >= 0, got {value!r}')
    return float(value)


def load_config(path: str | Path | None = None) -> StationConfig:
    """Load a configuration file, or the simulated-bench default when ``path`` is None.

    Keys missing from a user's file take the default's values, table by table.
    """
    defaults = _parse_toml(DEFAULT_CONFIG_TEXT, "default")
    if path is None:
        return validate_config(defaults, "default", DEFAULT_CONFIG_TEXT)
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path}: cannot read ({exc})") from None
    user = _parse_toml(text, str(path))
    for table, values in user.items():
        if isinstance(values, dict) and isinstance(defaults.get(table), dict):
            defaults[table] = {**defaults[table], **values}
        else:
            defaults[table] = values
    return validate_config(defaults, str(path), text)
