"""A hardware configuration never loads the simulation: checked in a process that talks to
the simulated instruments only over sockets (as to a LAN source meter and a radiometer
behind a serial-to-ethernet bridge), through pyvisa-py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .socket_bridge import hardware_config, served_bench

CHILD = textwrap.dedent("""
    import json, sys
    from procedures.jvl_sweep import JVLSweep
    from station.session import run_to_file
    from station.setup.config import load_config
    from station.setup.station import open_station

    config = load_config(sys.argv[1])
    procedure = JVLSweep(start_voltage=0.0, stop_voltage=4.0, step_voltage=0.5, settle_time=0.0)
    procedure.validate(config)
    with open_station(config) as station:
        identities = station.identities()
        outcome = run_to_file(procedure, station, sys.argv[2])
    simulated = sorted(m for m in sys.modules if m.startswith(("sim_instruments", "pyvisa_sim")))
    print(json.dumps({"simulated_modules": simulated, "identities": identities, "status": outcome.status,
                      "points": outcome.points, "durability": config.durability_interval_s,
                      "uses_simulation": config.uses_simulation,
                      "max_luminance": outcome.analysis["figures"]["max_luminance_cd_m2"]}))
""")


def test_a_hardware_configuration_runs_without_importing_the_simulation(tmp_path):
    pytest.importorskip("pyvisa_py")
    with served_bench() as (bench, smu_port, radiometer_port):
        config = hardware_config(tmp_path, smu_port, radiometer_port)
        result = subprocess.run([sys.executable, "-c", CHILD, str(config), str(tmp_path / "run.h5")],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert not bench.keithley.output_on and bench.led.drive is None  # the child switched it off
    assert report["simulated_modules"] == []
    assert report["uses_simulation"] is False and report["durability"] == 0.0  # every point, on hardware
    assert "MODEL 2400" in report["identities"]["smu"] and report["identities"]["light"].startswith("PR-655")
    assert report["status"] == "finished" and report["points"] == 9
    assert report["max_luminance"] > 1000  # the device at 4 V, measured through the sockets
