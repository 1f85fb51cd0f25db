"""What the planner needs of a scenario, as arrays: the planning problem's data.

Built once from :func:`materiel.engine.compile_inputs` (capacities including
announced investments, bills of materials, contracts, stocks, consumption,
aid pledges) and :func:`materiel.scenario.economics.economic_series` (budgets). Nothing
here touches the solver.

Vocabulary (each is an index set of the linear programme):

- **munition lines** ``l``: depth-0 lines making a munition; their output is
  delivered on contracts;
- **component groups** ``g = (pool, component)``: the simulator makes a
  component just in time, split between the lines of a group by capacity, so
  its output is ``min(sum of capacity, need net of inventory)`` and only the
  group's total matters;
- **expandable lines** ``x``: lines whose capacity may still grow (headroom
  ``max_capacity - committed > 0`` and a lead time shorter than the horizon);
- **cells** ``c = (party, munition)``: stocks the programme tracks. *Planned*
  cells are the parties of a target for that munition and may receive new
  deliveries; *passive* cells take part only through aid pledged from stock;
  every other stock follows from the simulator's rules after the solve;
- **commitments** ``b`` (arrays named ``backlog``): written contracts the
  plan must keep, not decide: those signed before the horizon start, and
  those delivered to a recipient (aid bought from production, pledges from
  production) wherever they are signed; their remaining quantity is
  delivered by the plan on the lines they name or are open to, kept by the
  end of their schedule or at a penalty (:func:`~materiel.plan.model.define_commitments`).
  Allies' own written forward contracts are decisions the plan replaces
  (``replaced`` lists them, so the plan can say so);
- **new contracts**: a contract decided in month ``t - D`` is signed and
  delivered in ``t`` (``D`` = contracting delay + extra delay), so new
  deliveries start at month ``D``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from materiel.engine.inputs import (
    Inputs,
    budget_charges,
    compile_inputs,
    due_share,
    linear_schedule,
)
from materiel.months import parse_month, year_of
from materiel.scenario.economics import economic_series
from materiel.scenario.schema import Scenario

__all__ = ["PlanData", "TargetRow", "plan_data"]


@dataclass(frozen=True)
class TargetRow:
    """A capability target inside the horizon: cells whose stocks count, month, units."""

    id: str
    product: int
    cells: np.ndarray  # indices into PlanData.cells
    month: int
    required: float


@dataclass(frozen=True)
class PlanData:
    """Index sets and parameters of the planning problem (see the module docstring)."""

    scenario: Scenario
    inp: Inputs
    budget_scale: float
    delay_months: int  # first month a new contract can deliver
    # munition lines (M,)
    mlines: np.ndarray  # line index
    mline_product: np.ndarray  # product index
    # component groups (G,)
    groups: list[tuple[int, int]]  # (pool index, product index)
    group_lines: list[np.ndarray]  # line indices of each group
    group_inventory: np.ndarray  # (G,) on hand at the start
    # expandable lines (X,)
    xlines: np.ndarray
    x_headroom: np.ndarray  # units/month that may still be added
    x_module: np.ndarray  # module size, 0 where capacity is continuous
    base_capacity: np.ndarray  # (L, T): start + announced investments, under the ceiling
    # cells (N,)
    cells: list[tuple[int, int]]  # (party index, product index)
    planned: np.ndarray  # (N,) bool: may receive new deliveries
    payers: list[dict[int, float]]  # per cell: ally party index -> share of payments
    # backlog (B,) and its assignments to lines (A,)
    backlog: np.ndarray  # contract row index in inp
    backlog_due: np.ndarray  # (B, T): cumulative quantity due from the start
    backlog_assign: np.ndarray  # (A,) backlog position
    backlog_line: np.ndarray  # (A,) line index
    backlog_end: np.ndarray  # (B,) month by which each commitment is kept (its last due month)
    replaced: list[str]  # written forward contracts of allies that the plan replaces
    # aid pledged from stock, modelled where a cell is in the programme (H,)
    pledges: np.ndarray  # pledge index in inp
    pledge_owed: np.ndarray  # (H, T): cumulative quantity due from the start, net of given
    # targets inside the horizon, and those outside it
    targets: list[TargetRow]
    targets_outside: list[str]
    # budgets per ally-year (empty when policy.budget == "none")
    budget_allies: np.ndarray  # party indices
    budget_years: np.ndarray  # calendar years
    budget_usd: np.ndarray  # (allies, years), scaled, less state-funded facilitation
    month_year: np.ndarray  # (T,) index into budget_years
    price_usd: np.ndarray  # (K,) default unit price of each product
    cell_index: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def n_months(self) -> int:
        """Months in the horizon."""
        return self.inp.n_months


def _reachable_components(inp: Inputs, product: int) -> set[int]:
    """Every component in the bill of materials of ``product``, at any depth."""
    out: set[int] = set()
    todo = [product]
    while todo:
        k = todo.pop()
        for j in np.flatnonzero(inp.bom[k] > 0):
            if int(j) not in out:
                out.add(int(j))
                todo.append(int(j))
    return out


def _payers(s: Scenario, inp: Inputs, party: int) -> dict[int, float]:
    """Who pays for deliveries to ``party``: itself if an ally, else the scenario's donors.

    A recipient's donors are the buyers of the scenario's contracts (and
    production pledges) delivered to it, weighted by quantity; failing those,
    every ally in equal shares.
    """
    pi = {p: i for i, p in enumerate(inp.parties)}
    pid = inp.parties[party]
    if inp.party_kind[party] == "ally":
        return {party: 1.0}
    weight: dict[int, float] = {}
    for c in s.contracts.values():
        if c.recipient == pid:
            for buyer, share in c.buyers.items():
                weight[pi[buyer]] = weight.get(pi[buyer], 0.0) + share * c.quantity
    for a in s.aid.values():
        if a.recipient == pid:
            weight[pi[a.donor]] = weight.get(pi[a.donor], 0.0) + a.quantity
    weight = {p: w for p, w in weight.items() if inp.party_kind[p] == "ally" and w > 0}
    if not weight:
        allies = [i for i, kind in enumerate(inp.party_kind) if kind == "ally"]
        weight = {i: 1.0 for i in allies}
    total = sum(weight.values())
    return {p: w / total for p, w in weight.items()}


def plan_data(s: Scenario, budget_scale: float = 1.0) -> PlanData:
    """Collect the planning problem's index sets and parameters from scenario ``s``."""
    inp = compile_inputs(s)
    T = inp.n_months
    K = len(inp.products)
    pi = {p: i for i, p in enumerate(inp.parties)}
    ki = {k: i for i, k in enumerate(inp.products)}
    munition = np.array([kind == "munition" for kind in inp.product_kind])
    policy = s.policy
    delay = policy.contracting_delay_months + policy.extra_contracting_delay_months

    # --- lines ---
    is_mline = (inp.line_depth == 0) & munition[inp.line_product]
    mlines = np.flatnonzero(is_mline)
    used: set[tuple[int, int]] = set()
    for ln in mlines:
        q = int(inp.line_pool[ln])
        used |= {(q, j) for j in _reachable_components(inp, int(inp.line_product[ln]))}
    groups = sorted(used)
    group_lines = [
        np.flatnonzero((inp.line_pool == q) & (inp.line_product == j)) for q, j in groups
    ]
    # the engine's step 3: cap_l(t) = min(Cmax_l, cap_l(t-1) + increment_l(t)); with
    # increments >= 0 that is the ceiling over start + announced arrivals
    base = np.minimum(
        inp.capacity_start[:, None] + np.cumsum(inp.capacity_increment, axis=1),
        inp.capacity_max[:, None],
    )
    committed = inp.committed_start + inp.committed_increment.sum(axis=1)
    headroom = np.maximum(inp.capacity_max - committed, 0.0)
    relevant = np.zeros(len(inp.lines), dtype=bool)
    relevant[mlines] = True
    for lines in group_lines:
        relevant[lines] = True
    xlines = np.flatnonzero(relevant & (headroom > 1e-9) & (inp.lead_months < T))
    module = np.array(
        [s.lines[inp.lines[ln]].module_capacity_per_month or 0.0 for ln in xlines], dtype=float
    )

    # --- targets inside the horizon, and the cells they make planned ---
    start_abs = parse_month(s.start)
    targets_raw = []
    outside = []
    for tid, tgt in s.targets.items():
        month = parse_month(tgt.by) - start_abs
        if 0 <= month < T:
            targets_raw.append((tid, tgt, month))
        else:
            outside.append(tid)
    cells: list[tuple[int, int]] = []
    cell_index: dict[tuple[int, int], int] = {}

    def cell(p: int, k: int) -> int:
        if (p, k) not in cell_index:
            cell_index[(p, k)] = len(cells)
            cells.append((p, k))
        return cell_index[(p, k)]

    for _, tgt, _ in targets_raw:
        for p in tgt.parties:
            cell(pi[p], ki[tgt.product])
    n_planned = len(cells)

    # --- aid pledged from stock: in the programme where either side is ---
    owed_all = inp.pledge_quantity[:, None] * linear_schedule(
        np.arange(T)[None, :], inp.pledge_first[:, None], inp.pledge_months[:, None]
    )
    pledge_rows: list[int] = []
    changed = True
    while changed:  # close over pledges sharing a donor cell with a programme cell
        changed = False
        for g in range(len(inp.pledges)):
            if g in pledge_rows:
                continue
            donor = (int(inp.pledge_donor[g]), int(inp.pledge_product[g]))
            recipient = (int(inp.pledge_recipient[g]), int(inp.pledge_product[g]))
            if donor in cell_index or recipient in cell_index:
                cell(*donor)
                cell(*recipient)
                pledge_rows.append(g)
                changed = True
    pledges = np.array(sorted(pledge_rows), dtype=np.intp)
    pledge_owed = owed_all[pledges] - inp.pledge_given_start[pledges, None]

    targets = [
        TargetRow(
            id=tid,
            product=ki[tgt.product],
            cells=np.array([cell_index[(pi[p], ki[tgt.product])] for p in tgt.parties]),
            month=month,
            required=tgt.required_quantity,
        )
        for tid, tgt, month in targets_raw
    ]
    planned = np.zeros(len(cells), dtype=bool)
    planned[:n_planned] = True
    payers = [_payers(s, inp, p) for p, _ in cells]

    # --- commitments: written contracts signed before the start or for a recipient ---
    sign = inp.contract_sign
    written = inp.contract_policy < 0
    to_recipient = np.zeros(len(inp.contracts), dtype=bool)
    for c, cellno in zip(inp.receive_contract, inp.receive_cell, strict=True):
        if inp.party_kind[int(cellno) // K] != "ally":
            to_recipient[int(c)] = True
    backlog = np.flatnonzero(written & ((sign < 0) | to_recipient))
    replaced = sorted(
        {str(inp.contract_origin[c]) for c in np.flatnonzero(written & (sign >= 0) & ~to_recipient)}
    )
    due = inp.contract_quantity[backlog, None] * due_share(
        np.arange(T)[None, :],
        inp.contract_due_first[backlog, None],
        inp.contract_due_months[backlog, None],
        inp.contract_shape[backlog, None],
        inp.contract_shapes,
    )
    backlog_due = np.maximum(due - inp.contract_delivered_start[backlog, None], 0.0)
    position = {int(c): b for b, c in enumerate(backlog)}
    keep = np.isin(inp.assign_contract, backlog) & is_mline[inp.assign_line]
    backlog_assign = np.array([position[int(c)] for c in inp.assign_contract[keep]], dtype=np.intp)
    backlog_line = inp.assign_line[keep].astype(np.intp)
    last_due = inp.contract_due_first[backlog] + inp.contract_due_months[backlog] - 1
    backlog_end = np.clip(last_due, 0, T - 1).astype(np.intp)

    # --- budgets ---
    allies_idx = np.array([], dtype=np.intp)
    years = np.arange(year_of(start_abs), year_of(start_abs + T - 1) + 1)
    budget = np.zeros((0, len(years)))
    if policy.budget != "none":
        series = economic_series(s, range(int(years[0]), int(years[-1]) + 1), policy.budget_basis)
        allies = [str(p) for p in series.data.party.values]
        allies_idx = np.array([pi[p] for p in allies], dtype=np.intp)
        budget = series.budget_usd.sel(year=list(years)).values * budget_scale
        for party, month, usd in budget_charges(s):  # facilitation and qualifications paid first
            y = year_of(start_abs + month) - int(years[0])
            if party in allies and 0 <= y < len(years):
                budget[allies.index(party), y] -= usd
    month_year = year_of(start_abs + np.arange(T)) - years[0]
    price = np.array([(s.products[k].unit_price_usd or 0.0) for k in inp.products], dtype=float)
    assert price.shape == (K,)
    return PlanData(
        scenario=s,
        inp=inp,
        budget_scale=budget_scale,
        delay_months=delay,
        mlines=mlines,
        mline_product=inp.line_product[mlines],
        groups=groups,
        group_lines=group_lines,
        group_inventory=np.array([inp.inventory_start[q, j] for q, j in groups], dtype=float),
        xlines=xlines,
        x_headroom=headroom[xlines],
        x_module=module,
        base_capacity=base,
        cells=cells,
        planned=planned,
        payers=payers,
        backlog=backlog,
        backlog_due=backlog_due,
        backlog_assign=backlog_assign,
        backlog_line=backlog_line,
        backlog_end=backlog_end,
        replaced=replaced,
        pledges=pledges,
        pledge_owed=pledge_owed,
        targets=targets,
        targets_outside=outside,
        budget_allies=allies_idx,
        budget_years=years,
        budget_usd=budget,
        month_year=month_year,
        price_usd=price,
        cell_index=cell_index,
    )
