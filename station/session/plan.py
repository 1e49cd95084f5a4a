"""One way to run: :func:`plan_run` checks everything before any instrument opens and
returns a :class:`RunPlan`; :func:`execute` runs a plan and returns its :class:`RunOutcome`.

Every front end (``ledstation run``, the pixel loop, ``resume``, the reference sweep, the
window's queue, a script through :mod:`station.api`) plans and executes through these two;
none opens a station or claims a file itself (``tests/test_one_way_to_run.py``).

A plan holds what a run is: the procedure and its checked parameter values, the station
configuration it runs on (the run's own: a resumable procedure's simulated device kept next
to the file, no light instrument for a dark procedure), the file, whether it may replace
one, the title, and for a resume the stored run and whether a changed station is accepted.
:meth:`RunPlan.describe` gives it as plain data (shown, stored, sent).

Execution: claim the file, open the station, (resume: check it is the run's station), run
into the file with the given sinks, close the station (output off, read back), and report.
Stop decisions use the outcome's fields (``status``, ``output_confirmed_off``), never
message text.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procedures import procedure_class
from procedures.base import StationProcedure
from procedures.parameters import build_procedure
from station.core.errors import ConfigError
from station.data.file_claim import RunFileClaim, check_files, check_writable_path, is_placeholder
from station.data.reader import RunFile
from station.data.storage_guard import check_free_space, check_free_space_for_copy
from station.run.documents import plain_value
from station.run.records import Sink
from station.run.runner import ProcedureRunner
from station.setup.config import StationConfig, check_pixel_area
from station.setup.station import Station, open_station
from station.sinks.registry import outputs as sink_outputs
from station.sinks.registry import sink_factory

from . import RunOutcome, config_for_run, resumable, run_to_file, simulated_device_state

#: longest title stored (the file keeps it as an attribute)
MAX_TITLE_CHARS = 10_000
#: instrument identities a resumed run must find unchanged (the rest of what a file stores, such as
#: the simulated bench's description, may differ between sessions)
COMPARED_IDENTITIES = ("smu", "light", "second_channel", "pixel_switch", "simulated_device")


@dataclass
class RunPlan:
    """A run, checked and ready: nothing is open yet (see the module docstring)."""

    procedure_name: str
    procedure: StationProcedure
    config: StationConfig
    out: Path
    overwrite: bool = False
    title: str = ""
    #: resume: the stored run continued, and whether a station unlike the run's is accepted
    resume_from: RunFile | None = None
    accept_station_change: bool = False
    #: what planning chose that the user should hear (the substrate's first pixel ...)
    notes: list[str] = field(default_factory=list)
    #: the run's identity ("": a new one; the agent gives the one its registry knows it by)
    run_id: str = ""

    @property
    def parameters(self) -> dict[str, Any]:
        """The checked parameter values, by name."""
        return {name: value for name, (value, _units) in self.procedure.parameters_with_units().items()}

    def describe(self) -> dict[str, Any]:
        """The plan as plain data (JSON-compatible)."""
        pixel = self.config.pixel
        parameters = {k: plain_value(v) for k, v in self.parameters.items()}
        return {"procedure": self.procedure_name, "parameters": parameters, "out": str(self.out),
                "overwrite": self.overwrite, "title": self.title,
                "resume": str(self.resume_from.path) if self.resume_from is not None else None,
                "pixel": pixel.name if pixel is not None else None,
                "substrate": self.config.substrate.name if pixel is not None else None,
                "pixel_area_cm2": self.config.pixel_area_cm2, "simulated": self.config.uses_simulation,
                "notes": list(self.notes)}


def check_title(title: str, option: str = "--title") -> str:
    try:
        title.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{option} is not valid text (UTF-8)") from None
    if len(title) > MAX_TITLE_CHARS or "\x00" in title:
        raise ConfigError(f"{option} must be at most {MAX_TITLE_CHARS} characters, without NUL")
    return title


def plan_run(procedure: str, parameters: Mapping[str, Any], config: StationConfig, out: str | Path, *,
             overwrite: bool = False, title: str = "", out_option: str = "--out",
             check_space: bool = True) -> RunPlan:
    """A new run of ``procedure`` (a registry name) with ``parameters`` (missing ones take
    their defaults; None for a compliance: its default capped at the safety limit) on
    ``config`` into ``out``. Checks the parameters against pymeasure's limits and the
    station's, the title, the path (a regular file or none, not read by the configuration,
    not existing unless ``overwrite``) and the free space; ConfigError (one line) otherwise.
    A configuration with pixels measures its first (said in ``notes``)."""
    try:
        cls = procedure_class(procedure)
    except KeyError:
        raise ConfigError(f"unknown procedure {procedure!r}") from None
    notes = []
    chosen = config.with_default_pixel()  # one run measures one device: the substrate's first pixel
    if chosen is not config:
        notes.append(f"pixel {chosen.pixel.name} (the substrate's first)")
        config = chosen
    check_title(title)
    built = build_procedure(cls, dict(parameters), config)
    out = Path(out)
    check_writable_path(out, out_option)
    if not overwrite and (out.exists() or out.is_symlink()) and not is_placeholder(out):
        raise ConfigError(f"{out} exists; pass --overwrite to replace it")  # the claim's own words
    check_files([(out_option, out)], config.files_read())
    config = config_for_run(config, cls, out)
    for name in config.extra_sinks:  # each a registered sink, its files checked as the run's own
        for path in sink_outputs(name, out):
            check_writable_path(path, f"[sinks] {name}")
            if path.exists() and not overwrite:
                raise ConfigError(f"{path} exists ([sinks] {name} writes it); pass --overwrite to replace it")
            check_files([(out_option, out), (f"[sinks] {name}", path)], config.files_read())
    if check_space:
        check_free_space(out, [built], config.stored_spectrum_points)
    return RunPlan(procedure, built, config, out, overwrite, title, notes=notes)


def plan_resume(path: str | Path, config: StationConfig, accept_station_change: bool = False) -> RunPlan:
    """Continue the stored run in ``path`` on the station ``config`` describes (never the
    file's): its stored parameters through the same check as a new run's, its stored pixel
    selected again, its pixel area checked; the station compared with the run's once open."""
    from station.data.file_claim import being_written
    from station.data.reader import read_run

    path = Path(path)
    if being_written(path):
        raise ConfigError(f"{path} is being written by a running run; it cannot be resumed while that run goes")
    run = read_run(path)
    cls, _ = resumable(run)
    stored = run.metadata
    config = stored_pixel(config, stored.get("sample", {}), path)
    area = check_pixel_area(float(stored["pixel_area_cm2"]), f"{path}: the stored pixel area")
    config = dataclasses.replace(config, pixel_area_cm2=area)
    parameters = {name: value for name, (value, _units) in run.parameters.items()
                  if name in cls.parameter_definitions()}
    try:
        procedure = build_procedure(cls, parameters, config)
    except ConfigError as exc:
        raise ConfigError(f"{path}: its parameters do not make a {run.procedure} run ({exc})") from None
    check_files([("the resumed file", path)], config.files_read())
    check_free_space_for_copy(path)
    if config.uses_simulation:
        config = dataclasses.replace(config, simulated_device_state=str(simulated_device_state(path)))
    notes = [f"[sinks] {', '.join(config.extra_sinks)}: not fed by a resumed run (its documents would miss the "
             "stored rows)"] if config.extra_sinks else []
    return RunPlan(run.procedure, procedure, config, path, True, run.metadata.get("title", ""), run,
                   accept_station_change, notes)


def check_free_space_for(plans: Sequence[RunPlan]) -> None:
    """The disk holds every planned run at once (a pixel loop's files share a folder)."""
    if plans:
        check_free_space(plans[0].out, [p.procedure for p in plans], plans[0].config.stored_spectrum_points)


def execute(plan: RunPlan, sinks: Sequence[Sink] = (), *,
            opener: Callable[[StationConfig], Station] | None = None,
            on_station: Callable[[Station], None] | None = None,
            on_station_closed: Callable[[Station], None] | None = None,
            on_runner: Callable[[ProcedureRunner], None] | None = None,
            queue_sinks: bool = True) -> RunOutcome:
    """Run ``plan``: claim the file, open the station (``opener``, default
    :func:`~station.setup.station.open_station`), run with ``sinks`` beside the file, close
    the station. ``on_station`` gets it once open (the window keeps it for an emergency
    stop), ``on_station_closed`` after it closed or failed to open (what its shutdown
    confirmed), ``on_runner`` the runner before it starts (to abort it)."""
    claim = RunFileClaim(plan.out, plan.overwrite, resume=plan.resume_from is not None)
    with claim:
        if opener is None:
            station = open_station(plan.config, on_failed_open=on_station_closed)
        else:
            station = opener(plan.config)
        closed = False
        try:
            if on_station is not None:
                on_station(station)
            if plan.resume_from is not None:
                check_same_station(plan.out, plan.resume_from.metadata, station, plan.accept_station_change)
            configured = [] if plan.resume_from is not None else \
                [sink_factory(name)(plan.out, plan.overwrite) for name in plan.config.extra_sinks]
            outcome = run_to_file(plan.procedure, station, claim, sinks=[*configured, *sinks], title=plan.title,
                                  resume_from=plan.resume_from, on_runner=on_runner, queue_sinks=queue_sinks,
                                  run_id=plan.run_id)
        finally:
            try:
                station.close()  # output off and read back, the instruments released
                closed = True
            finally:
                if on_station_closed is not None:
                    on_station_closed(station)
    report = station.output_report
    confirmed = closed and outcome.stop.output_confirmed_off and (report is None or report.confirmed)
    return dataclasses.replace(outcome, output_confirmed_off=confirmed,
                               output=report.summary() if report is not None else outcome.stop.output,
                               pixel=plan.config.pixel.name if plan.config.pixel is not None else None)


def check_same_station(path: Path, stored: Mapping[str, Any], station: Station, accepted: bool) -> None:
    """The opened station is the one the run used (instrument identities, the light
    instrument's calibration checksum), before the output goes on; ConfigError unless
    ``accepted`` (the user says the change is intended)."""
    then, now = stored.get("instruments", {}), station.identities()
    differences = [f"{key}: {then.get(key, '(none)')!r} then, {now.get(key, '(none)')!r} now"
                   for key in COMPARED_IDENTITIES if then.get(key, "") != now.get(key, "")]
    stored_sha = str(stored.get("calibration", {}).get("sha256", ""))
    light = station.light.describe() if station.light is not None else None
    present_sha = str(light.calibration.get("sha256", "")) if light is not None else ""
    if stored_sha != present_sha:
        differences.append(f"calibration sha256 {stored_sha[:12] or '(none)'} then, {present_sha[:12] or '(none)'} now")
    if differences and not accepted:
        raise ConfigError(f"{path}: the station is not the one the run used ({'; '.join(differences)}); pass "
                          "--accept-station-change if that is intended")
    if differences:
        sys.stderr.write(f"ledstation: resuming on a changed station (accepted): {'; '.join(differences)}\n")


def stored_pixel(config: StationConfig, sample: Mapping[str, Any], path: Path) -> StationConfig:
    """The configuration measuring the pixel the stored run measured (the switch selects it again)."""
    if not config.substrate.pixels:
        if sample.get("pixel"):
            raise ConfigError(f"{path}: the run measured pixel {sample['pixel']}; the configuration has no pixel "
                              "switch to select it")
        return config
    if not sample.get("pixel"):
        raise ConfigError(f"{path}: the run names no pixel, but the configuration has a pixel switch")
    pixel = config.substrate.pixel(sample["pixel"])
    if sample.get("switch_channel") and pixel.channel != sample["switch_channel"]:
        raise ConfigError(f"{path}: pixel {pixel.name} was on channel {sample['switch_channel']}, the configuration "
                          f"says {pixel.channel}")
    return config.for_pixel(pixel, substrate=sample.get("substrate"), batch=sample.get("batch"))
