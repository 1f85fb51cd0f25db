"""Consistency checks across entities, one small named function per rule.

Each ``check_*`` takes a structurally valid :class:`~materiel.scenario.schema.Scenario`
and yields ``(path, message)`` pairs, where ``path`` is a tuple of keys into
the scenario (``("contracts", "c1", "buyers")``). The loader turns them into
:class:`~materiel.Problem` records with the file and line.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Iterator

import annotated_types
from pydantic import BaseModel

from materiel.months import month_index, month_label, parse_month
from materiel.scenario.schema import (
    LAST_YEAR,
    MAX_FIGURE,
    Consumption,
    Contract,
    Entity,
    Facilitation,
    Investment,
    Line,
    Policy,
    Price,
    Procurement,
    Product,
    Scenario,
    Stock,
    Target,
    entity_records,
)
from materiel.scenario.uncertainty import SUPPORTED_FIELDS, is_supported

__all__ = ["ALL_CHECKS", "Finding", "run_checks"]

Finding = tuple[tuple[str, ...], str]
SHARE_TOLERANCE = 1e-6


def _unknown(kind: str, ref: str, known: object) -> str:
    return f"unknown {kind} {ref!r}; expected one of the scenario's {kind} ids" + (
        "" if not isinstance(known, dict) or len(known) > 12 else f" ({', '.join(known)})"
    )


def check_party_references(s: Scenario) -> Iterator[Finding]:
    """Every party id used anywhere is declared in ``parties``."""
    p = s.parties
    for lid, line in s.lines.items():
        if line.country not in p:
            yield ("lines", lid, "country"), _unknown("party", line.country, p)
    for cid, c in s.contracts.items():
        for buyer in c.buyers:
            if buyer not in p:
                yield ("contracts", cid, "buyers"), _unknown("party", buyer, p)
        if c.recipient is not None and c.recipient not in p:
            yield ("contracts", cid, "recipient"), _unknown("party", c.recipient, p)
    for key, pol in s.procurement.items():
        for field in ("buyers", "parties"):
            for party in getattr(pol, field) or ():
                if party not in p:
                    yield ("procurement", key, field), _unknown("party", party, p)
        if pol.recipient is not None and pol.recipient not in p:
            yield ("procurement", key, "recipient"), _unknown("party", pol.recipient, p)
    for key, f in s.facilitation.items():
        if f.funder is not None and f.funder not in p:
            yield ("facilitation", key, "funder"), _unknown("party", f.funder, p)
    for party in s.stocks:
        if party not in p:
            yield ("stocks", party), _unknown("party", party, p)
    for key, use in s.consumption.items():
        if use.party not in p:
            yield ("consumption", key, "party"), _unknown("party", use.party, p)
    for key, a in s.aid.items():
        for field in ("donor", "recipient"):
            if getattr(a, field) not in p:
                yield ("aid", key, field), _unknown("party", getattr(a, field), p)
        if a.donor == a.recipient:
            yield ("aid", key, "recipient"), "expected a recipient other than the donor"
    for key, t in s.targets.items():
        for party in t.parties:
            if party not in p:
                yield ("targets", key, "parties"), _unknown("party", party, p)
    for party in s.economics:
        if party not in p:
            yield ("economics", party), _unknown("party", party, p)
    for key, path in s.spending_paths.items():
        for party in path.parties:
            if party != "*" and party not in p:
                yield ("spending_paths", key, "parties"), _unknown("party", party, p)


def check_product_references(s: Scenario) -> Iterator[Finding]:
    """Every product id used is declared, and munitions and components are not mixed up."""
    k = s.products
    munition_uses: list[tuple[tuple[str, ...], str]] = []
    for lid, line in s.lines.items():
        if line.product not in k:
            yield ("lines", lid, "product"), _unknown("product", line.product, k)
    for cid, c in s.contracts.items():
        munition_uses.append((("contracts", cid, "product"), c.product))
    for key, pol in s.procurement.items():
        munition_uses.append((("procurement", key, "product"), pol.product))
    for party, per_product in s.stocks.items():
        for prod in per_product:
            munition_uses.append((("stocks", party, prod), prod))
    for key, use in s.consumption.items():
        munition_uses.append((("consumption", key, "product"), use.product))
    for key, a in s.aid.items():
        munition_uses.append((("aid", key, "product"), a.product))
    for key, t in s.targets.items():
        munition_uses.append((("targets", key, "product"), t.product))
    for path, prod in munition_uses:
        if prod not in k:
            yield path, _unknown("product", prod, k)
        elif k[prod].kind != "munition":
            yield path, f"expected a munition, but {prod!r} is a component"
    for pool, held in s.inventories.items():
        for prod in held:
            if prod not in k:
                yield ("inventories", pool, prod), _unknown("product", prod, k)
            elif k[prod].kind != "component":
                yield ("inventories", pool, prod), f"expected a component, {prod!r} is a munition"
    for pid, product in s.products.items():
        for comp in product.bom:
            if comp not in k:
                yield ("products", pid, "bom"), _unknown("product", comp, k)
            elif k[comp].kind != "component":
                yield (
                    ("products", pid, "bom"),
                    f"expected a component in the bill of materials, {comp!r} is a munition",
                )


def check_line_references(s: Scenario) -> Iterator[Finding]:
    """Contracts and investments name existing lines; a contract's line makes its product."""
    for cid, c in s.contracts.items():
        if c.line is None:
            if c.product in s.products and not any(
                line.product == c.product and c.pool in (None, line.pool)
                for line in s.lines.values()
            ):
                where = "" if c.pool is None else f" in pool {c.pool!r}"
                yield ("contracts", cid, "product"), f"no line{where} makes {c.product!r}"
        elif c.line not in s.lines:
            yield ("contracts", cid, "line"), _unknown("line", c.line, s.lines)
        elif s.lines[c.line].product != c.product:
            yield (
                ("contracts", cid, "line"),
                f"line {c.line!r} makes {s.lines[c.line].product!r}, not the contract's "
                f"product {c.product!r}",
            )
    for key, pol in s.procurement.items():
        if pol.product in s.products and not any(
            line.product == pol.product and pol.pool in (None, line.pool)
            for line in s.lines.values()
        ):
            where = "" if pol.pool is None else f" in pool {pol.pool!r}"
            yield ("procurement", key, "pool"), f"no line{where} makes {pol.product!r}"
    for section in ("investments", "facilitation"):
        for iid, inv in getattr(s, section).items():
            if inv.line not in s.lines:
                yield (section, iid, "line"), _unknown("line", inv.line, s.lines)
    for key, a in s.aid.items():
        if a.supply == "production" and not any(
            line.product == a.product for line in s.lines.values()
        ):
            yield ("aid", key, "product"), f"aid from production, but no line makes {a.product!r}"


def check_buyer_shares(s: Scenario) -> Iterator[Finding]:
    """A contract's or procurement policy's buyer shares sum to 1."""
    for section in ("contracts", "procurement"):
        for cid, c in getattr(s, section).items():
            total = sum(c.buyers.values())
            if not c.buyers:
                yield (section, cid, "buyers"), "expected at least one buyer"
            elif abs(total - 1.0) > SHARE_TOLERANCE:
                yield (section, cid, "buyers"), f"buyer shares must sum to 1, got {total:g}"


def check_shares_by_gap(s: Scenario) -> Iterator[Finding]:
    """A policy splitting by gap delivers to its buyers (each buyer's gap needs its own stock)."""
    for key, pol in s.procurement.items():
        if pol.shares == "by-gap" and pol.recipient is not None:
            yield (
                ("procurement", key, "shares"),
                f"shares = 'by-gap' splits by each buyer's own gap, but deliveries go to "
                f"{pol.recipient!r}; expected shares = 'fixed' with a recipient",
            )


def check_procurement_targets(s: Scenario) -> Iterator[Finding]:
    """A procurement policy's targets exist, are on its product and count only its group.

    A policy needs at least one counted target: without one its desired
    stock would be zero and it would buy only expected use.
    """
    for key, pol in s.procurement.items():
        group = set(pol.group)
        if pol.targets is None:
            counted = [
                t
                for t in s.targets.values()
                if t.product == pol.product and set(t.parties) <= group
            ]
            if not counted and pol.product in s.products:
                yield (
                    ("procurement", key, "targets"),
                    f"no target on {pol.product!r} counts only the group "
                    f"{sorted(group)}; expected a target whose parties all belong to the "
                    "group, or a targets list",
                )
            continue
        if not pol.targets:
            yield ("procurement", key, "targets"), "expected at least one target id"
        for tid in pol.targets:
            target = s.targets.get(tid)
            if target is None:
                yield ("procurement", key, "targets"), _unknown("target", tid, s.targets)
            elif target.product != pol.product:
                yield (
                    ("procurement", key, "targets"),
                    f"target {tid!r} is on {target.product!r}, not the policy's "
                    f"product {pol.product!r}",
                )
            elif not set(target.parties) <= group:
                outside = sorted(set(target.parties) - group)
                yield (
                    ("procurement", key, "targets"),
                    f"target {tid!r} counts parties outside the group: {outside}; expected "
                    "them in the policy's parties",
                )


def check_bom_acyclic(s: Scenario) -> Iterator[Finding]:
    """Bills of materials contain no cycle (a product needing itself, directly or not)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(pid: str, trail: list[str]) -> list[str] | None:
        state[pid] = 1
        for comp in s.products[pid].bom if pid in s.products else ():
            if state.get(comp) == 1:
                return [*trail, pid, comp]
            if comp not in state and (cycle := visit(comp, [*trail, pid])):
                return cycle
        state[pid] = 2
        return None

    for pid in s.products:
        if pid not in state and (cycle := visit(pid, [])):
            start = cycle.index(cycle[-1])
            yield (
                ("products", cycle[-1], "bom"),
                "cycle in bills of materials: " + " -> ".join(cycle[start:]),
            )
            return


def check_prices(s: Scenario) -> Iterator[Finding]:
    """Every contract and procurement policy has a unit price (its own, a ``prices`` row or
    its product's); every ``prices`` row names a munition."""
    priced = {p.product for p in s.prices.values()}
    for key, p in s.prices.items():
        product = s.products.get(p.product)
        if product is None:
            yield ("prices", key, "product"), _unknown("product", p.product, s.products)
        elif product.kind != "munition":
            yield ("prices", key, "product"), f"expected a munition, {p.product!r} is a component"
    for section in ("contracts", "procurement"):
        for cid, c in getattr(s, section).items():
            product = s.products.get(c.product)
            if (
                c.unit_price_usd is None
                and product is not None
                and product.unit_price_usd is None
                and c.product not in priced
            ):
                yield (
                    (section, cid, "unit_price_usd"),
                    f"expected a unit price: neither the {section} entry nor product "
                    f"{c.product!r} gives one",
                )


def check_capacity_bounds(s: Scenario) -> Iterator[Finding]:
    """A line's ceiling is not below its starting capacity."""
    for lid, line in s.lines.items():
        if line.max_capacity_per_month < line.capacity_per_month:
            yield (
                ("lines", lid, "max_capacity_per_month"),
                f"expected at least capacity_per_month ({line.capacity_per_month:g}), "
                f"got {line.max_capacity_per_month:g}",
            )


def check_dates_in_horizon(s: Scenario) -> Iterator[Finding]:
    """Decisions fall before the horizon ends; periods are ordered; targets fall inside it.

    Decisions *before* the start are allowed: they describe contracts and
    investments already under way when the horizon opens.
    """
    last = s.months - 1
    latest = parse_month(f"{LAST_YEAR}-12")
    if parse_month(s.start) + last > latest:
        yield (
            ("months",),
            f"the horizon {s.start} + {s.months} months ends in "
            f"{month_label(parse_month(s.start) + last)}, after {LAST_YEAR}-12; expected at most "
            f"{latest - parse_month(s.start) + 1} months from {s.start}",
        )

    def after_end(month: str) -> bool:
        return month_index(month, s.start) > last

    horizon = f"the horizon {s.start} + {s.months} months"
    for cid, c in s.contracts.items():
        if after_end(c.decision):
            yield ("contracts", cid, "decision"), f"{c.decision} is after the end of {horizon}"
    for section in ("investments", "facilitation"):
        for iid, inv in getattr(s, section).items():
            if after_end(inv.decision):
                yield (section, iid, "decision"), f"{inv.decision} is after the end of {horizon}"
    for key, pol in s.procurement.items():
        if pol.start and after_end(pol.start):
            yield ("procurement", key, "start"), f"{pol.start} is after the end of {horizon}"
        if pol.start and pol.end and month_index(pol.end, pol.start) < 0:
            yield (
                ("procurement", key, "end"),
                f"expected end ({pol.end}) not before start ({pol.start})",
            )
    for key, t in s.targets.items():
        idx = month_index(t.by, s.start)
        if idx < 0 or idx > last:
            yield ("targets", key, "by"), f"{t.by} is outside {horizon}"
    for key, a in s.aid.items():
        if month_index(a.end, a.start) < 0:
            yield ("aid", key, "end"), f"expected end ({a.end}) not before start ({a.start})"
        elif after_end(a.start):
            yield ("aid", key, "start"), f"{a.start} is after the end of {horizon}"
    for key, use in s.consumption.items():
        if use.start and use.end and month_index(use.end, use.start) < 0:
            yield (
                ("consumption", key, "end"),
                f"expected end ({use.end}) not before start ({use.start})",
            )
    for key, path in s.spending_paths.items():
        if path.by_year < path.from_year:
            yield ("spending_paths", key, "by_year"), "expected by_year not before from_year"


def check_component_supply(s: Scenario) -> Iterator[Finding]:
    """Every input of every line can come from a line or an inventory in the line's pool."""
    made = {(line.pool, line.product) for line in s.lines.values()}
    held = {(pool, prod) for pool, per in s.inventories.items() for prod in per}
    for lid, line in s.lines.items():
        product = s.products.get(line.product)
        for comp in product.bom if product else ():
            if (line.pool, comp) not in made and (line.pool, comp) not in held:
                yield (
                    ("lines", lid, "pool"),
                    f"needs component {comp!r}, but no line or inventory in pool "
                    f"{line.pool!r} supplies it",
                )


def check_fleets(s: Scenario) -> Iterator[Finding]:
    """Systems fire a munition; fleets and qualifications name existing parties, systems and lines
    of the system's product; a party's fleets of one product have shares summing to 1."""
    for key, system in s.systems.items():
        if system.product not in s.products:
            yield ("systems", key, "product"), _unknown("product", system.product, s.products)
        elif s.products[system.product].kind != "munition":
            yield (
                ("systems", key, "product"),
                f"{system.product!r} is a component; a weapon system fires a munition",
            )
    totals: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], str] = {}
    for key, fleet in s.fleets.items():
        if fleet.party not in s.parties:
            yield ("fleets", key, "party"), _unknown("party", fleet.party, s.parties)
        if fleet.system not in s.systems:
            yield ("fleets", key, "system"), _unknown("system", fleet.system, s.systems)
            continue
        cell = (fleet.party, s.systems[fleet.system].product)
        totals[cell] = totals.get(cell, 0.0) + fleet.share
        first.setdefault(cell, key)
    for (party, product), total in totals.items():
        if abs(total - 1.0) > SHARE_TOLERANCE:
            yield (
                ("fleets", first[party, product], "share"),
                f"{party}'s fleets of {product!r} have shares summing to {total:g}; expected 1",
            )
    for key, q in s.qualifications.items():
        if q.line not in s.lines:
            yield ("qualifications", key, "line"), _unknown("line", q.line, s.lines)
        if q.system not in s.systems:
            yield ("qualifications", key, "system"), _unknown("system", q.system, s.systems)
        elif q.line in s.lines and s.lines[q.line].product != s.systems[q.system].product:
            yield (
                ("qualifications", key, "system"),
                f"system {q.system!r} fires {s.systems[q.system].product!r}, but line "
                f"{q.line!r} makes {s.lines[q.line].product!r}",
            )
        if q.payer is not None and q.payer not in s.parties:
            yield ("qualifications", key, "payer"), _unknown("party", q.payer, s.parties)
    for product in s.policy.interoperability_by_product:
        if product not in s.products:
            yield (
                ("policy", "interoperability_by_product"),
                _unknown("product", product, s.products),
            )


def check_source_references(s: Scenario) -> Iterator[Finding]:
    """Every source id that a record names is declared in ``sources``."""

    def refs(path: tuple[str, ...], record: Entity) -> Iterator[Finding]:
        if record.source is not None and record.source not in s.sources:
            yield (*path, "source"), _unknown("source", record.source, s.sources)
        for field, sid in record.field_sources.items():
            if sid not in s.sources:
                yield (*path, "field_sources"), _unknown("source", sid, s.sources)
            if field not in type(record).model_fields:
                yield (*path, "field_sources"), f"unknown field {field!r} in field_sources"

    for path, record in entity_records(s):
        yield from refs(path, record)


def check_not_empty(s: Scenario) -> Iterator[Finding]:
    """A scenario has at least one production line (a file without ``extends`` starts empty)."""
    if not s.lines:
        yield (
            ("lines",),
            "expected at least one production line; a file without `extends` starts from "
            'nothing (write extends = "dataset" to build on the embedded data)',
        )


_MODEL_OF: dict[str, type[BaseModel]] = {
    "lines": Line,
    "investments": Investment,
    "facilitation": Facilitation,
    "contracts": Contract,
    "stocks": Stock,
    "consumption": Consumption,
    "targets": Target,
    "policy": Policy,
    "products": Product,
    "prices": Price,
    "procurement": Procurement,
}


def field_bounds(path: str) -> tuple[float, float]:
    """The least and greatest value the schema allows at a field path (``-inf``/``inf``
    when unbounded).

    ``lines.x.ramp_up_months`` -> ``(1, inf)``; ``policy.munitions_share`` -> ``(0, 1)``.
    """
    keys = path.split(".")
    model = _MODEL_OF.get(keys[0])
    info = model.model_fields.get(keys[-1]) if model is not None else None
    least, most = -math.inf, math.inf
    if info is None:
        return least, most

    def visit(meta: object) -> None:
        nonlocal least, most
        if isinstance(meta, annotated_types.Ge):
            least = max(least, float(meta.ge))  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Gt):
            least = max(least, float(meta.gt))  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Le):
            most = min(most, float(meta.le))  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Lt):
            most = min(most, float(meta.lt))  # type: ignore[arg-type]
        for inner in getattr(meta, "metadata", ()):  # a FieldInfo inside Annotated
            visit(inner)
        for arg in typing.get_args(meta):  # Optional[Annotated[int, Field(ge=0)]]
            visit(arg)

    for meta in info.metadata:
        visit(meta)
    visit(info.annotation)
    return least, most


def check_uncertain_fields(s: Scenario) -> Iterator[Finding]:
    """Distributions stand on supported numeric fields that exist in the scenario,
    and draw no value outside the field's bounds (a negative capacity or stock, a share above 1)."""
    # warnings off: a partly built entity (loading._with_partial_entities) may hold raw
    # values such as 0.0 for an int field; only the structure is read here
    data = s.model_dump(warnings=False)
    for path in s.uncertain:
        keys = path.split(".")
        if not is_supported(path):
            yield (
                ("uncertain", path),
                "distributions are supported on: " + ", ".join(SUPPORTED_FIELDS),
            )
            continue
        node: object = data
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                yield ("uncertain", path), f"no such field {path!r} in the scenario"
                break
            node = node[key]
        else:
            (least, most), (lo, hi) = field_bounds(path), s.uncertain[path].support()
            if lo < least:
                yield (
                    ("uncertain", path),
                    f"{s.uncertain[path].dist} can draw {lo:g}, below the field's minimum "
                    f"{least:g}; expected draws >= {least:g} (set min = {least:g} to truncate)",
                )
            if hi > most and not (math.isinf(hi) and most == MAX_FIGURE):
                # (an unbounded normal or lognormal on a field capped only by MAX_FIGURE,
                # the plausibility cap, is fine: its central value is checked against the
                # cap, and a draw above 1e15 is as improbable as it is harmless)
                yield (
                    ("uncertain", path),
                    f"{s.uncertain[path].dist} can draw {hi:g}, above the field's maximum "
                    f"{most:g}; expected draws <= {most:g} (set max = {most:g} to truncate)",
                )
    for path, d in s.uncertain.items():
        if d.group and d.group not in s.correlations:
            yield ("uncertain", path), f"group {d.group!r} has no entry in [correlations]"


ALL_CHECKS: tuple[Callable[[Scenario], Iterator[Finding]], ...] = (
    check_not_empty,
    check_party_references,
    check_product_references,
    check_line_references,
    check_buyer_shares,
    check_procurement_targets,
    check_shares_by_gap,
    check_bom_acyclic,
    check_prices,
    check_capacity_bounds,
    check_dates_in_horizon,
    check_component_supply,
    check_fleets,
    check_source_references,
    check_uncertain_fields,
)


def run_checks(s: Scenario) -> list[Finding]:
    """Run every check and return all findings."""
    return [finding for check in ALL_CHECKS for finding in check(s)]
