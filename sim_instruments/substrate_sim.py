"""A simulated substrate: one LED per pixel, each a little different, behind a switch.

Device-to-device spread is drawn once per pixel from a generator seeded by the bench
seed, the substrate name and the pixel name, so the same substrate always holds the same
devices and another substrate other ones. ``spread`` is the relative 1-sigma scale:
EQE x exp(N(0, s)), series resistance x exp(N(0, 2s)), saturation current x exp(N(0, 4s))
(the turn-on moves by about n kT/q x 4s), peak wavelength + N(0, 20 s) nm, lifetime
x exp(N(0, 2s)). A *shorted* pixel has a 1 ohm cm^2 shunt (the run's short check stops
it); a *leaky* pixel a 30 ohm cm^2 shunt (it runs, with a low EQE: an outlier).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from station.core.clock import Clock

from .led_model import LEDParameters
from .simulated_led import Drive, SimulatedLED
from .single_carrier_model import DarkDeviceParameters, dark_pixel_parameters

SHORTED_SHUNT_OHM_CM2 = 1.0
LEAKY_SHUNT_OHM_CM2 = 30.0


def pixel_parameters(base: LEDParameters, area_cm2: float, rng: np.random.Generator, spread: float) -> LEDParameters:
    """One pixel's device: ``base`` with its own draw of the spread."""
    z = rng.normal(size=6)
    e, eff, sp, age = base.electrical, base.efficiency, base.spectrum, base.ageing
    electrical = replace(e, series_resistance_ohm_cm2=e.series_resistance_ohm_cm2 * math.exp(2 * spread * z[1]),
                         saturation_current_density_A_cm2=e.saturation_current_density_A_cm2
                         * math.exp(4 * spread * z[2]))
    eqe_spread = spread * base.batch_eqe_spread_factor
    efficiency = replace(eff, eqe_max=min(eff.eqe_max * base.batch_mean_eqe_fraction * math.exp(eqe_spread * z[0]),
                                          0.95))
    spectrum = replace(sp, peak_nm=sp.peak_nm + 20.0 * spread * z[3])
    ageing = replace(age, reference_lifetime_h=age.reference_lifetime_h * math.exp(2 * spread * z[4]))
    return replace(base, electrical=electrical, efficiency=efficiency, spectrum=spectrum, ageing=ageing,
                   pixel_area_cm2=area_cm2)


def _seed(*parts: str | int) -> list[int]:
    return [p if isinstance(p, int) else zlib.crc32(p.encode("utf-8")) for p in parts]


class SimulatedSubstrate:
    """The pixels of one substrate, by switch channel; which of them the switch connects."""

    def __init__(self, base: LEDParameters | DarkDeviceParameters, pixels: Sequence[tuple[str, float, str]],
                 name: str, seed: int,
                 clock: Clock, spread: float = 0.05, shorted: Sequence[str] = (), leaky: Sequence[str] = ()) -> None:
        self.name = name
        self.names: dict[str, str] = {}
        self.leds: dict[str, SimulatedLED] = {}
        for pixel, area, channel in pixels:
            shunt = SHORTED_SHUNT_OHM_CM2 if pixel in shorted else LEAKY_SHUNT_OHM_CM2 if pixel in leaky else None
            rng = np.random.default_rng(_seed(seed, name, pixel))
            if not isinstance(base, LEDParameters):  # a substrate of single-carrier devices or films
                dark = dark_pixel_parameters(base, area, rng.normal(size=3), spread, shunt)
                self.leds[channel] = SimulatedLED(replace(dark, name=f"{base.name} {name}/{pixel}"), clock)
                self.names[channel] = pixel
                continue
            parameters = replace(pixel_parameters(base, area, rng, spread), name=f"{base.name} {name}/{pixel}")
            defective = replace(parameters, electrical=replace(parameters.electrical, shunt_resistance_ohm_cm2=shunt))
            self.leds[channel] = (SimulatedLED(parameters, clock) if shunt is None
                                  else SimulatedLED(defective, clock, ageing_reference=parameters))
            self.names[channel] = pixel
        self.closed: frozenset[str] = frozenset()
        self._last = next(iter(self.leds.values()))

    def led_of_pixel(self, pixel: str) -> SimulatedLED:
        return self.leds[next(c for c, n in self.names.items() if n == pixel)]

    @property
    def connected(self) -> SimulatedLED | None:
        """The LED the source meter sees (the first closed channel's; None: nothing connected)."""
        for channel in sorted(self.closed):
            if channel in self.leds:
                return self.leds[channel]
        return None

    @property
    def led(self) -> SimulatedLED:
        """The connected LED, or the last one connected (undriven) when none is."""
        return self.connected or self._last

    def connect(self, closed: frozenset[str], drive: Drive | None) -> None:
        """The switch now has ``closed`` closed: the drive moves to the newly connected pixel."""
        before = self.connected
        self.closed = frozenset(closed)
        after = self.connected
        if before is not after:
            if before is not None:
                before.set_drive(None)
            if after is not None:
                after.set_drive(drive)
                self._last = after
