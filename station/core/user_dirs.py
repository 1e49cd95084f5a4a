"""Where the station keeps its own data on this computer (agents' queues, registries and run
files): ``$LEDSTATION_DATA_DIR``, else the user's data folder as the OS names it (platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_VARIABLE = "LEDSTATION_DATA_DIR"


def user_data_dir() -> Path:
    explicit = os.environ.get(DATA_DIR_VARIABLE)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return platformdirs.user_data_path("ledstation")
