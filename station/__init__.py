"""LED test station: instruments, procedures and data for LED characterisation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ledstation")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
