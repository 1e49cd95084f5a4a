"""``ledstation calibrate-photodiode``: the photodiode's geometry factor and spectral weighting on this device."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

from station.core.durations import MAX_SETTLE_S, check_duration_s
from station.core.errors import ConfigError

from . import EXIT_OK


def calibrate_photodiode_command(args: argparse.Namespace) -> int:
    from drivers.photodiode import PhotodiodeResponsivity, dark_current
    from station.core import cie
    from station.setup.address_claims import AddressClaims
    from station.setup.config import load_config
    from station.setup.light_meters import open_photodiode_meter
    from station.setup.photodiode_calibration import calibrate_photodiode

    from .output import check_files, check_output, opened_station

    config = load_config(args.config, photodiode_calibration=False)
    if config.geometry == "photodiode":
        raise ConfigError('calibrate-photodiode calibrates against the spectrometer or radiometer: set [light] '
                          'geometry = "sphere" or "radiometer"')
    drives = sorted(set(args.current_density))
    for drive in drives:
        if not (math.isfinite(drive) and drive > 0):
            raise ConfigError("--current-density must be positive numbers of mA/cm^2")
        current_A = drive * 1e-3 * config.pixel_area_cm2
        if current_A > config.max_current_A:
            raise ConfigError(f"--current-density {drive:g} mA/cm^2 is {current_A:g} A, above [safety] max_current_A")
    if len(drives) > 50:
        raise ConfigError("--current-density: at most 50 drives")
    if not 2 <= args.readings <= 1000:
        raise ConfigError("--readings must be within 2-1000")
    check_duration_s(args.settle_s, "--settle-s", MAX_SETTLE_S)
    check_output(args.out, args.overwrite, "--out")
    # the configured photodiode calibration is not read here: recalibrating may write over it
    check_files([("--out", args.out)], [f for f in config.files_read() if f[0] != "[photodiode] calibration_file"])
    _, responsivity_path = config.resolved_photodiode_paths()
    responsivity = PhotodiodeResponsivity.load(responsivity_path)
    cie.source_tables()
    with opened_station(replace(config, second_channel="")) as station, \
            AddressClaims([("photodiode", config.photodiode.address)]).acquire():
        meter = open_photodiode_meter(config, station.bench)
        try:
            station.prepare_light()
            dark_A, noise_A = dark_current(meter, config.photodiode.dark_readings)
            smu = station.smu
            smu.configure_current_source(config.max_voltage_V, config.smu.nplc)
            smu.enable_source()

            def drive_to(drive_mA_cm2: float) -> None:
                smu.source_current = drive_mA_cm2 * 1e-3 * config.pixel_area_cm2
                station.wait(args.settle_s)

            calibration = calibrate_photodiode(station, meter, responsivity, dark_A, args.readings, drives, drive_to)
        finally:
            meter.close()
    sha = calibration.save(args.out)
    sigma = calibration.geometry_factor_relative_sigma
    print(f"wrote {args.out}: geometry factor {calibration.geometry_factor:.5g} "
          f"{'(dimensionless)' if calibration.quantity == 'spectral_flux' else 'm^2 sr'} ± {sigma * 100:.2g} % "
          f"from {args.readings} readings at each of {len(drives)} drives ({drives[0]:g}-{drives[-1]:g} mA/cm^2: "
          f"outside them the photodiode's figures are flagged); weighting {calibration.wavelength_nm[0]:.0f}-"
          f"{calibration.wavelength_nm[-1]:.0f} nm; "
          f"dark {dark_A:.3g} A ± {noise_A:.2g} A; sha256 {sha[:12]}")
    print(f"set [photodiode] calibration_file = \"{args.out}\" to use it")
    return EXIT_OK
