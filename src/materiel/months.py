"""Calendar months as ``YYYY-MM`` strings and integer month indices."""

from __future__ import annotations

import re
from typing import overload

import numpy as np

__all__ = [
    "MONTH_PATTERN",
    "horizon_end",
    "label_of",
    "month_index",
    "month_label",
    "month_range",
    "months_between",
    "parse_month",
    "year_of",
]

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_MONTH_RE = re.compile(MONTH_PATTERN)


def parse_month(text: str) -> int:
    """Return the absolute month number (``year * 12 + month - 1``) of ``YYYY-MM``."""
    if not _MONTH_RE.match(text):
        raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
    year, month = text.split("-")
    return int(year) * 12 + int(month) - 1


def month_label(absolute: int) -> str:
    """Inverse of :func:`parse_month`."""
    year, month0 = divmod(int(absolute), 12)
    return f"{year:04d}-{month0 + 1:02d}"


def month_index(text: str, start: str) -> int:
    """Index of month ``text`` in a horizon that begins at ``start`` (may be negative)."""
    return parse_month(text) - parse_month(start)


def month_range(start: str, months: int) -> np.ndarray:
    """``months`` month-start timestamps from ``start``, as ``datetime64[ns]``."""
    first = np.datetime64(start, "M")
    return (first + np.arange(months)).astype("datetime64[ns]")


def label_of(when: np.datetime64 | str) -> str:
    """``YYYY-MM`` of a timestamp (a ``datetime64`` month coordinate or an ISO date string)."""
    return str(np.asarray(when, dtype="datetime64[M]"))


@overload
def year_of(month: str | int) -> int: ...


@overload
def year_of(month: np.ndarray) -> np.ndarray: ...


def year_of(month: str | int | np.ndarray) -> int | np.ndarray:
    """Calendar year of a ``YYYY-MM`` month, of an absolute month number, or of each
    absolute month number of an integer array (``absolute // 12``)."""
    if isinstance(month, np.ndarray):
        years: np.ndarray = month // 12
        return years
    absolute = parse_month(month) if isinstance(month, str) else int(month)
    return absolute // 12


def months_between(earlier: str, later: str) -> int:
    """Whole months from ``earlier`` to ``later`` (negative when ``later`` comes first)."""
    return parse_month(later) - parse_month(earlier)


def horizon_end(start: str, months: int) -> str:
    """The last month of a horizon of ``months`` months that begins at ``start``."""
    return month_label(parse_month(start) + months - 1)
