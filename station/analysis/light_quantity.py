"""Whether a device is judged by luminance (photometric) or radiance (radiometric).

One rule, used both while a run goes (stop checks) and on stored columns (figures):
with ``"auto"``, a device is radiometric when more than half of its usable readings
(finite centroid, not low light) have their spectral centroid beyond
:data:`NIR_CENTROID_NM`. The rule needs only two counts, so a run keeps no history.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

LIGHT_QUANTITIES = ("auto", "photometric", "radiometric")
#: emitters whose usable readings mostly have their centroid beyond this are judged by radiance
NIR_CENTROID_NM = 750.0


class LightQuantityJudge:
    """Running judgement of the light quantity from readings seen so far."""

    def __init__(self, choice: str = "auto") -> None:
        if choice not in LIGHT_QUANTITIES:
            raise ValueError(f"light quantity must be one of {', '.join(LIGHT_QUANTITIES)}")
        self.choice = choice
        self.usable = 0
        self.near_infrared = 0

    def add(self, centroid_nm: float, low_light: bool = False) -> None:
        if low_light or not np.isfinite(centroid_nm):
            return
        self.usable += 1
        self.near_infrared += centroid_nm > NIR_CENTROID_NM

    def add_many(self, centroid_nm: ArrayLike, low_light: ArrayLike | None = None) -> None:
        centroids = np.asarray(centroid_nm, dtype=float)
        usable = np.isfinite(centroids)
        if low_light is not None:
            usable &= np.asarray(low_light) == 0
        self.usable += int(usable.sum())
        self.near_infrared += int((centroids[usable] > NIR_CENTROID_NM).sum())

    @property
    def quantity(self) -> str:
        """"photometric" or "radiometric"."""
        if self.choice != "auto":
            return self.choice
        return "radiometric" if 2 * self.near_infrared > self.usable else "photometric"


def judged_light_quantity(choice: str, centroid_nm: ArrayLike, low_light: ArrayLike | None = None) -> str:
    """The judgement of :class:`LightQuantityJudge` over stored columns."""
    judge = LightQuantityJudge(choice)
    judge.add_many(centroid_nm, low_light)
    return judge.quantity
