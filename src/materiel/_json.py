"""Strict JSON out of materiel: what a non-finite number means is "no value" (``null``).

Python's ``json`` writes ``NaN`` and ``Infinity``, which are not JSON (RFC 8259)
and which other readers refuse. Every JSON that materiel prints or writes goes
through :func:`dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "finite"]


def finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by ``None`` (nested dicts and lists;
    numpy scalars become Python numbers)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    item = getattr(data, "item", None)
    if callable(item) and getattr(data, "shape", None) == ():  # a numpy scalar
        return finite(item())
    return data


def dumps(data: Any, indent: int | None = 2) -> str:
    """Strict JSON text: non-finite numbers as ``null``, other objects as ``str``.

    >>> dumps({"a": float("inf"), "b": [1.5, float("nan")]}, indent=None)
    '{"a": null, "b": [1.5, null]}'
    """
    return json.dumps(finite(data), indent=indent, default=str, allow_nan=False)
