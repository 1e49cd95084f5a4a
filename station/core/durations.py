"""Durations the user gives: every one checked against a bound before any instrument opens.

A wait of 1e308 s (or NaN, or infinity) with the output on is a hang; a negative one is
nonsense. Each duration a command, a configuration or a procedure takes is bounded here
or by its pymeasure parameter's limits.
"""

from __future__ import annotations

import math

from .errors import ConfigError

#: the longest settling wait a command takes (an hour: a device settles in seconds)
MAX_SETTLE_S = 3600.0
#: the longest an instrument may take to answer one request (a PR-7xx exposure is at most 30 s)
MAX_INSTRUMENT_TIMEOUT_S = 3600.0
#: the longest the file may go without a flush (the durability policy)
MAX_DURABILITY_INTERVAL_S = 3600.0


def check_duration_s(value: object, what: str, maximum_s: float, minimum_s: float = 0.0) -> float:
    """``value`` seconds, or ConfigError (one line naming ``what``) unless it is a finite number
    within [``minimum_s``, ``maximum_s``]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not minimum_s <= value <= maximum_s:
        raise ConfigError(f"{what} must be within {minimum_s:g}-{maximum_s:g} s, got {value!r}")
    return float(value)
