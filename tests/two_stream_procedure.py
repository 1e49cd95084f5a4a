"""A test procedure with two streams: a scalar reading every step, a spectrum every k-th.

Shaped like a lifetime test (constant voltage, sample the source meter at an interval on
the station clock, a spectrum now and then), it exercises what the sweeps do not: two
streams, one with and one without spectra, at different rates.
"""

from __future__ import annotations

from pymeasure.experiment import FloatParameter, IntegerParameter

from procedures.base import StationProcedure
from procedures.operating_point import READING_COLUMNS
from station.run.records import Column, MainCurve, Stream

TIME = READING_COLUMNS[0]
SAMPLES = Stream("samples", (
    TIME,
    Column("elapsed_s", "s", "since the run started"),
    Column("step", "1", "step number", "i8"),
    Column("voltage_V", "V", "measured voltage", label="V"),
    Column("current_A", "A", "measured current", label="I"),
    Column("in_compliance", "1", "compliance bit", "u1", label="IN COMPLIANCE"),
), description="one source-meter reading per step", display=("voltage_V", "current_A"), flags=("in_compliance",))
SPECTRA = Stream("spectra", (
    TIME,
    Column("step", "1", "step number of the reading", "i8"),
    Column("radiance_W_sr_m2", "W/(sr m^2)", "integrated spectral flux over pi A"),
    Column("integration_time_s", "s", "spectrometer integration time"),
    Column("dark_index", "1", "dark library row", "i4"),
), spectra=True, description="one spectrum every spectrum_every steps")


class TwoStreamProcedure(StationProcedure):
    """Constant voltage; a source-meter reading every step and a spectrum every k-th step."""

    NAME = "two_streams"
    STREAMS = (SAMPLES, SPECTRA)
    MAIN = MainCurve("samples", axis="elapsed_s", signal="current_A", auxiliary=("voltage_V",))

    steps = IntegerParameter("Steps", default=20, minimum=1, maximum=10**8)
    spectrum_every = IntegerParameter("A spectrum every this many steps", default=5, minimum=1, maximum=10**8)
    voltage = FloatParameter("Drive voltage", units="V", default=3.0, minimum=0, maximum=10)
    interval = FloatParameter("Time between steps", units="s", default=1.0, minimum=0, maximum=3600)

    def startup(self) -> None:
        smu = self.station.smu
        smu.configure_voltage_source(0.05, self.station.config.smu.nplc)
        smu.enable_source()
        smu.source_voltage = self.voltage
        self._start_s = self.station.clock.monotonic()

    def execute(self) -> None:
        clock, smu, area = self.station.clock, self.station.smu, self.station.config.pixel_area_cm2
        progress_every = max(1, self.steps // 100)
        for step in range(self.steps):
            if self.should_stop():
                self.stop_reason = "aborted by the user"
                return
            clock.sleep(self.interval)
            reading = smu.read_point()
            now = clock.now()
            self.record("samples", {"time_s": now, "elapsed_s": clock.monotonic() - self._start_s, "step": step,
                                    "voltage_V": reading.voltage_V, "current_A": reading.current_A,
                                    "in_compliance": int(reading.in_compliance)})
            if step % self.spectrum_every == 0:
                spectrum = self.station.measure_light()
                flux = float(((spectrum.spectral[1:] + spectrum.spectral[:-1]) / 2 * (
                    spectrum.wavelength_nm[1:] - spectrum.wavelength_nm[:-1])).sum())
                self.record("spectra", {"time_s": now, "step": step,
                                        "radiance_W_sr_m2": flux / (3.141592653589793 * area * 1e-4),
                                        "integration_time_s": spectrum.integration_time_s,
                                        "dark_index": spectrum.dark_index}, spectrum)
            if step % progress_every == 0:
                self.report_progress((step + 1) / self.steps)
        self.stop_reason = "completed"

    def shutdown(self) -> None:
        self.station.smu.safe_shutdown()
