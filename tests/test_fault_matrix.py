"""Every injectable fault into every procedure of the registry (tests/fault_matrix.py):
the run's status and reason, the output state said and real, every reported point in
the file. And a full disk, on a real size-limited file system."""

from __future__ import annotations

import pytest

from procedures import procedure_names

from .fault_matrix import CELLS, can_mount_tmpfs, check, run_cell, run_disk_full


@pytest.mark.parametrize("cell", CELLS, ids=[c.name for c in CELLS])
@pytest.mark.parametrize("procedure", procedure_names())
def test_fault_matrix_cell(procedure, cell, tmp_path):
    result = run_cell(procedure, cell, tmp_path)
    assert check(cell, result) == [], result


@pytest.mark.skipif(not can_mount_tmpfs(), reason="needs unshare + mount (user namespaces) for a small tmpfs")
@pytest.mark.parametrize("procedure", procedure_names())
def test_a_full_disk_stops_the_run_cleanly_with_every_point_readable(procedure):
    result = run_disk_full(procedure)
    assert result["returncode"] == 0, result["stderr"]  # no crash (the child ran to its end)
    assert result["exit"] in ("0", "1"), result["stderr"]
    assert "Traceback" not in result["stderr"] and "Segmentation" not in result["stderr"]
    assert "output confirmed off" in result["stop_line"], result["stderr"]
    points = int(result["stop_line"].rsplit("(", 1)[1].split()[0])
    assert int(result["rows"]) == points  # every point the run reported is in the file
    if result["file_status"] == "failed":
        assert "disk full" in result["stop_line"]
    else:  # the run fitted in the reserve the writer holds
        assert result["file_status"] == "finished"
