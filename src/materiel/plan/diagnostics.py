"""What a plan tells a planner, in sentences: what binds, what it is worth, what cannot be met.

Values come from the duals of the programme's constraints: the dual of a
capacity constraint in month ``t`` is what one more unit of capacity in that
month would change the objective by. Consecutive binding months are grouped
into one sentence whose value is the sum over those months, i.e. the worth
of one more unit of monthly capacity throughout the period. With the
``cost`` objective values are in US$; with ``coverage`` and ``time`` they
are in shares of one whole target (the objective's unit). Values include
the programme's penalties (unmet targets, consumption short), so a resource
that stands between a party and its target is worth far more than its price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from materiel.analysis.metrics import target_met
from materiel.analysis.sentences import TargetOutcome, shortfall_phrase, target_sentence
from materiel.months import month_label, months_between, parse_month

__all__ = ["Binding", "TargetStatus", "binding_sentences", "group_months"]

_MIN_VALUE = 1e-6


@dataclass(frozen=True)
class Binding:
    """A resource that binds over a run of months, and what relaxing it is worth."""

    kind: str  # "line", "component" or "budget"
    what: str  # line id, "component in pool", or ally
    first: str  # first month (or year)
    last: str
    value: float  # objective units for one more unit (or one more US$ for budgets)
    sentence: str


@dataclass(frozen=True)
class TargetStatus:
    """A target's outcome in the plan."""

    id: str
    parties: list[str]
    product: str
    by: str
    required: float
    stock_at_by: float
    short: float
    first_met: str | None
    start: str

    @property
    def met(self) -> bool:
        """Whether the target is met by its date (:func:`~materiel.analysis.metrics.target_met`)."""
        return bool(target_met(self.required - self.short, self.required))

    def outcome(self) -> TargetOutcome:
        """The target's outcome at its date, as the shared sentence builder takes it."""
        first = self.first_met
        to_target = months_between(self.start, first) if first else None
        early = months_between(first, self.by) if first else None
        return TargetOutcome(
            target=self.id, parties=self.parties, product=self.product, required=self.required,
            by=self.by, met=self.met, first_met=first, months_to_target=to_target,
            months_early=early, stock=self.stock_at_by, short=self.short, at=self.by,
        )  # fmt: skip

    def sentence(self) -> str:
        """One line: met when, or short by how much at the date (:func:`target_sentence`)."""
        return target_sentence(self.outcome())

    def diagnosis(self) -> str:
        """``<id> cannot be met by <date>: stock S (C% of target, short G)``; empty when met."""
        if self.met:
            return ""
        gap = shortfall_phrase(self.stock_at_by, self.required, self.short)
        return f"{self.id} cannot be met by {self.by}: {gap}"


def group_months(values: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of consecutive indices where ``values > threshold``."""
    on = values > threshold
    runs = []
    t = 0
    while t < len(on):
        if on[t]:
            first = t
            while t + 1 < len(on) and on[t + 1]:
                t += 1
            runs.append((first, t))
        t += 1
    return runs


def _money(value: float, in_usd: bool) -> str:
    if not in_usd:
        return f"{100 * value:.4g}% of a whole target's coverage"
    for scale, unit in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(value) >= scale:
            return f"${value / scale:,.2f}{unit}"
    return f"${value:,.2f}"


def binding_sentences(
    start: str,
    capacity_value: dict[str, np.ndarray],
    component_value: dict[tuple[str, str], np.ndarray],
    budget_value: dict[tuple[str, int], float],
    in_usd: bool,
    limit: int = 12,
    priced_at: dict[str, float] | None = None,
) -> list[Binding]:
    """Sentences for the most valuable binding resources, most valuable first.

    ``capacity_value[line]`` and ``component_value[(component, pool)]`` hold,
    per month, what one more unit of capacity is worth (objective units
    converted to US$ or to shares of a target); ``budget_value[(ally,
    year)]`` what one more US$ of budget is worth. ``priced_at[what]``, an
    upper bound of what a unit costs (US$, ``cost`` objective): a value above
    it per month is flagged as coming from the penalties (backlog late,
    consumption short, a target missed) rather than from prices and capex.
    """
    s0 = parse_month(start)
    out: list[Binding] = []

    def runs(kind: str, what: str, label: str, series: np.ndarray) -> None:
        scale = max(float(np.abs(series).max(initial=0.0)), 1.0)
        for a, b in group_months(series, _MIN_VALUE * scale):
            value = float(series[a : b + 1].sum())
            first, last = month_label(s0 + a), month_label(s0 + b)
            span = first if a == b else f"{first}..{last}"
            bound = (priced_at or {}).get(what)
            why = ""
            if in_usd and bound is not None and value > bound * (b - a + 1):
                why = " (mostly penalties: backlog late, consumption short or a target missed)"
            out.append(
                Binding(
                    kind, what, first, last, value,
                    f"{label} binds in {span}: one more unit/month of capacity there "
                    f"over that period is worth {_money(value, in_usd)}{why}",
                )
            )  # fmt: skip

    for line, series in capacity_value.items():
        runs("line", line, f"line {line}", series)
    for (component, pool), series in component_value.items():
        runs("component", f"{component}@{pool}", f"{component} in pool {pool}", series)
    for (ally, year), value in budget_value.items():
        if value > _MIN_VALUE:
            worth = _money(value, in_usd)
            out.append(
                Binding(
                    "budget", ally, str(year), str(year), value,
                    f"budget of {ally} in {year} binds: one more $1 is worth {worth}",
                )
            )  # fmt: skip
    capacity = sorted((b for b in out if b.kind != "budget"), key=lambda b: -b.value)
    budgets = sorted((b for b in out if b.kind == "budget"), key=lambda b: -b.value)
    return capacity[:limit] + budgets[:limit]
