"""Values built from objects that are never modified, kept by those objects' identity.

The web's knobbed inputs share most fields with their scenario's template
(:func:`materiel.engine.inputs.retune` replaces the others), and every run of a
scenario shares its read-only label arrays, so what is built from those objects alone
(label strings, coordinates, positions) is built once, not per run. The objects are
kept with the value, so an ``id`` cannot be reused by another object while cached.
This relies on the convention that :class:`~materiel.engine.Inputs`, scenarios and the
shared arrays are never modified in place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ByIdentity"]

_V = TypeVar("_V")


class ByIdentity(Generic[_V]):
    """A cache of at most ``size`` values (the oldest dropped first), keyed by a ``tag``
    and the identity of the objects a value was built from."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._held: dict[tuple[Hashable, ...], tuple[tuple[object, ...], _V]] = {}
        self._lock = threading.Lock()

    def get(self, objects: tuple[object, ...], build: Callable[[], _V], tag: Hashable = None) -> _V:
        """The value kept for ``tag`` and these very ``objects``, or ``build()`` kept."""
        key = (tag, *map(id, objects))
        held = self._held.get(key)
        if held is not None and all(a is b for a, b in zip(held[0], objects, strict=True)):
            return held[1]
        value = build()
        with self._lock:
            if len(self._held) >= self._size:
                self._held.pop(next(iter(self._held)))
            self._held[key] = (objects, value)
        return value
