"""xarray without ``dask.array`` until something really uses dask arrays.

xarray asks "is this a dask array?" each time it wraps data
(``isinstance(data, array_type("dask"))`` in ``as_compatible_data``), and
answering imports ``dask.array`` whenever dask is installed: about a second
on every ``materiel run`` although materiel never builds a dask array (the
sweep uses ``dask.distributed`` only). No object can be a dask array before
``dask.array`` is imported, so until then the answer is "no" without
importing it; from the moment ``dask.array`` is in ``sys.modules`` xarray's
own answer is used. :func:`lazy_dask` installs that answer in xarray's cache;
modules that build xarray objects call it once, after ``import xarray``.

The same holds for "is this a dask collection?" (``is_dask_collection`` in
``xarray.namedarray.utils``, asked when an index is built), which imports
``dask.base`` (with jinja2, psutil and dask's config; about 0.3 s CPU) only
to read an attribute: dask's own test starts with "no ``__dask_graph__``, not
a collection", and :func:`lazy_dask` answers that case before importing dask.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["lazy_dask"]


class _LazyDaskModule:
    """Stands for xarray's cache entry of dask until ``dask.array`` is imported."""

    def __init__(self, factory: Any, cache: dict[str, Any]) -> None:
        self._factory = factory  # xarray's DuckArrayModule
        self._cache = cache

    def _real(self) -> Any:
        real = self._factory("dask")
        self._cache["dask"] = real  # from now on xarray asks the real entry
        return real

    @property
    def type(self) -> tuple[type, ...]:
        """The dask array type once ``dask.array`` is imported; none before."""
        if "dask.array" in sys.modules:
            return tuple(self._real().type)
        return ()

    def __getattr__(self, name: str) -> Any:  # version, module, available: ask the real one
        return getattr(self._real(), name)


def lazy_dask() -> None:
    """Let xarray answer "not a dask array" without importing ``dask.array`` (idempotent).

    A no-op where xarray's internals differ from the ones this relies on
    (``xarray.namedarray.pycompat._cached_duck_array_modules``): then xarray
    imports dask as before, slower but correct.
    """
    try:
        from xarray.namedarray import pycompat
    except ImportError:  # pragma: no cover - another xarray layout
        return
    _lazy_collection_test()
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    factory = getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or factory is None or "dask" in cache:
        return
    if "dask.array" in sys.modules:
        return
    cache["dask"] = _LazyDaskModule(factory, cache)


def _lazy_collection_test() -> None:
    """Answer ``is_dask_collection(x)`` for objects without ``__dask_graph__`` without dask."""
    try:
        from xarray.namedarray import utils
    except ImportError:  # pragma: no cover - another xarray layout
        return
    asked = getattr(utils, "is_dask_collection", None)
    if asked is None or getattr(asked, "_materiel_lazy", False):
        return

    def is_dask_collection(x: object) -> bool:
        # dask.base.is_dask_collection's own first test, before importing dask
        if isinstance(x, type) or not hasattr(x, "__dask_graph__"):
            return False
        return bool(asked(x))

    is_dask_collection._materiel_lazy = True  # type: ignore[attr-defined]
    utils.is_dask_collection = is_dask_collection  # type: ignore[assignment]
