"""Open the pixel switch a configuration names (``[switch]``)."""

from __future__ import annotations

from typing import Any

from drivers.pixel_switch import PixelSwitch, switch_kinds
from station.core.errors import InstrumentError, StationError, one_line

from .config import StationConfig
from .light_meters import visa_resource


def open_switch(config: StationConfig, bench: Any | None) -> PixelSwitch:
    """The relay board or switch system of ``config``, connected (no channel changed yet)."""
    kind = config.switch.kind
    address, kwargs = visa_resource(config, config.switch.address, bench, lambda b: b.switch_addresses[kind])
    try:
        return switch_kinds()[kind].driver(address, **kwargs)
    except StationError:
        raise
    except Exception as exc:  # pyvisa raises several types for unreachable resources
        raise InstrumentError(f"[switch] address {config.switch.address!r}: cannot open the {kind} "
                              f"({one_line(exc)})") from None
