"""Plain-language summaries of results: the answer first, then the detail."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from materiel.analysis.result import Result

__all__ = ["compare_table", "fmt_number", "fmt_usd", "summarize", "target_sentence"]


def fmt_number(x: float) -> str:
    """1234567 -> '1.23M', 12345 -> '12,345'."""
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


def target_sentence(row: dict[str, Any] | pd.Series) -> str:
    """One line on one target: met when, or the gap."""
    label = " (assumed target)" if row["assumption"] else ""
    parties = str(row["parties"]).split(",")
    who = ",".join(parties) if len(parties) <= 4 else f"{len(parties)} parties"
    head = (
        f"{row['target']}: {who} {row['product']} >= "
        f"{fmt_number(row['required'])} by {row['by']}{label}"
    )
    if not pd.isna(row["first_met"]):
        early = int(row["months_early"])
        when = (
            f"{early} months early" if early > 0
            else "on time" if early == 0 else f"{-early} months late"
        )  # fmt: skip
        if row["months_to_target"] == 0:
            return f"{head} -> already met at the start"
        return f"{head} -> met {row['first_met']} ({when})"
    return (
        f"{head} -> NOT met by the horizon: stock {fmt_number(row['stock_at_horizon'])} "
        f"({row['coverage_at_horizon']:.0%} of target, "
        f"short {fmt_number(row['shortfall_at_horizon'])})"
    )


def summarize(result: Result) -> str:
    """The readable summary printed by ``materiel run``."""
    s = result.scenario
    ds = result.dataset
    end = str(ds.month.values[-1])[:7]
    out = [f"{s.id}: {s.title}".rstrip(": "), f"horizon {s.start} .. {end} ({s.months} months)", ""]
    targets = result.targets()
    out.append("Targets")
    if targets.empty:
        out.append("  (none in this scenario)")
    for _, row in targets.iterrows():
        out.append("  " + target_sentence(row))
    out.append("")
    out.append("Production (what binds, weighted by capacity)")
    for _, m in result.munitions().iterrows():
        inputs = ", ".join(m.inputs_binding) if m.inputs_binding else "none"
        out.append(
            f"  {m['product']}: capacity {fmt_number(m.capacity_start_per_month)} -> "
            f"{fmt_number(m.capacity_end_per_month)}/month; produced {fmt_number(m.produced)}; "
            f"binds: {m.main_binding}; inputs binding: {inputs}"
            + (f" (from {m.first_input_bound})" if m.first_input_bound else "")
            + f"; bought {fmt_usd(m.spent_usd)}, capex {fmt_usd(m.capex_usd)}"
        )
    short = result.shortfall()
    if not short.empty:
        out.append("")
        out.append("Recipients")
        for _, r in short.iterrows():
            when = f", first short {r.first_short}" if r.first_short else ""
            out.append(
                f"  {r.party} {r['product']}: {r.share_unmet:.0%} of demand unmet "
                f"({fmt_number(r.shortfall)} of {fmt_number(r.demand)}), "
                f"short in {r.months_short} months{when}"
            )
    aid = result.aid()
    if not aid.empty:
        out.append("")
        out.append(
            f"Aid: {fmt_number(aid.delivered.sum())} delivered of {fmt_number(aid.pledged.sum())} "
            f"pledged ({len(aid)} pledges; {int((aid.share_delivered < 0.999).sum())} not in full)"
        )
    if s.policy.budget != "none":
        deferred = result.deferred()
        overrun = result.budget().query("overrun_usd > 0")
        out.append("")
        out.append(f"Budgets ({s.policy.budget}): {len(deferred)} contracts deferred"
                   + (f" ({int((~deferred.signed_in_horizon).sum())} never signed in the horizon)"
                      if len(deferred) else "")
                   + f"; {len(overrun)} ally-years over budget")  # fmt: skip
        for contract, months in zip(
            deferred.contract.head(8), deferred.deferred_months.head(8), strict=True
        ):
            out.append(f"  {contract}: deferred {months} months")
    m = result.metrics()["cost"]
    payers = sorted(m["payments_by_party_usd"].items(), key=lambda kv: -kv[1])[:5]
    out.append("")
    out.append(
        f"Cost: contract payments {fmt_usd(m['payments_usd'])}, industry capex "
        f"{fmt_usd(m['capex_usd'])}; top buyers: "
        + (", ".join(f"{p} {fmt_usd(v)}" for p, v in payers) or "none")
    )
    return "\n".join(out)


def compare_table(results: list[Result]) -> pd.DataFrame:
    """Targets side by side: when each is met under each scenario, and the cost."""
    frames = []
    for r in results:
        t = r.targets()
        cell = t.apply(
            lambda row: (
                row.first_met
                if not pd.isna(row.first_met)
                else f"not by horizon ({row.coverage_at_horizon:.0%})"
            ),
            axis=1,
        )
        frames.append(pd.Series(cell.values, index=t.target.values, name=r.scenario.id))
    table = pd.concat(frames, axis=1) if frames else pd.DataFrame()
    costs = {r.scenario.id: fmt_usd(float(r.dataset.payments_usd.sum())) for r in results}
    capex = {r.scenario.id: fmt_usd(float(r.dataset.capex_usd.sum())) for r in results}
    table.loc["contract payments"] = pd.Series(costs)
    table.loc["industry capex"] = pd.Series(capex)
    return table.fillna("-")
