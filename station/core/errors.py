"""Errors that the station reports to the user as one line."""


class StationError(Exception):
    """Base class for errors the command line reports without a traceback."""

    exit_code = 1


class ConfigError(StationError):
    """A configuration file, key or value is missing or impossible."""

    exit_code = 2


class CalibrationError(StationError):
    """A calibration file is malformed or does not fit the instrument."""

    exit_code = 2


class InstrumentError(StationError):
    """An instrument is unreachable or answered with an error."""

    exit_code = 2


class InstrumentFault(InstrumentError):
    """An instrument failed during a measurement (overflow, no spectrum, no answer):
    the run fails; not bad input."""

    exit_code = 1


class SafetyLimitError(StationError, ValueError):
    """A request would exceed the station's safety limits."""

    exit_code = 2


class LowLightError(StationError):
    """The light instrument saw too little light for a valid reading."""


class DataFileError(StationError):
    """A run file is missing, unreadable or not a run file."""

    exit_code = 2


class DeviceFault(StationError):
    """The device under test is open, shorted, or gave readings no device gives."""


class EmissionOutOfRange(StationError):
    """The light instrument cannot measure this emitter: its emission lies beyond the
    instrument's wavelength range. The run stops: driving the device on measures nothing."""


class RunAborted(StationError):
    """The operator aborted the run (the window's Abort or Emergency stop) while the
    station was waiting: for the light instrument, a settling time, a monitor interval."""


class StorageError(StationError):
    """The run file cannot be written: disk full, I/O error, file removed or taken."""


def one_line(exc: BaseException) -> str:
    """An exception as one line for the user: the station's own errors by their message,
    any other as ``Type: last line of its message``."""
    lines = str(exc).strip().splitlines()
    text = lines[-1] if lines else ""
    if isinstance(exc, StationError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
