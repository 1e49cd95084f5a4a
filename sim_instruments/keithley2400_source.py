"""The simulated 2400's source modes: fixed, staircase sweep and source list.

As the Model 2400 manual describes them (section "Sweep Operation"; SCPI reference of
:SOURce): ``:SOURce:<function>:MODE FIXed|SWEep|LIST``; a staircase sweep from
``:STARt`` to ``:STOP`` (coupled with ``:CENTer``/``:SPAN``) in ``:SWEep:POINts`` points
(coupled with ``:STEP``), ``:SWEep:SPACing LINear|LOGarithmic``, ``:SWEep:DIRection
UP|DOWN``, ``:SWEep:CABort NEVer|EARLy|LATE`` (abort on compliance); a source list of up
to 100 values per command, extended with ``:APPend`` to at most 2500. A sweep goes from
the bias level (the fixed level) to its first point and returns to the bias level when
it ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.keithley2400 import MAX_CURRENT_A, MAX_LIST_COMMAND_VALUES, MAX_SWEEP_POINTS, MAX_VOLTAGE_V

from .keithley2400_trigger import _choice, _integer, _number

MODES = ("FIX", "SWE", "LIST")
CABORT = ("NEV", "EARL", "LATE")
LIMIT = {"VOLT": MAX_VOLTAGE_V, "CURR": MAX_CURRENT_A}


@dataclass
class FunctionSweep:
    """Sweep and list settings of one source function (voltage or current)."""

    mode: str = "FIX"
    start: float = 0.0
    stop: float = 0.0
    values: list[float] = field(default_factory=lambda: [0.0])


@dataclass
class SourceSweep:
    """Source-mode state of one simulated 2400."""

    functions: dict[str, FunctionSweep] = field(default_factory=lambda: {"VOLT": FunctionSweep(),
                                                                        "CURR": FunctionSweep()})
    points: int = MAX_SWEEP_POINTS
    spacing: str = "LIN"
    direction: str = "UP"
    ranging: str = "BEST"
    cabort: str = "NEV"

    def reset(self) -> None:
        fresh = SourceSweep()
        self.functions, self.points, self.spacing = fresh.functions, fresh.points, fresh.spacing
        self.direction, self.ranging, self.cabort = fresh.direction, fresh.ranging, fresh.cabort

    def levels(self, function: str) -> list[float]:
        """The levels one pass sources, in order (the fixed mode: none)."""
        f = self.functions[function]
        if f.mode == "LIST":
            return list(f.values)
        if f.mode != "SWE":
            return []
        n = self.points
        if self.spacing == "LOG":
            if f.start == 0 or f.stop == 0 or (f.start > 0) != (f.stop > 0):
                raise ValueError('-221,"Settings conflict"')  # a log sweep cannot cross or touch zero
            lo, hi = math.log10(abs(f.start)), math.log10(abs(f.stop))
            sign = 1.0 if f.start > 0 else -1.0
            values = [sign * 10 ** (lo + (hi - lo) * i / (n - 1)) if n > 1 else f.start for i in range(n)]
        else:
            values = [f.start + (f.stop - f.start) * i / (n - 1) if n > 1 else f.start for i in range(n)]
        return values[::-1] if self.direction == "DOWN" else values

    def setting(self, header: str, argument: str) -> str | None | bool:
        """Answer a source-mode setting (as :meth:`TriggerModel.setting`): the reply of a query,
        None for a command done, False for a header this model does not own; ValueError for a
        bad argument."""
        query = header.endswith("?")
        key = header.rstrip("?")
        parts = key.split(":")  # "", "SOUR", ...
        if len(parts) >= 4 and parts[1] == "SOUR" and parts[2] in ("VOLT", "CURR"):
            return self._function_setting(parts[2], ":".join(parts[3:]), argument, query)
        if len(parts) >= 4 and parts[1] == "SOUR" and parts[2] == "LIST" and parts[3] in ("VOLT", "CURR"):
            return self._list_setting(parts[3], ":".join(parts[4:]), argument, query)
        if key.startswith(":SOUR:SWE:"):
            return self._sweep_setting(key[len(":SOUR:SWE:"):], argument, query)
        return False

    def _function_setting(self, function: str, node: str, argument: str, query: bool):
        f = self.functions[function]
        if node == "MODE":
            if query:
                return f.mode
            f.mode = _choice(MODES)(argument)
            return None
        if node not in ("STAR", "STOP", "CENT", "SPAN", "STEP"):
            return False
        center, span = (f.start + f.stop) / 2, f.stop - f.start
        if query:
            value = {"STAR": f.start, "STOP": f.stop, "CENT": center, "SPAN": span,
                     "STEP": span / (self.points - 1) if self.points > 1 else 0.0}[node]
            return f"{value:+.6E}"
        limit = LIMIT[function]
        value = _number(argument)
        if node == "STAR":
            f.start = _within(value, limit)
        elif node == "STOP":
            f.stop = _within(value, limit)
        elif node == "CENT":
            start, stop = value - span / 2, value + span / 2
            f.start, f.stop = _within(start, limit), _within(stop, limit)
        elif node == "SPAN":
            start, stop = center - value / 2, center + value / 2
            f.start, f.stop = _within(start, limit), _within(stop, limit)
        else:  # STEP: coupled with the points
            if value == 0 or (span != 0 and value * span < 0):
                raise ValueError('-222,"Data out of range"')
            self.points = max(1, min(MAX_SWEEP_POINTS, int(math.floor(abs(span / value) + 1e-9)) + 1))
        return None

    def _list_setting(self, function: str, node: str, argument: str, query: bool):
        f = self.functions[function]
        if node == "" and query:
            return ",".join(f"{v:+.6E}" for v in f.values)
        if node == "POIN" and query:
            return str(len(f.values))
        if node not in ("", "APP") or query:
            return False
        values = [_within(_number(text), LIMIT[function]) for text in argument.split(",") if text.strip()]
        if not values:
            raise ValueError('-109,"Missing parameter"')
        if len(values) > MAX_LIST_COMMAND_VALUES:
            raise ValueError('-223,"Too much data"')
        new = values if node == "" else f.values + values
        if len(new) > MAX_SWEEP_POINTS:
            raise ValueError('-223,"Too much data"')
        f.values = new
        return None

    def _sweep_setting(self, node: str, argument: str, query: bool):
        settings: dict[str, tuple[str, Callable[[str], object]]] = {
            "POIN": ("points", _points), "SPAC": ("spacing", _choice(("LIN", "LOG"))),
            "DIR": ("direction", _choice(("UP", "DOWN"))), "RANG": ("ranging", _choice(("BEST", "AUTO", "FIX"))),
            "CAB": ("cabort", _choice(CABORT))}
        if node not in settings:
            return False
        name, parse = settings[node]
        if query:
            return str(getattr(self, name))
        setattr(self, name, parse(argument))
        return None


def _within(value: float, limit: float) -> float:
    if abs(value) > limit:
        raise ValueError('-222,"Data out of range"')
    return value


def _points(argument: str) -> int:
    return _integer(1, MAX_SWEEP_POINTS)(argument)
