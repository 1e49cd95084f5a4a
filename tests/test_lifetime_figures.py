"""Lifetime, cycling, stress-and-recovery and overlay figures (issue 25, part 2): time in
hours, L/L0 with the T_x reached and the prediction where the analysis puts them, vector
files with TrueType fonts, the style set by a context and left unchanged outside it."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from station.cli import main


@pytest.fixture
def drawn(monkeypatch):
    """The figures saved, kept open for inspection."""
    figures = []
    save = Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures


def lifetime_file(tmp_path, name="l.h5", j=5.0, *options):
    config = tmp_path / "c.toml"
    config.write_text('[simulation]\npreset = "red-cspbbri-qd-control"\n')
    out = tmp_path / name
    assert main(["run", "lifetime", "--config", str(config), "--out", str(out), "--current-density", str(j),
                 "--stop-at-percent", "50", "--monitor-interval", "60", "--spectrum-interval", "1200",
                 *options]) == 0
    return out


def test_a_lifetime_figure_is_in_hours_with_the_lifetimes_and_the_prediction_where_the_analysis_puts_them(
        tmp_path, drawn, capsys):
    from station.data.reader import read_run
    from station.session import analyze_run

    path = lifetime_file(tmp_path, "p.h5", 5.0, "--stop-when-predicted-within", "0.1")
    analysis = analyze_run(read_run(path))
    size, fonttype = matplotlib.rcParams["font.size"], matplotlib.rcParams["pdf.fonttype"]
    assert main(["plot", str(path), "-o", str(tmp_path / "p.pdf")]) == 0
    assert (matplotlib.rcParams["font.size"], matplotlib.rcParams["pdf.fonttype"]) == (size, fonttype)
    pdf = (tmp_path / "p.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Subtype /Type3" not in pdf  # TrueType embedded, no Type 3
    (figure,) = drawn
    linear, log, voltage, spectral = figure.axes[:4]
    assert linear.get_xlabel() == "Time (h)" and log.get_xscale() == "log"
    measured = linear.lines[0].get_xdata()
    assert measured.max() == pytest.approx(analysis["duration_h"], rel=1e-6)  # hours, not seconds
    for percent in (95, 90, 80):
        mark = [line for line in linear.lines if line.get_label().startswith(f"T{percent} = ")]
        assert mark and mark[0].get_xdata()[0] == pytest.approx(analysis[f"T{percent}_h"])
        assert mark[0].get_ydata()[0] == percent / 100
    predicted = [c for c in linear.containers if c.get_label().startswith("T50 predicted")]
    assert predicted and "stopped the run" in predicted[0].get_label()
    x = predicted[0].lines[0].get_xdata()[0]
    assert x == pytest.approx(analysis["T50_extrapolated_h"])
    assert "L$_0$ = " in linear.get_title()
    assert spectral.get_ylabel() == "Drift (nm)"


def test_svg_text_is_drawn_as_paths(tmp_path):
    path = lifetime_file(tmp_path, "s.h5", 20.0)
    assert main(["plot", str(path), "-o", str(tmp_path / "s.svg")]) == 0
    svg = (tmp_path / "s.svg").read_text()
    assert "<path" in svg and "<text" not in svg


def test_an_overlay_of_runs_at_three_l0_fits_the_acceleration(tmp_path, drawn, capsys):
    files = [str(lifetime_file(tmp_path, f"j{j}.h5", j)) for j in (5.0, 10.0, 20.0)]
    assert main(["plot", *files, "-o", str(tmp_path / "o.png")]) == 0
    (figure,) = drawn
    curves, acceleration = figure.axes[:2]
    assert len(curves.lines) >= 3
    label = acceleration.get_legend().get_texts()[0].get_text()
    n = float(label.split("=")[1].split("±")[0])
    assert n == pytest.approx(1.95, abs=0.03)  # the device ages with n = 1.95
    capsys.readouterr()
    assert main(["plot", files[0], files[0], "-o", str(tmp_path / "x.png")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_an_overlay_refuses_what_is_not_a_lifetime_run(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[simulation]\npreset = "red-cspbbri-qd-control"\n')
    jvl = tmp_path / "jvl.h5"
    assert main(["run", "jvl", "--config", str(config), "--out", str(jvl), "--stop", "3", "--step", "0.5"]) == 0
    life = lifetime_file(tmp_path, "l.h5", 20.0)
    capsys.readouterr()
    assert main(["plot", str(life), str(jvl), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lifetime runs only" in err[0] and "jvl.h5 (jvl)" in err[0]
    assert not (tmp_path / "x.png").exists()


def test_a_cycling_figure_shows_start_end_and_mean_against_cycles_from_one(tmp_path, drawn):
    config = tmp_path / "c.toml"
    config.write_text('[simulation]\npreset = "deep-red-cspbi3-fret"\n')
    out = tmp_path / "c.h5"
    assert main(["run", "cycling", "--config", str(config), "--out", str(out), "--cycles", "12", "--on-time", "10",
                 "--off-time", "10"]) == 0
    assert main(["plot", str(out), "-o", str(tmp_path / "c.png")]) == 0
    (figure,) = drawn
    ax = figure.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["start of on phase", "end of on phase", "mean of on phase"]
    mean = ax.lines[2]
    assert mean.get_xdata()[0] == 1 and mean.get_xdata()[-1] == 12
    assert mean.get_ydata()[0] == pytest.approx(1.0)


def test_a_stress_recovery_figure_stacks_the_losses_the_analysis_finds(tmp_path, drawn):
    from station.analysis.recovery import recovery_cycles
    from station.data.reader import read_run

    config = tmp_path / "c.toml"
    config.write_text('[simulation]\npreset = "red-cspbbri-qd-control-recovering"\n')
    out = tmp_path / "r.h5"
    assert main(["run", "stress_recovery", "--config", str(config), "--out", str(out), "--cycles", "2",
                 "--stress-time", "0.5", "--rest-time", "1.5"]) == 0
    assert main(["plot", str(out), "-o", str(tmp_path / "r.png")]) == 0
    (figure,) = drawn
    bars = figure.axes[1].patches
    cycles = recovery_cycles(read_run(out))
    heights = np.array([b.get_height() for b in bars])
    expected = [100 * c.irreversible_loss for c in cycles] + [100 * c.reversible_loss for c in cycles]
    assert heights == pytest.approx(expected)
    assert all(math.isfinite(h) and h > 0 for h in heights)
