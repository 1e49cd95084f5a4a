"""A signal at a line of every kind the run executes, for every procedure (``tests/signal_sweep.py``):
no hang, the output off and said so, the file closed with its status, exit 130/143.

The default run signals a sample of lines (half of them where locks are taken: the
simulated clock's and :mod:`threading`'s); ``pytest -m slow`` signals every line. The
sample's seed is printed on failure: ``LEDSTATION_SWEEP_SEED=<seed>`` repeats it.
"""

from __future__ import annotations

import os
import random
import signal

import pytest

from procedures import procedure_names
from tests import signal_sweep

SAMPLE_SITES = 40
SEED = int(os.environ.get("LEDSTATION_SWEEP_SEED", random.randrange(10**6)))


def _report(procedure: str, results: list[signal_sweep.Result], seed: int | None) -> str:
    failed = [r for r in results if r.problems]
    lines = [f"{procedure}: {len(failed)} of {len(results)} signalled runs failed"
             + (f" (LEDSTATION_SWEEP_SEED={seed})" if seed is not None else "")]
    lines += [f"  {r.site} {[signal.Signals(s).name for s in r.signals]}: {'; '.join(r.problems)}" for r in failed]
    return "\n".join(lines)


@pytest.mark.parametrize("procedure", procedure_names())
def test_a_signal_at_a_sample_of_lines_never_hangs_or_leaves_the_output_on(procedure, tmp_path):
    sites = signal_sweep.discover(procedure, tmp_path, SEED)
    chosen = signal_sweep.sample(sites, SAMPLE_SITES, SEED)
    results = signal_sweep.sweep(procedure, chosen, tmp_path)
    fired = [r for r in results if r.fired]
    assert len(fired) >= 0.6 * len(chosen), f"only {len(fired)} of {len(chosen)} lines were reached again"
    assert not any(r.problems for r in results), _report(procedure, results, SEED)
    # the runs were signalled inside the run as well as around it: some stopped with a file
    assert any(r.file_status == "aborted" for r in fired)


@pytest.mark.slow
@pytest.mark.parametrize("procedure", procedure_names())
def test_a_signal_at_every_line_never_hangs_or_leaves_the_output_on(procedure, tmp_path):
    sites = signal_sweep.discover(procedure, tmp_path, SEED)
    results = signal_sweep.sweep(procedure, sites, tmp_path)
    print(f"\n{procedure}: {len(sites)} signal moments, {sum(r.fired for r in results)} reached, "
          f"{sum(bool(r.problems) for r in results)} failed")
    assert not any(r.problems for r in results), _report(procedure, results, SEED)


def test_a_signal_while_the_layout_is_written_leaves_an_aborted_file_and_no_traceback(tmp_path):
    """Issue 23, item 8: the file said "running" and a traceback was printed."""
    import inspect

    from station.data import writer

    lines, first = inspect.getsourcelines(writer.write_layout)
    path = inspect.getsourcefile(writer.write_layout)
    for offset in (1, 4, 11, len(lines) // 2, len(lines) - 2):
        site = signal_sweep.Site(path, first + offset)
        printed = tmp_path / f"printed-{offset}.txt"
        result = signal_sweep.run_once("jvl", tmp_path, signal_sweep.Tracer(site, (signal.SIGINT,)), 0.0,
                                       f"layout-{offset}", output=printed)
        if not result.fired:
            continue
        text = printed.read_text()
        assert not signal_sweep.check(result), (site, signal_sweep.check(result))
        assert result.file_status == "aborted" and "Ctrl-C" in result.file_reason, (site, result.file_status)
        assert "Traceback" not in text, text
        assert text.rstrip().splitlines()[-1].endswith("output confirmed off"), text
