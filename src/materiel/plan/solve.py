"""``plan``: build the programme, solve it with HiGHS, and read the plan back.

:func:`plan` returns a :class:`Plan`: the decisions (contracts by line,
buyer and month; investments by line and month), their cost, the stocks
they lead to, each target's outcome, what binds (from the duals) and
:meth:`Plan.to_scenario`, the plan as a scenario the simulator reproduces.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from materiel._errors import PlanError, Problem, ScenarioError
from materiel._xarray import lazy_dask
from materiel.analysis.metrics import target_met
from materiel.analysis.simulate import simulate
from materiel.months import month_label, month_range, parse_month, year_of
from materiel.plan.data import plan_data
from materiel.plan.diagnostics import Binding, TargetStatus, binding_sentences
from materiel.plan.model import COVERAGE, USD, Objective, PlanModel, build_model, unit_costs
from materiel.plan.write import (
    TOL,
    PlannedContract,
    PlannedInvestment,
    contract_id,
    decision_month,
    pair_off,
    scenario_mapping,
)
from materiel.scenario.loading import DATASET_ID, embedded_ids, load
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = ["OBJECTIVES", "Plan", "PlanError", "plan"]

OBJECTIVES: tuple[Objective, ...] = ("cost", "coverage", "time")


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the solver's banner, which HiGHS prints on the process's stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _solve(pm: PlanModel, time_limit_s: float | None) -> None:
    options: dict[str, Any] = {"output_flag": False, "log_to_console": False}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    if pm.integer:
        options["mip_rel_gap"] = 1e-9
    with _quiet():
        status, condition = pm.model.solve(solver_name="highs", io_api="direct", **options)
    if status != "ok":
        raise PlanError(f"the solver stopped without an optimal plan: {status} ({condition})")


def _duals(pm: PlanModel, time_limit_s: float | None) -> None:
    """Duals of a MILP: fix the integer decisions and solve the remaining LP."""
    m = pm.model
    if not pm.integer:
        return
    integers = [m.variables[name] for name in m.variables.integers]
    for var in integers:
        var.fix()
        var.relax()
    try:
        _solve(pm, time_limit_s)
    finally:
        for var in integers:
            var.unrelax()
            var.unfix()


def _sol(pm: PlanModel, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in pm.model.variables:
        return np.zeros(shape)
    out: np.ndarray = np.nan_to_num(pm.model.variables[name].solution.values)
    return out


def _dual(pm: PlanModel, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in pm.model.constraints:
        return np.zeros(shape)
    out: np.ndarray = np.nan_to_num(pm.model.constraints[name].dual.values)
    return out


@dataclass
class Plan:
    """An optimal plan for a scenario (see the module docstring).

    ``dataset`` holds the plan's arrays with named dimensions: stocks
    (``party, product, month``), deliveries and capacity per ``line`` and
    ``month``, payments per ``party`` and ``month``.
    """

    scenario: Scenario
    objective: Objective
    budget_scale: float
    objective_value: float  # US$ for "cost"; whole targets' worth of coverage otherwise
    contracts: list[PlannedContract]
    investments: list[PlannedInvestment]
    targets: list[TargetStatus]
    binding: list[Binding]
    dataset: xr.Dataset
    contract_spend_usd: float
    backlog_spend_usd: float
    capex_usd: float
    size: dict[str, int]
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    source_ref: str | None = None

    @property
    def cost_usd(self) -> float:
        """What the plan's decisions cost: new contracts plus capex (US$)."""
        return self.contract_spend_usd + self.capex_usd

    @property
    def feasible(self) -> bool:
        """Whether every target inside the horizon is met by its date."""
        return all(t.met for t in self.targets)

    def unmet(self) -> list[TargetStatus]:
        """Targets that cannot be met by their date, and by how much."""
        return [t for t in self.targets if not t.met]

    def diagnosis(self) -> list[str]:
        """Sentences a planner can act on: unmet targets first, then what binds."""
        out = [t.diagnosis() for t in self.unmet()]
        return out + [b.sentence for b in self.binding] + self.notes

    def to_scenario(self, extends: str | None = None) -> dict[str, Any]:
        """The plan as a scenario mapping the simulator reproduces (:mod:`materiel.plan.write`).

        ``extends`` names the planned scenario (an embedded id or a file path);
        by default the scenario the plan was made from when it was given by
        id or path, else the mapping is a complete standalone scenario.
        """
        ref = extends if extends is not None else self.source_ref
        return scenario_mapping(
            self.scenario, self.contracts, self.investments, self.budget_scale,
            self.objective, ref,
        )  # fmt: skip

    def by_year(self) -> dict[str, dict[str, dict[int, float]]]:
        """Contract quantities and capacity added, per line and calendar year."""
        quantities: dict[str, dict[int, float]] = {}
        for c in self.contracts:
            row = quantities.setdefault(c.line, {})
            year = year_of(c.due)
            row[year] = row.get(year, 0.0) + c.quantity
        added: dict[str, dict[int, float]] = {}
        for i in self.investments:
            row = added.setdefault(i.line, {})
            year = year_of(i.decision)
            row[year] = row.get(year, 0.0) + i.capacity_added_per_month
        return {"delivered": quantities, "capacity_added_per_month": added}

    def summary(self) -> dict[str, Any]:
        """The plan as plain data (for ``--json``)."""
        return {
            "scenario": self.scenario.id,
            "objective": self.objective,
            "budget_scale": self.budget_scale,
            "feasible": self.feasible,
            "objective_value": self.objective_value,
            "cost_usd": self.cost_usd,
            "contract_spend_usd": self.contract_spend_usd,
            "backlog_spend_usd": self.backlog_spend_usd,
            "capex_usd": self.capex_usd,
            "contracts": len(self.contracts),
            "by_year": self.by_year(),
            "investments": [vars(i) for i in self.investments],
            "targets": [{**vars(t), "met": t.met} for t in self.targets],
            "binding": [vars(b) for b in self.binding],
            "diagnosis": self.diagnosis(),
            "size": self.size,
            "timings_s": self.timings,
        }


def _simulated_stocks(
    s: Scenario,
    contracts: list[PlannedContract],
    investments: list[PlannedInvestment],
    budget_scale: float,
    objective: Objective,
) -> xr.DataArray:
    """Stocks (month, party, product) of the simulator run on the plan.

    The plan's contracts and investments as a standalone scenario
    (:func:`~materiel.plan.write.scenario_mapping`), simulated: aid from stock
    and consumption follow the simulator's rules because they are the
    simulator's (steps 6 and 7 of :mod:`materiel.engine.core`).
    """
    mapping = scenario_mapping(s, contracts, investments, budget_scale, objective, None)
    stock: xr.DataArray = (
        simulate(mapping).dataset.stock.isel(sample=0).transpose("month", "party", "product")
    )
    return stock


def _read_plan(pm: PlanModel, source_ref: str | None) -> Plan:
    d = pm.data
    inp, T = d.inp, d.n_months
    s = d.scenario
    start = s.start
    s0 = parse_month(start)
    M, N, X = len(d.mlines), len(d.cells), len(d.xlines)
    P, K, L = len(inp.parties), len(inp.products), len(inp.lines)
    new = _sol(pm, "Line-delivery", (M, T))
    rec = _sol(pm, "Stock-receipts", (N, T))
    bl = _sol(pm, "Backlog-delivery", (len(d.backlog_assign), T))
    decided = _sol(pm, "Line-capacity_decided", (X, T))
    lp_stock = _sol(pm, "Stock-level", (N, T))
    slack = _sol(pm, "Target-slack", (len(d.targets),))
    policy = s.policy
    delay = d.delay_months

    # --- contracts: pair each month's output of a munition with its buyers ---
    taken = set(s.contracts) | set(s.investments)
    contracts: list[PlannedContract] = []
    receipts = np.zeros((T, P, K))
    payments = np.zeros((P, T))
    spend = 0.0
    for k in sorted({int(x) for x in d.mline_product}):
        lines = np.flatnonzero(d.mline_product == k)
        cells = [c for c, (_, kk) in enumerate(d.cells) if kk == k and d.planned[c]]
        price = float(d.price_usd[k])
        for t in range(T):
            for i, j, q in pair_off(new[lines, t], rec[cells, t]):
                line = inp.lines[d.mlines[lines[i]]]
                party = d.cells[cells[j]][0]
                pid = inp.parties[party]
                payers = {inp.parties[p]: sh for p, sh in d.payers[cells[j]].items()}
                ally = inp.party_kind[party] == "ally"
                contracts.append(
                    PlannedContract(
                        id=contract_id("plan", [line, pid, month_label(s0 + t)], taken),
                        line=line, product=inp.products[k],
                        buyers={pid: 1.0} if ally else payers,
                        recipient=None if ally else pid, quantity=q, unit_price_usd=price,
                        due=month_label(s0 + t), decision=decision_month(start, t, delay),
                        contracting_delay_months=policy.contracting_delay_months, backlog=False,
                    )
                )  # fmt: skip
                receipts[t, party, k] += q
                spend += q * price
                for p, sh in d.payers[cells[j]].items():
                    payments[p, t] += q * price * sh
    backlog_spend = 0.0
    for a, (b, ln) in enumerate(zip(d.backlog_assign, d.backlog_line, strict=True)):
        c = int(d.backlog[b])
        buyers = {inp.parties[p]: float(sh)
                  for p, sh in zip(inp.pay_party[inp.pay_contract == c],
                                   inp.pay_share[inp.pay_contract == c], strict=True)}  # fmt: skip
        receivers = np.flatnonzero(inp.receive_contract == c)
        recipient_party = {int(inp.receive_cell[r]) // K for r in receivers}
        recipient = None
        if len(recipient_party) == 1 and inp.parties[next(iter(recipient_party))] not in buyers:
            recipient = inp.parties[next(iter(recipient_party))]
        price = float(inp.contract_price_usd[c])
        k = int(inp.contract_product[c])
        for t in map(int, np.flatnonzero(bl[a] > TOL)):
            q = float(bl[a, t])
            contracts.append(
                PlannedContract(
                    id=contract_id("backlog", [inp.contracts[c], inp.lines[ln],
                                               month_label(s0 + int(t))], taken),
                    line=inp.lines[ln], product=inp.products[k], buyers=buyers,
                    recipient=recipient, quantity=q, unit_price_usd=price,
                    due=month_label(s0 + int(t)),
                    decision=month_label(s0 - 1 - policy.extra_contracting_delay_months),
                    contracting_delay_months=0, backlog=True,
                )
            )  # fmt: skip
            for r in receivers:
                cell = int(inp.receive_cell[r])
                receipts[t, cell // K, cell % K] += q * inp.receive_share[r]
            for p, sh in buyers.items():
                payments[inp.parties.index(p), t] += q * price * sh
            backlog_spend += q * price

    # --- investments ---
    added = np.diff(np.concatenate([np.zeros((X, 1)), decided], axis=1), axis=1)
    investments: list[PlannedInvestment] = []
    capacity_added = np.zeros((L, T))
    capex_line = np.zeros((L, T))
    for i, ln in enumerate(d.xlines):
        module = d.x_module[i]
        for t in map(int, np.flatnonzero(added[i] > TOL)):
            q = float(added[i, t])
            if module > 0:
                q = round(q / module) * module
            line = inp.lines[ln]
            cost = q * float(inp.capex_usd_per_unit[ln])
            investments.append(
                PlannedInvestment(
                    id=contract_id("plan", [line, month_label(s0 + int(t))], taken),
                    line=line, decision=month_label(s0 + int(t)),
                    capacity_added_per_month=q, capex_usd=cost,
                )
            )  # fmt: skip
            capacity_added[ln, t] = q
            capex_line[ln, t] = cost
    online = _sol(pm, "Line-capacity_online", (X, T))
    capacity = d.base_capacity.copy()
    capacity[d.xlines] += online

    # --- stocks: the programme's where it tracks them, the simulator's elsewhere ---
    simulated = _simulated_stocks(s, contracts, investments, d.budget_scale, pm.objective)
    stock = simulated.sel(party=list(inp.parties), product=list(inp.products)).values.copy()
    for c, (p, k) in enumerate(d.cells):
        stock[:, p, k] = lp_stock[c]
    line_deliveries = np.zeros((L, T))
    line_deliveries[d.mlines] = new
    for a, ln in enumerate(d.backlog_line):
        line_deliveries[ln] += bl[a]

    # --- targets ---
    statuses = []
    for n, tgt in enumerate(d.targets):
        held = stock[:, [d.cells[c][0] for c in tgt.cells], tgt.product].sum(axis=1)
        met = np.flatnonzero(target_met(held, tgt.required))
        record = s.targets[tgt.id]
        statuses.append(
            TargetStatus(
                id=tgt.id, parties=list(record.parties), product=record.product, by=record.by,
                required=tgt.required, stock_at_by=float(held[tgt.month]),
                short=float(slack[n]),
                first_met=month_label(s0 + int(met[0])) if len(met) else None, start=start,
            )
        )  # fmt: skip

    # --- what binds ---
    in_usd = pm.objective == "cost"
    to_out = (1.0 / USD) if in_usd else 1.0 / COVERAGE
    cap_dual = -_dual(pm, "Line-capacity", (M, T)) * to_out
    capacity_value = {inp.lines[ln]: cap_dual[i] for i, ln in enumerate(d.mlines)}
    comp_dual = -_dual(pm, "Component-capacity", (len(d.groups), T)) * to_out
    component_value = {
        (inp.products[j], inp.pools[q]): comp_dual[g]
        for g, (q, j) in enumerate(d.groups)
        if len(d.group_lines[g])
    }
    budget_value: dict[tuple[str, int], float] = {}
    if "Budget" in pm.model.constraints:
        bd = -_dual(pm, "Budget", (len(d.budget_allies), len(d.budget_years))) * USD * to_out
        for i, p in enumerate(d.budget_allies):
            for y, year in enumerate(d.budget_years):
                budget_value[(inp.parties[p], int(year))] = float(bd[i, y])
    unit = unit_costs(d) / USD
    priced_at = {inp.lines[ln]: float(unit[inp.line_product[ln]]) for ln in d.mlines}
    priced_at.update(
        {f"{inp.products[j]}@{inp.pools[q]}": float(unit.max(initial=0.0)) for q, j in d.groups}
    )
    binding = binding_sentences(
        start, capacity_value, component_value, budget_value, in_usd, priced_at=priced_at
    )
    notes = [f"target {t} is dated outside the horizon: not planned" for t in d.targets_outside]

    months = month_range(start, T)
    ds = xr.Dataset(
        {
            "stock": (("month", "party", "product"), stock),
            "receipts": (("month", "party", "product"), receipts),
            "line_deliveries": (("line", "month"), line_deliveries),
            "capacity_per_month": (("line", "month"), capacity),
            "capacity_added_per_month": (("line", "month"), capacity_added),
            "capex_usd": (("line", "month"), capex_line),
            "payments_usd": (("party", "month"), payments),
        },
        coords={"month": months, "party": inp.parties, "product": inp.products,
                "line": inp.lines},
    )  # fmt: skip
    # the planner's objective, without the terms that only mirror the simulator's rules
    w = pm.weights
    objective_value = w.cost * (spend + float(capex_line.sum())) * USD + float(w.slack @ slack)
    if pm.objective == "time":
        objective_value += float((w.gap[:, None] * _sol(pm, "Target-gap", (0, T))).sum())
    objective_value = objective_value / USD if in_usd else objective_value / COVERAGE
    m = pm.model
    return Plan(
        scenario=s,
        objective=pm.objective,
        budget_scale=d.budget_scale,
        objective_value=objective_value,
        contracts=contracts,
        investments=investments,
        targets=statuses,
        binding=binding,
        dataset=ds,
        contract_spend_usd=spend,
        backlog_spend_usd=backlog_spend,
        capex_usd=float(capex_line.sum()),
        size={"variables": int(m.nvars), "constraints": int(m.ncons),
              "integer_variables": int(m.variables.integers.nvars) if pm.integer else 0},
        timings=pm.timings,
        notes=notes,
        source_ref=source_ref,
    )  # fmt: skip


def _source_ref(scenario: str | Path | Mapping[str, Any] | Scenario) -> str | None:
    """How a plan's scenario can refer to the planned one: an embedded id or a file path."""
    if isinstance(scenario, Path) or (isinstance(scenario, str) and scenario):
        text = str(scenario)
        if text in embedded_ids() or text == DATASET_ID:
            return text
        path = Path(text)
        return str(path.resolve()) if path.is_file() else None
    return None


def plan(
    scenario: str | Path | Mapping[str, Any] | Scenario,
    objective: Objective = "cost",
    budget_scale: float = 1.0,
    *,
    time_limit_s: float | None = None,
) -> Plan:
    """Plan contracts, capacity investments and allocations for ``scenario``.

    ``objective``: ``"cost"`` (least contract spend plus capex that meets the
    targets), ``"coverage"`` (most target coverage within budgets) or
    ``"time"`` (earliest attainment within budgets). Budgets apply when the
    scenario's ``policy.budget`` is not ``"none"``, scaled by
    ``budget_scale``. A line that declares ``module_capacity_per_month``
    grows in whole modules (a MILP). Raises
    :class:`~materiel.ScenarioError` for bad input and :class:`PlanError`
    when the solver fails.
    """
    problems = []
    if objective not in OBJECTIVES:
        problems.append(Problem("<plan>", "objective", f"expected one of {', '.join(OBJECTIVES)}"))
    if not (np.isfinite(budget_scale) and budget_scale >= 0):
        problems.append(Problem("<plan>", "budget_scale", "expected a finite number >= 0"))
    if problems:
        raise ScenarioError(problems)
    s = load(scenario)
    t0 = time.perf_counter()
    d = plan_data(s, budget_scale)
    pm = build_model(d, objective)
    t1 = time.perf_counter()
    _solve(pm, time_limit_s)
    t2 = time.perf_counter()
    _duals(pm, time_limit_s)
    t3 = time.perf_counter()
    pm.timings.update(build_s=t1 - t0, solve_s=t2 - t1, duals_s=t3 - t2)
    result = _read_plan(pm, _source_ref(scenario))
    pm.timings["read_s"] = time.perf_counter() - t3
    return result
