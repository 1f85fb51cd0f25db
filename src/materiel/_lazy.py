"""Public names loaded on first use (PEP 562), shared by the package ``__init__`` files.

``import materiel`` and the command line then start without pandas, xarray,
scipy, numba, linopy or plotly until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str,
    table: dict[str, str],
    namespace: MutableMapping[str, Any],
    first: str | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and returns its ``name``.

    The value is cached in ``namespace`` (the package's ``globals()``), so the
    import happens once; ``first``, if given, is imported before any name
    (e.g. a module that registers accessors).
    """

    def lookup(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if first is not None:
            importlib.import_module(first)
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return lookup
