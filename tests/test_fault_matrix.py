"""Every injectable fault into every procedure of the registry (tests/fault_matrix.py):
the run's status and reason, the output state said and real, every reported point in
the file. And a full disk, on a real size-limited file system."""

from __future__ import annotations

import pytest

from procedures import procedure_names

from .fault_matrix import (
    CELLS,
    WINDOW_CELLS,
    applies,
    can_mount_tmpfs,
    check,
    run_cell,
    run_disk_full,
    run_window_cell,
)


@pytest.mark.parametrize("smu_model", ["keithley2400", "keithley2450"])
@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
@pytest.mark.parametrize("procedure", procedure_names())
def test_fault_matrix_cell(procedure, cell, smu_model, tmp_path):
    if not applies(procedure, cell):
        pytest.skip(f"{procedure} reads no light and judges no device health")
    result = run_cell(procedure, cell, tmp_path, smu_model)
    assert check(cell, result) == [], result


@pytest.mark.parametrize("cell", WINDOW_CELLS, ids=[c.name for c in WINDOW_CELLS])
@pytest.mark.parametrize("procedure", procedure_names())
def test_fault_matrix_window_cell(procedure, cell, tmp_path):
    """The window's Abort, Emergency stop and close: output off within 1 s, file aborted, every point kept."""
    if not applies(procedure, cell):
        pytest.skip(f"{procedure} reads no light")
    result = run_window_cell(procedure, cell, tmp_path)
    assert check(cell, result) == [], result


def _check_disk_full(result: dict) -> None:
    assert result["returncode"] == 0, result["stderr"]  # no crash (the child ran to its end)
    assert result["exit"] in ("0", "1"), result["stderr"]
    assert "Traceback" not in result["stderr"] and "Segmentation" not in result["stderr"]
    assert "output confirmed off" in result["stop_line"], result["stderr"]
    points = int(result["stop_line"].rsplit("(", 1)[1].split()[0])
    assert int(result["rows"]) == points  # every point the run reported is in the file
    if result["file_status"] == "failed":
        assert "disk full" in result["stderr"] and result["exit"] == "1"
    else:  # the run fitted in the reserve the writer holds
        assert result["file_status"] == "finished" and result["exit"] == "0"


@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs unshare + mount (user namespaces) for a small tmpfs")
@pytest.mark.parametrize("durability_s", [0.0, 1.0])
@pytest.mark.parametrize("procedure", procedure_names())
def test_a_full_disk_stops_the_run_cleanly_with_every_point_readable(procedure, durability_s):
    _check_disk_full(run_disk_full(procedure, durability_s=durability_s))


@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs unshare + mount (user namespaces) for a small tmpfs")
@pytest.mark.parametrize("durability_s", [0.0, 1.0])
def test_a_disk_filled_late_in_a_sweep_never_crashes_the_writer(durability_s):
    """Issue 23, item 6: on a 14 MB disk filled at reading 60, 3 of 5 runs at the simulated
    default (1 s) met ENOSPC inside HDF5 and died with SIGSEGV, their files unreadable."""
    for _ in range(2):
        _check_disk_full(run_disk_full("jvl", size_mb=14, durability_s=durability_s, at=60, options=()))


def test_a_signal_while_the_file_is_being_finished_waits_for_it(tmp_path, monkeypatch):
    """Ctrl-C twice after the last point, during the analysis: the figures and the final
    status are still written, the output is off, and then the interrupt ends the command."""
    import os
    import signal
    import time as clock

    from procedures.jvl_sweep import JVLSweep
    from sim_instruments.bench import SimulatedBench
    from station import session
    from station.core.signals import INTERRUPTS
    from station.data.reader import read_run
    from station.setup.config import load_config
    from station.setup.station import open_station

    analyze = session.analyze_run

    def interrupted_analysis(run):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        clock.sleep(0.05)
        return analyze(run)

    monkeypatch.setattr(session, "analyze_run", interrupted_analysis)
    config = load_config()
    bench = SimulatedBench()
    target = tmp_path / "late.h5"
    with INTERRUPTS.installed(), pytest.raises(KeyboardInterrupt):
        with open_station(config, bench=bench) as station:
            session.run_to_file(JVLSweep(start_voltage=2.0, stop_voltage=4.0, step_voltage=0.5), station, target)
    run = read_run(target)
    assert run.status == "finished" and run.points == 5 and run.analysis["max_luminance_cd_m2"] > 0
    assert not bench.keithley.output_on and INTERRUPTS.exit_code() == 130
