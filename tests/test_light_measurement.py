"""Physics through the light instruments: EQE from the sphere, luminance from the radiometer."""

import numpy as np
import pytest

from drivers.calibration import LampCertificate, ResponsivityCalibration
from drivers.pr6xx import PR6xx
from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer, integration_ladder
from sim_instruments.bench import SimulatedBench
from sim_instruments.calibration_lamp import CERTIFICATE_PATH, SIM_CALIBRATION_PATH
from sim_instruments.led_model import MODEL_GRID_NM
from station.analysis.point_figures import device_figures
from station.core import photometry
from station.setup.sphere_calibration import calibrate_sphere

from .conftest import station_smu


def sphere(bench, calibration=None, **settings):
    calibration = calibration or ResponsivityCalibration.load(SIM_CALIBRATION_PATH)
    spectrometer = SphereSpectrometer(bench.spectrometer, calibration, IntegrationSettings(**settings),
                                      window_nm=(350.0, 1009.0))
    spectrometer.record_dark_library()
    return spectrometer


def drive_voltage(bench, volts):
    smu = station_smu(bench)
    smu.configure_voltage_source(0.1)
    smu.enable_source()
    smu.source_voltage = volts
    return smu


@pytest.mark.parametrize("preset,volts", [
    ("deep-red-cspbi3-fret", 3.4), ("deep-red-cspbi3-fret", 5.0), ("deep-red-cspbi3-fret", 7.0),
    ("red-cspbbri-qd", 2.6), ("red-cspbbri-qd", 3.5), ("nir-fapbi3-qd", 2.2), ("nir-fapbi3-qd", 3.0),
])
def test_sphere_eqe_matches_the_model_within_half_a_percent(preset, volts):
    bench = SimulatedBench(preset, seed=7)
    spectrometer = sphere(bench)
    smu = drive_voltage(bench, volts)
    reading = smu.read_point()
    spectrum = spectrometer.measure()
    truth, _ = bench.led.solve()
    figures = device_figures(spectrum, reading.voltage_V, reading.current_A, bench.led.parameters.pixel_area_cm2)
    assert spectrum.valid
    assert figures.eqe == pytest.approx(truth.eqe, rel=0.005)
    assert figures.radiance_W_sr_m2 == pytest.approx(truth.radiance_W_sr_m2, rel=0.005)
    if truth.luminance_cd_m2 > 1:
        assert figures.luminance_cd_m2 == pytest.approx(truth.luminance_cd_m2, rel=0.005)
    true_flux = bench.led.model.spectral_flux_W_nm(truth, MODEL_GRID_NM)  # power, not photon, spectrum
    assert figures.peak_wavelength_nm == pytest.approx(photometry.peak_wavelength_nm(true_flux, MODEL_GRID_NM), abs=0.5)
    assert figures.fwhm_nm == pytest.approx(photometry.fwhm_nm(true_flux, MODEL_GRID_NM), rel=0.02)


@pytest.mark.parametrize("preset,volts", [("deep-red-cspbi3-fret", 3.4), ("deep-red-cspbi3-fret", 6.0),
                                          ("red-cspbbri-qd", 2.8)])
def test_radiometer_luminance_matches_the_model_within_half_a_percent(preset, volts):
    bench = SimulatedBench(preset, seed=3)
    radiometer = PR6xx(bench.radiometer_address, visa_library=bench.visa_library, timeout_s=1)
    radiometer.enter_remote()
    smu = drive_voltage(bench, volts)
    reading = smu.read_point()
    spectrum = radiometer.measure()
    truth, _ = bench.led.solve()
    figures = device_figures(spectrum, reading.voltage_V, reading.current_A, bench.led.parameters.pixel_area_cm2)
    assert figures.luminance_cd_m2 == pytest.approx(truth.luminance_cd_m2, rel=0.005)
    assert spectrum.extras["instrument_luminance_cd_m2"] == pytest.approx(truth.luminance_cd_m2, rel=0.005)
    assert figures.eqe == pytest.approx(truth.eqe, rel=0.005)


def test_radiometer_reports_low_light_for_a_dark_device(bench):
    radiometer = PR6xx(bench.radiometer_address, visa_library=bench.visa_library, timeout_s=1)
    radiometer.enter_remote()
    drive_voltage(bench, 2.0)
    result = radiometer.measure()
    assert result.low_light and np.isnan(result.spectral).all()


def test_lamp_calibration_recovers_the_true_responsivity(bench):
    spectrometer = SphereSpectrometer(bench.spectrometer, None, window_nm=(350.0, 1009.0))
    calibration = calibrate_sphere(spectrometer, LampCertificate.load(CERTIFICATE_PATH),
                                   lamp_off=lambda: bench.mount("dark"), lamp_on=lambda: bench.mount("lamp"))
    true = 1.0 / np.interp(calibration.wavelength_nm, bench.spectrometer.wavelengths(),
                           bench.spectrometer.true_counts_per_s_per_W_nm)
    ratio = calibration.responsivity_W_nm_per_count_s / true
    assert np.median(ratio) == pytest.approx(1.0, abs=1e-3)
    assert np.percentile(np.abs(ratio - 1), 95) < 0.02
    assert calibration.wavelength_nm[0] <= 351 and calibration.wavelength_nm[-1] >= 1008


def test_shipped_simulated_calibration_agrees_with_a_fresh_one(bench):
    shipped = ResponsivityCalibration.load(SIM_CALIBRATION_PATH)
    true = 1.0 / np.interp(shipped.wavelength_nm, bench.spectrometer.wavelengths(),
                           bench.spectrometer.true_counts_per_s_per_W_nm)
    assert np.median(shipped.responsivity_W_nm_per_count_s / true) == pytest.approx(1.0, abs=2e-3)
    assert len(shipped.sha256) == 64


def test_auto_integration_keeps_the_peak_between_the_set_fractions(bench):
    spectrometer = sphere(bench, low_fraction=0.35, high_fraction=0.85)
    drive_voltage(bench, 4.0)
    raw = spectrometer.acquire_raw()
    full_scale = spectrometer.max_intensity - np.median(raw.dark)
    assert 0.35 <= (raw.counts - raw.dark).max() / full_scale <= 0.85
    assert raw.integration_time_s in spectrometer.ladder


def test_saturation_is_flagged_when_even_the_shortest_integration_saturates(bench):
    spectrometer = sphere(bench)
    bench.lamp._scale *= 1e4  # an absurdly bright source on the port
    bench.mount("lamp")
    result = spectrometer.measure()
    assert result.saturated and not result.valid
    assert result.integration_time_s == spectrometer.ladder[0]


def test_a_dark_port_is_flagged_low_light(bench):
    spectrometer = sphere(bench)
    bench.mount("dark")
    result = spectrometer.measure()
    assert result.low_light and result.integration_time_s == spectrometer.ladder[-1]


def test_integration_ladder_is_a_1_2_5_series_inside_the_limits():
    assert integration_ladder(0.004, 2.0) == [0.004, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]


def test_sphere_spectral_flux_integrates_to_the_models_radiant_flux(bench):
    spectrometer = sphere(bench)
    drive_voltage(bench, 5.0)
    spectrum = spectrometer.measure()
    truth, _ = bench.led.solve()
    total = photometry.radiometric_total(spectrum.spectral, spectrum.wavelength_nm)
    assert total == pytest.approx(truth.radiant_flux_W, rel=0.005)


def test_emission_running_off_the_window_is_flagged_and_gives_no_eqe():
    bench = SimulatedBench("nir-fapbi3-qd")
    calibration = ResponsivityCalibration.load(SIM_CALIBRATION_PATH)
    spectrometer = SphereSpectrometer(bench.spectrometer, calibration, window_nm=(350.0, 770.0))
    spectrometer.record_dark_library()
    smu = drive_voltage(bench, 2.5)
    spectrum = spectrometer.measure()
    assert spectrum.truncated and not spectrum.usable
    figures = device_figures(spectrum, 2.5, smu.read_point().current_A, 0.04)
    assert np.isnan(figures.eqe)
