"""What measuring a substrate pixel by pixel costs over measuring one device, and what
batch statistics cost per file.

Run: python benchmarks/bench_pixels.py [--pixels 8]

* **Substrate vs single runs** (same sweep, same stored data): ``ledstation run jvl`` over
  N pixels through the simulated Keithley 7001 (one file per pixel: open the station,
  select and read back the pixel, run, close) against N separate ``ledstation run jvl``
  of the single-device bench. Wall time per device on this machine; the ratio is the
  switching's share.
* **Selecting a pixel** on an open station (output confirmed off, open all / close one,
  settle, read back): its instrument time on the bench clock (what it costs on real
  hardware with the configured 20 ms settle) and its wall time.
* **Batch statistics**: ``batch_devices`` + ``batch_statistics`` per file (each run's
  figures recomputed from its stored columns) against reading only the stored analysis.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station.analysis.batch import batch_statistics  # noqa: E402
from station.cli import main as cli_main  # noqa: E402
from station.data.reader import read_run  # noqa: E402
from station.session import batch_devices  # noqa: E402
from station.setup.config import config_from_text  # noqa: E402
from station.setup.station import open_station  # noqa: E402

SWEEP = ["--step-voltage", "0.1", "--stop-voltage", "8", "--status-interval", "100000"]


def substrate(n: int) -> str:
    pixels = ",\n".join(f'{{name = "P{i}", area_cm2 = 0.04, channel = "1!{i + 1}"}}' for i in range(n))
    return f'[substrate]\nname = "S1"\nbatch = "B"\npixels = [\n{pixels}\n]\n[switch]\nkind = "keithley7001"\n'


def quiet(args: list[str]) -> int:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli_main(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=8)
    n = parser.parse_args().pixels
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        config = tmp / "substrate.toml"
        config.write_text(substrate(n))
        quiet(["run", "jvl", "--out", str(tmp / "warm.h5"), *SWEEP])  # imports and CIE tables, once

        t0 = time.perf_counter()
        assert quiet(["run", "jvl", "--config", str(config), "--out", str(tmp / "px-{pixel}.h5"), *SWEEP]) == 0
        pixels_s = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for i in range(n):
            assert quiet(["run", "jvl", "--out", str(tmp / f"single-{i}.h5"), *SWEEP]) == 0
        single_s = (time.perf_counter() - t0) / n
        print(f"{n} pixels through the switch: {1e3 * pixels_s:.0f} ms wall per device; {n} single runs: "
              f"{1e3 * single_s:.0f} ms per device; ratio {pixels_s / single_s:.3f}")

        cfg = config_from_text(substrate(n), str(config))
        with open_station(cfg.for_pixel(cfg.substrate.pixels[0])) as station:
            clock0, wall0 = station.clock.now(), time.perf_counter()
            switches = 200
            for k in range(switches):
                station.select_pixel(cfg.substrate.pixels[k % n])
            per_clock = (station.clock.now() - clock0) / switches
            per_wall = (time.perf_counter() - wall0) / switches
        print(f"selecting a pixel (read back included): {1e3 * per_clock:.1f} ms instrument time (bench clock, "
              f"settle {1e3 * cfg.switch.settle_s:.0f} ms), {1e3 * per_wall:.2f} ms wall")

        files = sorted(tmp.glob("px-*.h5")) + sorted(tmp.glob("single-*.h5"))
        t0 = time.perf_counter()
        batch_statistics(batch_devices(files))
        recomputed = (time.perf_counter() - t0) / len(files)
        t0 = time.perf_counter()
        for f in files:
            assert read_run(f).analysis is not None
        stored = (time.perf_counter() - t0) / len(files)
        print(f"batch statistics over {len(files)} files: {1e3 * recomputed:.1f} ms per file (figures recomputed "
              f"from the stored columns); reading the stored figures alone {1e3 * stored:.1f} ms per file")


if __name__ == "__main__":
    main()
