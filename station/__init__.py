"""LED test station: instruments, procedures and data for LED characterisation.

Subpackages, lowest layer first (``docs/architecture.md``; import-linter enforces it):
``core`` (clock, errors, SCPI, photometry), ``setup`` (configuration, opening a station),
``analysis`` (figures of merit), ``run`` (records, run engine), ``data`` (HDF5 files),
``sinks`` (terminal), ``session`` (a run to a file, its analysis), ``cli``.

For scripts and notebooks: ``station.run_procedure``, ``station.run_pixels``, ``station.plan``,
``station.read``, ``station.figures``, ``station.load_config``, ``station.simulated_config``
(:mod:`station.api`).
"""

from __future__ import annotations

#: what ``import station`` gives a script (:mod:`station.api`), imported on first use so the
#: command line starts fast
API = ("Result", "figures", "load_config", "plan", "read", "run_pixels", "run_procedure", "simulated_config")


def __getattr__(name: str):
    if name in API:  # by name: station.api sits above every layer that reads station.__version__
        from importlib import import_module

        return getattr(import_module("station.api"), name)
    if name == "__version__":  # resolved on first use: importlib.metadata costs tens of ms
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("ledstation")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'station' has no attribute {name!r}")
