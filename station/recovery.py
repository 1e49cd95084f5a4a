"""Turn a run file left by a crash into a complete one.

A file whose writer died (kill -9, crash, power cut) opens with SWMR and holds every
point, but its status says "running", its NXdata copies are empty and it has no
analysis. ``recover`` reads it and replays its records through the normal writer into
a new file, with status "failed" and the reason, so every tool sees a finished layout.
The crashed file itself is never modified (``h5clear`` on it can destroy it).
"""

from __future__ import annotations

from pathlib import Path

from drivers.spectral_result import SpectralResult

from .datafile import RunData, read_run
from .errors import ConfigError
from .hdf5_writer import HDF5RunWriter
from .records import FAILED, RUNNING, Column, Point, RunStart, RunStop, SpectrumAxis
from .run_figures import figures_of

RECOVERED_REASON = "the writer died before the run ended (kill, crash or power cut); recovered"


def recover(path: str | Path, out: str | Path, overwrite: bool = False) -> RunData:
    """Write a complete copy of a crashed run file; returns the recovered run."""
    run = read_run(path)
    if run.status != RUNNING:
        raise ConfigError(f"{path}: status is {run.status!r}, nothing to recover")
    m = run.metadata
    columns = [Column(name, run.units[name], m["column_descriptions"][name], m["column_dtypes"][name])
               for name in run.columns]
    spectra = run.spectra
    axis = None
    if spectra is not None:
        axis = SpectrumAxis(spectra.wavelength_nm, spectra.quantity, spectra.units, spectra.raw_units,
                            spectra.dark_integration_time_s, spectra.dark_library)
    start = RunStart(
        run_id=m.get("run_id", ""), procedure=run.procedure, title=m.get("title", ""), parameters=run.parameters,
        columns=columns, spectrum=axis, geometry=m.get("geometry", ""), pixel_area_cm2=m["pixel_area_cm2"],
        config_text=m["station_config_toml"], config_source=m["config_source"],
        calibration=m.get("calibration", {}), instruments=m["instruments"],
        software_version=m.get("software_version", ""), start_time_s=m["start_time_s"],
        signal=m["signal"], axis=m["axis"])
    writer = HDF5RunWriter(out, overwrite=overwrite)
    writer(start)
    n = run.points if spectra is None else min(run.points, len(spectra.spectral))
    for i in range(n):
        values = {name: run.columns[name][i].item() for name in run.columns}
        spectrum = None
        if spectra is not None:
            spectrum = SpectralResult(spectra.wavelength_nm, spectra.spectral[i], spectra.quantity, spectra.raw[i],
                                      spectra.raw_units, values.get("integration_time_s", float("nan")))
        writer(Point(i, values, spectrum))
    last = float(run.columns["time_s"][n - 1]) if n else m["start_time_s"]
    writer(RunStop(FAILED, RECOVERED_REASON, last, n, figures_of(run) if n else {}))
    return read_run(out)
