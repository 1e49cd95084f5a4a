"""File names made from a pattern: ``{date}-{title}-{procedure}-{n:03d}.h5``.

A pattern is checked before any instrument is opened: every field a plain name the
caller knows, no conversion (``!r``), no attribute or index (``{n.real}``, ``{pixel[0]}``),
and a format spec of the ordinary kind (fill, align, sign, zero, width up to
:data:`MAX_WIDTH`, precision, type). Text that goes into a name (a title typed in the
window, a parameter's text) is reduced to letters, digits, ``-``, ``_`` and ``.`` and never
starts with a dot, so no value can make ``..`` or a hidden file. A name made for a folder
must stay inside it (:func:`inside`), symbolic links resolved.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from station.core.errors import ConfigError

MAX_WIDTH = 64
_SPEC = re.compile(r"^(?:[^{}]?[<>=^])?[+\- ]?#?0?(?P<width>\d{0,3})[,_]?(?:\.\d{1,2})?[bdeEfFgGnosxX%]?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
MAX_FIELD_CHARS = 60


def safe_text(value: str) -> str:
    """Text as it may appear in a file name (see the module docstring)."""
    text = _UNSAFE.sub("_", value)[:MAX_FIELD_CHARS]
    return "_" + text[1:] if text.startswith(".") else text


def pattern_fields(pattern: str, known: Iterable[str], option: str) -> set[str]:
    """The fields ``pattern`` uses; ConfigError (one line) unless each is known and plainly formatted."""
    known = set(known)
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ConfigError(f"{option} {pattern!r}: not a file-name pattern ({exc})") from None
    used = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or not _IDENTIFIER.match(name):
            raise ConfigError(f"{option} {pattern!r}: {{{name}}} is not a field (fields are plain names: "
                              f"{', '.join('{' + k + '}' for k in sorted(known))})")
        if name not in known:
            raise ConfigError(f"{option} {pattern!r}: unknown field {{{name}}} (known: "
                              f"{', '.join('{' + k + '}' for k in sorted(known))})")
        if conversion:
            raise ConfigError(f"{option} {pattern!r}: {{{name}!{conversion}}}: conversions are not allowed")
        match = _SPEC.match(spec or "")
        if match is None or int(match["width"] or 0) > MAX_WIDTH:
            raise ConfigError(f"{option} {pattern!r}: {{{name}:{spec}}} is not a format for a file name (fill, "
                              f"align, width up to {MAX_WIDTH}, precision, type)")
        used.add(name)
    return used


def format_name(pattern: str, values: Mapping[str, Any], option: str) -> str:
    """``pattern`` filled with ``values`` (text made safe); ConfigError for a value its format refuses."""
    safe = {k: safe_text(v) if isinstance(v, str) else v for k, v in values.items()}
    try:
        name = pattern.format(**safe)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"{option} {pattern!r}: {exc}") from None
    if not name.strip() or "\x00" in name:
        raise ConfigError(f"{option} {pattern!r}: gives an empty file name")
    return name


def inside(folder: Path, name: str, option: str) -> Path:
    """``folder / name``, refused unless it lies inside ``folder`` (no absolute name, no ``..``,
    no symbolic link leading out)."""
    relative = Path(name)
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        raise ConfigError(f"{option}: {name!r} is not a name inside the folder {folder}")
    path = folder / relative
    try:
        resolved, root = path.resolve(), folder.resolve()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"{option}: {path}: {exc}") from None
    if resolved != root and root not in resolved.parents:
        raise ConfigError(f"{option}: {path} leads outside the folder {folder} (a symbolic link?)")
    return path
