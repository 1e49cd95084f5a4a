"""One operating point measured the one way: settle, SMU reading, light reading, SMU
reading, figures. Every procedure and ``ledstation measure`` use this routine."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.keithley2400 import SMUReading
from drivers.spectral_result import SpectralResult
from station.analysis.point_figures import DeviceFigures, device_figures
from station.run.records import Column
from station.setup.station import Station

#: flags under which a display leaves the optical figures out
_NO_LIGHT = ("low_light", "saturated", "truncated")
#: the columns of one reading (:meth:`PointReading.values`), in file order
READING_COLUMNS: tuple[Column, ...] = (
    Column("time_s", "s since 1970-01-01 UTC", "time of the source-meter reading"),
    Column("voltage_V", "V", "measured voltage", label="V"),
    Column("current_A", "A", "measured current, mean of the readings before and after the spectrum"),
    Column("current_before_A", "A", "measured current before the spectrum"),
    Column("current_after_A", "A", "measured current after the spectrum"),
    Column("smu_status", "1", "Keithley 2400 status word", "i8"),
    Column("in_compliance", "1", "compliance bit of the status word", "u1", label="IN COMPLIANCE"),
    Column("current_density_mA_cm2", "mA/cm^2", label="J"),
    Column("photon_rate_per_s", "1/s", "forward photon flux"),
    Column("eqe", "1", "external quantum efficiency (fraction)", label="EQE", display_units="%", hidden_by=_NO_LIGHT),
    Column("radiant_flux_W", "W"),
    Column("luminous_flux_lm", "lm"),
    Column("luminance_cd_m2", "cd/m^2", label="L", hidden_by=_NO_LIGHT),
    Column("radiance_W_sr_m2", "W/(sr m^2)", label="L_e", hidden_by=_NO_LIGHT),
    Column("current_efficiency_cd_A", "cd/A"),
    Column("power_efficiency_lm_W", "lm/W"),
    Column("peak_wavelength_nm", "nm"),
    Column("fwhm_nm", "nm"),
    Column("centroid_nm", "nm"),
    Column("cie_x", "1"),
    Column("cie_y", "1"),
    Column("cie_u_prime", "1"),
    Column("cie_v_prime", "1"),
    Column("integration_time_s", "s", "spectrometer integration time (NaN for the radiometer)"),
    Column("dark_index", "1", "row of the dark library subtracted (-1: none)", "i4"),
    Column("saturated", "1", "spectrum saturated", "u1", label="saturated"),
    Column("low_light", "1", "too little light for optical figures", "u1", label="light below detection"),
    Column("truncated", "1", "emission runs off the instrument's wavelength range: no optical figures", "u1",
           label="spectrum cut off by the instrument's range"),
)


@dataclass(frozen=True)
class PointReading:
    """Everything measured at one operating point."""

    time_s: float
    before: SMUReading
    after: SMUReading
    spectrum: SpectralResult
    figures: DeviceFigures

    @property
    def in_compliance(self) -> bool:
        return self.before.in_compliance or self.after.in_compliance

    def values(self) -> dict[str, float]:
        """The :data:`READING_COLUMNS` values."""
        s = self.spectrum
        return {
            **self.figures.as_dict(),
            "time_s": self.time_s, "current_before_A": self.before.current_A,
            "current_after_A": self.after.current_A, "smu_status": self.before.status,
            "in_compliance": int(self.in_compliance), "integration_time_s": s.integration_time_s,
            "dark_index": s.dark_index, "saturated": int(s.saturated), "low_light": int(s.low_light),
            "truncated": int(s.truncated),
        }


def measure_operating_point(station: Station, settle_s: float) -> PointReading:
    """Wait ``settle_s`` on the station clock, then read V and I, the light, and I again.

    The current of the figures is the mean of the two readings (the current while the
    light was measured); the voltage is the first reading's.
    """
    clock, smu = station.clock, station.smu
    clock.sleep(settle_s)
    before = smu.read_point()
    time_s = clock.now()
    spectrum = station.measure_light()
    after = smu.read_point()
    current_A = 0.5 * (before.current_A + after.current_A)
    figures = device_figures(spectrum, before.voltage_V, current_A, station.config.pixel_area_cm2)
    return PointReading(time_s, before, after, spectrum, figures)
