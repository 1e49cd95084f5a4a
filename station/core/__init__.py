"""The lowest layer: clocks, errors, SCPI text, photometry and CIE tables.

Nothing here imports anything else of the project, touches an instrument or a file
(apart from the CIE table cache).
"""
