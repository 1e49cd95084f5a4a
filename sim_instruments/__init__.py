"""Simulated instruments and a physical LED model behind them.

Imported only when a station configuration asks for the simulated bench
(``station.setup``): a hardware run never loads pyvisa-sim or the LED model. The bench
validates its own ``[simulation]`` table (:mod:`sim_instruments.settings`).
"""
