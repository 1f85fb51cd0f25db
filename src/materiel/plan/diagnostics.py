"""What a plan tells a planner, in sentences: what binds, what it is worth, what cannot be met.

Values come from the duals of the programme's real constraints (line and
component capacity, budgets): the dual of a capacity constraint in month
``t`` is what one more unit of capacity in that month would change the
objective by. Consecutive binding months are grouped into one sentence whose
value is the sum over those months, i.e. the worth of one more unit of
monthly capacity throughout the period. With the ``cost`` objective the
value is split: what it saves in payments and capex with every outcome held
(in US$), and apart from it what it is worth through the penalties (targets
missed, consumption short, commitments late), which are weights, not money.
With ``coverage`` and ``time`` values are in shares of one whole target (the
objective's unit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from materiel.analysis.metrics import commitment_kept, target_met
from materiel.analysis.sentences import (
    TargetOutcome,
    fmt_number,
    shortfall_phrase,
    target_sentence,
)
from materiel.months import month_label, months_between, parse_month

__all__ = [
    "Binding",
    "RecipientStatus",
    "TargetStatus",
    "binding_sentences",
    "group_months",
    "worth",
]

_MIN_VALUE = 1e-6
_PENNY_USD = 1.0  # penalty parts below a dollar are the planner's tie-breaks, not penalties


@dataclass(frozen=True)
class Binding:
    """A resource that binds over a run of months, and what relaxing it is worth."""

    kind: str  # "line", "component" or "budget"
    what: str  # line id, "component in pool", or ally
    first: str  # first month (or year)
    last: str
    value: float  # US$ of payments and capex (cost), else objective units, for one more unit
    sentence: str
    penalty: float = 0.0  # the rest of the dual, from penalty weights (cost objective)


@dataclass(frozen=True)
class RecipientStatus:
    """A commitment to a recipient as the plan keeps it, and the recipient's demand in its run.

    ``due``: what falls due inside the horizon (net of what was delivered
    before it); ``delivered``: what the plan delivers of it; ``short``: what
    is not delivered by ``by`` (the end of its schedule), at the commitment
    penalty. ``demand`` and ``shortfall``: the recipient's consumption of the
    product over the horizon and what of it goes unmet when the plan is
    simulated.
    """

    party: str
    product: str
    commitment: str
    due: float
    delivered: float
    short: float
    by: str
    demand: float
    shortfall: float

    @property
    def kept(self) -> bool:
        """Whether the commitment is delivered in full by the end of its schedule
        (:func:`~materiel.analysis.metrics.commitment_kept`)."""
        return bool(commitment_kept(self.short, self.due))

    def sentence(self) -> str:
        """One line: kept or short, and the recipient's unmet demand in the plan's run."""
        due = fmt_number(self.due)
        head = f"{self.commitment}: {self.party} {self.product} {due} due by {self.by}"
        verdict = "kept" if self.kept else f"SHORT {fmt_number(self.short)} by {self.by}"
        unmet = self.shortfall / self.demand if self.demand > 0 else 0.0
        return f"{head} -> {verdict}; {self.party}'s {self.product} demand {unmet:.0%} unmet"


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
            target=self.id,
            parties=self.parties,
            product=self.product,
            required=self.required,
            by=self.by,
            met=self.met,
            first_met=first,
            months_to_target=to_target,
            months_early=early,
            stock=self.stock_at_by,
            short=self.short,
            at=self.by,
        )

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


def worth(value: float, in_usd: bool) -> str:
    """A term of the objective in words: US$ (``$11.99bn``) under the cost objective,
    else a share of one whole target's coverage (``1.333% of a whole target's coverage``)."""
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
    *,
    penalty_value: dict[str, np.ndarray] | None = None,
    budget_penalty: dict[tuple[str, int], float] | None = None,
    units: dict[str, str] | None = None,
) -> list[Binding]:
    """Sentences for the most valuable binding resources, most valuable first.

    ``capacity_value[line]`` and ``component_value[(component, pool)]`` hold,
    per month, what one more unit of capacity is worth (US$ of payments and
    capex for ``cost``, shares of a target otherwise); ``budget_value[(ally,
    year)]`` what one more US$ of budget is worth. ``penalty_value[what]``
    (``what`` a line id or ``component@pool``) and ``budget_penalty``: the
    part of the full dual that comes from the penalties, reported apart.
    ``units[what]``: the product a unit of capacity makes.
    """
    s0 = parse_month(start)
    out: list[Binding] = []
    penalties = penalty_value or {}
    names = units or {}

    def runs(kind: str, what: str, label: str, series: np.ndarray) -> None:
        extra = penalties.get(what, np.zeros_like(series))
        both = np.abs(series) + np.abs(extra)
        scale = max(float(both.max(initial=0.0)), 1.0)
        for a, b in group_months(both, _MIN_VALUE * scale):
            value = float(series[a : b + 1].sum())
            pen = float(extra[a : b + 1].sum())
            first, last = month_label(s0 + a), month_label(s0 + b)
            span = first if a == b else f"{first}..{last}"
            unit = names.get(what, "unit")
            if in_usd and abs(value) < 0.005 and abs(pen) <= _PENNY_USD:
                continue  # binds only through the planner's tie-breaks: worth nothing
            if in_usd:
                saves = worth(value, True)
                text = (
                    f"{label} binds in {span}: one more {unit}/month of capacity there over "
                    f"that period saves {saves} of payments and capex"
                )
                if abs(pen) > max(_PENNY_USD, _MIN_VALUE * scale):
                    text += (
                        f"; apart, {worth(pen, True)} of penalty weight (targets missed, "
                        "consumption short, commitments late)"
                    )
            else:
                text = (
                    f"{label} binds in {span}: one more {unit}/month of capacity there over "
                    f"that period is worth {worth(value, False)}"
                )
            out.append(Binding(kind, what, first, last, value, text, pen))

    for line, series in capacity_value.items():
        runs("line", line, f"line {line}", series)
    for (component, pool), series in component_value.items():
        runs("component", f"{component}@{pool}", f"{component} in pool {pool}", series)
    for (ally, year), value in budget_value.items():
        pen = (budget_penalty or {}).get((ally, year), 0.0)
        if value > _MIN_VALUE or pen > _PENNY_USD * 1e-3:
            if in_usd:
                text = f"budget of {ally} in {year} binds: one more $1 saves {worth(value, True)}"
                if pen > _PENNY_USD * 1e-3:
                    text += f" of payments and capex; apart, {worth(pen, True)} of penalty weight"
            else:
                text = (
                    f"budget of {ally} in {year} binds: one more $1 is worth {worth(value, False)}"
                )
            out.append(Binding("budget", ally, str(year), str(year), value, text, pen))
    capacity = sorted((b for b in out if b.kind != "budget"), key=lambda b: (-b.value, -b.penalty))
    budgets = sorted((b for b in out if b.kind == "budget"), key=lambda b: (-b.value, -b.penalty))
    return capacity[:limit] + budgets[:limit]
