"""Instrument drivers of the LED station."""
