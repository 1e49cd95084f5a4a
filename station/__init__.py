"""LED test station: instruments, procedures and data for LED characterisation.

Subpackages, lowest layer first (``docs/architecture.md``; import-linter enforces it):
``core`` (clock, errors, SCPI, photometry), ``setup`` (configuration, opening a station),
``analysis`` (figures of merit), ``run`` (records, run engine), ``data`` (HDF5 files),
``sinks`` (terminal), ``session`` (a run to a file, its analysis), ``cli``.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name == "__version__":  # resolved on first use: importlib.metadata costs tens of ms
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("ledstation")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'station' has no attribute {name!r}")
