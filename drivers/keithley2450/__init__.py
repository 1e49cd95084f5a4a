"""Keithley 2450 SourceMeter: the instrument's facts (this module) and the station's driver
(:mod:`drivers.keithley2450.driver`, on pymeasure's ``Keithley2450``, imported only when a
configuration names ``[smu] model = "keithley2450"``: pymeasure's Keithley package costs
about 0.5 s to import).

Sources: Keithley 2450 Interactive SourceMeter Reference Manual, 2450-901-01 Rev. B
(September 2013): section 6 (SCPI command reference: ``:READ?`` and its buffer elements,
``:SOURce[1]:<function>:ILIMit``/``VLIMit``, ``[:SENSe[1]]:<function>:NPLCycles``,
``:SOURce[1]:<function>:READ:BACK``), section 8 (``bufferVar.sourcestatuses``: the source
status bits) and the 2450 data sheet (ranges, 105 % over-range).
"""

from __future__ import annotations

#: largest source or limit magnitudes: the 200 V and 1 A ranges, 5 % over (data sheet)
MAX_VOLTAGE_V = 210.0
MAX_CURRENT_A = 1.05
#: integration time, power-line cycles ([:SENSe[1]]:<function>:NPLCycles)
NPLC_RANGE = (0.01, 10.0)
#: the limits after *RST (:SOURce:VOLTage:ILIMit 105 uA, :SOURce:CURRent:VLIMit 21 V)
RESET_COMPLIANCE_CURRENT_A = 1.05e-4
RESET_COMPLIANCE_VOLTAGE_V = 21.0
#: an overflowed measurement reads as this (9.9E+37)
OVERFLOW = 9.9e37
#: source status bits of a reading (buffer element SOURSTATus, bufferVar.sourcestatuses)
SOURCE_STATUS_OVER_TEMPERATURE = 1 << 4
SOURCE_STATUS_LIMIT = 1 << 5  # the source was limited: the complementary function reached its limit
SOURCE_STATUS_SENSE = 1 << 6
SOURCE_STATUS_OUTPUT = 1 << 7
#: the buffer elements one station reading asks for: measured value, source (read back), source status, time
READ_ELEMENTS = ("READ", "SOUR", "SOURSTAT", "REL")
#: the identity (*IDN?) of the model
IDENTITY_MODEL = "MODEL 2450"
