"""A self-contained HTML report: the answer in plain words first, then charts and tables.

The report is one file that works offline: plotly.js is inlined once, styles
are inline, fonts are the reader's system fonts, and nothing is loaded from a
network when it is opened (sources are listed as plain links the reader may
follow). With several results the first is the reference for comparisons.

Headlines are built as data (:class:`Headline` with the :class:`Fact` values
it quotes), so every figure in the text can be checked against the metrics it
came from.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.io as pio  # type: ignore[import-untyped]
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from materiel import __version__
from materiel._errors import bad_argument
from materiel._io import atomic_write_text
from materiel.analysis.compare import Difference, difference
from materiel.analysis.metrics import capex_split
from materiel.analysis.result import Result
from materiel.analysis.sentences import timing_phrase
from materiel.analysis.spending import spending_table
from materiel.months import horizon_end, months_between
from materiel.present import charts
from materiel.present.summary import fmt_number, fmt_usd
from materiel.scenario.provenance import sources_used

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult

__all__ = [
    "Fact",
    "Headline",
    "Report",
    "build_report",
    "headlines",
    "result_html",
    "write_report",
]

_CONFIG = {"displaylogo": False, "responsive": True}


# --- headlines -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One figure quoted in a headline and where it comes from.

    ``table`` names the metrics table (the keys of :meth:`Result.metrics`:
    ``targets``, ``munitions``, ``recipient_shortfall``, ``cost``) or a derived
    figure (``compare``, ``aid``, ``budget``, ``spending``); ``key`` is the
    row (a target id, a product, ``party/product``; empty for ``cost``);
    ``field`` the column; ``value`` the metric's value; ``shown`` how the text
    writes it.
    """

    scenario: str
    table: str
    key: str
    field: str
    value: Any
    shown: str


@dataclass(frozen=True)
class Headline:
    """A finding in plain words, and the figures it quotes."""

    topic: str
    text: str
    facts: tuple[Fact, ...] = field(default_factory=tuple)


_Tab = Callable[[Result, str], pd.DataFrame]
"""``tab(result, "targets")``: a result's metric table, computed once per report."""


def _tab_cache() -> _Tab:
    cache: dict[tuple[int, str], pd.DataFrame] = {}

    def tab(r: Result, name: str) -> pd.DataFrame:
        key = (id(r), name)
        if key not in cache:
            cache[key] = getattr(r, name)()
        return cache[key]

    return tab


def _end_label(r: Result) -> str:
    return horizon_end(r.scenario.start, r.scenario.months)


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _target_headline(tid: str, runs: list[Result], tab: _Tab) -> Headline | None:
    ref = runs[0]
    sid = ref.scenario.id
    rows: dict[str, dict[str, Any]] = {}
    for r in runs:
        table = tab(r, "targets")
        if not table.empty and tid in set(table.target):
            found = table[table.target == tid].iloc[0]
            rows[r.scenario.id] = {str(k): v for k, v in found.items()}
    if sid not in rows:
        return None
    t = ref.scenario.targets[tid]
    group = charts.group_label(ref.scenario, t.parties)
    row = rows[sid]
    req = fmt_number(float(row["required"]))
    facts = [Fact(sid, "targets", tid, "required", float(row["required"]), req)]
    head = f"{t.product} stocks held by {group} "
    ref_met: str | None = row["first_met"] if pd.notna(row["first_met"]) else None
    if ref_met is not None:
        facts.append(Fact(sid, "targets", tid, "first_met", ref_met, ref_met))
        early = int(row["months_early"])
        when = timing_phrase(int(row["months_to_target"]), early)
        if int(row["months_to_target"]) != 0 and early != 0:
            facts.append(Fact(sid, "targets", tid, "months_early", early, str(abs(early))))
        text = f"{head}reach {req} (the target for {t.by}) in {ref_met} under {sid}, {when}"
    else:
        cover = float(row["coverage_at_horizon"])
        cov = f"{cover:.0%}"
        facts.append(Fact(sid, "targets", tid, "coverage_at_horizon", cover, cov))
        text = (
            f"{head}do not reach {req} (the target for {t.by}) by {_end_label(ref)} "
            f"under {sid}: {cov} of it"
        )
    parts = []
    for r in runs[1:]:
        oid = r.scenario.id
        if oid not in rows:
            continue
        other = rows[oid]
        if pd.notna(other["first_met"]):
            met = str(other["first_met"])
            facts.append(Fact(oid, "targets", tid, "first_met", met, met))
            part = f"under {oid} in {met}"
            if ref_met is not None:
                d = months_between(met, ref_met)
                if d:
                    facts.append(
                        Fact(oid, "compare", tid, f"months_earlier_than:{sid}", d, str(abs(d)))
                    )
                    unit = "month" if abs(d) == 1 else "months"
                    part += f", {abs(d)} {unit} {'earlier' if d > 0 else 'later'} than {sid}"
                else:
                    part += f", the same month as {sid}"
            parts.append(part)
        else:
            cover = float(other["coverage_at_horizon"])
            cov = f"{cover:.0%}"
            facts.append(Fact(oid, "targets", tid, "coverage_at_horizon", cover, cov))
            parts.append(f"under {oid} not by {_end_label(r)} ({cov} of it)")
    if parts:
        text += "; " + "; ".join(parts)
    return Headline("target", text + ".", tuple(facts))


def _binding_headline(product: str, runs: list[Result], tab: _Tab) -> Headline | None:
    facts: list[Fact] = []
    parts: list[str] = []
    any_input = False
    for r in runs:
        m = tab(r, "munitions")
        if m.empty or product not in set(m["product"]):
            continue
        row = m.set_index("product").loc[product]
        sid = r.scenario.id
        inputs = list(row.inputs_binding)
        if inputs:
            any_input = True
            shown = _and(inputs)
            facts.append(Fact(sid, "munitions", product, "inputs_binding", inputs, shown))
            facts.append(
                Fact(
                    sid,
                    "munitions",
                    product,
                    "first_input_bound",
                    row.first_input_bound,
                    str(row.first_input_bound),
                )
            )
            verb = "binds" if len(inputs) == 1 else "bind"
            parts.append(f"{shown} {verb} from {row.first_input_bound} under {sid}")
        else:
            main = str(row.main_binding)
            facts.append(Fact(sid, "munitions", product, "main_binding", main, main))
            parts.append(f"under {sid} no input binds (output mostly bound by {main})")
    if not any_input:
        return None
    return Headline("binding", f"{product} output: " + "; ".join(parts) + ".", tuple(facts))


def _recipient_headlines(runs: list[Result], tab: _Tab) -> list[Headline]:
    ref = runs[0]
    short = tab(ref, "shortfall")
    out: list[Headline] = []
    if short.empty:
        return out
    for party, rows in short.groupby("party", sort=False):
        top = rows.sort_values("demand", ascending=False).iloc[0]
        product = str(top["product"])
        key = f"{party}/{product}"
        facts: list[Fact] = []
        parts: list[str] = []
        for r in runs:
            table = tab(r, "shortfall")
            hit = table[(table.party == party) & (table["product"] == product)]
            if hit.empty:
                continue
            row = hit.iloc[0]
            sid = r.scenario.id
            share = f"{float(row.share_unmet):.0%}"
            facts.append(
                Fact(sid, "recipient_shortfall", key, "share_unmet", float(row.share_unmet), share)
            )
            if r is ref:
                amount, demand = fmt_number(float(row.shortfall)), fmt_number(float(row.demand))
                facts.append(
                    Fact(sid, "recipient_shortfall", key, "shortfall", float(row.shortfall), amount)
                )
                facts.append(
                    Fact(sid, "recipient_shortfall", key, "demand", float(row.demand), demand)
                )
                parts.append(f"{share} under {sid} ({amount} of {demand})")
            else:
                parts.append(f"{share} under {sid}")
        n_short = int((rows.share_unmet > 1e-9).sum())
        facts.append(
            Fact(ref.scenario.id, "derived", str(party), "munitions_short", n_short, str(n_short))
        )
        text = (
            f"{party} goes short of {n_short} of {len(rows)} munitions it uses under "
            f"{ref.scenario.id}; unmet {product} demand: " + ", ".join(parts) + "."
        )
        out.append(Headline("recipient", text, tuple(facts)))
    return out


def _cost_headline(runs: list[Result]) -> Headline:
    facts: list[Fact] = []
    parts: list[str] = []
    for r in runs:
        ds = r.dataset.isel(sample=0)  # as Result.metrics()["cost"]
        split = capex_split(r.dataset)
        cost = {
            "payments_usd": float(ds.payments_usd.sum()),
            "capex_usd": float(ds.capex_usd.sum()),
            "industry_capex_usd": split["order_driven"] + split["announced"],
            "state_capex_usd": split["facilitation"],
        }
        sid = r.scenario.id
        text = {k: fmt_usd(v) for k, v in cost.items()}
        for figure, value in cost.items():
            facts.append(Fact(sid, "cost", "", figure, value, text[figure]))
        parts.append(
            f"{text['payments_usd']} in contract payments and {text['capex_usd']} of capex "
            f"({text['industry_capex_usd']} industry capex, order-driven and announced; "
            f"{text['state_capex_usd']} state-funded facilitation) under {sid}"
        )
    return Headline("cost", "Money: " + "; ".join(parts) + ".", tuple(facts))


def _aid_headline(runs: list[Result], tab: _Tab) -> Headline | None:
    facts: list[Fact] = []
    parts: list[str] = []
    for r in runs:
        aid = tab(r, "aid")
        if aid.empty:
            continue
        sid = r.scenario.id
        short = int((aid.share_delivered < 0.999).sum())
        facts.append(Fact(sid, "aid", "", "pledges", len(aid), str(len(aid))))
        facts.append(Fact(sid, "aid", "", "not_in_full", short, str(short) if short else "all"))
        if short:
            parts.append(f"{short} of {len(aid)} aid pledges not delivered in full under {sid}")
        else:
            parts.append(f"all {len(aid)} aid pledges delivered in full under {sid}")
    if not parts:
        return None
    return Headline("aid", "Aid: " + "; ".join(parts) + ".", tuple(facts))


def _budget_headline(runs: list[Result], tab: _Tab) -> Headline | None:
    facts: list[Fact] = []
    parts: list[str] = []
    for r in runs:
        if r.scenario.policy.budget == "none":
            continue
        sid = r.scenario.id
        deferred = tab(r, "deferred")
        never = int((~deferred.signed_in_horizon.astype(bool)).sum()) if len(deferred) else 0
        over = len(tab(r, "budget").query("overrun_usd > 0"))
        facts += [
            Fact(sid, "budget", "", "deferred_contracts", len(deferred), str(len(deferred))),
            Fact(sid, "budget", "", "never_signed", never, str(never)),
            Fact(sid, "budget", "", "overruns", over, str(over)),
        ]
        parts.append(
            f"under {sid} ({r.scenario.policy.budget}) budgets defer {len(deferred)} contracts "
            f"({never} never signed in the horizon) and {over} ally-years go over budget"
        )
    if not parts:
        return None
    return Headline("budget", "Budgets: " + "; ".join(parts) + ".", tuple(facts))


def _spending_headline(runs: list[Result]) -> Headline | None:
    s = runs[0].scenario
    year = charts.latest_spending_year(s)
    if year is None:
        return None
    table = spending_table(s, year, 2.0, "nato")
    pct = table.pct_gdp_nato.astype(float)
    known = int(pct.notna().sum())
    at2 = int((pct >= 2.0 - 1e-12).sum())
    at35 = int((pct >= 3.5 - 1e-12).sum())
    sid = s.id
    facts = (
        Fact(sid, "spending", str(year), "with_data", known, str(known)),
        Fact(sid, "spending", str(year), "meeting_2", at2, str(at2)),
        Fact(sid, "spending", str(year), "meeting_3.5", at35, str(at35)),
    )
    text = (
        f"In {year}, {at2} of the {known} allies with published figures spent at least 2% "
        f"of GDP on defence (NATO definition), and {at35} at least 3.5%."
    )
    return Headline("spending", text, facts)


def headlines(results: Result | Sequence[Result], *, tab: _Tab | None = None) -> list[Headline]:
    """The findings of one or more results, reference (first) first, in plain words.

    One headline per capability target (when met, how early or late, and how
    the other scenarios compare), one per munition whose inputs bind, one per
    recipient, then aid, budgets, money and defence spending.
    """
    runs = [results] if isinstance(results, Result) else list(results)
    if not runs:
        return []
    tab = tab or _tab_cache()
    out: list[Headline] = []
    for tid in runs[0].scenario.targets:
        h = _target_headline(tid, runs, tab)
        if h is not None:
            out.append(h)
    for product in runs[0].scenario.munitions:
        h = _binding_headline(product, runs, tab)
        if h is not None:
            out.append(h)
    out += _recipient_headlines(runs, tab)
    for maybe in (_aid_headline(runs, tab), _budget_headline(runs, tab)):
        if maybe is not None:
            out.append(maybe)
    out.append(_cost_headline(runs))
    spend = _spending_headline(runs)
    if spend is not None:
        out.append(spend)
    return out


# --- HTML pieces ---------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; margin: 0; color: #1d232b; background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; border-bottom: 2px solid #e3e6ea;
     padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .4rem; }
.meta { color: #5b6470; font-size: .9rem; }
.findings li { margin: .35rem 0; }
nav ul { columns: 2; font-size: .92rem; }
table { border-collapse: collapse; font-size: .85rem; margin: .4rem 0 1rem; }
th, td { border-bottom: 1px solid #e3e6ea; padding: .25rem .55rem; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f6f8; }
.chart { margin: .6rem 0 1.2rem; }
.scroll { overflow-x: auto; }
.assumed { color: #8a4b00; }
.note { color: #5b6470; font-size: .88rem; }
.sources table { width: 100%; table-layout: auto; }
.sources td { overflow-wrap: anywhere; }
.sources th.count, .sources td.num { white-space: nowrap; width: 1%; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


Column = tuple[str, str, Callable[[Any], str]]


def _num(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else fmt_number(float(x))


def _usd(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else fmt_usd(float(x))


def _pct(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else f"{float(x):.0%}"


def _text(x: Any) -> str:
    if isinstance(x, list | tuple):
        return ", ".join(str(v) for v in x) or "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return "-" if x is None or (isinstance(x, float) and pd.isna(x)) else str(x)


def _int(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else f"{int(x):d}"


def _num2(x: Any) -> str:
    return "" if x is None or pd.isna(x) else f"{float(x):+.2f}"


def _sci(x: Any) -> str:
    return "" if x is None or pd.isna(x) else f"{float(x):.1e}"


def _num1(x: Any) -> str:
    return "-" if x is None or pd.isna(x) else f"{float(x):,.1f}"


_NUMERIC = {_num, _num1, _usd, _pct, _int}


def _table(df: pd.DataFrame, columns: Sequence[Column]) -> str:
    if df.empty:
        return '<p class="note">(none)</p>'
    cols = [c for c in columns if c[0] in df.columns]
    head = "".join(f"<th>{_esc(title)}</th>" for _, title, _ in cols)
    body = []
    for _, row in df.iterrows():
        cells = "".join(
            f'<td class="num">{_esc(fmt(row[name]))}</td>'
            if fmt in _NUMERIC
            else f"<td>{_esc(fmt(row[name]))}</td>"
            for name, _, fmt in cols
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _targets_table(r: Result, tab: _Tab) -> str:
    df = tab(r, "targets")
    if df.empty:
        return '<p class="note">(no capability targets in this scenario)</p>'
    df = df.copy()
    df["group"] = [charts.group_label(r.scenario, p.split(",")) for p in df.parties]
    return _table(
        df,
        [
            ("target", "target", _text),
            ("group", "parties", _text),
            ("product", "munition", _text),
            ("required", "required", _num),
            ("by", "by", _text),
            ("stock_at_by", "stock then", _num),
            ("met_by_date", "met by date", _text),
            ("first_met", "first met", _text),
            ("months_early", "months early", _int),
            ("coverage_at_horizon", "coverage at end", _pct),
            ("assumption", "assumed target", _text),
        ],
    )


def _difference_tables(d: Difference) -> str:
    """B - A per target, per munition and in money (see :mod:`materiel.analysis.compare`)."""
    t = d.targets
    m = d.munitions
    return (
        f"<h3>{_esc(d.b)} - {_esc(d.a)}: targets</h3>"
        '<p class="note">months later: the month B first meets the target minus the month A '
        "does (negative: earlier); stock at the target date, B minus A.</p>"
        + _table(
            t,
            [
                ("target", "target", _text),
                ("by", "by", _text),
                ("first_met_a", f"first met, {d.a}", _text),
                ("first_met_b", f"first met, {d.b}", _text),
                ("months_later", "months later", _int),
                ("stock_at_by_a", f"stock then, {d.a}", _num),
                ("stock_at_by_b", f"stock then, {d.b}", _num),
                ("stock_at_by_diff", "difference", _num),
            ],
        )
        + f"<h3>{_esc(d.b)} - {_esc(d.a)}: munitions</h3>"
        + _table(
            m,
            [
                ("product", "munition", _text),
                ("produced_a", f"produced, {d.a}", _num),
                ("produced_b", f"produced, {d.b}", _num),
                ("produced_diff", "difference", _num),
                ("capex_usd_a", f"capex, {d.a}", _usd),
                ("capex_usd_b", f"capex, {d.b}", _usd),
                ("capex_usd_diff", "capex difference", _usd),
            ],
        )
        + f"<h3>{_esc(d.b)} - {_esc(d.a)}: cost</h3>"
        + _table(
            d.cost,
            [
                ("figure", "figure", _text),
                ("a", d.a, _usd),
                ("b", d.b, _usd),
                ("diff", "difference", _usd),
            ],
        )
    )


def _replacement_table(r: Result, tab: _Tab) -> str:
    df = tab(r, "replacement")
    if df.empty:
        return ""
    return (
        "<h3>Replacement time of aid given from stock</h3>"
        '<p class="note">static (as CSIS counts it): stock given away divided by the '
        "production rate of the donor's own lines at the start; dynamic (the model's): months "
        "from the start until the donor's stock is back at its level at the start "
        "(empty: not by the horizon).</p>"
        + _table(
            df,
            [
                ("party", "donor", _text),
                ("product", "munition", _text),
                ("given", "given", _num),
                ("production_rate_per_month", "production rate /month", _num),
                ("static_months", "static (months)", _num1),
                ("first_below", "first below", _text),
                ("back_at_start", "back at start level", _text),
                ("dynamic_months", "dynamic (months)", _int),
            ],
        )
    )


def _munitions_table(r: Result, tab: _Tab) -> str:
    return _table(
        tab(r, "munitions"),
        [
            ("product", "munition", _text),
            ("capacity_start_per_month", "capacity at start /month", _num),
            ("capacity_end_per_month", "capacity at end /month", _num),
            ("produced", "produced", _num),
            ("main_binding", "binds most", _text),
            ("inputs_binding", "inputs binding", _text),
            ("first_input_bound", "from", _text),
            ("spent_usd", "bought", _usd),
            ("capex_usd", "capex", _usd),
        ],
    )


def _shortfall_table(r: Result, tab: _Tab) -> str:
    return _table(
        tab(r, "shortfall"),
        [
            ("party", "recipient", _text),
            ("product", "munition", _text),
            ("demand", "demand", _num),
            ("consumed", "consumed", _num),
            ("shortfall", "unmet", _num),
            ("share_unmet", "share unmet", _pct),
            ("months_short", "months short", _int),
            ("first_short", "first short", _text),
        ],
    )


def _weapon_tables(r: Result, tab: _Tab) -> str:
    """Usable against nominal stock, the systems that went short and the capacity each
    party's guns can use (empty without weapon-system fleets)."""
    parties = tab(r, "interoperability")
    if parties.empty:
        return ""
    policy = r.scenario.policy
    return (
        "<h3>Weapon systems: usable against nominal stock</h3>"
        f'<p class="note">policy.interoperability = {_esc(policy.interoperability)}: a round '
        "counts toward a party's usable stock only for the guns it is qualified for; targets "
        "count usable stock; effective capacity weights each line by the share of the party's "
        "use its rounds fit.</p>"
        + _table(
            parties,
            [
                ("party", "party", _text),
                ("product", "munition", _text),
                ("stock_end", "stock at end", _num),
                ("usable_end", "usable at end", _num),
                ("unusable_max", "most held unusable", _num),
                ("share_unmet", "share unmet", _pct),
                ("short_systems", "systems short", _text),
                ("effective_capacity_start_per_month", "usable capacity at start /month", _num),
                ("capacity_start_per_month", "capacity at start /month", _num),
                ("effective_capacity_end_per_month", "usable capacity at end /month", _num),
                ("capacity_end_per_month", "capacity at end /month", _num),
            ],
        )
        + _table(
            tab(r, "fleets"),
            [
                ("party", "party", _text),
                ("system", "system", _text),
                ("share", "share of use", _pct),
                ("demand", "demand", _num),
                ("shortfall", "unmet", _num),
                ("share_unmet", "share unmet", _pct),
                ("first_short", "first short", _text),
                ("stock_end", "usable stock at end", _num),
            ],
        )
    )


def _aid_table(r: Result, tab: _Tab) -> str:
    return _table(
        tab(r, "aid"),
        [
            ("pledge", "pledge", _text),
            ("donor", "donor", _text),
            ("recipient", "recipient", _text),
            ("product", "munition", _text),
            ("supply", "from", _text),
            ("pledged", "pledged", _num),
            ("delivered", "delivered", _num),
            ("share_delivered", "share delivered", _pct),
        ],
    )


def _contract_tables(r: Result, tab: _Tab) -> str:
    """What each procurement policy decided, then every contract (written or policy-made)."""
    contracts = tab(r, "contracts")
    if contracts.empty:
        return ""
    return (
        "<h3>Contracts decided by procurement policies</h3>"
        + _table(
            tab(r, "decisions"),
            [
                ("policy", "policy", _text),
                ("product", "munition", _text),
                ("contracts", "contracts", _int),
                ("first", "first decided", _text),
                ("last", "last decided", _text),
                ("quantity", "quantity", _num),
                ("multi_year_quantity", "multi-year", _num),
                ("delivered", "delivered", _num),
            ],
        )
        + "<h3>Contracts</h3>"
        '<p class="note">decided by: "scenario" for contracts written in the scenario '
        '(aid pledged from production included), "policy" for those a procurement policy '
        "decided in the run.</p>"
        + _table(
            contracts,
            [
                ("contract", "contract", _text),
                ("product", "munition", _text),
                ("buyers", "buyers", _text),
                ("decided", "decided", _text),
                ("signed", "signed", _text),
                ("quantity", "quantity", _num),
                ("firm", "firm", _text),
                ("multi_year", "multi-year", _text),
                ("decided_by", "decided by", _text),
                ("delivered", "delivered", _num),
            ],
        )
    )


def _budget_tables(r: Result, tab: _Tab) -> str:
    if r.scenario.policy.budget == "none":
        return ""
    b = tab(r, "budget")
    per_ally = (
        b.assign(years_over=(b.overrun_usd > 0).astype(int))
        .groupby("party", sort=False)[
            ["budget_usd", "committed_usd", "paid_usd", "overrun_usd", "years_over"]
        ]
        .sum()
        .reset_index()
    )
    per_ally = per_ally[(per_ally.committed_usd > 0) | (per_ally.paid_usd > 0)]
    deferred = tab(r, "deferred")
    budget_cols: list[Column] = [
        ("party", "ally", _text),
        ("budget_usd", "budget", _usd),
        ("committed_usd", "committed", _usd),
        ("paid_usd", "paid", _usd),
        ("overrun_usd", "overrun", _usd),
        ("years_over", "years over budget", _int),
    ]
    deferred_cols: list[Column] = [
        ("contract", "contract", _text),
        ("deferred_months", "months deferred", _int),
        ("signed_in_horizon", "signed in horizon", _text),
    ]
    return (
        f"<h3>Munitions budgets ({_esc(r.scenario.policy.budget)}), over the horizon</h3>"
        + _table(per_ally, budget_cols)
        + "<h3>Contracts deferred by the budget</h3>"
        + _table(deferred, deferred_cols)
    )


def _assumptions(r: Result) -> str:
    s = r.scenario
    used = sources_used(s)
    items = "".join(f"<li>{_esc(a)}</li>" for a in s.assumptions) or "<li>(none stated)</li>"
    rows = [
        (sid, src.assumption or "", n)
        for sid, n in sorted(used.items())
        if (src := s.sources.get(sid)) is not None and src.is_assumption
    ]
    table = (
        "<table><thead><tr><th>source id</th><th>assumption</th><th>figures</th></tr></thead>"
        "<tbody>"
        + "".join(
            f'<tr><td>{_esc(sid)}</td><td class="assumed">{_esc(text)}</td>'
            f'<td class="num">{n}</td></tr>'
            for sid, text, n in rows
        )
        + "</tbody></table>"
        if rows
        else '<p class="note">(no figure rests on a labelled assumption)</p>'
    )
    return (
        f"<h3>Assumptions of {_esc(s.id)}</h3><ul>{items}</ul>"
        "<p>Figures that rest on labelled assumptions rather than a publication:</p>" + table
    )


def _link(url: str) -> str:
    """A clickable link for an http(s) address; any other scheme (``javascript:``,
    ``data:``, ``file:``) is shown as text only."""
    scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
    if scheme in ("http", "https"):
        return f'<a href="{_esc(url)}" rel="noopener noreferrer">{_esc(url)}</a>'
    return f"<code>{_esc(url)}</code>"


def _sources(runs: list[Result]) -> str:
    used = {r.scenario.id: sources_used(r.scenario) for r in runs}
    ids: list[str] = []
    for r in runs:
        ids += [sid for sid in sorted(used[r.scenario.id]) if sid not in ids]
    head = "".join(f'<th class="count">figures in<br>{_esc(r.scenario.id)}</th>' for r in runs)
    rows = []
    for sid in ids:
        src = next(r.scenario.sources[sid] for r in runs if sid in r.scenario.sources)
        if src.is_assumption:
            what = f'<span class="assumed">assumption: {_esc(src.assumption)}</span>'
        else:
            parts = [
                _esc(src.publisher) if src.publisher else "",
                f"<i>{_esc(src.title)}</i>" if src.title else "",
                _esc(src.date) if src.date else "",
            ]
            what = ", ".join(p for p in parts if p) or "(publisher, title and date not given)"
            what += f" (via {_esc(src.via)})" if src.via else ""
            what += f". {_link(src.url)}" if src.url else ""
            if src.assumption:
                what += f'<br><span class="assumed">assumption: {_esc(src.assumption)}</span>'
        if src.note:
            what += f'<br><span class="note">{_esc(src.note)}</span>'
        counts = "".join(
            f'<td class="num">{used[r.scenario.id].get(sid, 0) or "-"}</td>' for r in runs
        )
        rows.append(f"<tr><td>{_esc(sid)}</td><td>{what}</td>{counts}</tr>")
    return (
        '<p class="note">Every figure of the scenarios cites one of these (counts from '
        "materiel.scenario.provenance.sources_used). Links are for the reader to follow; "
        "the report "
        "loads nothing from them.</p>"
        f'<div class="scroll sources"><table><thead><tr><th>source id</th><th>source</th>'
        f"{head}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _chart_html(slug: str, fig: Any) -> str:
    inner: str = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        div_id=f"chart-{slug}",
        config=_CONFIG,
        default_width="100%",
        default_height=f"{int(fig.layout.height or 450)}px",
    )
    return f'<div class="chart">{inner}</div>'


def _headline_list(items: Sequence[Headline]) -> str:
    return '<ul class="findings">' + "".join(f"<li>{_esc(h.text)}</li>" for h in items) + "</ul>"


# --- the report ----------------------------------------------------------------------


@dataclass
class Report:
    """A built report: its HTML, the figures in it (by slug) and its headlines."""

    html: str
    figures: dict[str, Any]
    headlines: list[Headline]


def _slug(*parts: str) -> str:
    text = "-".join(parts).lower()
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _uncertainty(mc: MonteCarloResult, chart: Callable[[str, Any], None]) -> list[str]:
    """The Monte Carlo part of a scenario's section: fans, probabilities, what matters most."""
    from materiel.analysis.sensitivity import ALPHA, CUT_RULE, sensitivity_table

    s = mc.scenario
    n = len(mc.samples)
    seed = mc.seed
    out = [
        f"<h3>Uncertainty: {n} samples (seed {_esc(seed)})</h3>",
        f"<p>Uncertain inputs: {_esc(', '.join(sorted(s.uncertain)) or 'none')}"
        + ("" if s.uncertain else " (all samples identical)")
        + ".</p>",
    ]
    body: list[str] = []
    chart(_slug(s.id, "fans"), charts.sampled_stocks(mc))
    chart(_slug(s.id, "p-met"), charts.probability_of_target(mc))
    probabilities = mc.target_probabilities()
    columns: list[Column] = [
        ("target", "target", _text),
        ("by", "by", _text),
        ("p_met_by_date", "P(met by its date)", _pct),
        ("p_met_by_horizon", "P(met by the horizon)", _pct),
        ("median_first_met", "median month met", _text),
        ("stock_at_by_p5", "stock at date p5", _num),
        ("stock_at_by_p50", "p50", _num),
        ("stock_at_by_p95", "p95", _num),
    ]
    body.append(_table(probabilities, columns))
    if s.uncertain:
        table = sensitivity_table(mc)
        cut = _esc(CUT_RULE.format(alpha=ALPHA))
        body.append(
            f'<h4>What matters most</h4><p class="note">{cut}; inputs that do not '
            "pass are left out.</p>"
        )
        ranked: list[Column] = [
            ("target", "target", _text),
            ("input", "uncertain input", _text),
            ("spearman", "Spearman rho", _num2),
            ("p_value", "p-value", _sci),
        ]
        body.append(_table(table[table.significant], ranked))
    return out + body


def build_report(
    results: Result | Sequence[Result],
    *,
    title: str | None = None,
    samples: Sequence[MonteCarloResult] = (),
) -> Report:
    """The report of one or more results (the first is the reference) as one HTML page.

    ``samples``: Monte Carlo runs (:func:`materiel.sample`) of the same
    scenarios; each adds percentile fans of the targets' stocks, the
    probability of meeting each target by each month and by its date, and
    the inputs that matter most (with the significance cut stated) to its
    scenario's section.
    """
    runs = [results] if isinstance(results, Result) else list(results)
    if not runs:
        raise bad_argument("build_report", "results", results, "at least one Result")
    ids = [r.scenario.id for r in runs]
    title = title or (
        f"materiel report: {ids[0]}"
        if len(ids) == 1
        else f"materiel report: {', '.join(ids[1:])} compared with {ids[0]}"
    )
    tab = _tab_cache()
    found = headlines(runs, tab=tab)
    figures: dict[str, Any] = {}
    body: list[str] = []
    toc: list[tuple[str, str]] = []

    def section(anchor: str, heading: str) -> None:
        toc.append((anchor, heading))
        body.append(f'<h2 id="{_esc(anchor)}">{_esc(heading)}</h2>')

    def chart(slug: str, fig: Any) -> None:
        figures[slug] = fig
        body.append(_chart_html(slug, fig))

    section("stocks", "Stocks against capability targets")
    chart("stocks", charts.stocks(runs))
    chart("time-to-target", charts.time_to_target(runs))
    if len(runs) > 1:
        section("differences", f"Differences against {ids[0]}")
        for r in runs[1:]:
            body.append(_difference_tables(difference(runs[0], r)))
    section("spending", "Defence spending against the pledges")
    chart("spending", charts.spending(runs))
    for r in runs:
        sid = r.scenario.id
        s = r.scenario
        section(_slug("scenario", sid), f"Scenario {sid}: {s.title}".rstrip(": "))
        if s.description.strip():
            body.append(f"<p>{_esc(s.description.strip())}</p>")
        body.append(
            f'<p class="meta">horizon {_esc(s.start)} .. {_esc(_end_label(r))} '
            f"({s.months} months); {r.dataset.sizes.get('sample', 1)} sample(s); "
            f"contracting delay {s.policy.contracting_delay_months} months; "
            f"budgets: {_esc(s.policy.budget)}; floors: {_esc(r.floors()['rule'])} "
            f"(policy.floor_applies_to = {_esc(s.policy.floor_applies_to)})</p>"
        )
        body.append("<h3>Targets</h3>" + _targets_table(r, tab))
        for mc in (m for m in samples if m.scenario.id == sid):
            body.extend(_uncertainty(mc, chart))
        body.append("<h3>Production: capacity and what binds</h3>" + _munitions_table(r, tab))
        ds = r.dataset
        for k in s.munitions:
            lines = ds.line.values[ds.line_product.values == k]
            if len(lines) and float(ds.capacity_per_month.sel(line=lines).max()) > 0:
                chart(_slug(sid, "capacity", k), charts.capacity(r, k))
        body.append("<h3>Deliveries and aid</h3>")
        chart(_slug(sid, "deliveries"), charts.deliveries(r))
        body.append(_aid_table(r, tab))
        body.append(_replacement_table(r, tab))
        body.append("<h3>Recipients: consumption, supply and shortfall</h3>")
        chart(_slug(sid, "recipients"), charts.recipients(r))
        body.append(_shortfall_table(r, tab))
        body.append(_weapon_tables(r, tab))
        body.append(_contract_tables(r, tab))
        body.append(_budget_tables(r, tab))
        body.append(_assumptions(r))
    section("sources", "Sources behind every figure")
    body.append(_sources(runs))
    nav = "".join(f'<li><a href="#{_esc(a)}">{_esc(h)}</a></li>' for a, h in toc)
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        "</head><body><main>"
        f"<h1>{_esc(title)}</h1>"
        f'<p class="meta">Made by materiel {_esc(__version__)} from scenarios '
        f"{_esc(', '.join(ids))}"
        + (f"; {_esc(ids[0])} is the reference for comparisons" if len(ids) > 1 else "")
        + ". Stock levels and most targets are labelled assumptions (real levels are "
        "classified); see the assumptions and sources below.</p>"
        '<h2 id="findings">Findings</h2>'
        + _headline_list(found)
        + f"<nav><ul>{nav}</ul></nav>"
        + "".join(body)
        + "</main></body></html>\n"
    )
    return Report(page, figures, found)


def write_report(
    results: Result | Sequence[Result],
    path: Path,
    *,
    title: str | None = None,
    samples: Sequence[MonteCarloResult] = (),
) -> Report:
    """Build the report and write it to ``path`` atomically (a temp file, then a rename)."""
    report = build_report(results, title=title, samples=samples)
    path = Path(path)
    atomic_write_text(path, report.html)
    return report


def result_html(result: Result) -> str:
    """A compact HTML summary of one result (for notebooks): headlines and targets."""
    s = result.scenario
    tab = _tab_cache()
    found = [h for h in headlines(result, tab=tab) if h.topic in ("target", "binding", "recipient")]
    return (
        f'<div class="materiel-result"><strong>{_esc(s.id)}</strong>'
        + (f": {_esc(s.title)}" if s.title else "")
        + f" <small>({_esc(s.start)} + {s.months} months, "
        f"{result.dataset.sizes.get('sample', 1)} sample(s))</small>"
        + _headline_list(found)
        + _targets_table(result, tab)
        + "</div>"
    )
