"""The station's figure style, applied by a context (matplotlib's global settings are left
as they were): small type, ticks inside, TrueType fonts embedded in PDF and PostScript, SVG
text as paths (it looks the same where the font is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

FIGURE_STYLE = {"font.size": 8, "axes.linewidth": 0.8, "xtick.direction": "in", "ytick.direction": "in",
                "legend.frameon": False, "savefig.dpi": 300, "pdf.fonttype": 42, "ps.fonttype": 42,
                "svg.fonttype": "path"}


@contextmanager
def figure_style() -> Iterator[None]:
    """The station's figure style for what is drawn inside (restored on leaving)."""
    import matplotlib

    with matplotlib.rc_context(FIGURE_STYLE):
        yield
