"""Which rounds fit which guns: fleets and qualifications compiled to engine arrays.

A *fleet* is a party's guns of one weapon system (PzH 2000, CAESAR ...)
with its share of the party's use of the system's munition. A round made on
line ``l`` fits fleet ``f`` from month ``qualified_from[l, f]``:

- ``policy.interoperability = "national"`` (per product, overridable in
  ``policy.interoperability_by_product``): only the scenario's
  ``[qualifications.*]``, each from ``decision + lead_time_months`` (from
  before the start when it has no decision);
- ``"nato"``: in addition every NATO-standard line (``Line.nato_standard``)
  fits every NATO-standard system from ``interoperability_from +
  interoperability_lead_months`` (the start when no date is given).

The kernel's side (stocks per fleet, receipts, consumption) is
:mod:`materiel.engine.fleets`. This module does not load numba.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from materiel.months import month_index
from materiel.scenario.schema import Scenario

__all__ = ["NEVER", "compile_fleets", "interoperability_of", "qualification_charges"]

NEVER = 1 << 40
"""``qualified_from`` of a pair that is never qualified."""


def interoperability_of(s: Scenario, product: str) -> str:
    """The interoperability setting for ``product``: its override, else the scenario's."""
    return s.policy.interoperability_by_product.get(product, s.policy.interoperability)


def qualification_charges(s: Scenario) -> list[tuple[str, int, float]]:
    """What each decided qualification charges its payer: (party, month index, US$).

    ``cost_usd`` falls in the decision month (assumption, as state-funded
    facilitation's cost does: :func:`materiel.engine.inputs.facilitation_charges`);
    a qualification without a decision (held from the start), a payer or a
    cost charges nothing. The budget check (:func:`materiel.engine.budget.fit_to_budgets`)
    counts these before any contract.
    """
    return [
        (q.payer, month_index(q.decision, s.start), q.cost_usd)
        for q in s.qualifications.values()
        if q.decision is not None and q.payer is not None and q.cost_usd > 0.0
    ]


def compile_fleets(
    s: Scenario, lines: list[str], parties: list[str], products: list[str]
) -> dict[str, Any]:
    """The fleet arrays of :class:`~materiel.engine.inputs.Inputs` (F fleets, L lines).

    ``qualified_from[l, f] = min over the qualifications q of (l, system_f)
    of month(q.decision) + q.lead`` (``-1`` without a decision), and with
    ``nato`` for the product, ``min(.., month(from) + lead_nato)`` where line
    and system are both NATO-standard; :data:`NEVER` if none applies.
    ``qualification_cost_usd[t, p]``: what party ``p`` pays for qualifications
    decided in month ``t`` of the horizon (:func:`qualification_charges`).
    """
    pi = {p: i for i, p in enumerate(parties)}
    ki = {k: i for i, k in enumerate(products)}
    fleet_ids = list(s.fleets)
    F, L = len(fleet_ids), len(lines)
    qualified = np.full((L, F), NEVER, dtype=np.int64)
    systems = [s.fleets[f].system for f in fleet_ids]
    li = {line: i for i, line in enumerate(lines)}
    for q in s.qualifications.values():
        when = -1 if q.decision is None else month_index(q.decision, s.start) + q.lead_time_months
        for f, system in enumerate(systems):
            if system == q.system:
                qualified[li[q.line], f] = min(qualified[li[q.line], f], when)
    start = s.policy.interoperability_from or s.start
    nato_when = month_index(start, s.start) + s.policy.interoperability_lead_months
    for f, system in enumerate(systems):
        gun = s.systems[system]
        if interoperability_of(s, gun.product) != "nato" or not gun.nato_standard:
            continue
        for ln, line_id in enumerate(lines):
            line = s.lines[line_id]
            if line.product == gun.product and line.nato_standard:
                qualified[ln, f] = min(qualified[ln, f], nato_when)
    cost = np.zeros((s.months, len(parties)))
    for payer, month, usd in qualification_charges(s):
        if 0 <= month < s.months:
            cost[month, pi[payer]] += usd
    return {
        "qualification_cost_usd": cost,
        "fleets": fleet_ids,
        "fleet_system": systems,
        "fleet_party": np.array([pi[s.fleets[f].party] for f in fleet_ids], dtype=np.intp),
        "fleet_product": np.array([ki[s.systems[x].product] for x in systems], dtype=np.intp),
        "fleet_share": np.array([s.fleets[f].share for f in fleet_ids], dtype=float),
        "qualified_from": qualified,
    }
