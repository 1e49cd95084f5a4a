"""The simulated PR-655 accepts what the instrument accepts and reports as it does."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sim_instruments.bench import SimulatedBench
from sim_instruments.pr6xx_sim import correlated_colour_temperature, planckian_locus_uv
from station.core import photometry
from station.data.reader import read_run

from .sweep_helpers import config_for, jvl, run_sweep


@pytest.fixture()
def serial():
    """(bench, radiometer resource, source meter resource) with the device lit at 4 V."""
    bench = SimulatedBench(latency=False)
    rm = bench.resource_manager()
    smu = rm.open_resource(bench.smu_address, read_termination="\n", write_termination="\n")
    for command in (":SOUR:FUNC VOLT", ":SOUR:VOLT 4", ":OUTP 1"):
        smu.write(command)
    radiometer = rm.open_resource(bench.radiometer_address, read_termination="\r\n", write_termination="",
                                  timeout=500)
    yield bench, radiometer
    smu.write(":OUTP 0")
    bench.close()


def test_commands_end_with_cr_lf_or_crlf_and_a_stray_lf_does_no_harm(serial):
    bench, pr = serial
    pr.write_raw(b"PHOTO")  # no terminator: acted on as typed
    assert pr.read() == "REMOTE MODE"
    for ending in (b"\r", b"\n", b"\r\n"):
        pr.write_raw(b"D111" + ending)
        assert pr.read() == "00000,PR-655"
    pr.write_raw(b"\n")
    pr.write_raw(b"D110\r")
    assert pr.read() == "00000,65512345"


def test_two_commands_in_one_write_are_answered_in_order(serial):
    bench, pr = serial
    pr.write_raw(b"PHOTO\r")
    pr.read()
    pr.write_raw(b"D110\rD111\r")
    assert [pr.read(), pr.read()] == ["00000,65512345", "00000,PR-655"]


def test_a_bare_q_leaves_remote_mode(serial):
    bench, pr = serial
    pr.write_raw(b"PHOTO\r")
    pr.read()
    assert bench.radiometer.remote
    pr.write_raw(b"Q")
    assert not bench.radiometer.remote
    pr.write_raw(b"D111\r")  # not answered outside remote mode
    with pytest.raises(Exception, match="VI_ERROR_TMO"):
        pr.read()


def test_d5_reports_the_documented_header_and_fixed_width_lines(serial):
    bench, pr = serial
    pr.write_raw(b"PHOTO\rM5\r")
    pr.read()
    header = pr.read()
    assert re.fullmatch(r"00000,\d{4},\d\.\d{3}e[+-]\d\d,\d\.\d{4}e[+-]\d\d,\d\.\d{4}e[+-]\d\d", header), header
    raw = b"".join(pr.read_raw() for _ in range(101))
    assert len(raw) == 101 * 16  # "nnn,v.vvvve-ee\r\n", the width Psychtoolbox's parser reads
    rows = np.array([[float(v) for v in line.split(",")] for line in raw.decode().split("\r\n")[:-1]])
    wl, values = rows[:, 0], rows[:, 1]
    np.testing.assert_array_equal(wl, np.arange(380, 781, 4))
    _, _, peak, integrated, photons = header.split(",")
    assert float(peak) == wl[np.argmax(values)]
    assert float(integrated) == pytest.approx(photometry.integrate(values, wl), rel=1e-3)
    assert float(photons) == pytest.approx(photometry.photon_rate(values, wl), rel=1e-3)


def test_d4_gives_no_colour_temperature_for_a_deep_red_emitter(serial):
    bench, pr = serial
    pr.write_raw(b"PHOTO\rM4\r")
    pr.read()
    _, units, luminance, cct, duv = pr.read().split(",")
    assert float(cct) == 0 and abs(float(duv)) > 0.05  # far from the Planckian locus: CCT undefined


@pytest.mark.parametrize("xy,cct_K,duv", [((0.31271, 0.32902), 6504, 0.0032), ((0.44757, 0.40745), 2856, 0.0)])
def test_colour_temperature_of_the_cie_illuminants(xy, cct_K, duv):
    x, y = xy
    u, v = 4 * x / (-2 * x + 12 * y + 3), 6 * y / (-2 * x + 12 * y + 3)  # CIE 1960
    found_cct, found_duv = correlated_colour_temperature(u, v, planckian_locus_uv())
    assert found_cct == pytest.approx(cct_K, abs=10)
    assert found_duv == pytest.approx(duv, abs=3e-4)


def test_the_first_report_comes_within_the_instruments_own_time():
    """A fresh process: the colour tables are warm at open, so the first M5 and D1 take
    milliseconds of wall time (the instrument itself takes about a second)."""
    script = textwrap.dedent("""
        import time
        from sim_instruments.bench import SimulatedBench
        bench = SimulatedBench()
        rm = bench.resource_manager()
        smu = rm.open_resource(bench.smu_address, read_termination="\\n", write_termination="\\n")
        smu.write(":SOUR:VOLT 4"); smu.write(":OUTP 1")
        pr = rm.open_resource(bench.radiometer_address, read_termination="\\r\\n", write_termination="\\r")
        pr.query("PHOTO")
        start = time.perf_counter()
        pr.write("M5")
        lines = [pr.read() for _ in range(102)]
        pr.query("D1")
        print(time.perf_counter() - start)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 0.3


def test_the_run_file_stores_the_radiometers_own_luminance_and_colour(tmp_path):
    stop, _ = run_sweep(jvl(start_voltage=3.0, stop_voltage=5.0, step_voltage=0.5),
                        config_for("deep-red-cspbi3-fret", "radiometer"), tmp_path / "r.h5")
    c = read_run(tmp_path / "r.h5").columns
    bright = c["luminance_cd_m2"] > 10
    assert bright.sum() >= 3
    np.testing.assert_allclose(c["instrument_luminance_cd_m2"][bright], c["luminance_cd_m2"][bright], rtol=1e-3)
    np.testing.assert_allclose(c["instrument_cie_x"][bright], c["cie_x"][bright], atol=1e-4)
    np.testing.assert_allclose(c["instrument_Y"][bright], c["luminance_cd_m2"][bright], rtol=1e-3)
    sphere_stop, _ = run_sweep(jvl(start_voltage=3.0, stop_voltage=3.5, step_voltage=0.5),
                               config_for("deep-red-cspbi3-fret"), tmp_path / "s.h5")
    assert np.isnan(read_run(tmp_path / "s.h5").columns["instrument_luminance_cd_m2"]).all()  # the sphere has none
