"""Simulated instruments and a physical LED model behind them."""

from .bench import SimulatedBench
from .presets import PRESETS

__all__ = ["SimulatedBench", "PRESETS"]
