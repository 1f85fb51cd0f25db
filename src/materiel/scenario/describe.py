"""What a scenario contains, as plain data: counts, key parameters, targets, assumptions."""

from __future__ import annotations

from typing import Any

from materiel.scenario.provenance import figures, unsourced_figures
from materiel.scenario.schema import Scenario, entity_tables

__all__ = ["describe"]

_COUNTED = (
    "parties",
    *(table for table, depth in entity_tables().items() if depth == 1),
    "sources",
)
"""Tables counted by :func:`describe`: parties, every entity table keyed by one id, sources."""


def describe(s: Scenario) -> dict[str, Any]:
    """What ``s`` contains: counts of each table, policy, capacity and contracted
    quantity per munition, targets, assumptions, and how many sources are cited
    versus labelled assumptions (JSON-ready)."""
    assumed = sorted(k for k, src in s.sources.items() if src.is_assumption)
    return {
        "id": s.id,
        "title": s.title,
        "description": s.description.strip(),
        "extends": s.extends,
        "start": s.start,
        "months": s.months,
        "policy": s.policy.model_dump(),
        "counts": {name: len(getattr(s, name)) for name in _COUNTED},
        "aid_contracts": sum(c.recipient is not None for c in s.contracts.values()),
        "figures": sum(1 for _ in figures(s)),
        "figures_unsourced": len(unsourced_figures(s)),
        "lines_by_product": {
            k: [lid for lid, x in s.lines.items() if x.product == k]
            for k in s.products
            if any(x.product == k for x in s.lines.values())
        },
        "aid_by_donor": {
            d: sum(a.quantity for a in s.aid.values() if a.donor == d)
            for d in sorted({a.donor for a in s.aid.values()})
        },
        "allies": len(s.allies),
        "munitions": s.munitions,
        "capacity_per_month_at_dataset_baseline": {
            k: sum(x.capacity_per_month for x in s.lines.values() if x.product == k)
            for k in s.munitions
        },
        "contracted_quantity": {
            k: sum(c.quantity for c in s.contracts.values() if c.product == k) for k in s.munitions
        },
        "targets": {
            tid: {
                "product": t.product,
                "parties": t.parties,
                "quantity": t.required_quantity,
                "by": t.by,
            }
            for tid, t in s.targets.items()
        },
        "assumptions": s.assumptions,
        "sources_cited": len(s.sources) - len(assumed),
        "sources_assumed": len(assumed),
    }
