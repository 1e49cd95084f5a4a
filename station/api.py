"""The station from Python: scripts and notebooks plan and run procedures through the same
code as the command line and the window (:mod:`station.session.plan`).

    import station

    config = station.load_config("docs/substrate-example.toml")   # None: the simulated bench
    sweeps = station.run_pixels("jvl", ["A", "B", "C"], "jvl-{pixel}.h5", config=config, stop_voltage=6.0)
    best = max(sweeps, key=lambda r: r.figures["peak_eqe"])
    life = station.run_procedure("lifetime", "life.h5", config=config, pixel=best.pixel, current_density=5.0)
    print(life.figures["T90_h"])

(``station.run`` is the run engine's package; the function that runs a procedure is
``station.run_procedure``.)

Every call checks everything before an instrument opens and raises
:class:`~station.core.errors.ConfigError` (one line) on bad input; each run writes its own
HDF5 file and returns a :class:`Result`. ``progress=True`` shows a bar (tqdm: text at a
terminal, a widget in Jupyter); ``sinks`` adds any record sink (for example
:class:`~station.sinks.json_lines.JsonLinesSink`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from station.data.reader import RunFile, read_run
from station.run.records import Sink
from station.session import RunOutcome
from station.session.plan import RunPlan, check_free_space_for, execute, plan_run
from station.setup.config import StationConfig, config_from_text, load_config
from station.sinks.progress_bar import ProgressBar

__all__ = ["Result", "figures", "load_config", "plan", "read", "run_pixels", "run_procedure", "simulated_config"]


#: how one run ended, where its file is, its pixel and its figures of merit (computed from the file)
Result = RunOutcome


def simulated_config(preset: str = "", **simulation: Any) -> StationConfig:
    """The simulated bench with a device ``preset`` (``ledstation presets`` lists them) and any
    other ``[simulation]`` setting, e.g. ``seed=3``."""
    import json

    values = {**({"preset": preset} if preset else {}), **simulation}
    lines = [f"{key} = {json.dumps(value)}" for key, value in values.items()]  # TOML for strings, numbers, bools
    return config_from_text("[simulation]\n" + "\n".join(lines) + "\n", "station.api.simulated_config")


def plan(procedure: str, out: str | Path, *, config: StationConfig | None = None, pixel: str | None = None,
         overwrite: bool = False, title: str = "", **parameters: Any) -> RunPlan:
    """A checked plan (nothing opened): ``procedure`` is a registry name (``jvl``, ``eqe``,
    ``lifetime``, ``cycling``, ``stress_recovery``, ``dark_jv``), ``parameters`` its
    parameters by name (``ledstation run NAME --help`` lists them with units)."""
    config = load_config() if config is None else config
    if pixel is not None:
        config = config.for_pixel(config.substrate.pixel(pixel))
    return plan_run(procedure, parameters, config, out, overwrite=overwrite, title=title, out_option="out")


def run_procedure(procedure: str | RunPlan, out: str | Path | None = None, *, config: StationConfig | None = None,
        pixel: str | None = None, overwrite: bool = False, title: str = "", progress: bool = True,
        sinks: Sequence[Sink] = (), **parameters: Any) -> Result:
    """Plan (unless given a plan) and run one procedure into ``out``; its :class:`Result`."""
    if isinstance(procedure, RunPlan):
        the_plan = procedure
    else:
        if out is None:
            raise TypeError("run_procedure() needs the file to write: out=")
        the_plan = plan(procedure, out, config=config, pixel=pixel, overwrite=overwrite, title=title, **parameters)
    extra = [ProgressBar(), *sinks] if progress else list(sinks)
    return execute(the_plan, extra)


def run_pixels(procedure: str, pixels: Sequence[str], out: str, *, config: StationConfig | None = None,
               overwrite: bool = False, title: str = "", progress: bool = True, **parameters: Any) -> list[Result]:
    """The procedure on each pixel in turn, one file each (``out`` holds ``{pixel}``); every
    run planned before the first starts. A pixel that fails does not stop the others; an
    abort or an output not confirmed off stops the loop."""
    if "{pixel}" not in out and len(pixels) > 1:
        raise ValueError("out needs {pixel} when several pixels are measured (one file per pixel)")
    plans = [plan(procedure, out.replace("{pixel}", name), config=config, pixel=name, overwrite=overwrite,
                  title=title, **parameters) for name in pixels]
    check_free_space_for(plans)
    results = []
    for the_plan in plans:
        result = run_procedure(the_plan, progress=progress)
        results.append(result)
        if result.status == "aborted" or not result.output_confirmed_off:
            break
    return results


def read(path: str | Path) -> RunFile:
    """A run file (any format), its columns read lazily."""
    return read_run(path)


def figures(path: str | Path) -> dict[str, Any]:
    """The figures of merit of a run file: stored ones, or computed from its columns."""
    from station.session import analyze_run

    stored = read_run(path)
    analysis = analyze_run(stored)
    return dict(analysis.get("figures", {}))
