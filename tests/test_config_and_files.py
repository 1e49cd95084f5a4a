"""Configuration and calibration files: every problem names the file and key or line."""

import pytest

from drivers.calibration import LampCertificate, ResponsivityCalibration
from drivers.sphere_spectrometer import SphereSpectrometer
from sim_instruments.calibration_lamp import SIM_CALIBRATION_PATH
from station.core.errors import CalibrationError, ConfigError
from station.setup.config import load_config


def write(tmp_path, text, name="station.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_default_configuration_is_the_simulated_bench():
    config = load_config()
    assert config.uses_simulation and config.geometry == "sphere"
    assert config.resolved_calibration_path() == SIM_CALIBRATION_PATH


def test_a_partial_file_takes_defaults_for_the_rest(tmp_path):
    config = load_config(write(tmp_path, '[light]\ngeometry = "radiometer"\n[device]\npixel_area_cm2 = 0.1\n'))
    assert config.geometry == "radiometer" and config.pixel_area_cm2 == 0.1 and config.max_voltage_V == 10.0


@pytest.mark.parametrize("text,message", [
    ("[safety]\nmax_voltage_V = -1\n", r"\[safety\] max_voltage_V: must be positive"),
    ("[safety]\nmax_voltage_V = 300\n", r"\[safety\] max_voltage_V: .*210 V"),
    ("[safety]\nmax_current_A = nan\n", r"\[safety\] max_current_A: must be finite"),
    ("[safety]\nmax_volts = 5\n", r"\[safety\] max_volts: unknown key"),
    ("[device]\npixel_area_cm2 = 0\n", r"\[device\] pixel_area_cm2: must be positive"),
    ("[device]\npixel_area_cm2 = \"big\"\n", r"\[device\] pixel_area_cm2: expected float"),
    ("[light]\ngeometry = \"goniometer\"\n", r"\[light\] geometry: must be one of"),
    ("[smu]\nnplc = 50\n", r"\[smu\] nplc: must be within"),
    ("[spectrometer]\nlow_fraction = 0.9\n", r"\[spectrometer\] high_fraction"),
    ("[spectrometer]\nwavelength_range_nm = [900, 400]\n", r"wavelength_range_nm"),
    ("[simulation]\npreset = \"blue-oled\"\n", r"\[simulation\] preset: unknown preset"),
    ("[extra]\nx = 1\n", r"unknown table \[extra\]"),
    ("this is not toml", r"not valid TOML"),
    ("[spectrometer]\naddress = \"first\"\n", r"\[spectrometer\] calibration_file: \"sim\" is the simulated"),
])
def test_impossible_values_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


GOOD = "# ledstation sphere responsivity calibration\nwavelength_nm,responsivity_W_nm_per_count_s\n"


@pytest.mark.parametrize("body,message", [
    ("", r"only 0 data rows"),
    ("350,1e-10\n351,abc\n", r"line 4: not a number"),
    ("".join(f"{350 + i},1e-10\n" for i in range(12)) + "349,1e-10\n", r"line 15: wavelengths must increase"),
    ("".join(f"{350 + i},-1e-10\n" for i in range(12)), r"responsivity must be positive"),
    ("350,1e-10,3\n", r"line 3: expected 2 values"),
])
def test_malformed_calibration_files_name_the_line(tmp_path, body, message):
    path = write(tmp_path, GOOD + body, "cal.csv")
    with pytest.raises(CalibrationError, match=message) as info:
        ResponsivityCalibration.load(path)
    assert str(path) in str(info.value)


def test_calibration_without_the_magic_line(tmp_path):
    with pytest.raises(CalibrationError, match="line 1"):
        ResponsivityCalibration.load(write(tmp_path, "wavelength_nm,responsivity_W_nm_per_count_s\n", "cal.csv"))


def test_calibration_that_does_not_cover_the_spectrometer_is_refused(tmp_path, bench):
    rows = "".join(f"{w},1e-10\n" for w in range(500, 800))
    calibration = ResponsivityCalibration.load(write(tmp_path, GOOD + rows, "cal.csv"))
    with pytest.raises(CalibrationError, match="covers 500-799 nm but .* needs 350"):
        SphereSpectrometer(bench.spectrometer, calibration, window_nm=(350.0, 1000.0))


def test_calibration_round_trip_keeps_values_and_checksum(tmp_path):
    shipped = ResponsivityCalibration.load(SIM_CALIBRATION_PATH)
    sha = shipped.save(tmp_path / "copy.csv")
    again = ResponsivityCalibration.load(tmp_path / "copy.csv")
    assert again.sha256 == sha
    assert (again.responsivity_W_nm_per_count_s == pytest.approx(shipped.responsivity_W_nm_per_count_s, rel=1e-6))


def test_lamp_certificate_must_be_positive(tmp_path):
    text = "wavelength_nm,spectral_flux_W_nm\n" + "".join(f"{w},0\n" for w in range(300, 320))
    with pytest.raises(CalibrationError, match="lamp certificate .* positive"):
        LampCertificate.load(write(tmp_path, text, "lamp.csv"))
