"""``ledstation calibrate-sphere``, ``presets`` and ``config``."""

from __future__ import annotations

import argparse

from station.core.errors import ConfigError
from station.core.signals import INTERRUPTS

from . import EXIT_OK


def calibrate_sphere_command(args: argparse.Namespace) -> int:
    from drivers.calibration import LampCertificate
    from station.setup.address_claims import AddressClaims
    from station.setup.config import SIMULATED, load_config

    from .output import check_files, check_output

    config = load_config(args.config, check_calibration=False)
    if not 1 <= args.scans <= 10_000:
        raise ConfigError("--scans must be within 1-10000")
    check_output(args.out, args.overwrite, "--out")
    s = config.spectrometer
    simulated = s.address == SIMULATED
    certificate_path = args.lamp_certificate
    if certificate_path is None and simulated:
        from sim_instruments.calibration_lamp import CERTIFICATE_PATH

        certificate_path = CERTIFICATE_PATH
    if certificate_path is None:
        raise ConfigError("--lamp-certificate is required for a real spectrometer")
    # the configured calibration file is not read here: recalibrating may write over it
    check_files([("--out", args.out)], [("--lamp-certificate", certificate_path),
                                        *[f for f in config.files_read() if f[0] == "--config"]])
    certificate = LampCertificate.load(certificate_path)
    with AddressClaims([("spectrometer", s.address)]).acquire():
        return _calibrate_sphere(args, config, certificate, simulated)


def _calibrate_sphere(args: argparse.Namespace, config, certificate, simulated: bool) -> int:
    from station.setup.light_meters import sphere_device, sphere_spectrometer
    from station.setup.sphere_calibration import calibrate_sphere

    s = config.spectrometer
    bench = None
    if simulated:
        from sim_instruments.bench import SimulatedBench

        bench = SimulatedBench.from_settings(config.simulation_settings(), spectrometer_model=s.model)
        lamp_off, lamp_on = (lambda: bench.mount("dark")), (lambda: bench.mount("lamp"))
    else:
        def prompt(text: str):
            def ask() -> None:
                if not args.yes:
                    with INTERRUPTS.raising():  # Ctrl-C at a prompt ends the command at once
                        input(text + " — press Enter ")
            return ask

        lamp_off = prompt("Cap the sphere port (lamp off) for dark spectra")
        lamp_on = prompt("Mount the calibration lamp on the sphere port and let it warm up")
    spectrometer = sphere_spectrometer(config, sphere_device(config, bench), None)
    calibration = calibrate_sphere(spectrometer, certificate, lamp_off=lamp_off, lamp_on=lamp_on, scans=args.scans)
    sha = calibration.save(args.out)
    print(f"wrote {args.out}: {calibration.wavelength_nm[0]:.1f}-{calibration.wavelength_nm[-1]:.1f} nm, "
          f"{len(calibration.wavelength_nm)} points, integration {calibration.metadata['integration_time_s']} s, "
          f"sha256 {sha[:12]}")
    return EXIT_OK


def presets_command(args: argparse.Namespace) -> int:
    from sim_instruments.presets import DARK_PRESETS, PRESETS, PUBLISHED

    for name, parameters in PRESETS.items():
        figures = ", ".join(f"{k} {v:g}" for k, v in PUBLISHED[name].items())
        print(f"{name}\n    {parameters.description}\n    fitted to: {figures}")
    for name, dark in DARK_PRESETS.items():
        if dark.kind == "lateral-film":
            truth = (f"sigma {dark.conductivity_S_cm:g} S/cm, T {dark.film_thickness_nm:g} nm, "
                     f"L {dark.channel_length_um:g} um, W {dark.channel_width_mm:g} mm")
        else:
            truth = (f"d {dark.thickness_nm:g} nm, eps_r {dark.relative_permittivity:g}, mu {dark.mobility_cm2_Vs:g} "
                     f"cm^2/(V s), N_t {dark.trap_density_cm3:g} cm^-3 (V_TFL {dark.trap_filled_limit_V:.3g} V)")
        print(f"{name}\n    {dark.description} (dark)\n    truth: {truth}")
    return EXIT_OK


def config_command(args: argparse.Namespace) -> int:
    from station.setup.config import DEFAULT_CONFIG_TEXT, load_config

    if args.check is not None:
        config = load_config(args.check)
        print(f"{args.check}: OK ({config.geometry} geometry, {config.instruments_text()}, "
              f"file durability every {config.durability_interval_s:g} s)")
        return EXIT_OK
    print(DEFAULT_CONFIG_TEXT, end="")
    return EXIT_OK
