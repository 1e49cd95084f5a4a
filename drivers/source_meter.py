"""What the procedures need from a source meter, whatever its make (the Keithley 2400 today;
the interface is what a second one, such as a 2450, implements).

:class:`SourceMeter` is the protocol: configure a voltage or a current source with its
compliance, switch the output on, apply a level, read a point, and switch off with the
state read back (:class:`~drivers.keithley2400.OutputOffReport`). Procedures type their
source meter as this protocol and take parameter bounds from here: the widest any
supported model reaches (:data:`PARAMETER_MAX_VOLTAGE_V`, :data:`PARAMETER_MAX_CURRENT_A`);
the station's ``[safety]`` limits, checked against the instrument in force, are what a run
may really source. Each model's own facts (ranges, NPLC, sweep points) stay in its driver.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from drivers import keithley2400
from drivers.keithley2400 import OutputOffReport, SMUReading

#: every supported source meter's ranges: (largest voltage, V; largest current, A), from its driver
RANGES: dict[str, tuple[float, float]] = {
    "keithley2400": (keithley2400.MAX_VOLTAGE_V, keithley2400.MAX_CURRENT_A),
}
#: the bounds of a voltage or current parameter: the widest range any supported model has
PARAMETER_MAX_VOLTAGE_V = max(v for v, _ in RANGES.values())
PARAMETER_MAX_CURRENT_A = max(i for _, i in RANGES.values())


@runtime_checkable
class SourceMeter(Protocol):
    """The source meter as the procedures use it."""

    @property
    def source_function(self) -> str:
        """"VOLT" or "CURR": what is sourced now."""

    @property
    def source_level(self) -> float:
        """The level last applied (V or A)."""

    @property
    def confirmed_off(self) -> bool:
        """The output read back as off at the last shutdown."""

    def configure_voltage_source(self, compliance_current_A: float, nplc: float) -> None: ...

    def configure_current_source(self, compliance_voltage_V: float, nplc: float) -> None: ...

    def enable_source(self) -> None: ...

    def disable_source(self) -> None: ...

    def apply_voltage(self, voltage_V: float) -> None: ...

    def apply_current(self, current_A: float) -> None: ...

    def read_point(self) -> SMUReading: ...

    def safe_shutdown(self) -> OutputOffReport:
        """Ramp down, switch off, read the state back (keeps trying for the configured time)."""
