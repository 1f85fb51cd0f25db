"""Print the closed loop's Done-when table (issue 12) for the embedded forward scenarios.

For status-quo, action-plan and hague-pledge, each run as given, with
``policy.industry_invests = false`` and with
``policy.extra_contracting_delay_months = 12``: every target's first month met,
stock at its date, and the run's capex split into state-funded facilitation,
announced industry investment and order-driven investment.

    PYTHONPATH=src python tools/loop_table.py [scenario ...] [policy.field=value ...]

``policy.field=value`` arguments (JSON values) apply to every run, e.g.
``policy.idle_utilisation=0.5``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from materiel.analysis import metrics
from materiel.analysis.simulate import simulate

VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "no-invest": {"industry_invests": False},
    "delay+12": {"extra_contracting_delay_months": 12},
}


def run(scenario: str, policy: dict[str, Any]) -> Any:
    """One run of ``scenario`` with ``policy`` fields overridden."""
    return simulate({"extends": scenario, "id": f"{scenario}-x", "policy": policy})


def capex_split(result: Any) -> dict[str, float]:
    """Capex over the run in US$ bn: total, then by who decides it."""
    parts = metrics.capex_split(result.dataset)
    return {"total": sum(parts.values()) / 1e9, **{k: v / 1e9 for k, v in parts.items()}}


def main(argv: list[str]) -> None:
    """Print the table for the scenarios named in ``argv`` (all three by default)."""
    common = {
        a.split("=", 1)[0].removeprefix("policy."): json.loads(a.split("=", 1)[1])
        for a in argv
        if "=" in a
    }
    names = [a for a in argv if "=" not in a]
    for scenario in names or ["status-quo", "action-plan", "hague-pledge"]:
        results = {v: run(scenario, common | p) for v, p in VARIANTS.items()}
        tables = {v: r.targets().set_index("target") for v, r in results.items()}
        print(f"\n## {scenario}")
        for v, r in results.items():
            split = ", ".join(f"{k} {x:.2f}" for k, x in capex_split(r).items())
            print(f"capex US$ bn [{v}]: {split}")
        print(
            f"{'target':34} {'by':8} "
            + " ".join(f"{v + ' met':>14} {'stock@by':>10}" for v in VARIANTS)
        )
        for tid, row in tables["base"].iterrows():
            cells = []
            for v in VARIANTS:
                r = tables[v].loc[tid]
                met = r.first_met if isinstance(r.first_met, str) else "never"
                cells.append(f"{met:>14} {r.stock_at_by:>10.0f}")
            print(f"{tid:34} {row.by:8} " + " ".join(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
