"""``ledstation`` command line.

Exit codes: 0 done, 1 failed, 2 bad input, 130 Ctrl-C, 143 SIGTERM. Errors print as
one line on stderr, never a traceback; the source output is off on every exit path.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_runs import (
    add_run_parsers,
    analyze_command,
    export_command,
    plot_command,
    recover_command,
    run_command,
)
from .errors import StationError
from .signals import Terminated, sigterm_raises

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"ledstation: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ledstation", description="LED test station (simulated bench by default).")
    parser.add_argument("-v", "--verbose", action="store_true", help="log instrument activity")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    measure = sub.add_parser("measure", help="measure the device once and print V, I, luminance, EQE")
    measure.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    drive = measure.add_mutually_exclusive_group()
    drive.add_argument("--voltage", type=float, help="source this voltage, V (default 4 V)")
    drive.add_argument("--current-density", type=float, help="source this current density, mA/cm^2")
    measure.add_argument("--compliance-current", type=float, help="current compliance, A (default: safety limit)")
    measure.add_argument("--compliance-voltage", type=float, help="voltage compliance, V (default: safety limit)")
    measure.add_argument("--settle-s", type=float, default=0.5, help="wait after applying the drive, s")
    measure.add_argument("--json", action="store_true", help="print the figures as JSON")

    calibrate = sub.add_parser("calibrate-sphere", help="build a responsivity file from a calibration lamp")
    calibrate.add_argument("--config", type=Path, help="station configuration TOML (default: simulated bench)")
    calibrate.add_argument("--lamp-certificate", type=Path,
                           help="lamp spectral flux CSV (wavelength_nm,spectral_flux_W_nm); "
                                "default on the simulated bench: its lamp's certificate")
    calibrate.add_argument("--out", type=Path, required=True, help="responsivity file to write")
    calibrate.add_argument("--scans", type=int, default=20, help="lamp spectra averaged")
    calibrate.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    calibrate.add_argument("--yes", action="store_true", help="do not prompt to mount or switch the lamp")

    add_run_parsers(sub)

    analyze = sub.add_parser("analyze", help="figures of merit of a run file")
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--json", action="store_true", help="print as JSON")

    export = sub.add_parser("export", help="write a run's scalar columns as CSV")
    export.add_argument("file", type=Path)
    export.add_argument("--csv", action="store_true", required=True, help="CSV output (the only format)")
    export.add_argument("-o", "--out", type=Path, help="CSV file (default: the run file with .csv)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing CSV file")

    plot = sub.add_parser("plot", help="standard figure set of a sweep file")
    plot.add_argument("file", type=Path)
    plot.add_argument("-o", "--out", type=Path, required=True, help="figure file (.png, .pdf, .svg)")

    recover = sub.add_parser("recover", help="complete copy of a run file left by a crash (kill -9, power cut)")
    recover.add_argument("file", type=Path)
    recover.add_argument("-o", "--out", type=Path, required=True, help="new run file")
    recover.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    sub.add_parser("presets", help="list the simulated device presets")
    config = sub.add_parser("config", help="print the default (simulated bench) configuration")
    config.add_argument("--check", type=Path, help="validate this configuration file instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    commands = {"measure": _measure, "calibrate-sphere": _calibrate_sphere, "presets": _presets,
                "config": _config, "run": run_command, "analyze": analyze_command, "export": export_command,
                "plot": plot_command, "recover": recover_command}
    try:
        with sigterm_raises():
            return commands[args.command](args)
    except StationError as exc:
        sys.stderr.write(f"ledstation: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("ledstation: interrupted; output off\n")
        return EXIT_INTERRUPTED
    except Terminated:
        sys.stderr.write("ledstation: terminated; output off\n")
        return EXIT_TERMINATED
    except Exception as exc:  # noqa: BLE001 - one line for the user; -v shows the traceback
        if args.verbose:
            logging.exception("unexpected failure")
        detail = str(exc).strip().splitlines()
        sys.stderr.write(f"ledstation: failed: {type(exc).__name__}: {detail[-1] if detail else ''} "
                         "(output off; -v for details)\n")
        return EXIT_FAILED


def _measure(args: argparse.Namespace) -> int:
    from .config import load_config
    from .device_figures import device_figures
    from .errors import ConfigError
    from .instruments import open_station

    config = load_config(args.config)
    voltage = 4.0 if args.voltage is None and args.current_density is None else args.voltage
    for name, value in (("--voltage", voltage), ("--current-density", args.current_density),
                        ("--compliance-current", args.compliance_current),
                        ("--compliance-voltage", args.compliance_voltage), ("--settle-s", args.settle_s)):
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number")
    if args.settle_s < 0:
        raise ConfigError("--settle-s must not be negative")
    compliance_current = args.compliance_current if args.compliance_current is not None else config.max_current_A
    compliance_voltage = args.compliance_voltage if args.compliance_voltage is not None else config.max_voltage_V
    if not 0 < compliance_current <= config.max_current_A:
        raise ConfigError(f"--compliance-current {compliance_current:g} A must be within "
                          f"(0, {config.max_current_A:g}] A ([safety] max_current_A)")
    if not 0 < compliance_voltage <= config.max_voltage_V:
        raise ConfigError(f"--compliance-voltage {compliance_voltage:g} V must be within "
                          f"(0, {config.max_voltage_V:g}] V ([safety] max_voltage_V)")
    if voltage is not None and abs(voltage) > config.max_voltage_V:
        raise ConfigError(f"--voltage {voltage:g} V exceeds [safety] max_voltage_V = {config.max_voltage_V:g} V")
    current_A = None
    if args.current_density is not None:
        if args.current_density <= 0:
            raise ConfigError("--current-density must be positive")
        current_A = args.current_density * 1e-3 * config.pixel_area_cm2
        if current_A > config.max_current_A:
            raise ConfigError(f"--current-density {args.current_density:g} mA/cm^2 is {current_A:g} A on a "
                              f"{config.pixel_area_cm2:g} cm^2 pixel, above [safety] max_current_A")

    with open_station(config) as station:
        station.prepare_light()
        smu = station.smu
        if current_A is None:
            smu.configure_voltage_source(compliance_current, config.smu.nplc)
            smu.enable_source()
            smu.source_voltage = voltage
        else:
            smu.configure_current_source(compliance_voltage, config.smu.nplc)
            smu.enable_source()
            smu.source_current = current_A
        station.clock.sleep(args.settle_s)
        reading = smu.read_point()
        spectrum = station.measure_light()
        after = smu.read_point()
        truth = station.bench.led.solve()[0] if station.bench is not None else None
        current = 0.5 * (reading.current_A + after.current_A)  # the current while the light was measured
        figures = device_figures(spectrum, reading.voltage_V, current, config.pixel_area_cm2)
        identities = station.identities()
    _print_measurement(args, config, identities, figures, spectrum, reading.in_compliance, truth)
    return EXIT_OK


def _print_measurement(args, config, identities, figures, spectrum, in_compliance, truth) -> None:
    if args.json:
        print(json.dumps({"figures": figures.as_dict(), "in_compliance": in_compliance,
                          "saturated": spectrum.saturated, "low_light": spectrum.low_light,
                          "instruments": identities, "geometry": config.geometry}, indent=2))
        return
    f = figures
    sim = f" (simulated: {identities['simulated_device']})" if "simulated_device" in identities else ""
    print(f"ledstation measure — {config.geometry} geometry{sim}, pixel {config.pixel_area_cm2:g} cm^2")
    print(f"  V   = {f.voltage_V:10.4f} V")
    print(f"  I   = {f.current_A * 1e3:10.4f} mA      J   = {f.current_density_mA_cm2:10.3f} mA/cm^2"
          + ("   [IN COMPLIANCE]" if in_compliance else ""))
    if not spectrum.usable:
        problem = ("saturated" if spectrum.saturated else "too little light" if spectrum.low_light
                   else "the emission runs off the instrument's wavelength range")
        print(f"  light: {problem} — no optical figures")
        return
    if spectrum.low_light:
        print("  light: dim spectrum near the noise floor — figures are noisy")
    print(f"  L   = {f.luminance_cd_m2:10.4g} cd/m^2  L_e = {f.radiance_W_sr_m2:10.4g} W/(sr m^2)")
    print(f"  EQE = {f.eqe * 100:10.3f} %       CE  = {f.current_efficiency_cd_A:10.4g} cd/A"
          f"   PE = {f.power_efficiency_lm_W:.4g} lm/W")
    print(f"  peak {f.peak_wavelength_nm:.1f} nm, FWHM {f.fwhm_nm:.1f} nm, CIE (x, y) = ({f.cie_x:.4f}, {f.cie_y:.4f})")
    if truth is not None:
        print(f"  model truth: L = {truth.luminance_cd_m2:.4g} cd/m^2, EQE = {truth.eqe * 100:.3f} %")


def _calibrate_sphere(args: argparse.Namespace) -> int:
    from drivers.calibration import LampCertificate
    from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer, open_seabreeze
    from sim_instruments.bench import SimulatedBench
    from sim_instruments.calibration_lamp import CERTIFICATE_PATH

    from .config import SIMULATED, load_config
    from .errors import ConfigError
    from .sphere_calibration import calibrate_sphere

    config = load_config(args.config)
    if args.scans < 1:
        raise ConfigError("--scans must be at least 1")
    if args.out.exists() and not args.overwrite:
        raise ConfigError(f"{args.out} exists; pass --overwrite to replace it")
    s = config.spectrometer
    simulated = s.address == SIMULATED
    certificate_path = args.lamp_certificate or (CERTIFICATE_PATH if simulated else None)
    if certificate_path is None:
        raise ConfigError("--lamp-certificate is required for a real spectrometer")
    certificate = LampCertificate.load(certificate_path)
    settings = IntegrationSettings(s.min_integration_s, s.max_integration_s, s.low_fraction, s.high_fraction,
                                   s.dark_scans)
    if simulated:
        bench = SimulatedBench(config.simulation.preset, seed=config.simulation.seed)
        device = bench.spectrometer
        lamp_off, lamp_on = (lambda: bench.mount("dark")), (lambda: bench.mount("lamp"))
    else:
        device = open_seabreeze(s.address)

        def prompt(text: str):
            return lambda: None if args.yes else input(text + " — press Enter ")

        lamp_off = prompt("Cap the sphere port (lamp off) for dark spectra")
        lamp_on = prompt("Mount the calibration lamp on the sphere port and let it warm up")
    spectrometer = SphereSpectrometer(device, None, settings, window_nm=s.wavelength_range_nm)
    calibration = calibrate_sphere(spectrometer, certificate, lamp_off=lamp_off, lamp_on=lamp_on, scans=args.scans)
    sha = calibration.save(args.out)
    print(f"wrote {args.out}: {calibration.wavelength_nm[0]:.1f}-{calibration.wavelength_nm[-1]:.1f} nm, "
          f"{len(calibration.wavelength_nm)} points, integration {calibration.metadata['integration_time_s']} s, "
          f"sha256 {sha[:12]}")
    return EXIT_OK


def _presets(args: argparse.Namespace) -> int:
    from sim_instruments.presets import PRESETS, PUBLISHED

    for name, parameters in PRESETS.items():
        figures = ", ".join(f"{k} {v:g}" for k, v in PUBLISHED[name].items())
        print(f"{name}\n    {parameters.description}\n    fitted to: {figures}")
    return EXIT_OK


def _config(args: argparse.Namespace) -> int:
    from .config import DEFAULT_CONFIG_TEXT, load_config

    if args.check is not None:
        config = load_config(args.check)
        print(f"{args.check}: OK ({config.geometry} geometry, "
              f"{'simulated' if config.uses_simulation else 'hardware'} instruments)")
        return EXIT_OK
    print(DEFAULT_CONFIG_TEXT, end="")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
