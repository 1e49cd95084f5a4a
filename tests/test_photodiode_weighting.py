"""The photodiode's spectral weighting (issue 24, item 1): the emitter's band moves and
widens with the drive on the steep edge of V(lambda), so a weighting fixed at one drive
biased photodiode luminance by up to 2.7 % with a stated sigma of 1e-6. Against the
model's truth: unflagged points are within 0.5 % or twice their stated sigma over three
decades of current, on two presets and both meters; beside the sphere the measured
spectrum weights each point."""

import math

import numpy as np
import pytest
from pymeasure.instruments.keithley import Keithley2000

from drivers.keithley6485 import Keithley6485
from drivers.photodiode import PhotodiodeCalibration, PhotodiodeChannel
from drivers.transimpedance_dmm import TransimpedanceDMM
from sim_instruments import photodiode_sim
from sim_instruments.bench import SimulatedBench
from station.analysis.point_figures import device_figures

from .conftest import station_smu
from .test_light_instruments import Truth, drive_current_density, photodiode_calibration

#: three decades and a bit of current density, the calibration's drives inside them
DRIVES_MA_CM2 = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
POINTS_MA_CM2 = tuple(np.round(np.logspace(np.log10(0.4), np.log10(280.0), 9), 3))


def meter_for(bench, kind):
    if kind == "keithley6485":
        return Keithley6485(bench.photodiode_addresses[kind], visa_library=bench.visa_library)
    dmm = Keithley2000(bench.photodiode_addresses[kind], visa_library=bench.visa_library)
    return TransimpedanceDMM(dmm, photodiode_sim.TIA_GAIN_V_A)


def point(bench, channel, j_mA_cm2, measured=None):
    smu = drive_current_density(bench, j_mA_cm2)
    reading = smu.read_point()
    before, _ = bench.led.solve()
    result = channel.measure(reading.current_A / bench.led.parameters.pixel_area_cm2 * 1e3, measured)
    after, _ = bench.led.solve()
    figures = device_figures(result, reading.voltage_V, reading.current_A, bench.led.parameters.pixel_area_cm2)
    return result, figures, Truth(before, after)


def channel_for(bench, calibration, kind):
    station_smu(bench).safe_shutdown()
    channel = PhotodiodeChannel(meter_for(bench, kind), calibration)
    channel.prepare()
    return channel


@pytest.mark.parametrize("kind", ["keithley6485", "keithley2000"])
@pytest.mark.parametrize("preset", ["deep-red-cspbi3-fret", "nir-fapbi3-qd"])
def test_unflagged_photodiode_figures_hold_within_half_a_percent_or_two_sigma(preset, kind):
    bench = SimulatedBench(preset, seed=7)
    calibration, _, _ = photodiode_calibration(bench, DRIVES_MA_CM2, readings=4)
    channel = channel_for(bench, calibration, kind)
    checked = 0
    for j in POINTS_MA_CM2:
        result, f, truth = point(bench, channel, j)
        assert not result.extras["outside_calibration"]
        for value, sigma, true, flagged in ((f.luminance_cd_m2, f.luminance_uncertainty_cd_m2, truth.luminance_cd_m2,
                                             f.luminance_unreliable), (f.eqe, f.eqe_uncertainty, truth.eqe, False)):
            if result.low_light or flagged:
                continue
            error = abs(value / true - 1)
            assert error < 0.005 or abs(value - true) < 2 * sigma, (j, value, true, sigma)
            checked += 1
    assert checked >= 12


def test_a_single_drive_calibration_flags_every_other_drive_and_states_no_sigma_it_cannot_know():
    """The defect: calibrated at 10 mA/cm^2 the deep-red device read +1.9 % at 2000 mA/cm^2
    unflagged. Now the points away from 10 are flagged and their mismatch is unknown."""
    bench = SimulatedBench("deep-red-cspbi3-fret", seed=7)
    calibration, _, _ = photodiode_calibration(bench, (10.0,), readings=4)
    channel = channel_for(bench, calibration, "keithley6485")
    at, f_at, truth_at = point(bench, channel, 10.0)
    assert not at.extras["outside_calibration"] and f_at.luminance_cd_m2 == pytest.approx(truth_at.luminance_cd_m2,
                                                                                           rel=0.002)
    far, f_far, truth_far = point(bench, channel, 300.0)
    assert far.extras["outside_calibration"] and math.isnan(f_far.luminance_uncertainty_cd_m2)
    assert abs(f_far.luminance_cd_m2 / truth_far.luminance_cd_m2 - 1) > 0.002  # the bias the flag warns of


def test_outside_the_calibrated_drives_the_extrapolated_mismatch_covers_the_error():
    bench = SimulatedBench("deep-red-cspbi3-fret", seed=7)
    calibration, _, _ = photodiode_calibration(bench, (3.0, 10.0, 30.0), readings=4)
    channel = channel_for(bench, calibration, "keithley6485")
    for j in (0.5, 300.0):
        result, f, truth = point(bench, channel, j)
        assert result.extras["outside_calibration"]
        assert abs(f.luminance_cd_m2 - truth.luminance_cd_m2) < 2 * f.luminance_uncertainty_cd_m2


def test_beside_the_sphere_the_measured_spectrum_weights_each_point():
    """The photodiode_* columns beside the sphere carried the same bias: weighted with the
    spectrum measured at the point, a one-drive calibration holds at 300 mA/cm^2."""
    bench = SimulatedBench("deep-red-cspbi3-fret", seed=7)
    calibration, _, spectrometer = photodiode_calibration(bench, (10.0,), readings=4)
    channel = channel_for(bench, calibration, "keithley6485")
    smu = drive_current_density(bench, 300.0)
    reading = smu.read_point()
    measured = spectrometer.measure()
    result, f, truth = point(bench, channel, 300.0, measured)
    assert not result.extras["outside_calibration"] and reading.current_A > 0
    assert f.luminance_cd_m2 == pytest.approx(truth.luminance_cd_m2, rel=0.003)
    assert abs(f.luminance_cd_m2 - truth.luminance_cd_m2) < 3 * f.luminance_uncertainty_cd_m2


def test_a_calibration_keeps_every_value_and_format_1_files_still_read(tmp_path):
    bench = SimulatedBench("deep-red-cspbi3-fret", seed=7)
    calibration, _, _ = photodiode_calibration(bench, (1.0, 10.0), readings=3)
    path = tmp_path / "pd.json"
    calibration.save(path)
    again = PhotodiodeCalibration.load(path)
    np.testing.assert_array_equal(again.wavelength_nm, calibration.wavelength_nm)
    np.testing.assert_array_equal(again.reference_spectra, calibration.reference_spectra)
    assert again.geometry_factor == calibration.geometry_factor
    old = tmp_path / "old.json"
    old.write_text('{"format": "ledstation-photodiode-calibration/1", "quantity": "spectral_flux", '
                   f'"wavelength_nm": {calibration.wavelength_nm.tolist()}, '
                   f'"reference_spectrum": {calibration.reference_spectra[1].tolist()}, '
                   f'"responsivity_A_W": {calibration.responsivity_A_W.tolist()}, "geometry_factor": 0.012, '
                   '"metadata": {"drive": "10 mA/cm^2"}}')
    loaded = PhotodiodeCalibration.load(old)
    assert loaded.drive_range_mA_cm2 == (10.0, 10.0) and loaded.reference_spectra.shape[0] == 1
