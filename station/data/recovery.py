"""Turn a run file left by a crash into a complete one.

A file whose writer died (kill -9, crash, power cut) opens with SWMR and holds every
point its durability policy promised, but its status says "running" and its NXdata
copies are empty. :func:`recover` reads it in chunks and replays its events through the
normal writer into a new file (format 2, whatever the old file's format), with status
"failed" and the reason, so every tool sees a finished layout. The crashed file itself
is never modified (``h5clear`` on it can destroy it). The NXdata copies and the figures
of merit are added afterwards by the caller (``station.session``), which knows the
procedures, in one reopening.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drivers.light_meter import DarkLibrary, LightDescription, SpectrumAxis
from drivers.spectral_result import SpectralResult
from station.core.errors import ConfigError
from station.core.signals import INTERRUPTS
from station.run.records import FAILED, RUNNING, Event, MainCurve, RunStart, RunStop

from .file_claim import RunFileClaim, being_written
from .reader import RunFile, read_run
from .writer import HDF5RunWriter

RECOVERED_REASON = "the writer died before the run ended (kill, crash or power cut); recovered"
#: the copy is written in batches: a crash while recovering only means recovering again
COPY_DURABILITY_INTERVAL_S = 5.0
CHUNK_ROWS = 8192


def run_start_of(run: RunFile) -> RunStart:
    """The start record that produced ``run``, rebuilt from what the file stores."""
    m = run.metadata
    streams = run.declared_streams()  # with their labels, display units and flags, as the run declared them
    main = MainCurve(run.main_stream, m["axis"], m["signal"], tuple(m.get("auxiliary_signals", ())))
    light = None
    if m.get("light"):
        lm = m["light"]
        darks = (DarkLibrary(lm["dark_integration_time_s"], lm["dark_library"], lm["raw_units"])
                 if lm["dark_library"] is not None else None)
        light = LightDescription(lm["identity"], SpectrumAxis(lm["wavelength_nm"], lm["quantity"], lm["units"],
                                                              lm["raw_units"], lm.get("stored_dtype", "f4")),
                                 darks, dict(m.get("calibration", {})), dict(m.get("calibration_units", {})))
    return RunStart(
        run_id=m.get("run_id", ""), procedure=run.procedure, title=m.get("title", ""), parameters=run.parameters,
        streams=streams, main=main, light=light, geometry=m.get("geometry", ""),
        pixel_area_cm2=m["pixel_area_cm2"], config_text=m["station_config_toml"], config_source=m["config_source"],
        instruments=m["instruments"], software_version=m.get("software_version", ""),
        start_time_s=m["start_time_s"], durability_interval_s=m.get("durability_interval_s", 0.0),
        provenance=m.get("provenance", {}), sample=m.get("sample", {}), plots=run.plots, figure_set=run.figure_set)


def run_stop_of(run: RunFile) -> RunStop | None:
    """The stop record of an ended run, rebuilt from its file (None while it runs)."""
    if run.status in ("running", ""):
        return None
    output = run.output_state
    return RunStop(run.status, run.reason, float(run.metadata.get("end_time_s", math.nan)),
                   {name: run.rows(name) for name in run.stream_names()}, run.main_stream, output,
                   output == "output confirmed off")


def events_of(run: RunFile, stream: str) -> Iterator[Event]:
    """Every stored event of a stream, with its spectrum, read in chunks."""
    names = run.column_names(stream)
    spectra = run.spectra_of(stream)
    light = run.metadata.get("light", {})
    next_spectrum = 0
    row = 0
    for chunk in run.iter_chunks(names, stream, CHUNK_ROWS):
        n = len(chunk[names[0]]) if names else 0
        wanted: dict[int, int] = {}
        if spectra is not None:
            while next_spectrum < len(spectra.rows) and spectra.rows[next_spectrum] < row + n:
                wanted[int(spectra.rows[next_spectrum])] = next_spectrum
                next_spectrum += 1
        block_spectral = block_raw = None
        first = min(wanted.values(), default=0)
        if wanted:
            last = max(wanted.values())
            block_spectral, block_raw = spectra.spectral[first:last + 1], spectra.raw[first:last + 1]
        for i in range(n):
            values: dict[str, Any] = {name: chunk[name][i].item() for name in names}
            spectrum = None
            k = wanted.get(row + i)
            if k is not None:
                j = k - first
                spectrum = SpectralResult(light["wavelength_nm"], block_spectral[j], light["quantity"], block_raw[j],
                                          light["raw_units"], float(values.get("integration_time_s", math.nan)))
            yield Event(stream, row + i, values, spectrum)
        row += n


def recover(path: str | Path, out: str | Path, overwrite: bool = False) -> RunFile:
    """Copy a crashed run file's records into a new file; returns the copy, whose NXdata
    copies and figures the caller adds (``station.data.writer.finish_file``).

    The copy is written under a claim on ``out`` (see :mod:`station.data.file_claim`):
    it takes the name at its first point; the original is only read.
    """
    if being_written(path):
        raise ConfigError(f"{path} is still being written by a run; recover it once that run has ended")
    run = read_run(path)
    if run.status != RUNNING:
        raise ConfigError(f"{path}: status is {run.status!r}, nothing to recover")
    with RunFileClaim(out, overwrite) as claim:
        writer = HDF5RunWriter(claim.partial_path, durability_interval_s=COPY_DURABILITY_INTERVAL_S,
                               finalise=False, claim=claim)
        _copy(run, writer)
        claim.end(keep_unpublished=True)
    return read_run(out)


def _copy(run: RunFile, writer: HDF5RunWriter) -> None:
    writer(run_start_of(run))
    counts: dict[str, int] = {}
    try:
        for stream in run.stream_names():
            counts[stream] = 0
            for event in events_of(run, stream):
                if counts[stream] % CHUNK_ROWS == 0:
                    INTERRUPTS.check()  # Ctrl-C ends the copy here (the writer holds signals)
                writer(event)
                counts[stream] += 1
    except BaseException:
        writer.abort_file()
        raise
    last = run.metadata["start_time_s"]
    main = run.streams[run.main_stream]
    if main.rows and "time_s" in main.columns:
        last_time = float(run.read_columns(["time_s"], run.main_stream, slice(main.rows - 1, None))["time_s"][0])
        last = last_time if np.isfinite(last_time) else last
    writer(RunStop(FAILED, RECOVERED_REASON, last, counts, run.main_stream))
