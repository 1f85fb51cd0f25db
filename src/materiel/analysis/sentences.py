"""Numbers and target outcomes in words: the one place their sentences are built.

``materiel run`` (:mod:`materiel.present.summary`), the HTML report's
findings (:mod:`materiel.present.report`) and the planner's diagnosis
(:mod:`materiel.plan.diagnostics`) all word a target's outcome through
:func:`target_sentence`, :func:`timing_phrase` and :func:`shortfall_phrase`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "TargetOutcome",
    "fmt_number",
    "fmt_usd",
    "group_of",
    "shortfall_phrase",
    "target_sentence",
    "timing_phrase",
]


def fmt_number(x: float | None) -> str:
    """1234567 -> '1.23M', 12345 -> '12,345'; None or NaN -> '-'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    return f"{x:,.0f}"


def fmt_usd(x: float) -> str:
    """US$ in bn or m."""
    if abs(x) >= 1e9:
        return f"${x / 1e9:.2f}bn"
    if abs(x) >= 1e6:
        return f"${x / 1e6:.1f}m"
    return f"${x:,.0f}"


def group_of(parties: list[str]) -> str:
    """Parties named when four or fewer, counted otherwise."""
    return ",".join(parties) if len(parties) <= 4 else f"{len(parties)} parties"


def timing_phrase(months_to_target: int, months_early: int) -> str:
    """'already met at the start', 'on time', 'N months early' or 'N months late' ('1 month')"""
    if months_to_target == 0:
        return "already met at the start"
    if months_early == 0:
        return "on time"
    n = abs(months_early)
    return f"{n} month{'' if n == 1 else 's'} {'early' if months_early > 0 else 'late'}"


def shortfall_phrase(stock: float, required: float, short: float) -> str:
    """'stock S (C% of target, short G)'."""
    share = stock / required if required > 0 else 1.0
    return f"stock {fmt_number(stock)} ({share:.0%} of target, short {fmt_number(short)})"


@dataclass(frozen=True)
class TargetOutcome:
    """What a sentence about one target needs.

    ``met`` says whether the target counts as met (by the horizon for a run,
    by its date for a plan); ``first_met`` is the first month the stock
    reaches it, ``months_to_target`` counts from the horizon start to that
    month and ``months_early`` from it to the target date (negative: late).
    ``stock`` and ``short`` are the stock and the gap at month ``at`` (the
    horizon's end for a run, the target date for a plan).
    """

    target: str
    parties: list[str]
    product: str
    required: float
    by: str
    met: bool
    first_met: str | None
    months_to_target: int | None
    months_early: int | None
    stock: float
    short: float
    at: str
    assumption: bool = False


def target_sentence(o: TargetOutcome) -> str:
    """One line on one target: ``<target>: <who> <munition> >= <required> by <date> -> <outcome>``.

    The outcome is ``met <month> (<timing>)`` (see :func:`timing_phrase`), or
    ``NOT met by <at>: <shortfall>`` (see :func:`shortfall_phrase`).
    """
    label = " (assumed target)" if o.assumption else ""
    head = (
        f"{o.target}: {group_of(o.parties)} {o.product} >= {fmt_number(o.required)} "
        f"by {o.by}{label}"
    )
    if o.met:
        if o.first_met is None or o.months_to_target is None or o.months_early is None:
            return f"{head} -> met"
        if o.months_to_target == 0:
            return f"{head} -> already met at the start"
        return f"{head} -> met {o.first_met} ({timing_phrase(o.months_to_target, o.months_early)})"
    return f"{head} -> NOT met by {o.at}: {shortfall_phrase(o.stock, o.required, o.short)}"
