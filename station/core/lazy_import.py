"""Defer heavy third-party imports that the station never uses on its own paths.

``pymeasure.experiment`` imports pandas (about 0.3 s) for its CSV ``Results``, which
the station does not use; the procedures still need pymeasure's ``Procedure`` and
``Parameter``. :func:`defer` registers such a module with the standard library's
:class:`importlib.util.LazyLoader`: ``import pandas`` then costs nothing, and the module
really loads on the first attribute anybody reads from it (pymeasure's Results, a GUI,
a user's script), so nothing behaves differently except when the cost is paid.

Only the command-line entry point calls this; importing the station as a library does
not change how other packages load.
"""

from __future__ import annotations

import importlib.util
import sys


def defer(name: str) -> bool:
    """Make ``import name`` lazy if it is installed and not yet imported; True if done."""
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return False
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return True
