"""Figures of merit: of one reading (``point_figures``), of a sweep (``sweep``), and a
chunked summary of any stream (``summary``), computed from stored columns."""
