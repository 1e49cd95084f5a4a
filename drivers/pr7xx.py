"""Photo Research PR-7xx SpectraScan spectroradiometers (PR-730, PR-745) over their serial remote protocol.

The PR-7xx family speaks the command set of the PR-655/670 (:mod:`.pr6xx`): ``PHOTO``
enters remote mode, ``M5`` measures and reports the spectrum, ``D1``/``D2`` the
photometry, ``D110``/``D111`` serial and model, ``Q`` leaves. Sources and where they
differ:

* ``PHOTO`` sent one character at a time, ``M5`` + CR, ``Q`` + CR, and an ``M5`` reply
  of one header line then one ``nnn,value`` line per nanometre from 380 nm: the PR-730
  client of waynewccheng/MIS_acquire (``pr730Class.m``), which reads 401 lines for
  380-780 nm; ISET's PR-715 client (isetcalibrate ``icalPR715CMD.m``) uses the same
  ``D1xx`` report numbers.
* The spectral range of the PR-745, 380-1060 nm: this project's issue 11 (the published
  near-infrared bench). Photo Research's literature quotes 380-1080 nm for the PR-745
  in some places; the station uses the range the instrument reports line by line, and a
  line outside the expected grid is an error, never silently accepted.
* The header fields of the ``M5`` reply (status, units, peak, integrated radiance,
  photon radiance) are taken to be the PR-655/670's; MIS_acquire skips the header.
"""

from __future__ import annotations

from .pr6xx import PR6xx

#: model -> (first nm, last nm, step nm) of the M5/D5 spectral report
SPECTRAL_GRIDS = {"PR-730": (380, 780, 1), "PR-745": (380, 1060, 1)}


class PR7xx(PR6xx):
    """PR-730/745 in remote mode: the PR-655/670 protocol on the model's own grid.

    The cooled detector of the PR-745 allows exposures of up to 30 s on dim sources,
    so the configured time-out should allow that (``[radiometer] timeout_s``).
    """

    GRIDS = SPECTRAL_GRIDS

    def __init__(self, adapter, name: str = "Photo Research PR-7xx", timeout_s: float = 60.0,
                 model: str | None = None, **kwargs) -> None:
        super().__init__(adapter, name, timeout_s, model, **kwargs)
