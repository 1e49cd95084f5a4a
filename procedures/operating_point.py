"""One operating point measured the one way: settle, SMU reading, light reading (and the
photodiode beside it, when the station has one), SMU reading, figures. Every procedure
and ``ledstation measure`` use this routine."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.source_meter import SMUReading
from drivers.spectral_result import SpectralResult
from station.analysis.point_figures import DeviceFigures, device_figures
from station.core.units import current_density_mA_cm2
from station.run.records import Column
from station.setup.station import Station

#: flags under which a display leaves the optical figures out
_NO_LIGHT = ("low_light", "saturated", "truncated", "outside_calibration")
_NO_PHOTODIODE = ("photodiode_low_light", "photodiode_outside_calibration")
_NO_LUMINANCE = (*_NO_LIGHT, "luminance_unreliable")
_NO_COLOUR = (*_NO_LIGHT, "chromaticity_unreliable")
_NO_SHAPE = (*_NO_LIGHT, "shape_unreliable")
NAN = float("nan")
#: the columns of one reading (:meth:`PointReading.values`), in file order
READING_COLUMNS: tuple[Column, ...] = (
    Column("time_s", "s since 1970-01-01 UTC", "time of the source-meter reading"),
    Column("voltage_V", "V", "measured voltage", label="V"),
    Column("current_A", "A", "measured current, mean of the readings before and after the spectrum"),
    Column("current_before_A", "A", "measured current before the spectrum"),
    Column("current_after_A", "A", "measured current after the spectrum"),
    Column("smu_status", "1", "the source meter's status word (the model's own bits)", "i8"),
    Column("temperature_C", "degC", "device or ambient temperature from a configured sensor (NaN: none is "
           "configured yet; the temperature-controlled stage fills it)"),
    Column("in_compliance", "1", "compliance bit of the status word", "u1", label="IN COMPLIANCE"),
    Column("current_density_mA_cm2", "mA/cm^2", label="J"),
    Column("photon_rate_per_s", "1/s", "forward photon flux"),
    Column("eqe", "1", "external quantum efficiency (fraction)", label="EQE", display_units="%", hidden_by=_NO_LIGHT),
    Column("radiant_flux_W", "W"),
    Column("luminous_flux_lm", "lm"),
    Column("luminance_cd_m2", "cd/m^2", label="L", hidden_by=_NO_LUMINANCE),
    Column("radiance_W_sr_m2", "W/(sr m^2)", label="L_e", hidden_by=_NO_LIGHT),
    Column("current_efficiency_cd_A", "cd/A"),
    Column("power_efficiency_lm_W", "lm/W"),
    Column("peak_wavelength_nm", "nm", hidden_by=_NO_SHAPE),
    Column("fwhm_nm", "nm", hidden_by=_NO_SHAPE),
    Column("centroid_nm", "nm", hidden_by=_NO_SHAPE),
    Column("cie_x", "1", hidden_by=_NO_COLOUR),
    Column("cie_y", "1", hidden_by=_NO_COLOUR),
    Column("cie_u_prime", "1", hidden_by=_NO_COLOUR),
    Column("cie_v_prime", "1", hidden_by=_NO_COLOUR),
    Column("integration_time_s", "s", "spectrometer integration time (NaN for the radiometer)"),
    Column("dark_index", "1", "row of the dark library subtracted (-1: none)", "i4"),
    Column("scans_averaged", "1", "spectrometer scans averaged for this reading (NaN: not a spectrometer)"),
    Column("uncertainty_target_missed", "1", "[spectrometer] target_relative_uncertainty was not reached within "
           "max_time_per_point_s", "u1", label="uncertainty target missed"),
    Column("saturated", "1", "spectrum saturated", "u1", label="saturated"),
    Column("low_light", "1", "too little light for optical figures", "u1", label="light below detection"),
    Column("truncated", "1", "emission runs off the instrument's wavelength range (1: short end, 2: long end, "
           "3: both): no optical figures", "u1", label="spectrum cut off by the instrument's range"),
    Column("outside_calibration", "1", "a photodiode as the light meter at a drive outside the range its spectral "
           "weighting was calibrated over: the mismatch is extrapolated (or unknown)", "u1",
           label="outside the photodiode's calibrated drives"),
    Column("reference_centroid_nm", "nm", "centroid of a photodiode's spectral weighting at this point (NaN: a "
           "measured spectrum); judges a photodiode run photometric or radiometric"),
    Column("band_start_nm", "nm", "emission band, start: every optical figure integrates over the band"),
    Column("band_stop_nm", "nm", "emission band, end"),
    Column("radiance_uncertainty_W_sr_m2", "W/(sr m^2)", "1 sigma of the radiance from the spectrum's noise"),
    Column("luminance_uncertainty_cd_m2", "cd/m^2", "1 sigma of the luminance from the spectrum's noise"),
    Column("eqe_uncertainty", "1", "1 sigma of the EQE from the spectrum's noise"),
    Column("luminance_unreliable", "1", "luminance not significant (below 3 sigma): luminance figures left out",
           "u1", label="luminance below detection", hidden_by=_NO_LIGHT),
    Column("cie_xy_uncertainty", "1", "1 sigma of CIE x, y (the larger) from the spectrum's noise"),
    Column("chromaticity_unreliable", "1", "colour not significant: luminance not significant, chromaticity "
           "outside the spectral locus, or 3 sigma of x, y above 0.001", "u1", label="colour not significant"),
    Column("shape_unreliable", "1", "band total below 100 sigma: peak, FWHM and centroid noise-limited", "u1",
           label="spectral shape noise-limited"),
    Column("instrument_luminance_cd_m2", "cd/m^2", "the radiometer's own luminance (D1; NaN for the sphere)"),
    Column("instrument_cie_x", "1", "the radiometer's own CIE x (D1)"),
    Column("instrument_cie_y", "1", "the radiometer's own CIE y (D1)"),
    Column("instrument_X", "cd/m^2", "the radiometer's own tristimulus X (D2)"),
    Column("instrument_Y", "cd/m^2", "the radiometer's own tristimulus Y (D2)"),
    Column("instrument_Z", "cd/m^2", "the radiometer's own tristimulus Z (D2)"),
    Column("photodiode_current_A", "A", "the photodiode's photocurrent, dark not subtracted (NaN: no photodiode)"),
    Column("photodiode_luminance_cd_m2", "cd/m^2", "luminance from the photodiode (geometry factor of its "
           "calibration; spectral weighting: the spectrum measured at this point when it is fit for figures, else "
           "the calibration's references at this drive)", label="L (photodiode)", hidden_by=_NO_PHOTODIODE),
    Column("photodiode_radiance_W_sr_m2", "W/(sr m^2)", "radiance from the photodiode", hidden_by=_NO_PHOTODIODE),
    Column("photodiode_eqe", "1", "EQE from the photodiode (fraction)", display_units="%", hidden_by=_NO_PHOTODIODE),
    Column("photodiode_luminance_uncertainty_cd_m2", "cd/m^2", "1 sigma of the photodiode's luminance: "
           "photocurrent noise, geometry factor, spectral weighting"),
    Column("photodiode_eqe_uncertainty", "1", "1 sigma of the photodiode's EQE"),
    Column("photodiode_low_light", "1", "photocurrent within 5 sigma of its dark current", "u1"),
    Column("photodiode_outside_calibration", "1", "weighted with the calibration's references at a drive outside "
           "their range (no measured spectrum fit for figures)", "u1"),
)
#: the radiometer's own figures (:attr:`SpectralResult.extras`), NaN where the instrument has none
INSTRUMENT_COLUMNS = ("instrument_luminance_cd_m2", "instrument_cie_x", "instrument_cie_y", "instrument_X",
                      "instrument_Y", "instrument_Z")


@dataclass(frozen=True)
class PointReading:
    """Everything measured at one operating point."""

    time_s: float
    before: SMUReading
    after: SMUReading
    spectrum: SpectralResult
    figures: DeviceFigures
    #: the photodiode's reading and figures, when one is read (as the light meter or beside it)
    photodiode: SpectralResult | None = None
    photodiode_figures: DeviceFigures | None = None

    @property
    def in_compliance(self) -> bool:
        return self.before.in_compliance or self.after.in_compliance

    def values(self) -> dict[str, float]:
        """The :data:`READING_COLUMNS` values."""
        s = self.spectrum
        return {
            **self.figures.as_dict(),
            "time_s": self.time_s, "current_before_A": self.before.current_A, "temperature_C": NAN,
            "current_after_A": self.after.current_A, "smu_status": self.before.status,
            "in_compliance": int(self.in_compliance), "integration_time_s": s.integration_time_s,
            "dark_index": s.dark_index, "scans_averaged": float(s.extras.get("scans_averaged", NAN)),
            "uncertainty_target_missed": int(s.extras.get("target_missed", 0)), "saturated": int(s.saturated),
            "low_light": int(s.low_light),
            "truncated": int(s.truncated), "outside_calibration": int(s.extras.get("outside_calibration", 0)),
            "reference_centroid_nm": float(s.extras.get("reference_centroid_nm", NAN)),
            **{name: float(s.extras.get(name, NAN)) for name in INSTRUMENT_COLUMNS},
            **self._photodiode_values(),
        }

    def _photodiode_values(self) -> dict[str, float]:
        pd, f = self.photodiode, self.photodiode_figures
        if pd is None or f is None:
            return {"photodiode_current_A": NAN, "photodiode_luminance_cd_m2": NAN, "photodiode_radiance_W_sr_m2": NAN,
                    "photodiode_eqe": NAN, "photodiode_luminance_uncertainty_cd_m2": NAN,
                    "photodiode_eqe_uncertainty": NAN, "photodiode_low_light": 0, "photodiode_outside_calibration": 0}
        return {"photodiode_current_A": float(pd.extras.get("photodiode_current_A", NAN)),
                "photodiode_luminance_cd_m2": f.luminance_cd_m2, "photodiode_radiance_W_sr_m2": f.radiance_W_sr_m2,
                "photodiode_eqe": f.eqe, "photodiode_luminance_uncertainty_cd_m2": f.luminance_uncertainty_cd_m2,
                "photodiode_eqe_uncertainty": f.eqe_uncertainty, "photodiode_low_light": int(pd.low_light),
                "photodiode_outside_calibration": int(pd.extras.get("outside_calibration", 0))}


def measure_operating_point(station: Station, settle_s: float) -> PointReading:
    """Wait ``settle_s`` on the station clock, then read V and I, the light, and I again.

    The current of the figures is the mean of the two readings (the current while the
    light was measured); the voltage is the first reading's. A photodiode weights its
    reading with the spectrum measured beside it, else with its calibration at the first
    reading's current density.
    """
    clock, smu = station.clock, station.smu
    station.wait(settle_s)  # an abort ends the wait at once
    before = smu.read_point()
    time_s = clock.now()
    area = station.config.pixel_area_cm2
    drive_mA_cm2 = current_density_mA_cm2(before.current_A, area)
    spectrum = station.measure_light(drive_mA_cm2)
    photodiode = station.photodiode.measure(drive_mA_cm2, spectrum) if station.photodiode is not None else None
    after = smu.read_point()
    current_A = 0.5 * (before.current_A + after.current_A)
    figures = device_figures(spectrum, before.voltage_V, current_A, area)
    if spectrum.synthetic:  # the photodiode is the light meter
        return PointReading(time_s, before, after, spectrum, figures, spectrum, figures)
    photodiode_figures = (device_figures(photodiode, before.voltage_V, current_A, area)
                          if photodiode is not None else None)
    return PointReading(time_s, before, after, spectrum, figures, photodiode, photodiode_figures)
