"""Plain-language summaries of results: the answer first, then the detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from materiel.analysis import sentences
from materiel.analysis.compare import difference
from materiel.analysis.metrics import capex_split
from materiel.analysis.result import Result
from materiel.analysis.sentences import TargetOutcome, fmt_number, fmt_usd
from materiel.engine.variables import plural
from materiel.months import horizon_end

__all__ = [
    "compare_table",
    "contract_lines",
    "fmt_number",
    "fmt_usd",
    "months_phrase",
    "replacement_lines",
    "replacement_sentence",
    "summarize",
    "target_sentence",
]


def target_sentence(row: dict[str, Any] | pd.Series, end: str) -> str:
    """One line on one target of :func:`~materiel.analysis.metrics.target_table`:
    met when, or the gap at ``end``, the horizon's last month (worded by
    :func:`~materiel.analysis.sentences.target_sentence`)."""
    met = not pd.isna(row["first_met"])
    return sentences.target_sentence(
        TargetOutcome(
            target=str(row["target"]),
            parties=str(row["parties"]).split(","),
            product=str(row["product"]),
            required=float(row["required"]),
            by=str(row["by"]),
            met=met,
            first_met=str(row["first_met"]) if met else None,
            months_to_target=int(row["months_to_target"]) if met else None,
            months_early=int(row["months_early"]) if met else None,
            stock=float(row["stock_at_horizon"]),
            short=float(row["shortfall_at_horizon"]),
            at=end,
            assumption=bool(row["assumption"]),
        )
    )


def replacement_sentence(row: dict[str, Any] | pd.Series, end: str) -> str:
    """One donor and munition of :meth:`Result.replacement`, static then dynamic."""
    head = f"{row['party']} {row['product']}: gave {fmt_number(float(row['given']))} from stock; "
    if pd.isna(row["static_months"]):
        static = "no lines of its own to replace it (static: never)"
    else:
        static = (
            f"{float(row['static_months']):.1f} months at its "
            f"{fmt_number(float(row['production_rate_per_month']))}/month (static)"
        )
    if pd.isna(row["dynamic_months"]):
        dynamic = f"stock not back at its start level by {end} (dynamic)"
    elif int(row["dynamic_months"]) == 0:
        dynamic = "stock never below its start level (dynamic: 0)"
    else:
        dynamic = (
            f"stock back at its start level in {row['back_at_start']}, "
            f"{int(row['dynamic_months'])} months after the start (dynamic)"
        )
    return head + static + "; " + dynamic


def replacement_lines(table: pd.DataFrame, end: str) -> list[str]:
    """The ``Replacement time`` block of the summary (empty when no aid came from stock)."""
    if table.empty:
        return []
    return [
        "",
        "Replacement time of aid given from stock (static = given / production rate at the "
        "start, as CSIS counts it; dynamic = months until the stock is back at its start level)",
        *("  " + replacement_sentence(row, end) for _, row in table.iterrows()),
    ]


def contract_lines(result: Result, most: int = 12) -> list[str]:
    """The summary's contracts section: written ones, and what each procurement policy decided."""
    contracts = result.contracts()
    if contracts.empty:
        return []
    written = contracts[contracts.decided_by == "scenario"]
    decided = result.decisions()
    out = [
        "",
        f"Contracts: {len(written)} written in the scenario, "
        f"{int(decided.contracts.sum()) if len(decided) else 0} decided by procurement "
        "policies (per contract: Result.contracts(), contracts.csv)",
    ]
    for _, d in decided.head(most).iterrows():
        multi = (
            f", {fmt_number(d.multi_year_quantity)} multi-year" if d.multi_year_quantity > 0 else ""
        )
        out.append(
            f"  policy {d.policy} ({d['product']}): {d.contracts} contracts decided "
            f"{d['first']} .. {d['last']}, {fmt_number(d.quantity)} "
            f"{plural(result.scenario.products[d['product']].unit)}{multi}, "
            f"{fmt_number(d.delivered)} delivered"
        )
    if len(decided) > most:
        out.append(f"  ... and {len(decided) - most} more policies")
    return out


def fleet_lines(result: Result, top: int = 6) -> list[str]:
    """Which weapon systems went short, usable against nominal stock (none without fleets)."""
    fleets = result.fleets()
    if fleets.empty:
        return []
    policy = result.scenario.policy
    out = [
        "",
        f"Weapon systems (policy.interoperability = {policy.interoperability!r}"
        + "".join(f", {k}: {v!r}" for k, v in policy.interoperability_by_product.items())
        + "; a round fires only from the guns it is qualified for)",
    ]
    weapons = result.interoperability()
    for (party, product), group in fleets.groupby(["party", "product"], sort=False):
        demand = group.demand.sum()
        unmet = group.shortfall.sum() / demand if demand > 0 else 0.0
        out.append(
            f"  {party} {product}: {unmet:.0%} of demand unmet; usable stock at the end "
            f"{fmt_number(group.stock_end.sum())}, unusable "
            f"{fmt_number(group.unusable_end.iloc[0])} (at most "
            f"{fmt_number(group.unusable_max.iloc[0])} held that no gun could fire)"
        )
        worst = group[group.shortfall > 0].sort_values("share_unmet", ascending=False)
        shown = [f"{r.system} {r.share_unmet:.0%}" for r in worst.head(top).itertuples()]
        if shown:
            out.append("    short: " + ", ".join(shown) + (" ..." if len(worst) > top else ""))
            held = group.shortfall_while_held.sum()
            out.append(
                f"    of the {fmt_number(group.shortfall.sum())} unmet, {fmt_number(held)} "
                f"({held / group.shortfall.sum():.0%}) fell in months that ended with rounds "
                "in stock those guns could not fire (qualified only for other guns, or none)"
            )
        cap = weapons[(weapons.party == party) & (weapons["product"] == product)].iloc[0]
        out.append(
            "    capacity its guns can use (each line weighted by the share of use its rounds "
            f"fit): {fmt_number(cap.effective_capacity_start_per_month)} of "
            f"{fmt_number(cap.capacity_start_per_month)}/month at the start, "
            f"{fmt_number(cap.effective_capacity_end_per_month)} of "
            f"{fmt_number(cap.capacity_end_per_month)}/month at the end"
        )
        spare = group[group.stock_end > 0.5].sort_values("stock_end", ascending=False)
        if not spare.empty:
            out.append(
                "    usable stock at the end by gun: "
                + ", ".join(
                    f"{system} {fmt_number(stock)}"
                    for system, stock in zip(
                        spare.system.head(top), spare.stock_end.head(top), strict=True
                    )
                )
            )
    added = result.qualifications()
    if not added.empty:
        out.append(
            f"  {len(added)} round-gun qualifications added, "
            f"{fmt_usd(float(added.cost_usd.sum()))}: "
            + ", ".join(
                f"{line} for {system} from {when}"
                for line, system, when in zip(
                    added.line.head(top),
                    added.system.head(top),
                    added.qualified_from.head(top),
                    strict=True,
                )
            )
        )
    return out


_USABLE_NOTE = " [usable stock: rounds the parties' guns are qualified to fire]"
"""Said after a target that counts usable stock (a party with weapon-system fleets)."""


def summarize(result: Result) -> str:
    """The readable summary printed by ``materiel run``."""
    s = result.scenario
    end = horizon_end(s.start, s.months)
    out = [f"{s.id}: {s.title}".rstrip(": "), f"horizon {s.start} .. {end} ({s.months} months)", ""]
    targets = result.targets()
    out.append("Targets")
    if targets.empty:
        out.append("  (none in this scenario)")
    for _, row in targets.iterrows():
        usable = row.get("counted_on") == "usable"
        out.append("  " + target_sentence(row, end) + (_USABLE_NOTE if usable else ""))
    out.append("")
    out.append("Production (what binds, weighted by capacity)")
    for _, m in result.munitions().iterrows():
        inputs = ", ".join(m.inputs_binding) if m.inputs_binding else "none"
        out.append(
            f"  {m['product']}: capacity {fmt_number(m.capacity_start_per_month)} -> "
            f"{fmt_number(m.capacity_end_per_month)}/month; produced {fmt_number(m.produced)}; "
            f"binds: {m.main_binding}; inputs binding: {inputs}"
            + (f" (from {m.first_input_bound})" if _present(m.first_input_bound) else "")
            + f"; bought {fmt_usd(m.spent_usd)}, capex {fmt_usd(m.capex_usd)}"
        )
    short = result.shortfall()
    if not short.empty:
        out.append("")
        out.append("Recipients")
        for _, r in short.iterrows():
            when = f", first short {r.first_short}" if isinstance(r.first_short, str) else ""
            out.append(
                f"  {r.party} {r['product']}: {r.share_unmet:.0%} of demand unmet "
                f"({fmt_number(r.shortfall)} of {fmt_number(r.demand)}), "
                f"short in {r.months_short} months{when}"
            )
    out += fleet_lines(result)
    out += replacement_lines(result.replacement(), end)
    aid = result.aid()
    if not aid.empty:
        out.append("")
        out.append(
            f"Aid: {fmt_number(aid.delivered.sum())} delivered of {fmt_number(aid.pledged.sum())} "
            f"pledged ({len(aid)} pledges; {int((aid.share_delivered < 0.999).sum())} not in full)"
        )
        timely = result.aid_timeliness()
        due = timely[timely.on_time_share.notna()]
        if not due.empty:  # pledges whose window ends within the run
            on_time = due.delivered_on_time.sum() / due.pledged.sum()
            delays = due.mean_delay_months.dropna()
            late = f", mean delay {delays.mean():.1f} months" if not delays.empty else ""
            out.append(
                f"  on time: {on_time:.0%} of what fell due within the run{late} "
                f"(per pledge: Result.aid_timeliness())"
            )
    floors = result.floors()
    if floors["parties_with_floors"]:
        out.append("")
        out.append(
            f"Floors: {floors['rule']} (policy.floor_applies_to = "
            f"{floors['applies_to']!r}; {len(floors['parties_with_floors'])} parties "
            "hold floors)"
        )
    out += contract_lines(result)
    if s.policy.budget != "none":
        deferred = result.deferred()
        overrun = result.budget().query("overrun_usd > 0")
        out.append("")
        out.append(
            f"Budgets ({s.policy.budget}): {len(deferred)} contracts deferred"
            + (
                f" ({int((~deferred.signed_in_horizon).sum())} never signed in the horizon)"
                if len(deferred)
                else ""
            )
            + f"; {len(overrun)} ally-years over budget"
        )
        for contract, months in zip(
            deferred.contract.head(8), deferred.deferred_months.head(8), strict=True
        ):
            out.append(f"  {contract}: deferred {months} months")
    cost = result.cost_totals()
    payers = sorted(cost["payments_by_party_usd"].items(), key=lambda kv: -kv[1])[:5]
    out.append("")
    split = cost["capex_by_decision_usd"]
    out.append(
        f"Cost: contract payments {fmt_usd(cost['payments_usd'])}, capex "
        f"{fmt_usd(cost['capex_usd'])}: industry capex {fmt_usd(cost['industry_capex_usd'])} "
        f"(order-driven {fmt_usd(split['order_driven'])}, announced "
        f"{fmt_usd(split['announced'])}) and state-funded facilitation "
        f"{fmt_usd(cost['state_capex_usd'])}"
        + (
            f", round-gun qualifications {fmt_usd(cost['qualifications_usd'])}"
            if cost["qualifications_usd"] > 0
            else ""
        )
        + "; top buyers: "
        + (", ".join(f"{p} {fmt_usd(v)}" for p, v in payers) or "none")
    )
    return "\n".join(out)


def _present(value: Any) -> bool:
    """A value to print: neither None, NaN nor empty (pandas turns a missing month into NaN)."""
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


def _signed(x: float, fmt: Callable[[float], str]) -> str:
    """``+1,234``, ``-$1.2bn``, ``0``: a difference with its sign in front."""
    if abs(x) < 0.5:  # rounds to nothing in every format here
        return "0"
    return ("+" if x > 0 else "-") + fmt(abs(x))


def months_phrase(months_later: int) -> str:
    """'3 months earlier', '1 month later', 'same month' (B against A)."""
    if months_later == 0:
        return "same month"
    n = abs(months_later)
    return f"{n} month{'' if n == 1 else 's'} {'later' if months_later > 0 else 'earlier'}"


def _target_change(row: pd.Series, a: str, b: str) -> str:
    for missing, sid in ((row.stock_at_by_a, a), (row.stock_at_by_b, b)):
        if pd.isna(missing):
            return f"not a target of {sid}"
    met_a, met_b = pd.notna(row.first_met_a), pd.notna(row.first_met_b)
    if met_a and met_b:
        when = months_phrase(int(row.months_later))
    elif met_b:
        when = f"met only under {b}"
    elif met_a:
        when = f"met only under {a}"
    else:
        when = "met under neither"
    if pd.isna(row.stock_at_by_diff):
        return when
    return f"{when}; stock at date {_signed(float(row.stock_at_by_diff), fmt_number)}"


def _capex_by_payer(r: Result) -> dict[str, float]:
    """Capex over the run (US$, sample 0) by who pays: industry's, then the state's.

    ``industry capex`` is what industry spends (order-driven and announced
    investments), ``state-funded capex`` the facilitation governments pay
    ahead of orders (:func:`~materiel.analysis.metrics.capex_split`).
    """
    split = capex_split(r.dataset)
    return {
        "industry capex": split["order_driven"] + split["announced"],
        "state-funded capex (facilitation)": split["facilitation"],
    }


def compare_table(results: list[Result]) -> pd.DataFrame:
    """Side by side and B - A: when each target is first met, what each munition produced and
    what its lines cost in capex, and the money (capex split into industry's and the
    state-funded facilitation), under each scenario; then, for each scenario
    after the first, a column ``<B> - <A>`` of differences against the first
    (:func:`~materiel.analysis.compare.difference`). Cells are text; ``-`` where a row does
    not apply to a scenario."""
    cells: dict[str, dict[str, str]] = {}

    def put(row: str, column: str, text: str) -> None:
        cells.setdefault(row, {})[column] = text

    for r in results:
        sid = r.scenario.id
        for _, t in r.targets().iterrows():
            met = not pd.isna(t.first_met)
            put(
                t.target,
                sid,
                str(t.first_met) if met else f"not by horizon ({t.coverage_at_horizon:.0%})",
            )
    for r in results:
        for _, m in r.munitions().iterrows():
            put(f"produced {m['product']}", r.scenario.id, fmt_number(m.produced))
            put(f"capex {m['product']}", r.scenario.id, fmt_usd(m.capex_usd))
    capex = {r.scenario.id: _capex_by_payer(r) for r in results}
    for r in results:
        payments = float(r.dataset.payments_usd.sum())
        put("contract payments", r.scenario.id, fmt_usd(payments))
        for label, usd in capex[r.scenario.id].items():
            put(label, r.scenario.id, fmt_usd(usd))
        put("total cost", r.scenario.id, fmt_usd(payments + sum(capex[r.scenario.id].values())))
    columns = [r.scenario.id for r in results]
    for d in (difference(results[0], r) for r in results[1:]):
        column = f"{d.b} - {d.a}"
        columns.append(column)
        for _, row in d.targets.iterrows():
            put(row.target, column, _target_change(row, d.a, d.b))
        for _, row in d.munitions.iterrows():
            put(f"produced {row['product']}", column, _signed(row.produced_diff, fmt_number))
            put(f"capex {row['product']}", column, _signed(row.capex_usd_diff, fmt_usd))
        cost = d.cost.set_index("figure")["diff"]
        put("contract payments", column, _signed(float(cost["payments_usd"]), fmt_usd))
        for label, usd in capex[d.b].items():
            put(label, column, _signed(usd - capex[d.a][label], fmt_usd))
        put("total cost", column, _signed(float(cost["total_usd"]), fmt_usd))
    table = pd.DataFrame.from_dict(cells, orient="index", dtype=object)
    return table.reindex(columns=columns).fillna("-")
