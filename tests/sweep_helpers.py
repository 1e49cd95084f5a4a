"""Running sweeps in-process on the simulated bench, and the model's true figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from procedures.eqe_sweep import EQESweep
from procedures.jvl_sweep import JVLSweep
from sim_instruments.bench import SimulatedBench
from sim_instruments.led_model import LEDModel
from sim_instruments.presets import PRESETS
from station.session import run_to_file
from station.setup.config import load_config
from station.setup.station import open_station


def config_for(preset: str, geometry: str = "sphere", latency: bool = False, **overrides):
    """Simulated-bench configuration. Instrument latency is off by default so the device
    does not age during the sweep (a radiometer point costs seconds of bench time, and
    at 10^4 cd/m^2 the presets lose per cent per minute); the fresh model is the truth."""
    config = load_config()
    simulation = {**config.simulation, "preset": preset, "latency": latency}
    return dataclasses.replace(config, geometry=geometry, simulation=simulation, **overrides)


def run_sweep(procedure, config, path: Path, bench: SimulatedBench | None = None):
    """Run to a file through the session (runner, writer, analysis from the stored columns)."""
    procedure.validate(config)
    station = open_station(config, bench=bench)
    with station:
        outcome = run_to_file(procedure, station, path, overwrite=True)
    return outcome, station


def jvl(**kwargs) -> JVLSweep:
    defaults = {"start_voltage": 0.0, "stop_voltage": 8.0, "step_voltage": 0.05, "settle_time": 0.0}
    return JVLSweep(**{**defaults, **kwargs})


def eqe(**kwargs) -> EQESweep:
    defaults = {"start_current_density": 0.01, "stop_current_density": 2000.0, "points_per_decade": 10,
                "settle_time": 0.0}
    return EQESweep(**{**defaults, **kwargs})


def model_truth(preset: str, v_max: float = 8.0) -> dict[str, float]:
    """Figures of the fresh model on a fine grid (what a perfect station would report)."""
    model = LEDModel(PRESETS[preset])
    v = np.arange(0.5, v_max + 1e-9, 0.002)
    points = [model.at_voltage(x) for x in v]
    lum = np.array([p.luminance_cd_m2 for p in points])
    rad = np.array([p.radiance_W_sr_m2 for p in points])
    eqe_values = np.array([p.eqe for p in points])
    j = np.logspace(-2, 3.5, 2000) * 1e-3 * PRESETS[preset].pixel_area_cm2
    peak_eqe = max(model.at_current(x).eqe for x in j)

    def crossing(y, threshold):
        above = np.nonzero(y >= threshold)[0]
        if len(above) == 0:
            return float("nan")
        i = int(above[0])
        return float(np.interp(np.log(threshold), np.log(y[i - 1:i + 1]), v[i - 1:i + 1]))

    return {"peak_eqe": float(max(peak_eqe, eqe_values.max())), "turn_on_V": crossing(lum, 1.0),
            "turn_on_radiance_V": crossing(rad, 0.01), "max_luminance_cd_m2": float(lum.max()),
            "max_radiance_W_sr_m2": float(rad.max())}


def write_config(tmp_path: Path, text: str, name: str = "station.toml") -> Path:
    """A station configuration file with ``text``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
