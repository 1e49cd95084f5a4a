"""Make the lifetime, cycling, overlay and stress-and-recovery figures of the docs from
simulated runs (the same commands a user types).

Run: python docs/make_lifetime_figures.py [--out docs]

* lifetime-demo.png: the red QD control at 5 mA/cm^2, stopped once T50 was predicted to
  within +-10 % (spectra every 20 min);
* overlay-demo.png: the same device at 5, 10 and 20 mA/cm^2 to T50, and the acceleration fit;
* cycling-demo.png: the FRET device, 200 cycles of 10 s on / 10 s off at 3.43 V;
* stress-recovery-demo.png: the recovering control, 3 cycles of 1 h stress and 2 h rest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station.cli import main as ledstation  # noqa: E402


def run(*arguments: str) -> None:
    if ledstation(list(arguments)) != 0:
        raise SystemExit(f"ledstation {' '.join(arguments)} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory() as work:
        d = Path(work)
        control = d / "control.toml"
        control.write_text('[simulation]\npreset = "red-cspbbri-qd-control"\n')
        run("run", "lifetime", "--config", str(control), "--current-density", "5", "--stop-at-percent", "50",
            "--stop-when-predicted-within", "0.1", "--spectrum-interval", "1200", "--out", str(d / "predicted.h5"))
        run("plot", str(d / "predicted.h5"), "-o", str(out / "lifetime-demo.png"))
        files = []
        for j in ("5", "10", "20"):
            files.append(str(d / f"j{j}.h5"))
            run("run", "lifetime", "--config", str(control), "--current-density", j, "--stop-at-percent", "50",
                "--spectrum-interval", "1e5", "--out", files[-1])
        run("plot", *files, "-o", str(out / "overlay-demo.png"))
        fret = d / "fret.toml"
        fret.write_text('[simulation]\npreset = "deep-red-cspbi3-fret"\n')
        run("run", "cycling", "--config", str(fret), "--cycles", "200", "--voltage", "3.43", "--on-time", "10",
            "--off-time", "10", "--out", str(d / "cycling.h5"))
        run("plot", str(d / "cycling.h5"), "-o", str(out / "cycling-demo.png"))
        recovering = d / "recovering.toml"
        recovering.write_text('[simulation]\npreset = "red-cspbbri-qd-control-recovering"\n')
        run("run", "stress_recovery", "--config", str(recovering), "--cycles", "3", "--stress-time", "1",
            "--rest-time", "2", "--out", str(d / "recovery.h5"))
        run("plot", str(d / "recovery.h5"), "-o", str(out / "stress-recovery-demo.png"))


if __name__ == "__main__":
    main()
