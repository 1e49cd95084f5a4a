"""The README's table of reference devices: each published figure of MEASUREMENTS.md
section 5 beside what the station measures on its simulated preset.

Run: python benchmarks/reference_devices_table.py  (prints Markdown; about a minute)

Every figure comes from a real run on the simulated bench (J-V-L and EQE sweeps, lifetime
and cycling runs, virtual clock) analysed by the station's own figures of merit.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.cycling import Cycling  # noqa: E402
from procedures.eqe_sweep import EQESweep  # noqa: E402
from procedures.jvl_sweep import JVLSweep  # noqa: E402
from procedures.lifetime import Lifetime  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from sim_instruments.presets import PUBLISHED  # noqa: E402
from station.session import run_to_file  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402


def measured(procedure, preset: str, directory: Path) -> dict:
    config = load_config()
    procedure.validate(config)
    with open_station(config, bench=SimulatedBench(preset)) as station:
        return run_to_file(procedure, station, directory / f"{preset}-{procedure.NAME}.h5").analysis


def fmt(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def main() -> None:
    rows = ["| device (preset) | figure | published | station on the preset |", "| --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as work:
        d = Path(work)
        for preset in ("deep-red-cspbi3-fret", "deep-red-cspbi3-pin", "alpha-cspbi3-control", "red-cspbbri-qd"):
            p = PUBLISHED[preset]
            jvl = measured(JVLSweep(stop_voltage=8.0, step_voltage=0.05), preset, d)["figures"]
            eqe = measured(EQESweep(start_current_density=0.01, stop_current_density=2000.0, points_per_decade=10,
                                    compliance_voltage=10.0, breakdown_drop=1.0), preset, d)["figures"]
            turn_on = fmt(jvl.get("turn_on_voltage_V"))
            rows.append(f"| {preset} | turn-on (1 cd/m^2), V | {p['turn_on_V']} | {turn_on} |")
            rows.append(f"| | maximum luminance, cd/m^2 | {p['max_luminance_cd_m2']:g} | "
                        f"{fmt(jvl.get('max_luminance_cd_m2'), 4)} |")
            if "voltage_at_max_luminance_V" in p:
                rows.append(f"| | voltage at maximum luminance, V | {p['voltage_at_max_luminance_V']} | "
                            f"{fmt(jvl.get('voltage_at_max_luminance_V'))} |")
            peak = fmt(100 * eqe.get("peak_eqe", float("nan")))
            rows.append(f"| | peak EQE, % | {100 * p['peak_eqe']:.3g} | {peak} |")
            if "T50_h_at_3.5_V" in p:
                definition = "maximum" if preset == "deep-red-cspbi3-pin" else "initial"
                interval = 300.0 if preset == "deep-red-cspbi3-pin" else 1.0
                life = measured(Lifetime(drive_mode="voltage", voltage=3.5, monitor_interval=interval,
                                         settle_time=0.0, stop_at_percent=50, l0_definition=definition,
                                         spectrum_interval=1e5), preset, d)
                t50 = life.get("T50_h")
                scale, unit = (3600, "s") if p["T50_h_at_3.5_V"] < 0.1 else (1, "h")
                rows.append(f"| | T50 at a constant 3.5 V ({definition} L0), {unit} | "
                            f"{p['T50_h_at_3.5_V'] * scale:.3g} | {fmt(t50 * scale if t50 else None)} |")
            if "T90_h_at_5_mA_cm2" in p:
                for name in (preset, f"{preset}-control"):
                    life = measured(Lifetime(drive_mode="current", current_density=5.0, monitor_interval=
                                             60.0 if name == preset else 10.0, stop_at_percent=90,
                                             spectrum_interval=1e5), name, d)
                    published_min = 60 * PUBLISHED[name]["T90_h_at_5_mA_cm2"]
                    rows.append(f"| {'' if name == preset else name} | T90 at 5 mA/cm^2, min (L0 "
                                f"{fmt(life.get('L0'), 4)} cd/m^2) | {published_min:.3g} | "
                                f"{fmt(60 * life['T90_h'] if life.get('T90_h') else None)} |")
        c = PUBLISHED["deep-red-cspbi3-fret-cycling"]
        cycling = measured(Cycling(cycles=650, voltage=c["voltage_V"], on_time=10.0, off_time=10.0),
                           "deep-red-cspbi3-fret", d)
        rows.append(f"| deep-red-cspbi3-fret | 650 on/off cycles at {c['voltage_V']} V: first cycle, cd/m^2 | "
                    f"~{c['first_cycle_cd_m2']:g} | {fmt(cycling.get('first_cycle_luminance_cd_m2'))} |")
        rows.append(f"| | ... light at the maximum (cycle {cycling.get('cycle_of_max')}), cd/m^2 | "
                    f"~{c['cycle_200_cd_m2']:g} (by cycle 200) | "
                    f"{fmt(cycling['max_relative_light'] * cycling['first_cycle_luminance_cd_m2'])} |")
        decline = "none" if cycling.get("decline_cycle") is None else f"at cycle {cycling['decline_cycle']}"
        rows.append(f"| | ... decline | none | {decline} (last quarter "
                    f"{cycling.get('trend_per_100_cycles', 0):+.2%} per 100 cycles) |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
