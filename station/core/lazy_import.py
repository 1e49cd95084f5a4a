"""Defer heavy third-party imports that the station never uses on its own paths.

``pymeasure.experiment`` imports pandas (about 0.3 s) for its CSV ``Results``, which
the station does not use; the procedures still need pymeasure's ``Procedure`` and
``Parameter``. :func:`defer` puts a stand-in module in ``sys.modules``: ``import
pandas`` then costs nothing, and the first attribute anybody reads from it
(pymeasure's Results, a GUI, a user's script) imports the real pandas, puts it in
``sys.modules`` in the stand-in's place and returns the attribute, so nothing behaves
differently except when the cost is paid.

(The standard library's ``importlib.util.LazyLoader`` cannot do this on Python 3.11:
the import statement itself reads the module's ``__spec__``, which loads it.)

Only the command-line entry point calls this; importing the station as a library does
not change how other packages load.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.RLock()


class DeferredModule(types.ModuleType):
    """Stands in for a module until one of its attributes is read."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.__spec__ = spec  # what the import statement reads; it must not load the module
        self.__loader__ = spec.loader
        # no __path__: importing a submodule (``import pandas.api``) reads it, which loads the
        # real package first, so no submodule is ever imported under the stand-in

    def __getattr__(self, attribute: str) -> Any:
        return getattr(load(self.__name__), attribute)

    def __dir__(self) -> list[str]:
        return dir(load(self.__name__))


def load(name: str) -> types.ModuleType:
    """The real module (importing it now if only its stand-in was there)."""
    with _lock:
        module = sys.modules.get(name)
        if isinstance(module, DeferredModule):
            del sys.modules[name]
            try:
                module = importlib.import_module(name)
            except BaseException:
                sys.modules.setdefault(name, module)
                raise
        elif module is None:
            module = importlib.import_module(name)
        return module


def defer(name: str) -> bool:
    """Make ``import name`` cheap until the module is used; True if a stand-in was put in place."""
    with _lock:
        if name in sys.modules:
            return False
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return False
        sys.modules[name] = DeferredModule(name, spec)
        return True
