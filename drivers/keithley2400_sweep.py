"""The Keithley 2400's own sweep: a source list run by its trigger model into its buffer.

The fast path of a dark J-V: the levels go to the instrument as a source list (``:SOURce:
LIST``, 100 values a command, then ``:APPend``), the trigger count is the number of
levels, every reading goes to the trace buffer, ``:INITiate`` starts the pass (an
overlapped command: the station keeps control), the station polls the operation
condition register until the unit is idle, and ``:TRACe:DATA?`` returns every reading in
one transfer. While its trigger model runs the 2400 leaves ordinary commands and queries
until it is idle (manual, "Triggering"), so the station watches the pass by serial poll
(the operation summary bit, with the idle event enabled), which it answers at any time,
and ends it early with a device clear and ``:ABORt``, which it also executes at any time;
on an interface without serial poll (RS-232) it waits on ``*OPC?`` instead, and an abort
lands when the pass ends. The dwell at each level is the source delay of each source-measure cycle;
abort on compliance (``:SOURce:SWEep:CABort LATE``) ends the pass at the first reading
in compliance, as the point-by-point sweep stops there.

Everything goes through the guarded ``write`` of :class:`StationKeithley2400`: the list,
the compliance and the output are checked against the station's limits exactly as a
point-by-point sweep's levels are. An abort (``wait`` raises) or any failure while the
pass runs ends it with ``:ABORt`` before the exception goes on; the caller's shutdown
switches the output off.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from pyvisa.constants import VI_ERROR_NSUP_OPER
from pyvisa.errors import VisaIOError

from station.core.errors import InstrumentFault, SafetyLimitError, one_line

from .keithley2400 import (
    ELEMENTS,
    MAX_LIST_COMMAND_VALUES,
    MAX_SWEEP_POINTS,
    OPERATION_IDLE_BIT,
    OVERFLOW,
    STATUS_BYTE_OPERATION_BIT,
    STATUS_COMPLIANCE_BIT,
    StationKeithley2400,
)
from .source_meter import SweepReadings

log = logging.getLogger(__name__)

#: how often the station asks whether the pass is done (on the station clock)
POLL_INTERVAL_S = 0.02
#: the pass may take this much longer than its own estimate before it counts as hung
HUNG_FACTOR, HUNG_MARGIN_S = 3.0, 5.0


def check_levels(smu: StationKeithley2400, levels: Sequence[float], source: str) -> None:
    """Refuse a list the 2400 cannot hold or the station may not source (before anything is sent)."""
    if not 1 <= len(levels) <= MAX_SWEEP_POINTS:
        raise SafetyLimitError(f"a sweep of the 2400 holds 1-{MAX_SWEEP_POINTS} levels, got {len(levels)}")
    smu.check_sweep_levels(levels, source)


def run_buffered_sweep(smu: StationKeithley2400, levels: Sequence[float], *, compliance: float, nplc: float,
                       dwell_s: float, wait: Callable[[float], None], bias: float = 0.0, source: str = "VOLT",
                       abort_on_compliance: bool = True, auto_zero_once: bool = True,
                       on_partial: Callable[[SweepReadings], None] | None = None) -> SweepReadings:
    """Source ``levels`` (V, or A with ``source="CURR"``) with the instrument's own trigger model,
    measure at each after ``dwell_s``, and return the buffer. The output is switched on, at
    ``bias`` before the pass and again after it (where the 2400 returns when a sweep ends) and
    is left on; ``wait(seconds)`` waits on the station clock and raises to abort. When the pass
    is ended early (an abort, Ctrl-C, a failure), the readings it took are read from the buffer
    if the instrument still answers and given to ``on_partial`` before the exception goes on."""
    check_levels(smu, levels, source)
    n = len(levels)
    smu.write("*CLS")  # an empty error queue: what the set-up below leaves there is its own
    configure = smu.configure_voltage_source if source == "VOLT" else smu.configure_current_source
    configure(compliance, nplc)
    smu.write(f":SOUR:{source} {bias:g}")  # the bias level: where the source waits before and after the pass
    smu.write(":SYST:AZER:STAT ONCE" if auto_zero_once else ":SYST:AZER:STAT 1")
    smu.write(":SOUR:DEL:AUTO 0")
    smu.write(f":SOUR:DEL {dwell_s:g}")
    for first in range(0, n, MAX_LIST_COMMAND_VALUES):
        chunk = ",".join(f"{v:.6g}" for v in levels[first:first + MAX_LIST_COMMAND_VALUES])
        smu.write(f":SOUR:LIST:{source}{'' if first == 0 else ':APP'} {chunk}")
    smu.write(f":SOUR:SWE:CAB {'LATE' if abort_on_compliance else 'NEV'}")
    smu.write(":ARM:SOUR IMM")
    smu.write(":ARM:COUN 1")
    smu.write(":TRIG:SOUR IMM")
    smu.write(":TRIG:DEL 0")
    smu.write(f":TRIG:COUN {n}")
    smu.write(":TRAC:FEED:CONT NEV")
    smu.write(":TRAC:CLE")
    smu.write(":TRAC:FEED SENS")
    smu.write(f":TRAC:POIN {n}")
    smu.write(":TRAC:FEED:CONT NEXT")
    smu.write(f":SOUR:{source}:MODE LIST")
    error = smu.ask(":SYST:ERR?").strip()
    if not error.startswith(("0", "+0")):  # a refused setting: the pass would run the wrong list or delay
        smu.single_reading_setup()
        raise InstrumentFault(f"the source meter refused the sweep's set-up ({error}); the output was not switched on")
    smu.write(f":STAT:OPER:ENAB {OPERATION_IDLE_BIT}")  # the return to idle sets the operation summary bit
    smu.ask(":STAT:OPER?")  # reading the event register clears it
    smu.write(":OUTP 1")
    estimate_s = n * (dwell_s + nplc / 50.0 + 0.003)
    try:
        try:
            smu.write(":INIT")
            _wait_until_idle(smu, wait, HUNG_FACTOR * estimate_s + HUNG_MARGIN_S)
            sweep = read_buffer(smu, levels)
        except (VisaIOError, OSError, ValueError) as exc:
            raise InstrumentFault(f"source meter failed during its own sweep: {one_line(exc)}") from None
    except BaseException:
        smu.abort_pass()  # an abort, Ctrl-C, a lost reply: the pass ends before anything else
        try:
            if on_partial is not None:
                on_partial(read_buffer(smu, levels))
            smu.single_reading_setup()
        except Exception as exc:  # noqa: BLE001 - the first exception is the one that counts
            log.info("after the sweep was ended early, reading its buffer or the set-up failed: %s", exc)
        raise
    smu.single_reading_setup()
    return sweep


def read_buffer(smu: StationKeithley2400, levels: Sequence[float]) -> SweepReadings:
    """The readings in the trace buffer, in one transfer, paired with the levels they were taken at."""
    count = int(float(smu.ask(":TRAC:POIN:ACT?")))
    values = _parse_buffer(smu.ask(":TRAC:DATA?") if count else "", count)
    status = values[:, 4].astype(np.int64)
    return SweepReadings(np.asarray(levels[:count], float), values[:, 0], values[:, 1], values[:, 3],
                         (status & STATUS_COMPLIANCE_BIT) != 0, len(levels))


def _wait_until_idle(smu: StationKeithley2400, wait: Callable[[float], None], timeout_s: float) -> None:
    waited = 0.0
    while True:
        try:
            status_byte = smu.serial_poll()
        except VisaIOError as exc:
            if exc.error_code != VI_ERROR_NSUP_OPER:
                raise
            smu.wait_for_operation_complete(timeout_s)  # no serial poll on this interface
            break
        if status_byte & STATUS_BYTE_OPERATION_BIT:
            break
        if waited > timeout_s:
            raise InstrumentFault(f"the source meter's sweep did not end within {timeout_s:.3g} s")
        wait(POLL_INTERVAL_S)
        waited += POLL_INTERVAL_S
    smu.pass_ended()


def _parse_buffer(reply: str, count: int) -> NDArray[np.float64]:
    """``count`` readings of the :data:`ELEMENTS` format (overflow becomes NaN)."""
    if count == 0:
        return np.zeros((0, len(ELEMENTS)))
    try:
        values = np.array([float(x) for x in reply.split(",")], float)
    except ValueError:
        raise InstrumentFault(f"unexpected :TRAC:DATA? reply {reply.strip()[:80]!r}") from None
    if values.size != count * len(ELEMENTS):
        raise InstrumentFault(f":TRAC:DATA? gave {values.size} values for {count} readings of {len(ELEMENTS)}")
    values = values.reshape(count, len(ELEMENTS))
    values[:, :2][values[:, :2] == OVERFLOW] = math.nan
    return values
