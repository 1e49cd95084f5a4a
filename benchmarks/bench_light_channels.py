"""How much faster a photodiode point is than a spectrometer or radiometer point.

Run: python benchmarks/bench_light_channels.py [--points 300]

One station per light meter, all on the simulated bench with instrument latency on (the
time each instrument takes is spent on the bench's virtual clock), the red QD preset at a
constant 20 mA/cm^2, and the same routine every procedure uses for a point
(``measure_operating_point``: 2400 reading, light reading, 2400 reading, figures):

* sphere: the generic spectrometer with auto integration and darks;
* radiometer: PR-655 (and PR-650);
* photodiode: a Keithley 6485 at 1 NPLC, calibrated against the sphere first;
* sphere + photodiode: both channels at every point.

Reported: the light reading's instrument time alone and the whole point's (bench clock:
what they cost on real hardware), the wall time per point (the station's own processing
on this machine), and the ratios against the sphere ("x": times faster).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.operating_point import measure_operating_point  # noqa: E402
from station.cli import main as cli_main  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402

J_MA_CM2 = 20.0


def per_point(config, points: int) -> tuple[float, float, float]:
    """(instrument s per point, wall s per point, instrument s per light reading alone)."""
    with open_station(config) as station:
        station.prepare_light()
        smu = station.smu
        smu.configure_current_source(config.max_voltage_V, config.smu.nplc)
        smu.enable_source()
        smu.source_current = J_MA_CM2 * 1e-3 * config.pixel_area_cm2
        measure_operating_point(station, 0.0)  # first point: auto integration settles
        clock0, wall0 = station.clock.now(), time.perf_counter()
        for _ in range(points):
            measure_operating_point(station, 0.0)
        point_s, wall_s = (station.clock.now() - clock0) / points, (time.perf_counter() - wall0) / points
        clock0 = station.clock.now()
        for _ in range(points):
            station.measure_light()
            if station.photodiode is not None:
                station.photodiode.measure()
        return point_s, wall_s, (station.clock.now() - clock0) / points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        toml = Path(folder) / "station.toml"
        toml.write_text('[simulation]\npreset = "red-cspbbri-qd"\n[photodiode]\ncalibration_file = "pd.json"\n')
        assert cli_main(["calibrate-photodiode", "--config", str(toml), "--current-density", str(J_MA_CM2),
                         "--out", str(Path(folder) / "pd.json")]) == 0
        base = load_config(toml)
        cases = {
            "sphere (generic spectrometer)": base,
            "radiometer PR-655": dataclasses.replace(base, geometry="radiometer"),
            "radiometer PR-650": dataclasses.replace(base, geometry="radiometer",
                                                     radiometer=dataclasses.replace(base.radiometer, model="PR-650")),
            "photodiode (Keithley 6485, 1 NPLC)": dataclasses.replace(base, geometry="photodiode"),
            "sphere + photodiode beside it": dataclasses.replace(base, second_channel="photodiode"),
        }
        results = {name: per_point(config, args.points) for name, config in cases.items()}
    sphere_instrument, sphere_wall, sphere_light = results["sphere (generic spectrometer)"]
    print(f"{args.points} points each, red QD preset at {J_MA_CM2:g} mA/cm^2, simulated bench (latency on); "
          "a point = 2400 reading, light reading, 2400 reading (2400 at 1 NPLC)")
    print(f"{'light meter':38s} {'light ms':>9s} {'point ms':>9s} {'wall ms':>8s} {'light x':>8s} {'point x':>8s} "
          f"{'wall x':>7s}")
    for name, (instrument, wall, light) in results.items():
        print(f"{name:38s} {light * 1e3:9.1f} {instrument * 1e3:9.1f} {wall * 1e3:8.2f} {sphere_light / light:7.1f}x "
              f"{sphere_instrument / instrument:7.1f}x {sphere_wall / wall:6.1f}x")


if __name__ == "__main__":
    main()
