"""SCPI command canonicalisation (shared by the driver guard and the simulator).

A real SCPI instrument accepts long or short mnemonics in any case, with or without
the leading colon. pyvisa-sim matches bytes exactly, so every query is rewritten to one
canonical form (short mnemonics, upper case, leading colon) before it is matched.
"""

from __future__ import annotations

import re
from functools import lru_cache

_VOWELS = set("AEIOU")
_MNEMONIC = re.compile(r"^([A-Z*]+?)(\d*)(\??)$")

#: Argument words that name functions or elements and so are canonicalised too.
_ELEMENT_HEADERS = {":FORM:ELEM", ":SENS:FUNC", ":SOUR:FUNC", ":SENS:FUNC:ON", ":SENS:FUNC:OFF"}


def short_mnemonic(word: str) -> str:
    """SCPI short form: the first four letters, or three if the fourth is a vowel."""
    word = word.upper()
    if len(word) <= 4:
        return word
    return word[:3] if word[3] in _VOWELS else word[:4]


def _canonical_header(header: str) -> str:
    if header.startswith("*"):
        return header.upper()
    parts = []
    for part in header.strip(":").split(":"):
        match = _MNEMONIC.match(part.upper())
        if not match:
            parts.append(part.upper())
            continue
        word, number, question = match.groups()
        parts.append(short_mnemonic(word) + number + question)
    return ":" + ":".join(parts)


def _canonical_argument_words(argument: str) -> str:
    words = [w.strip() for w in argument.split(",")]
    out = []
    for word in words:
        quote = word[0] if word[:1] in "'\"" else ""
        bare = word.strip("'\"")
        out.append(f"{quote}{short_mnemonic(bare)}{quote}")
    return ",".join(out)


@lru_cache(maxsize=1024)
def canonical(command: str) -> str:
    """Canonical form of one SCPI command (no ';' inside); memoised: queries repeat."""
    command = command.strip()
    if not command:
        return ""
    header, _, argument = command.partition(" ")
    header = _canonical_header(header)
    argument = argument.strip()
    if not argument:
        return header
    if header in _ELEMENT_HEADERS:
        argument = _canonical_argument_words(argument)
    elif argument.upper() in {"ON", "OFF"}:
        argument = "1" if argument.upper() == "ON" else "0"
    elif re.fullmatch(r"[A-Za-z]+", argument):
        argument = short_mnemonic(argument)
    return f"{header} {argument}"
