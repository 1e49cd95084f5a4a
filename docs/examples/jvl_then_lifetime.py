"""J-V-L on three pixels of a substrate, then a lifetime run on the best one.

Run from the repository root (it writes its files into the current folder):

    python docs/examples/jvl_then_lifetime.py

On the simulated 8-pixel substrate of ``docs/substrate-example.toml``; for real instruments
give your station's configuration instead. The tests run this script as it is.
"""

from pathlib import Path

import station

HERE = Path(__file__).resolve().parent
config = station.load_config(HERE.parent / "substrate-example.toml")

# 1. J-V-L sweeps of pixels A, B and C, one file each (every run checked before any starts)
sweeps = station.run_pixels("jvl", ["A", "B", "C"], "example-jvl-{pixel}.h5", config=config,
                            stop_voltage=6.0, step_voltage=0.1, overwrite=True)
for sweep in sweeps:
    print(f"pixel {sweep.pixel}: {sweep.status}, peak EQE {100 * sweep.figures['peak_eqe']:.2f} %, "
          f"max luminance {sweep.figures['max_luminance_cd_m2']:.0f} cd/m^2 -> {sweep.path}")

# 2. the best pixel by peak EQE, among the finished sweeps
finished = [s for s in sweeps if s.status == "finished"]
best = max(finished, key=lambda s: s.figures["peak_eqe"])
print(f"best pixel: {best.pixel}")

# 3. its lifetime at 300 mA/cm^2 (accelerated), to T90 (on the simulated bench: seconds of wall time)
life = station.run_procedure("lifetime", "example-lifetime.h5", config=config, pixel=best.pixel, overwrite=True,
                             current_density=300.0, stop_at_percent=90, monitor_interval=60.0, spectrum_interval=1800.0)
print(f"lifetime of pixel {life.pixel}: {life.status} ({life.reason}); T90 = {life.figures['T90_h']:.3g} h, "
      f"L0 = {life.figures['L0']:.4g} {life.units.get('L0', '')}")
