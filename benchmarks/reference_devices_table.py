"""The README's table of reference devices: each published figure of MEASUREMENTS.md
section 5 beside what the station measures on its simulated preset.

Run: python benchmarks/reference_devices_table.py  (prints Markdown; a few minutes)

Every figure comes from a real run on the simulated bench (J-V-L and EQE sweeps, lifetime
and cycling runs, a 20-pixel substrate through the switch, dark J-V of the single-carrier
devices and the lateral film; virtual clock) analysed by the station's own figures of merit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from procedures.cycling import Cycling  # noqa: E402
from procedures.dark_jv import DarkJV  # noqa: E402
from procedures.eqe_sweep import EQESweep  # noqa: E402
from procedures.jvl_sweep import JVLSweep  # noqa: E402
from procedures.lifetime import Lifetime  # noqa: E402
from sim_instruments.bench import SimulatedBench  # noqa: E402
from sim_instruments.presets import DARK_PRESETS, PUBLISHED, SINGLE_CARRIER_AREA_CM2  # noqa: E402
from station.analysis.batch import batch_statistics  # noqa: E402
from station.cli import main as cli_main  # noqa: E402
from station.session import batch_device, run_to_file  # noqa: E402
from station.setup.config import load_config  # noqa: E402
from station.setup.station import open_station  # noqa: E402


def measured(procedure, preset: str, directory: Path, area_cm2: float | None = None) -> dict:
    config = load_config()
    if area_cm2 is not None:
        config = dataclasses.replace(config, pixel_area_cm2=area_cm2)
    if not procedure.USES_LIGHT:
        config = config.without_light()
    procedure.validate(config)
    with open_station(config, bench=SimulatedBench(preset, pixel_area_cm2=config.pixel_area_cm2)) as station:
        return run_to_file(procedure, station, directory / f"{preset}-{procedure.NAME}.h5").analysis


def fret_batch(directory: Path) -> tuple[float, float]:
    """(mean, champion) peak EQE of a 20-pixel substrate of the FRET preset, each pixel an EQE
    sweep through the simulated Keithley 7001, statistics by ``ledstation batch``'s rules."""
    pixels = ", ".join(f'{{name = "P{i}", area_cm2 = 0.04, channel = "1!{i}"}}' for i in range(1, 21))
    config = directory / "batch.toml"
    config.write_text(f'[substrate]\nname = "S1"\nbatch = "B1"\npixels = [{pixels}]\n'
                      '[switch]\nkind = "keithley7001"\naddress = "sim"\n'
                      '[simulation]\npreset = "deep-red-cspbi3-fret"\n')
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli_main(["run", "eqe", "--config", str(config), "--pixels", "all", "--yes", "--out",
                  str(directory / "{pixel}.h5"), "--points-per-decade", "10", "--status-interval", "1000"])
    devices = [batch_device(directory / f"P{i}.h5") for i in range(1, 21)]
    (stats,) = batch_statistics(devices)
    peak = stats.figures["peak_eqe"]
    return peak.mean_all, peak.maximum


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
            if "voltage_at_1000_cd_m2_V" in p:
                rows.append(f"| | 1000 cd/m^2 at, V | {p['voltage_at_1000_cd_m2_V']} | "
                            f"{fmt(jvl.get('voltage_at_1000_cd_m2_V'))} |")
            if "voltage_at_5000_cd_m2_V" in p:  # from the stored J-V-L, as the station interpolates 1000
                rows.append(f"| | 5000 cd/m^2 at, V | {p['voltage_at_5000_cd_m2_V']} | "
                            f"{fmt(_voltage_at(d / f'{preset}-jvl.h5', 5000.0))} |")
            rows.append(f"| | maximum luminance, cd/m^2 | {p['max_luminance_cd_m2']:g} | "
                        f"{fmt(jvl.get('max_luminance_cd_m2'), 4)} |")
            if "voltage_at_max_luminance_V" in p:
                rows.append(f"| | voltage at maximum luminance, V | {p['voltage_at_max_luminance_V']} | "
                            f"{fmt(jvl.get('voltage_at_max_luminance_V'))} |")
            peak = fmt(100 * eqe.get("peak_eqe", float("nan")))
            sigma = fmt(100 * eqe.get("peak_eqe_uncertainty", float("nan")), 2)
            rows.append(f"| | peak EQE, % | {100 * p['peak_eqe']:.3g} | {peak} ± {sigma} |")
            if "luminance_at_peak_eqe_cd_m2" in p:
                rows.append(f"| | ... at, cd/m^2 | ~{p['luminance_at_peak_eqe_cd_m2']:g} | "
                            f"{fmt(eqe.get('luminance_at_peak_eqe_cd_m2'))} ± "
                            f"{fmt(eqe.get('luminance_at_peak_eqe_uncertainty_cd_m2'), 2)} |")
            if "eqe_at_1000_cd_m2" in p:
                rows.append(f"| | EQE at 1000 cd/m^2, % | ~{100 * p['eqe_at_1000_cd_m2']:.3g} | "
                            f"{fmt(100 * eqe.get('eqe_at_1000_cd_m2', float('nan')))} |")
            if preset == "deep-red-cspbi3-fret":
                mean, champion = fret_batch(d)
                rows.append(f"| | 20-device batch: mean / best peak EQE, % | 23.5 / 25.3 | "
                            f"{fmt(100 * mean)} / {fmt(100 * champion)} |")
                ce = eqe["luminance_at_peak_eqe_cd_m2"] / eqe["current_density_at_peak_eqe_mA_cm2"] / 10
                rows.append(f"| | current efficiency at peak EQE, cd/A | 2.1 | {fmt(ce)} |")
            if "T50_h_at_3.5_V" in p:
                definition = "initial"
                interval = 300.0 if preset == "deep-red-cspbi3-pin" else 1.0
                life = measured(Lifetime(drive_mode="voltage", voltage=3.5, monitor_interval=interval,
                                         settle_time=0.0, stop_at_percent=50, l0_definition=definition,
                                         spectrum_interval=1e5), preset, d)
                t50 = life.get("T50_h")
                scale, unit = (3600, "s") if p["T50_h_at_3.5_V"] < 0.1 else (1, "h")
                rows.append(f"| | T50 at a constant 3.5 V ({definition} L0), {unit} | "
                            f"{p['T50_h_at_3.5_V'] * scale:.3g} | {fmt(t50 * scale if t50 else None)} |")
            if "T90_h_at_5_mA_cm2" in p:
                control = f"{preset}-control"
                c_jvl = measured(JVLSweep(stop_voltage=8.0, step_voltage=0.05), control, d)["figures"]
                c_eqe = measured(EQESweep(start_current_density=0.01, stop_current_density=2000.0,
                                          points_per_decade=10, compliance_voltage=10.0, breakdown_drop=1.0),
                                 control, d)["figures"]
                rows.append(f"| {control} | peak EQE, % | ~{100 * PUBLISHED[control]['peak_eqe']:.3g} | "
                            f"{fmt(100 * c_eqe['peak_eqe'])} |")
                rows.append(f"| | maximum luminance, cd/m^2 | ~{PUBLISHED[control]['max_luminance_cd_m2']:g} | "
                            f"{fmt(c_jvl.get('max_luminance_cd_m2'), 4)} |")
                for name in (preset, control):
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
        rows += dark_rows(d)
    print("\n".join(rows))


def _voltage_at(path: Path, luminance_cd_m2: float) -> float:
    from station.analysis.sweep import value_at
    from station.data.reader import read_run

    c = read_run(path).read_columns(["voltage_V", "luminance_cd_m2"])
    return value_at(c["voltage_V"], c["luminance_cd_m2"], luminance_cd_m2)


def dark_rows(d: Path) -> list[str]:
    """N_t and mu of the single-carrier presets, sigma of the lateral film, by dark J-V."""
    rows = []
    for name, device in DARK_PRESETS.items():
        if device.kind == "single-carrier":
            procedure = DarkJV(stop_voltage=4.0, points=300, carrier=device.carrier, thickness=device.thickness_nm,
                               relative_permittivity=device.relative_permittivity)
            f = measured(procedure, name, d, SINGLE_CARRIER_AREA_CM2)["figures"]
            mu_published = "assumed" if name.endswith("alpha") else f"{device.mobility_cm2_Vs:g}"
            rows.append(f"| {name} | N_t, cm^-3 | {device.trap_density_cm3:.3g} | {fmt(f.get('trap_density_cm3'))} |")
            rows.append(f"| | mobility, cm^2/(V s) | {mu_published} | {fmt(f.get('mobility_cm2_Vs'))} ± "
                        f"{fmt(f.get('mobility_uncertainty_cm2_Vs'), 2)} |")
        else:
            procedure = DarkJV(structure="lateral", spacing="linear", start_voltage=-10.0, stop_voltage=10.0,
                               points=201, nplc=1.0, thickness=device.film_thickness_nm,
                               channel_length=device.channel_length_um, channel_width=device.channel_width_mm)
            f = measured(procedure, name, d)["figures"]
            rows.append(f"| {name} | conductivity, S/cm | {device.conductivity_S_cm:g} | "
                        f"{fmt(f.get('conductivity_S_cm'))} ± {fmt(f.get('conductivity_uncertainty_S_cm'), 2)} |")
    return rows


if __name__ == "__main__":
    main()
