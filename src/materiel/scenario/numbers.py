"""Number types shared by the schema and the distributions: finite, and never a boolean."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

__all__ = ["Finite", "NotBool"]


def _not_bool(value: object) -> object:
    """TOML ``true`` is not the number 1: refuse booleans where a number is expected."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


NotBool = BeforeValidator(_not_bool)
"""Put after a numeric type's ``Field`` so that ``true``/``false`` are refused, not read as 1/0."""

Finite = Annotated[float, Field(allow_inf_nan=False), NotBool]
"""A finite number (not a boolean)."""
