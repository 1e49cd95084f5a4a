"""Honest spectrometer noise (issue 24, items 9, 10 and 14): the stated sigma includes the
photon shot noise (the QE Pro's scatter was 1.6 times its stated sigma), scans average
to a requested uncertainty within a time budget, and the simulated spectrometer
corrects dark counts as seabreeze does."""

import numpy as np
import pytest

from drivers.calibration import ResponsivityCalibration
from drivers.sphere_spectrometer import IntegrationSettings, SphereSpectrometer
from sim_instruments.bench import SimulatedBench
from sim_instruments.calibration_lamp import sim_calibration_path
from sim_instruments.spectrometer_models import SPECTROMETER_MODELS

from .test_light_instruments import drive_current_density, figures_against_truth


def spectrometer_on(model, settings=None, preset="red-cspbbri-qd", seed=11):
    bench = SimulatedBench(preset, seed=seed, spectrometer_model=model)
    spectrometer = SphereSpectrometer(bench.spectrometer, ResponsivityCalibration.load(sim_calibration_path(model)),
                                      settings, window_nm=(350.0, 1009.0))
    spectrometer.record_dark_library()
    return bench, spectrometer


@pytest.mark.parametrize("model", ["USB4000", "QEPRO"])
def test_the_stated_sigma_matches_the_scatter_of_repeated_readings(model):
    """40 readings of a steady device: the scatter of luminance and radiance over the
    mean stated sigma lies within the chi distribution's 99 % range (0.75-1.3 for 40)."""
    bench, spectrometer = spectrometer_on(model)
    smu = drive_current_density(bench, 0.3)
    figures = [figures_against_truth(bench, spectrometer, 0.3, smu)[1] for _ in range(40)]
    for value, sigma in (("luminance_cd_m2", "luminance_uncertainty_cd_m2"),
                         ("radiance_W_sr_m2", "radiance_uncertainty_W_sr_m2")):
        values = np.array([getattr(f, value) for f in figures])
        stated = np.mean([getattr(f, sigma) for f in figures])
        assert 0.75 < np.std(values, ddof=1) / stated < 1.3, (value, np.std(values, ddof=1), stated)


@pytest.mark.parametrize("model,j_mA_cm2", [("USB4000", 3.0), ("QEPRO", 0.3)])
def test_auto_averaging_reaches_the_requested_uncertainty_and_records_what_it_did(model, j_mA_cm2):
    """A target at half of what one auto-integrated scan gives: reached within the budget,
    by a longer integration (as far as the detector stays linear) and more scans."""
    plain_bench, plain_spectrometer = spectrometer_on(model)  # the same device, auto integration alone
    plain, plain_f, _ = figures_against_truth(plain_bench, plain_spectrometer, j_mA_cm2)
    target = 0.5 * plain_f.luminance_uncertainty_cd_m2 / plain_f.luminance_cd_m2
    bench, spectrometer = spectrometer_on(model, IntegrationSettings(target_relative_uncertainty=target,
                                                                     max_time_per_point_s=60.0))
    smu = drive_current_density(bench, j_mA_cm2)
    spectrum, f, truth = figures_against_truth(bench, spectrometer, j_mA_cm2, smu)
    assert spectrum.extras["target_missed"] == 0
    assert spectrum.extras["scans_averaged"] * spectrum.integration_time_s > plain.integration_time_s
    assert f.luminance_uncertainty_cd_m2 / f.luminance_cd_m2 <= target
    assert abs(f.luminance_cd_m2 / truth.luminance_cd_m2 - 1) < 3 * target


def test_a_budget_too_short_for_the_target_is_recorded_as_missed():
    bench, spectrometer = spectrometer_on("USB4000", IntegrationSettings(target_relative_uncertainty=1e-4,
                                                                        max_time_per_point_s=0.05))
    smu = drive_current_density(bench, 0.3)
    spectrum, f, _ = figures_against_truth(bench, spectrometer, 0.3, smu)
    assert spectrum.extras["target_missed"] == 1
    assert spectrum.extras["scans_averaged"] * spectrum.integration_time_s <= 0.05 + spectrum.integration_time_s


def test_fixed_averages_shrink_the_scan_noise_by_root_n():
    bench, one = spectrometer_on("USB4000")
    _, many = spectrometer_on("USB4000", IntegrationSettings(averages=16))
    drive_current_density(bench, 0.3)
    raw_one = one.acquire_raw()
    raw_many = many.acquire_raw(raw_one.integration_time_s, averages=16)
    ratio = np.median(np.asarray(raw_one.scan_noise_counts) / np.asarray(raw_many.scan_noise_counts))
    assert raw_many.scans == 16 and ratio == pytest.approx(4.0, rel=0.1)


def test_the_simulated_spectrometer_subtracts_its_electric_dark_pixels_as_seabreeze_does():
    bench = SimulatedBench(spectrometer_model="QEPRO", seed=3)
    device = bench.spectrometer
    dark_pixels = list(SPECTROMETER_MODELS["QEPRO"].electric_dark_pixels)
    raw = device.intensities()
    corrected = device.intensities(correct_dark_counts=True)
    assert abs(np.mean(corrected[dark_pixels])) < 20  # the offset (1000 counts) is gone
    assert np.median(raw) - np.median(corrected) == pytest.approx(np.mean(raw[dark_pixels]), rel=0.05)


def test_an_unmodified_pymeasure_keithley2000_reads_every_setting_and_a_buffer_from_the_simulated_meter():
    """Six of pymeasure's Keithley2000 queries timed out against the simulated 2000."""
    import warnings

    from pymeasure.instruments.keithley import Keithley2000

    bench = SimulatedBench()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymeasure's note that it does not know whether the 2000 speaks SCPI
        dmm = Keithley2000(bench.photodiode_addresses["keithley2000"], visa_library=bench.visa_library, timeout=500)
    unanswered = []
    for name in sorted(dir(Keithley2000)):
        if isinstance(getattr(Keithley2000, name), property) and not name.startswith("_") and name != "buffer_data":
            try:
                getattr(dmm, name)
            except Exception as exc:  # noqa: BLE001 - a timeout or a parse error: unanswered
                unanswered.append((name, type(exc).__name__))
    assert unanswered == []
    assert dmm.ask(":SYST:ERR?").startswith("0,")
    dmm.voltage_digits = 5
    assert dmm.voltage_digits == 5
    dmm.config_buffer(points=5)
    dmm.start_buffer()
    dmm.wait_for_buffer(timeout=5)
    assert len(dmm.buffer_data) == 5
