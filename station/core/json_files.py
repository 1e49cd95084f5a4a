"""Small JSON documents replaced whole: written beside, flushed (to disk when durable),
then ``os.replace``: a crash, a kill or a power cut leaves the old document or the new one,
never half of either. A document that does not parse is kept aside (``.corrupt-TIME``) and
reported, never silently emptied."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_json(path: Path, data: Any, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` as JSON, atomically (and on disk before it returns when
    ``durable``; a display aid rewritten every second need not be)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False,
                                     encoding="utf-8") as tmp:
        json.dump(data, tmp, indent=1, allow_nan=False)
        tmp.flush()
        if durable:
            os.fsync(tmp.fileno())
    os.replace(tmp.name, path)


def read_json(path: Path, empty: Any) -> Any:
    """The document in ``path`` (``empty`` when there is none); a damaged one is set aside."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        aside = path.with_name(path.name + f".corrupt-{int(time.time())}")
        os.replace(path, aside)
        log.error("%s did not parse; kept as %s and started empty", path, aside)
        return empty
