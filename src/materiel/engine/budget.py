"""Munitions budgets per ally-year as a constraint on signing contracts.

Budgets (:func:`materiel.scenario.economics.economic_series`: GDP x %GDP, the
latest actual share carried forward and spending paths as floors, x NATO's
per-ally equipment share, or ``policy.equipment_share`` where there is none or
when ``policy.equipment_share_from = "policy"``, x munitions share) are
compared with *committed* payments: a contract commits each buyer
to ``share * unit price * quantity due`` in every year of its delivery
schedule. Contracts are taken in order of signature, then priority. With
``policy.budget = "defer"`` a contract that would take any buyer over budget
in any year is deferred by whole years until it fits (or is left unsigned if
no year in the horizon has room); with ``"flag"`` it is signed and the
overrun recorded. Contracts signed before the horizon start are commitments
already made: never deferred, always counted. State-funded facilitation
(``[facilitation]``) and round-gun qualifications (``[qualifications]``
with a ``decision``, ``cost_usd`` and ``payer``) are charged to their funder
or payer in their decision month's year before any contract, and never
deferred (:func:`materiel.engine.inputs.budget_charges`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from materiel.months import parse_month, year_of
from materiel.scenario.economics import economic_arrays
from materiel.scenario.schema import Scenario

__all__ = [
    "BudgetPlan",
    "ContractTerms",
    "budget_years",
    "commitments_usd",
    "defer_to_budgets",
    "fit_to_budgets",
]

TOLERANCE_USD = 1.0


class ContractTerms(Protocol):
    """What the budget check needs to know of a contract."""

    @property
    def buyers(self) -> dict[str, float]: ...
    @property
    def quantity(self) -> float: ...
    @property
    def price_usd(self) -> float: ...
    @property
    def sign(self) -> int: ...
    @property
    def lag(self) -> int: ...
    @property
    def due_months(self) -> int: ...
    @property
    def schedule(self) -> tuple[float, ...] | None: ...
    @property
    def priority(self) -> int: ...


class Terms(NamedTuple):
    """A contract's terms as plain values (a :class:`ContractTerms`): what the sampler
    and the run's policy-made contracts hand to the budget check."""

    buyers: dict[str, float]
    quantity: float
    price_usd: float
    sign: int
    lag: int
    due_months: int
    priority: int = 0
    schedule: tuple[float, ...] | None = None  # shares due each month; None: even


@dataclass(frozen=True)
class BudgetPlan:
    """Signing months after the budget check, and budget use per ally-year."""

    sign: np.ndarray  # (C,) month index of signature (>= horizon length: never signed)
    deferred_months: np.ndarray  # (C,)
    years: np.ndarray  # (Y,)
    parties: list[str]
    budget_usd: np.ndarray  # (P_allies, Y)
    committed_usd: np.ndarray  # (P_allies, Y)


def _yearly_payments(c: ContractTerms, sign: int, start_abs: int, years: np.ndarray) -> np.ndarray:
    """Committed payments of the whole contract per year (US$), for a given signature month."""
    first = start_abs + sign + c.lag
    months = first + np.arange(c.due_months)
    if c.schedule is None:
        per_month = np.full(c.due_months, c.quantity * c.price_usd / c.due_months)
    else:  # its schedule's shares of the quantity (a drawn quantity scales them)
        q = np.asarray(c.schedule, dtype=float)
        total = q.sum()
        share = q / total if total > 0 else np.full(len(q), 1.0 / len(q))
        per_month = c.quantity * c.price_usd * share
    out = np.zeros(len(years))
    idx = year_of(months) - years[0]
    ok = (idx >= 0) & (idx < len(years))
    np.add.at(out, idx[ok], per_month[ok])
    return out


def commitments_usd(
    contracts: Sequence[ContractTerms], start_abs: int, years: np.ndarray, parties: Sequence[str]
) -> np.ndarray:
    """Payments ``parties`` commit to per year (``(party, year)``, US$) by signing ``contracts``.

    ``committed_p(y) = sum_c share_{c,p} * price_c * quantity of c due in year y``, the
    rule :func:`fit_to_budgets` applies to written contracts; used for the contracts
    procurement policies decide in the run.
    """
    row = {p: i for i, p in enumerate(parties)}
    out = np.zeros((len(parties), len(years)))
    for c in contracts:
        pay = _yearly_payments(c, c.sign, start_abs, years)
        for p, share in c.buyers.items():
            if p in row:
                out[row[p]] += share * pay
    return out


def budget_years(start_abs: int, months: int, contracts: Sequence[ContractTerms]) -> np.ndarray:
    """Calendar years the budget check covers: from the start's year to the last year any
    contract could pay in (its last delivery, deferred by up to 11 years), at least the
    horizon's."""
    last_month = max(
        [start_abs + months]
        + [start_abs + c.sign + c.lag + c.due_months + 12 * 11 for c in contracts]
    )
    return np.arange(year_of(start_abs), year_of(last_month) + 1)


def fit_to_budgets(
    s: Scenario,
    contracts: Sequence[ContractTerms],
    charges: Sequence[tuple[str, int, float]] = (),
) -> BudgetPlan:
    """Apply ``s.policy.budget`` to ``contracts`` (see module docstring).

    ``charges`` are fixed payments ``(party, month index, US$)`` committed
    before any contract and never deferred: state-funded facilitation and
    qualification costs.
    """
    start_abs = parse_month(s.start)
    years = budget_years(start_abs, s.months, contracts)
    series = economic_arrays(s, range(int(years[0]), int(years[-1]) + 1), s.policy.budget_basis)
    return defer_to_budgets(
        contracts,
        charges,
        start_abs,
        s.months,
        years,
        series.parties,
        series.budget_usd,
        defer=s.policy.budget == "defer",
    )


def defer_to_budgets(
    contracts: Sequence[ContractTerms],
    charges: Sequence[tuple[str, int, float]],
    start_abs: int,
    months: int,
    years: np.ndarray,
    allies: list[str],
    budget_usd: np.ndarray,
    *,
    defer: bool,
) -> BudgetPlan:
    """The budget check of :func:`fit_to_budgets` against given budgets ``(ally, year)``.

    Contracts in order of signature, then priority: with ``defer`` one that
    would take a buyer over its budget in a year it pays in moves by whole
    years until it fits (or past the ``months`` of the horizon: unsigned);
    contracts signed before the start never move. Monte Carlo calls it once
    per sample with that sample's budgets, prices and signatures.
    """
    T = months
    ally = {p: i for i, p in enumerate(allies)}
    budget = np.array(budget_usd, dtype=float)
    committed = np.zeros_like(budget)
    for party, month, usd in charges:
        y = year_of(start_abs + month) - years[0]
        if party in ally and 0 <= y < len(years):
            committed[ally[party], y] += usd
    sign = np.array([c.sign for c in contracts], dtype=np.intp)
    order = sorted(
        range(len(contracts)), key=lambda n: (contracts[n].sign, contracts[n].priority, n)
    )
    for n in order:
        c = contracts[n]
        buyers = [(ally[p], share) for p, share in c.buyers.items() if p in ally]
        when = c.sign
        while True:
            pay = _yearly_payments(c, when, start_abs, years)
            # only the years it pays in: an overrun elsewhere (a facilitation charge) is not its
            fits = all(
                np.all((committed[i] + share * pay <= budget[i] + TOLERANCE_USD) | (pay <= 0.0))
                for i, share in buyers
            )
            if fits or not defer or when < 0 or when >= T:
                break
            when += 12
        sign[n] = when
        if when < T:
            for i, share in buyers:
                committed[i] += share * pay
    return BudgetPlan(
        sign=sign,
        deferred_months=sign - np.array([c.sign for c in contracts], dtype=np.intp),
        years=years,
        parties=list(allies),
        budget_usd=budget,
        committed_usd=committed,
    )
