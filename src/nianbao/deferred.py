"""Modules imported on first use rather than when another module imports them.

great-expectations imports, as it initialises, every expectation it ships, and with them scipy.stats (for the
KS tests and KL divergence) and altair (to chart the KL divergence): about 0.8 s of CPU, a third of importing
great-expectations, spent on the critical path of a batch that validates a few reports. nianbao's suites use
neither. `defer` puts a stand-in for such a module in `sys.modules`: importing it gives the stand-in, and the
first attribute read from it imports the real module (in its place) and reads the attribute there. So an
expectation that does need scipy still works, it only pays the import when it runs.

The stdlib's `importlib.util.LazyLoader` does not do here: the `import altair as alt` statement itself reads the
module's `__spec__`, which makes a LazyLoader module load at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.RLock()


class Deferred(types.ModuleType):
    """The stand-in of a module not imported yet (see `defer`)."""

    def __getattr__(self, name: str) -> Any:  # only called for what the stand-in lacks
        return getattr(load(self), name)


def defer(*names: str) -> list[str]:
    """Put a `Deferred` stand-in in `sys.modules` for each module of `names` that is installed and not imported
    yet (a submodule's parent package is imported); returns the names deferred."""
    deferred = []
    with _lock:
        for name in names:
            if name in sys.modules:
                continue
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                continue
            stand_in = Deferred(name)
            # What the import statement and `inspect` read of a module, without `__path__`: a submodule's import
            # reads the package's `__path__` and so imports the package first.
            stand_in.__spec__, stand_in.__loader__, stand_in.__file__ = spec, spec.loader, spec.origin
            stand_in.__package__ = spec.parent
            sys.modules[name] = stand_in
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, stand_in)
            deferred.append(name)
    return deferred


def load(module: types.ModuleType) -> types.ModuleType:
    """The real module for `module` (itself when it is not a stand-in): imported the first time, and its
    attributes copied onto the stand-in, so those who hold the stand-in read them at no extra cost."""
    if not isinstance(module, Deferred):
        return module
    name = module.__name__
    with _lock:
        if sys.modules.get(name) is module:
            del sys.modules[name]
            try:
                real = importlib.import_module(name)
            except BaseException:
                sys.modules[name] = module
                raise
            module.__dict__.update(real.__dict__)
        return sys.modules[name]


def is_deferred(name: str) -> bool:
    """Whether `name` is still a stand-in in `sys.modules` (not imported for real)."""
    return isinstance(sys.modules.get(name), Deferred)
