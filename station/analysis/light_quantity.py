"""Whether a device is judged by luminance (photometric) or radiance (radiometric).

One rule, judged once per run and the same way while a run goes (stop checks) and on
stored columns (figures): with ``"auto"``, the first point whose light is adequately
measured decides —

* a spectrum cut off at the instrument's long-wavelength end: radiometric (the
  emission lies beyond the range, which reaches the near-infrared);
* a usable spectrum with its band total at least :data:`JUDGE_SNR` sigmas above zero:
  radiometric when its centroid lies beyond :data:`NIR_CENTROID_NM` (a photodiode, which
  measures no spectrum: the centroid of its calibrated spectral weighting).

Points below detection decide nothing. Once decided the judgement never changes, so
running maxima never mix cd/m^2 with W/(sr m^2). Files without uncertainty columns
(written before the judgement needed them) are judged at their first point not flagged
low light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from station.core.emission_band import LONG_END

LIGHT_QUANTITIES = ("auto", "photometric", "radiometric")
#: emitters whose centroid lies beyond this are judged by radiance
NIR_CENTROID_NM = 750.0
#: the band total of the deciding point is at least this many sigmas above zero
JUDGE_SNR = 20.0
#: the columns the judgement reads (those present)
JUDGE_COLUMNS = ("centroid_nm", "reference_centroid_nm", "low_light", "truncated", "saturated", "radiance_W_sr_m2",
                 "radiance_uncertainty_W_sr_m2")


class LightQuantityJudge:
    """The run's light quantity, decided at the first adequately measured point."""

    def __init__(self, choice: str = "auto") -> None:
        if choice not in LIGHT_QUANTITIES:
            raise ValueError(f"light quantity must be one of {', '.join(LIGHT_QUANTITIES)}")
        self.choice = choice
        self.decided: str | None = None if choice == "auto" else choice
        #: why (one line), once decided
        self.reason = "" if choice == "auto" else "chosen by the user"

    def add(self, values: Mapping[str, float], index: int | None = None) -> bool:
        """Consider one point's values; True when this point decided the judgement."""
        if self.decided is not None:
            return False
        if values.get("low_light", 0) or values.get("saturated", 0):
            return False
        at = f" at point {index}" if index is not None else ""
        if int(values.get("truncated", 0)) & LONG_END:
            self.decided = "radiometric"
            self.reason = f"emission runs off the instrument's long-wavelength end{at}"
            return True
        centroid = float(values.get("centroid_nm", math.nan))
        if not math.isfinite(centroid):  # a photodiode: the centroid of its calibrated spectral weighting
            centroid = float(values.get("reference_centroid_nm", math.nan))
        if not math.isfinite(centroid) or values.get("truncated", 0):
            return False
        sigma = float(values.get("radiance_uncertainty_W_sr_m2", math.nan))
        if "radiance_uncertainty_W_sr_m2" in values and math.isfinite(sigma):
            if not float(values.get("radiance_W_sr_m2", math.nan)) >= JUDGE_SNR * sigma:
                return False
        near_infrared = centroid > NIR_CENTROID_NM
        self.decided = "radiometric" if near_infrared else "photometric"
        self.reason = f"centroid {centroid:.0f} nm{at} {'beyond' if near_infrared else 'within'} " \
                      f"{NIR_CENTROID_NM:.0f} nm"
        return True

    @property
    def quantity(self) -> str:
        """"photometric" or "radiometric" (photometric until decided)."""
        return self.decided or "photometric"


def judged_light_quantity(choice: str, columns: Mapping[str, np.ndarray]) -> str:
    """The judgement of :class:`LightQuantityJudge` over stored columns, in row order: the
    judge's own rule on each lit row (not flagged low light or saturated) until one decides."""
    judge = LightQuantityJudge(choice)
    if judge.decided is not None or ("centroid_nm" not in columns and "reference_centroid_nm" not in columns):
        return judge.quantity
    present = {name: np.asarray(columns[name]) for name in JUDGE_COLUMNS if name in columns}
    lit = np.ones(len(next(iter(present.values()))), bool)
    for flag in ("low_light", "saturated"):
        if flag in present:
            lit &= present[flag] == 0
    for i in np.flatnonzero(lit):
        if judge.add({name: present[name][i] for name in present}):
            break
    return judge.quantity
