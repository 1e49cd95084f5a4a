"""``ledstation measure``: one operating point, measured by the procedures' own routine."""

from __future__ import annotations

import argparse
import json
import math

from station.core.durations import MAX_SETTLE_S, check_duration_s
from station.core.emission_band import runs_off_text
from station.core.errors import ConfigError

from . import EXIT_OK


def measure_command(args: argparse.Namespace) -> int:
    from procedures.device_health import check_point
    from procedures.operating_point import measure_operating_point
    from station.core import cie
    from station.setup.config import load_config

    from .output import opened_station

    config = load_config(args.config)
    voltage = 4.0 if args.voltage is None and args.current_density is None else args.voltage
    for name, value in (("--voltage", voltage), ("--current-density", args.current_density),
                        ("--compliance-current", args.compliance_current),
                        ("--compliance-voltage", args.compliance_voltage)):
        if value is not None and not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number")
    check_duration_s(args.settle_s, "--settle-s", MAX_SETTLE_S)
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

    cie.source_tables()  # loaded before the output goes on
    with opened_station(config) as station:
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
        reading = measure_operating_point(station, args.settle_s)
        check_point(reading, smu)
        truth = station.bench.led.solve()[0] if station.bench is not None else None
        identities = station.identities()
    _print_measurement(args, config, identities, reading, truth)
    return EXIT_OK


def _print_measurement(args, config, identities, reading, truth) -> None:
    f, spectrum = reading.figures, reading.spectrum
    values = reading.values()
    if args.json:
        print(json.dumps({"figures": f.as_dict(), "in_compliance": reading.before.in_compliance,
                          "saturated": spectrum.saturated, "low_light": spectrum.low_light,
                          "truncated": int(spectrum.truncated), "instrument_figures": dict(spectrum.extras),
                          "instruments": identities, "geometry": config.geometry},
                         indent=2, default=float))
        return
    sim = f" (simulated: {identities['simulated_device']})" if "simulated_device" in identities else ""
    print(f"ledstation measure — {config.geometry} geometry{sim}, pixel {config.pixel_area_cm2:g} cm^2")
    print(f"  V   = {f.voltage_V:10.4f} V")
    print(f"  I   = {f.current_A * 1e3:10.4f} mA      J   = {f.current_density_mA_cm2:10.3f} mA/cm^2"
          + ("   [IN COMPLIANCE]" if reading.before.in_compliance else ""))
    if not spectrum.usable or spectrum.low_light:
        problem = ("saturated" if spectrum.saturated else "below detection" if spectrum.low_light
                   else f"the emission runs off the instrument's wavelength range "
                        f"({runs_off_text(int(spectrum.truncated))})")
        print(f"  light: {problem} — no optical figures")
        return
    luminance = (f"{f.luminance_cd_m2:10.4g} ± {f.luminance_uncertainty_cd_m2:.2g} cd/m^2"
                 if not f.luminance_unreliable else "not significant (below 3 sigma)")
    print(f"  L   = {luminance}")
    print(f"  L_e = {f.radiance_W_sr_m2:10.4g} ± {f.radiance_uncertainty_W_sr_m2:.2g} W/(sr m^2)")
    print(f"  EQE = {f.eqe * 100:10.3f} ± {f.eqe_uncertainty * 100:.2g} %"
          + (f"   CE = {f.current_efficiency_cd_A:.4g} cd/A   PE = {f.power_efficiency_lm_W:.4g} lm/W"
             if not f.luminance_unreliable else ""))
    shape = ("noise-limited" if f.shape_unreliable else
             f"peak {f.peak_wavelength_nm:.1f} nm, FWHM {f.fwhm_nm:.1f} nm")
    colour = ("not significant" if f.chromaticity_unreliable else f"({f.cie_x:.4f}, {f.cie_y:.4f})")
    print(f"  {shape}; CIE (x, y) {colour}; band {f.band_start_nm:.0f}-{f.band_stop_nm:.0f} nm")
    if math.isfinite(values.get("instrument_luminance_cd_m2", math.nan)):
        print(f"  the instrument's own: L = {values['instrument_luminance_cd_m2']:.4g} cd/m^2, "
              f"(x, y) = ({values['instrument_cie_x']:.4f}, {values['instrument_cie_y']:.4f})")
    if truth is not None:
        print(f"  model truth: L = {truth.luminance_cd_m2:.4g} cd/m^2, L_e = {truth.radiance_W_sr_m2:.4g} W/(sr m^2), "
              f"EQE = {truth.eqe * 100:.3f} %")
