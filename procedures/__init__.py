"""Measurement procedures (J-V-L, EQE, lifetime, cycling) on pymeasure's Procedure API."""
