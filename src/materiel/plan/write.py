"""A plan written as a scenario that the simulator reproduces.

The plan's decisions become scenario entities:

- one contract per line, buyer (or recipient) and calendar year
  (``plan-<line>-<buyer>-<year>``, :func:`frameworks`): an annual framework
  decided ``D`` months before its first delivery (``D`` = the policy's
  contracting delay plus any extra delay), at the product's price, due along
  a delivery schedule of the plan's monthly quantities (``Contract.schedule``).
  Joint buying means a month's output of a munition is shared between its
  buyers; the shares are paired off line by line (north-west corner), which
  is exact because any line may serve any buyer at the same price;
- the commitments (contracts signed before the start, and contracts and
  production pledges for a recipient) as the plan delivers them, one per
  commitment and line (``backlog-...``, ``commitment-...``): signed before
  the start (never deferred by a budget check), due along the plan's schedule;
- capacity additions as ``[investments.*]`` decided in their month;
- the scenario's own contracts, procurement policies and production
  pledges are dropped, and
  ``policy.industry_invests = false`` so that the simulator adds nothing of
  its own, with ``announced_investments = "always"`` so that the planned
  (and announced) investments still arrive, ``idle_utilisation = 0``
  (the planner keeps what it builds) and ``floor_applies_to = "aid"`` (the
  floor rule the planner models). A ``budget_scale`` other than 1
  scales ``policy.munitions_share``.

:func:`scenario_mapping` returns the mapping; :func:`write_toml` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from materiel._io import atomic_write_text
from materiel.months import month_label, parse_month, year_of
from materiel.scenario.schema import Scenario

__all__ = [
    "PlannedContract",
    "PlannedInvestment",
    "fleets_note",
    "frameworks",
    "pair_off",
    "scenario_mapping",
    "write_toml",
]

TOL = 1e-6  # units below which a delivery or an addition is rounding, not a decision


def fleets_note(s: Scenario) -> str | None:
    """What the planner leaves out of a scenario with weapon-system fleets (None without).

    The planner lets every round fit every gun; said in the written plan's
    assumptions and in ``materiel plan``'s output (text and ``--json``).
    """
    if not s.fleets:
        return None
    return (
        "Weapon-system fleets are left out (every round fits every gun), as the planner "
        "models them; the scenario's own runs count usable stock per fleet."
    )


@dataclass(frozen=True)
class PlannedContract:
    """One contract of the plan: who buys what from which line, due when."""

    id: str
    line: str
    product: str
    buyers: dict[str, float]
    recipient: str | None
    quantity: float
    unit_price_usd: float
    due: str  # month delivered
    decision: str
    contracting_delay_months: int
    backlog: bool  # a commitment (signed before the start or for a recipient), as delivered
    delivery_months: int = 1  # months over which ``quantity`` is delivered
    origin: str = ""  # the scenario's contract (or ``aid:<pledge>``) a commitment keeps
    schedule: tuple[float, ...] | None = None  # quantity due each month from ``due``; None: even

    def monthly(self) -> list[tuple[str, float]]:
        """The quantity due in each month of the contract, from ``due``."""
        first = parse_month(self.due)
        q = self.schedule or (self.quantity / self.delivery_months,) * self.delivery_months
        return [(month_label(first + k), x) for k, x in enumerate(q)]

    def as_record(self, start: str) -> dict[str, Any]:
        """The contract as a scenario record (``[contracts.<id>]``)."""
        record: dict[str, Any] = {
            "buyers": self.buyers,
            "product": self.product,
            "line": self.line,
            "quantity": self.quantity,
            "unit_price_usd": self.unit_price_usd,
            "decision": self.decision,
            "contracting_delay_months": self.contracting_delay_months,
            "delivery_months": self.delivery_months,
            "source": "materiel-plan",
        }
        if self.schedule is not None:
            record["schedule"] = list(self.schedule)
        if self.backlog:
            record["delivery_lag_months"] = parse_month(self.due) - parse_month(start) + 1
            record["multi_year"] = True
        if self.recipient is not None:
            record["recipient"] = self.recipient
        return record


@dataclass(frozen=True)
class PlannedInvestment:
    """Capacity added to a line by the plan, decided in a month."""

    id: str
    line: str
    decision: str
    capacity_added_per_month: float
    capex_usd: float

    def as_record(self) -> dict[str, Any]:
        """The investment as a scenario record (``[investments.<id>]``)."""
        return {
            "line": self.line,
            "decision": self.decision,
            "capacity_added_per_month": self.capacity_added_per_month,
            "source": "materiel-plan",
        }


def pair_off(supply: np.ndarray, demand: np.ndarray) -> list[tuple[int, int, float]]:
    """Pair two lists of amounts with equal sums (north-west corner): ``(i, j, amount)``.

    Amounts below ``TOL`` are dropped; a difference between the sums (rounding)
    is left unpaired.
    """
    out = []
    i = j = 0
    s = [float(x) for x in supply]
    d = [float(x) for x in demand]
    while i < len(s) and j < len(d):
        if s[i] <= TOL:
            i += 1
            continue
        if d[j] <= TOL:
            j += 1
            continue
        amount = min(s[i], d[j])
        out.append((i, j, amount))
        s[i] -= amount
        d[j] -= amount
    return out


def frameworks(contracts: list[PlannedContract], taken: set[str]) -> list[PlannedContract]:
    """Gather the plan's monthly deliveries into contracts with a delivery schedule.

    A new contract (``plan-<line>-<buyer>-<year>``) takes every month's delivery
    of one line to one buyer (or recipient) due in one calendar year, at one
    price: an annual framework decided ``D`` months before its first delivery,
    due along the schedule of the plan's monthly quantities (``q_0 .. q_{n-1}``
    from the first due month, zeros between, ``Contract.schedule``). A
    commitment (``backlog-<contract>-<line>``, ``commitment-<contract>-<line>``)
    takes every month the plan delivers that contract from that line. The
    simulator makes ``due_c(t) = Q_c * sum(q_0..q_{t-first}) / Q_c``
    (:mod:`materiel.engine.core`), the plan's own deliveries, so the stocks are
    reproduced exactly. An even schedule is written as ``delivery_months`` alone.
    """

    def key(c: PlannedContract) -> tuple[Any, ...]:
        year = "" if c.backlog else str(year_of(c.due))
        buyers = tuple(sorted(c.buyers.items()))
        return (
            c.line,
            c.product,
            buyers,
            c.recipient,
            c.unit_price_usd,
            c.backlog,
            c.origin,
            c.contracting_delay_months,
            year,
        )

    groups: dict[tuple[Any, ...], list[PlannedContract]] = {}
    for c in contracts:
        groups.setdefault(key(c), []).append(c)
    out: list[PlannedContract] = []
    for rows in groups.values():
        rows.sort(key=lambda c: parse_month(c.due))
        first, last = parse_month(rows[0].due), parse_month(rows[-1].due)
        schedule = [0.0] * (last - first + 1)
        for c in rows:
            schedule[parse_month(c.due) - first] += c.quantity
        total = sum(schedule)
        even = max(schedule) - min(schedule) <= 1e-9 * max(1.0, max(schedule))
        head = rows[0]
        if head.backlog:
            prefix = "backlog" if head.id.startswith("backlog") else "commitment"
            parts = [head.origin, head.line]
        else:
            who = head.recipient or "+".join(sorted(head.buyers))
            prefix, parts = "plan", [head.line, who, str(year_of(head.due))]
        out.append(
            replace(
                head,
                id=contract_id(prefix, parts, taken),
                quantity=total,
                delivery_months=len(schedule),
                schedule=None if even else tuple(schedule),
            )
        )
    out.sort(key=lambda c: (parse_month(c.due), c.line, c.id))
    return out


def _unique(key: str, taken: set[str]) -> str:
    key = key[:76]
    out, n = key, 2
    while out in taken:
        out = f"{key}-{n}"
        n += 1
    taken.add(out)
    return out


def contract_id(prefix: str, parts: list[str], taken: set[str]) -> str:
    """A fresh scenario id from ``parts`` (ids allow ``[A-Za-z0-9_.-]``)."""
    text = "-".join([prefix, *parts]).replace("#", "-r").replace("@", "-").replace(":", "-")
    text = text.replace("+", "-")
    return _unique(text, taken)


def _policy(s: Scenario, budget_scale: float) -> tuple[dict[str, Any], str | None]:
    """Policy overrides: no order-driven investment or mothballing, the planned investments
    arrive; floors as planned; budgets as planned.

    The planner holds donors' floors against aid only (``Aid-floor``), so the
    plan is written with ``floor_applies_to = "aid"`` for the simulator to
    reproduce it.
    """
    out: dict[str, Any] = {
        "industry_invests": False,
        "announced_investments": "always",
        "idle_utilisation": 0.0,
        "floor_applies_to": "aid",
    }
    note = None
    if s.policy.budget != "none" and budget_scale != 1.0:
        munitions = s.policy.munitions_share * budget_scale
        equipment = s.policy.equipment_share
        if munitions > 1.0:
            equipment *= munitions
            munitions = 1.0
        if equipment > 1.0:
            note = "budget_scale too large to express as spending shares; budgets capped"
            equipment = 1.0
        out["munitions_share"] = munitions
        out["equipment_share"] = equipment
    return out, note


def scenario_mapping(
    s: Scenario,
    contracts: list[PlannedContract],
    investments: list[PlannedInvestment],
    budget_scale: float,
    objective: str,
    extends: str | None,
) -> dict[str, Any]:
    """The plan as a scenario mapping (see the module docstring).

    With ``extends`` (an embedded id or a file path) the mapping extends it and
    ``drop``s its contracts, procurement policies and production pledges;
    without, it is a complete
    standalone scenario built from ``s``.
    """
    production_pledges = [k for k, a in s.aid.items() if a.supply == "production"]
    policy, note = _policy(s, budget_scale)
    title = f"Plan ({objective}) for {s.id}"
    description = (
        f"Contracts and investments chosen by materiel plan (objective {objective}, "
        f"budget scale {budget_scale:g}) for scenario {s.id}; the scenario's own forward "
        "contracts are replaced and industry adds no capacity of its own."
    )
    assumptions = [
        "Contracts are the plan's deliveries: one annual framework per line, buyer and "
        "year, decided a contracting delay before its first delivery and due along a "
        "monthly delivery schedule (the plan's own; the run reproduces the plan's stocks "
        "to rounding, 1e-6 relative).",
        "Contracts signed before the start are delivered as the plan schedules them.",
        "Stock floors hold against aid only (policy.floor_applies_to = aid), as the planner "
        "models them: the holders' own consumption may draw below them.",
    ]
    if (fleets := fleets_note(s)) is not None:
        assumptions.append(fleets)
    if note:
        assumptions.append(note)
    plan_contracts = {c.id: c.as_record(s.start) for c in contracts}
    plan_investments = {i.id: i.as_record() for i in investments}
    source = {"assumption": "decisions of an optimal plan computed by materiel plan"}
    if extends is not None:
        out: dict[str, Any] = {
            "extends": extends,
            "id": f"{s.id}-plan"[:80],
            "title": title,
            "description": description,
            "assumptions": assumptions,
            "drop": [f"contracts.{k}" for k in s.contracts]
            + [f"procurement.{k}" for k in s.procurement]
            + [f"aid.{k}" for k in production_pledges]
            + [f"fleets.{k}" for k in s.fleets],
            "policy": policy,
            "sources": {"materiel-plan": source},
            "contracts": plan_contracts,
            "investments": plan_investments,
        }
        return out
    full: dict[str, Any] = s.model_dump(exclude_none=True)
    full.pop("extends", None)
    full.pop("uncertain", None)
    full.update(id=f"{s.id}-plan"[:80], title=title, description=description)
    full["assumptions"] = [*full.get("assumptions", []), *assumptions]
    full["policy"] = {**full["policy"], **policy}
    full["sources"] = {**full["sources"], "materiel-plan": source}
    full["contracts"] = plan_contracts
    full["procurement"] = {}
    full["fleets"] = {}
    full["aid"] = {k: v for k, v in full["aid"].items() if k not in production_pledges}
    full["investments"] = {**full["investments"], **plan_investments}
    return full


def write_toml(mapping: dict[str, Any], path: Path) -> None:
    """Write a scenario mapping as a TOML file."""
    text = "# Written by `materiel plan`: run it with `materiel run <this file>`.\n"
    atomic_write_text(path, text + tomli_w.dumps(mapping))


def decision_month(start: str, due: int, delay: int) -> str:
    """Month a contract due in month ``due`` of the horizon is decided."""
    return month_label(parse_month(start) + due - delay)
