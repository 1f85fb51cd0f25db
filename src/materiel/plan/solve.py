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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from materiel._errors import PlanError, Problem, ScenarioError
from materiel._xarray import lazy_dask
from materiel.analysis.metrics import commitment_kept, recipient_shortfall_table, target_met
from materiel.analysis.simulate import simulate
from materiel.months import month_label, month_range, parse_month, year_of
from materiel.plan.data import plan_data
from materiel.plan.diagnostics import Binding, RecipientStatus, TargetStatus, binding_sentences
from materiel.plan.model import (
    COVERAGE,
    USD,
    Objective,
    PlanModel,
    arrival,
    build_model,
    cost_expression,
    receipt_periods,
)
from materiel.plan.samples import (
    SampleReport,
    build_sample_average,
    first_stage,
    fix_first_stage,
    met_probabilities,
    sample_data,
)
from materiel.plan.write import (
    TOL,
    PlannedContract,
    PlannedInvestment,
    contract_id,
    decision_month,
    fleets_note,
    frameworks,
    pair_off,
    scenario_mapping,
)
from materiel.scenario.loading import DATASET_ID, embedded_ids, load
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = ["OBJECTIVES", "Alternative", "Plan", "PlanError", "compare_policy", "plan"]

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


def _solve(pm: PlanModel, time_limit_s: float | None, *, log: bool = False) -> None:
    """Solve the programme with HiGHS; ``log``: print HiGHS's log (benchmarks, diagnosis)."""
    options: dict[str, Any] = {"output_flag": log, "log_to_console": log}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    if pm.integer:
        options["mip_rel_gap"] = 1e-9
    with nullcontext() if log else _quiet():
        status, condition = pm.model.solve(solver_name="highs", io_api="direct", **options)
    if status != "ok":
        raise PlanError(f"the solver stopped without an optimal plan: {status} ({condition})")


@contextmanager
def _integers_fixed(pm: PlanModel) -> Iterator[None]:
    """Fix a MILP's integer decisions at their solution and relax them (an LP remains)."""
    m = pm.model
    integers = [m.variables[name] for name in m.variables.integers] if pm.integer else []
    for var in integers:
        var.fix()
        var.relax()
    try:
        yield
    finally:
        for var in integers:
            var.unrelax()
            var.unfix()


def _duals(pm: PlanModel, time_limit_s: float | None) -> None:
    """Duals of a MILP: fix the integer decisions and solve the remaining LP."""
    if pm.integer:
        with _integers_fixed(pm):
            _solve(pm, time_limit_s)


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


@dataclass(frozen=True)
class Alternative:
    """A near-optimal plan: where it builds capacity and who buys, at what cost.

    ``capacity_added_per_month``: line -> units/month decided over the
    horizon; ``bought``: ``party/product`` -> units delivered on new
    contracts; ``cost_usd``: payments (new and committed) plus capex.
    ``penalty``: the objective's penalty terms, no larger than the optimum's
    plus the slack.
    """

    index: int
    cost_usd: float
    capex_usd: float
    capacity_added_per_month: dict[str, float]
    bought: dict[str, float]

    def sentence(self, optimum_usd: float) -> str:
        """One line: cost against the optimum, where capacity is built, the largest buyers."""
        built = (
            ", ".join(
                f"{k} +{v:,.0f}/month"
                for k, v in sorted(self.capacity_added_per_month.items())
                if v > TOL
            )
            or "nothing"
        )
        buyers = sorted(self.bought.items(), key=lambda kv: -kv[1])[:4]
        who = ", ".join(f"{k} {v:,.0f}" for k, v in buyers) or "nobody"
        extra = self.cost_usd / optimum_usd - 1 if optimum_usd > 0 else 0.0
        return (
            f"alternative {self.index}: cost ${self.cost_usd / 1e9:,.3f}bn ({extra:+.1%}); "
            f"builds {built}; buys {who}"
        )


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
    recipients: list[RecipientStatus] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)
    alternatives: list[Alternative] = field(default_factory=list)
    samples: SampleReport | None = None  # a sample-average plan beside the deterministic one

    @property
    def cost_usd(self) -> float:
        """What the plan's decisions cost: new contracts plus capex (US$)."""
        return self.contract_spend_usd + self.capex_usd

    @property
    def breakdown_cost_usd(self) -> float:
        """Payments (new and committed) plus capex: the cost alternatives are measured against."""
        b = self.breakdown
        return b["new_contracts_usd"] + b["commitments_usd"] + b["capex_usd"]

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
            self.scenario,
            self.contracts,
            self.investments,
            self.budget_scale,
            self.objective,
            ref,
        )

    def by_year(self) -> dict[str, dict[str, dict[int, float]]]:
        """Contract quantities and capacity added, per line and calendar year."""
        quantities: dict[str, dict[int, float]] = {}
        for c in self.contracts:
            row = quantities.setdefault(c.line, {})
            for month, q in c.monthly():
                year = year_of(month)
                row[year] = row.get(year, 0.0) + q
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
            "ignores_fleets": fleets_note(self.scenario),
            "recipients": [{**vars(r), "kept": r.kept} for r in self.recipients],
            "breakdown": self.breakdown,
            "alternatives": [vars(a) for a in self.alternatives],
            "samples": None if self.samples is None else vars(self.samples),
            "size": self.size,
            "timings_s": self.timings,
        }


def _simulated(
    s: Scenario,
    contracts: list[PlannedContract],
    investments: list[PlannedInvestment],
    budget_scale: float,
    objective: Objective,
) -> xr.Dataset:
    """The simulator's run (sample 0) of the plan.

    The plan's contracts and investments as a standalone scenario
    (:func:`~materiel.plan.write.scenario_mapping`), simulated: aid from stock
    and consumption follow the simulator's rules because they are the
    simulator's (steps 6 and 7 of :mod:`materiel.engine.core`).
    """
    mapping = scenario_mapping(s, contracts, investments, budget_scale, objective, None)
    return simulate(mapping).dataset


def _read_plan(pm: PlanModel, source_ref: str | None) -> Plan:
    d = pm.data
    inp, T = d.inp, d.n_months
    s = d.scenario
    start = s.start
    s0 = parse_month(start)
    M, N, X = len(d.mlines), len(d.cells), len(d.xlines)
    P, K, L = len(inp.parties), len(inp.products), len(inp.lines)
    new = _sol(pm, "Line-delivery", (M, T))
    period = receipt_periods(d)  # a period's receipts in each of its months
    rec = _sol(pm, "Stock-receipts", (N, int(period.max(initial=0)) + 1))
    rec = np.where(period >= 0, rec[:, np.maximum(period, 0)], 0.0)
    bl = _sol(pm, "Backlog-delivery", (len(d.backlog_assign), T))
    decided = _sol(pm, "Line-capacity_decided", (X,))
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
                        id="plan",  # named by frameworks()
                        line=line,
                        product=inp.products[k],
                        buyers={pid: 1.0} if ally else payers,
                        recipient=None if ally else pid,
                        quantity=q,
                        unit_price_usd=price,
                        due=month_label(s0 + t),
                        decision=decision_month(start, t, delay),
                        contracting_delay_months=policy.contracting_delay_months,
                        backlog=False,
                    )
                )
                receipts[t, party, k] += q
                spend += q * price
                for p, sh in d.payers[cells[j]].items():
                    payments[p, t] += q * price * sh
    backlog_spend = 0.0
    for a, (b, ln) in enumerate(zip(d.backlog_assign, d.backlog_line, strict=True)):
        c = int(d.backlog[b])
        buyers = {
            inp.parties[p]: float(sh)
            for p, sh in zip(
                inp.pay_party[inp.pay_contract == c],
                inp.pay_share[inp.pay_contract == c],
                strict=True,
            )
        }
        receivers = np.flatnonzero(inp.receive_contract == c)
        recipient_party = {int(inp.receive_cell[r]) // K for r in receivers}
        recipient = None
        if len(recipient_party) == 1 and inp.parties[next(iter(recipient_party))] not in buyers:
            recipient = inp.parties[next(iter(recipient_party))]
        price = float(inp.contract_price_usd[c])
        k = int(inp.contract_product[c])
        prefix = "backlog" if inp.contract_sign[c] < 0 else "commitment"
        for t in map(int, np.flatnonzero(bl[a] > TOL)):
            q = float(bl[a, t])
            contracts.append(
                PlannedContract(
                    id=prefix,  # named by frameworks()
                    line=inp.lines[ln],
                    product=inp.products[k],
                    buyers=buyers,
                    recipient=recipient,
                    quantity=q,
                    unit_price_usd=price,
                    due=month_label(s0 + int(t)),
                    decision=month_label(s0 - 1 - policy.extra_contracting_delay_months),
                    contracting_delay_months=0,
                    backlog=True,
                    origin=inp.contract_origin[c],
                )
            )
            for r in receivers:
                cell = int(inp.receive_cell[r])
                receipts[t, cell // K, cell % K] += q * inp.receive_share[r]
            for p, sh in buyers.items():
                payments[inp.parties.index(p), t] += q * price * sh
            backlog_spend += q * price

    contracts = frameworks(contracts, taken)

    # --- investments ---
    added = np.zeros((X, T))
    added[:, 0] = decided  # decided at the start (define_capacity_expansion)
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
                    line=line,
                    decision=month_label(s0 + int(t)),
                    capacity_added_per_month=q,
                    capex_usd=cost,
                )
            )
            capacity_added[ln, t] = q
            capex_line[ln, t] = cost
    online = decided[:, None] * arrival(d)
    capacity = d.base_capacity.copy()
    capacity[d.xlines] += online

    # --- stocks: the programme's where it tracks them, the simulator's elsewhere ---
    run = _simulated(s, contracts, investments, d.budget_scale, pm.objective)
    simulated = run.stock.isel(sample=0).transpose("month", "party", "product")
    stock = simulated.sel(party=list(inp.parties), product=list(inp.products)).values.copy()
    levels = (  # where the programme has a level (stock_checkpoints): the simulator's elsewhere
        pm.model.variables["Stock-level"].labels.values >= 0
        if "Stock-level" in pm.model.variables
        else np.zeros((N, T), dtype=bool)
    )
    for c, (p, k) in enumerate(d.cells):
        stock[levels[c], p, k] = lp_stock[c, levels[c]]
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
                id=tgt.id,
                parties=list(record.parties),
                product=record.product,
                by=record.by,
                required=tgt.required,
                stock_at_by=float(held[tgt.month]),
                short=float(slack[n]),
                first_met=month_label(s0 + int(met[0])) if len(met) else None,
                start=start,
            )
        )

    # --- what binds ---
    binding = _binding(pm, None)
    recipients = _recipients(pm, run, bl)
    notes = [f"target {t} is dated outside the horizon: not planned" for t in d.targets_outside]
    if d.replaced:
        notes.append(
            f"{len(d.replaced)} written forward contract(s) of allies are decisions the plan "
            f"replaces: {', '.join(d.replaced)}"
        )
    short_b = _sol(pm, "Commitment-short", (len(d.backlog),))
    told = {r.commitment for r in recipients}
    for b, c in enumerate(d.backlog):
        origin = inp.contract_origin[c]
        if (
            origin not in told
            and len(short_b)
            and not commitment_kept(short_b[b], d.backlog_due[b, -1])
        ):
            when = month_label(s0 + int(d.backlog_end[b]))
            notes.append(
                f"commitment {inp.contracts[c]} ({inp.products[int(inp.contract_product[c])]}) "
                f"is short {short_b[b]:,.0f} by {when}: capacity does not allow it in time"
            )
    for who in sorted({r.party for r in recipients}):
        notes.append(
            f"{who}'s demand is supplied by the scenario's commitments (see Recipients) and its "
            "pledges from stock; the plan buys nothing more for it"
        )

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
        coords={"month": months, "party": inp.parties, "product": inp.products, "line": inp.lines},
    )
    # the planner's objective, without the terms that only mirror the simulator's rules
    w = pm.weights
    in_usd = pm.objective == "cost"
    objective_value = w.cost * (spend + float(capex_line.sum())) * USD + float(w.slack @ slack)
    if pm.objective == "time":
        objective_value += float((w.gap[:, None] * _sol(pm, "Target-gap", (0, T))).sum())
    objective_value = objective_value / USD if in_usd else objective_value / COVERAGE
    breakdown = _breakdown(pm, spend, backlog_spend, float(capex_line.sum()))
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
        size={
            "variables": int(m.nvars),
            "constraints": int(m.ncons),
            "integer_variables": int(m.variables.integers.nvars) if pm.integer else 0,
        },
        timings=pm.timings,
        notes=notes,
        source_ref=source_ref,
        recipients=recipients,
        breakdown=breakdown,
    )


# variables whose values are outcomes the penalties price, held for the cost duals
_OUTCOMES = (
    "Target-slack",
    "Target-gap",
    "Stock-shortfall",
    "Aid-delivery",
    "Commitment-short",
    "Backlog-delivery",
)
_REAL = ("Line-capacity", "Component-capacity", "Budget")


def _cost_duals(pm: PlanModel, time_limit_s: float | None) -> dict[str, np.ndarray] | None:
    """Duals of the real constraints in US$ of payments and capex, every outcome held.

    The solved programme again, with the variables the penalties price
    (``_OUTCOMES``: target slack, consumption short, aid given, commitments
    delivered and short) fixed at their optimal values and the objective
    reduced to contract payments plus capex (:func:`cost_expression`): the
    dual of a capacity or budget constraint is then what one more unit of it
    saves in money, with no penalty weight in it. ``None`` unless the
    objective is ``cost``.
    """
    m = pm.model
    if pm.objective != "cost":
        return None
    saved = m.objective.expression
    full = {
        f"full:{n}": np.nan_to_num(m.constraints[n].dual.values)
        for n in _REAL
        if n in m.constraints
    }
    fixed = [m.variables[n] for n in _OUTCOMES if n in m.variables]
    with _integers_fixed(pm):
        for var in fixed:
            # the solver's round-off can step a value just past a bound; linopy warns then
            var.fix(var.solution.clip(var.lower, var.upper), decimals=12)
        try:
            m.add_objective(cost_expression(pm), overwrite=True)
            _solve(pm, time_limit_s)
            out = {
                n: np.nan_to_num(m.constraints[n].dual.values) for n in _REAL if n in m.constraints
            }
        finally:
            for var in fixed:
                var.unfix()
            m.add_objective(saved, overwrite=True)
    return {**out, **full}


def _breakdown(pm: PlanModel, spend: float, backlog_spend: float, capex: float) -> dict[str, float]:
    """The objective by part: payments, capex, and each penalty in the objective's units.

    For ``cost`` every part is in US$; otherwise penalties are in whole
    targets' worth (the objective's unit) and payments and capex in US$.
    ``rules`` is what is left of the programme's objective: the terms that
    make it follow the simulator's rules (use stock when it can, deliver
    commitments early, use component inventory first), small against the rest.
    """
    d, w = pm.data, pm.weights
    in_usd = pm.objective == "cost"
    scale = (1.0 / USD) if in_usd else 1.0 / COVERAGE
    slack = _sol(pm, "Target-slack", (len(d.targets),))
    short = _sol(pm, "Commitment-short", (len(d.backlog),))
    keep = w.keep[d.inp.contract_product[d.backlog]] if len(d.backlog) else np.zeros(0)
    target_penalty = float(w.slack @ slack) * scale if len(d.targets) else 0.0
    gap = 0.0
    if pm.objective == "time" and len(d.targets):
        gap = float((w.gap[:, None] * _sol(pm, "Target-gap", (0, d.n_months))).sum()) * scale
    commitment_penalty = float(np.where(np.isfinite(keep), keep, 0.0) @ short) * scale
    total = float(pm.model.objective.value or 0.0) * scale
    paid = (spend + backlog_spend + capex) * (1.0 if in_usd else w.cost * USD / COVERAGE)
    return {
        "new_contracts_usd": spend,
        "commitments_usd": backlog_spend,
        "capex_usd": capex,
        "target_penalty": target_penalty + gap,
        "commitment_penalty": commitment_penalty,
        "rules": total - paid - target_penalty - gap - commitment_penalty,
    }


def _recipients(pm: PlanModel, run: xr.Dataset, bl: np.ndarray) -> list[RecipientStatus]:
    """Each recipient's commitments as the plan keeps them, and its demand in the plan's run."""
    d = pm.data
    inp = d.inp
    K = len(inp.products)
    short = _sol(pm, "Commitment-short", (len(d.backlog),))
    table = recipient_shortfall_table(run)
    out = []
    for b, c in enumerate(d.backlog):
        cells = inp.receive_cell[inp.receive_contract == c]
        parties = {int(x) // K for x in cells if inp.party_kind[int(x) // K] != "ally"}
        if not parties:
            continue
        party = inp.parties[min(parties)]
        product = inp.products[int(inp.contract_product[c])]
        delivered = float(bl[d.backlog_assign == b].sum())
        due = float(d.backlog_due[b, -1])
        row = table[(table.party == party) & (table["product"] == product)]
        out.append(
            RecipientStatus(
                party=party,
                product=product,
                commitment=inp.contract_origin[c],
                due=due,
                delivered=delivered,
                short=float(short[b]) if len(short) else 0.0,
                by=month_label(parse_month(d.scenario.start) + int(d.backlog_end[b])),
                demand=float(row.demand.sum()),
                shortfall=float(row.shortfall.sum()),
            )
        )
    return out


def _same(a: Alternative, b: Alternative) -> bool:
    """Whether two alternatives build and buy the same (to a thousandth of their totals)."""

    def close(x: dict[str, float], y: dict[str, float]) -> bool:
        scale = max(sum(abs(v) for v in x.values()), 1.0)
        return all(abs(x.get(k, 0.0) - y.get(k, 0.0)) <= 1e-3 * scale for k in {*x, *y})

    return close(a.capacity_added_per_month, b.capacity_added_per_month) and close(
        a.bought, b.bought
    )


def _decisions(pm: PlanModel) -> dict[str, tuple[list[str], Any]]:
    """Decision families MGA spreads: capacity added per line, bought per cell, made per line."""
    m, d = pm.model, pm.data
    inp = d.inp
    out: dict[str, tuple[list[str], Any]] = {}
    if "Line-capacity_decided" in m.variables:
        out["built"] = ([inp.lines[ln] for ln in d.xlines], m.variables["Line-capacity_decided"])
    if "Stock-receipts" in m.variables:
        names = [f"{inp.parties[p]}/{inp.products[k]}" for p, k in d.cells]
        period = receipt_periods(d)
        var = m.variables["Stock-receipts"]
        months = xr.DataArray(
            np.bincount(period[period >= 0], minlength=var.shape[1]),
            coords={"period": var.coords["period"].values},
            dims=["period"],
        )
        out["bought"] = (names, (var * months).sum("period"))
    out["made"] = ([inp.lines[ln] for ln in d.mlines], m.variables["Line-delivery"].sum("month"))
    return out


def _values(expr: Any) -> np.ndarray:
    """Values of a variable or expression at the current solution (1-D)."""
    out: np.ndarray = np.nan_to_num(np.asarray(expr.solution.values, dtype=float)).ravel()
    return out


def _alternative(
    pm: PlanModel, index: int, families: dict[str, tuple[list[str], Any]]
) -> Alternative:
    d = pm.data
    inp = d.inp
    cost = float(_values(cost_expression(pm)).sum()) / USD
    built: dict[str, float] = {}
    capex = 0.0
    if "built" in families:
        names, var = families["built"]
        for i, (name, v) in enumerate(zip(names, _values(var), strict=True)):
            built[name] = float(v)
            capex += float(v) * float(inp.capex_usd_per_unit[d.xlines[i]])
    bought: dict[str, float] = {}
    if "bought" in families:
        names, expr = families["bought"]
        bought = {n: float(v) for n, v in zip(names, _values(expr), strict=True) if v > TOL}
    return Alternative(index, cost, capex, built, bought)


CHEAPEST = 1e-3  # weight of the cost (as a share of the optimum's) in an alternative's objective


def _alternatives(
    pm: PlanModel, k: int, slack: float, time_limit_s: float | None
) -> list[Alternative]:
    """Up to ``k`` plans within ``slack`` of the least cost that differ most (Hop-Skip-Jump MGA).

    Modelling to generate alternatives (Brill et al. 1982; as in GenX and
    Temoa): the outcomes the penalties price are held at the optimum's
    (targets, consumption, aid, commitments: ``_OUTCOMES``), payments plus
    capex may rise to ``(1 + slack) * c*`` (``MGA-slack``), and each
    alternative minimises ``sum_f sum_i n_fi * x_fi / X_f`` over the decision
    families ``f`` (capacity added per line, quantity bought per party and
    product, made per line), ``n_fi`` the number of plans so far (the
    optimum first) in which ``x_fi`` is used and ``X_f`` the family's total
    in the optimum: what earlier plans used is avoided, so each plan builds
    elsewhere and buys for other parties where the slack allows. Among
    alternatives that differ as much, the cheapest: the objective also counts
    ``CHEAPEST * cost / c*``, a thousandth of the cost's share.
    """
    m = pm.model
    paid = float(_values(cost_expression(pm)).sum())
    families = _decisions(pm)
    optimum = _alternative(pm, 0, families)
    used = {f: np.zeros(len(names)) for f, (names, _) in families.items()}
    totals = {}
    for f, (_, expr) in families.items():
        v = _values(expr)
        used[f] += v > TOL
        totals[f] = max(float(v.sum()), 1.0)
    for n in _OUTCOMES:
        if n in m.variables:
            m.variables[n].fix(decimals=12)
    m.add_constraints(cost_expression(pm) <= paid * (1 + slack) + TOL, name="MGA-slack")
    out: list[Alternative] = []
    for _ in range(k):
        terms = None
        for f, (_, expr) in families.items():
            dim = next(x for x in expr.dims if not str(x).startswith("_"))
            weights = xr.DataArray(
                used[f] / totals[f], coords={dim: expr.coords[dim].values}, dims=[dim]
            )
            part = (expr * weights).sum()
            terms = part if terms is None else terms + part
        if terms is None:
            break
        # among plans that differ as much, the cheapest: a thousandth of the cost's share
        # (without it the solver may return any vertex, spending the slack for nothing)
        terms = terms + cost_expression(pm) * (CHEAPEST / max(paid, TOL))
        m.add_objective(terms, overwrite=True)
        _solve(pm, time_limit_s)
        solved = _decisions(pm)  # variables read afresh: a selection keeps its old solution
        alt = _alternative(pm, len(out) + 1, solved)
        if any(_same(alt, other) for other in [optimum, *out]):
            break  # nothing new within the slack
        out.append(alt)
        for f, (_, expr) in solved.items():
            used[f] += _values(expr) > TOL
    return out


def _binding(pm: PlanModel, cost: dict[str, np.ndarray] | None) -> list[Binding]:
    """What binds, from the duals; ``cost``: duals of the cost-only programme (:func:`_cost_duals`).

    With ``cost`` (the ``cost`` objective) a resource's value is split: what
    relaxing it saves in payments and capex with every outcome held (the
    cost duals), and the rest of the full dual, which comes from the
    penalties (targets missed, consumption short, commitments late).
    """
    d = pm.data
    inp, T = d.inp, d.n_months
    M = len(d.mlines)
    in_usd = pm.objective == "cost"
    to_out = (1.0 / USD) if in_usd else 1.0 / COVERAGE

    def value(name: str, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
        full = -_dual(pm, name, shape) * to_out * scale
        if cost is None:
            return full
        out: np.ndarray = -cost.get(name, np.zeros(shape)) * to_out * scale
        return out

    def penalty(name: str, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
        if cost is None:
            return np.zeros(shape)
        full = cost.get(f"full:{name}", np.zeros(shape))
        out: np.ndarray = (-full + cost.get(name, np.zeros(shape))) * to_out * scale
        return out

    cap, cap_pen = value("Line-capacity", (M, T)), penalty("Line-capacity", (M, T))
    capacity_value = {inp.lines[ln]: cap[i] for i, ln in enumerate(d.mlines)}
    capacity_penalty = {inp.lines[ln]: cap_pen[i] for i, ln in enumerate(d.mlines)}
    G = len(d.groups)
    comp, comp_pen = value("Component-capacity", (G, T)), penalty("Component-capacity", (G, T))
    component_value = {
        (inp.products[j], inp.pools[q]): comp[g]
        for g, (q, j) in enumerate(d.groups)
        if len(d.group_lines[g])
    }
    component_penalty = {
        (inp.products[j], inp.pools[q]): comp_pen[g]
        for g, (q, j) in enumerate(d.groups)
        if len(d.group_lines[g])
    }
    budget_value: dict[tuple[str, int], float] = {}
    budget_penalty: dict[tuple[str, int], float] = {}
    if "Budget" in pm.model.constraints:
        shape = (len(d.budget_allies), len(d.budget_years))
        bd, bp = value("Budget", shape, USD), penalty("Budget", shape, USD)
        for i, p in enumerate(d.budget_allies):
            for y, year in enumerate(d.budget_years):
                budget_value[(inp.parties[p], int(year))] = float(bd[i, y])
                budget_penalty[(inp.parties[p], int(year))] = float(bp[i, y])
    units = {inp.lines[ln]: inp.products[inp.line_product[ln]] for ln in d.mlines}
    units.update({f"{inp.products[j]}@{inp.pools[q]}": inp.products[j] for q, j in d.groups})
    return binding_sentences(
        d.scenario.start,
        capacity_value,
        component_value,
        budget_value,
        in_usd,
        penalty_value={
            **capacity_penalty,
            **{f"{k}@{q}": v for (k, q), v in component_penalty.items()},
        },
        budget_penalty=budget_penalty,
        units=units,
    )


def compare_policy(p: Plan) -> dict[str, dict[str, Any]]:
    """The plan beside the scenario's own run (its procurement policies), both simulated.

    For each side (``plan``: the plan written as a standalone scenario;
    ``policy``: the scenario as given, whose closed-loop procurement rules
    buy): contract payments and capex over the horizon (US$, the simulator's
    ``payments_usd`` and ``capex_usd``, announced investments included on
    both sides), and per target the first month it is met and whether by its
    date.
    """
    mapping = scenario_mapping(
        p.scenario, p.contracts, p.investments, p.budget_scale, p.objective, None
    )

    def side(scenario: Any) -> dict[str, Any]:
        r = simulate(scenario)
        ds = r.dataset.isel(sample=0)
        table = r.targets()
        return {
            "payments_usd": float(ds.payments_usd.sum()),
            "capex_usd": float(ds.capex_usd.sum()),
            "first_met": {str(t.target): t.first_met for t in table.itertuples()},
            "met_by_date": {str(t.target): bool(t.met_by_date) for t in table.itertuples()},
        }

    return {"plan": side(mapping), "policy": side(p.scenario)}


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
    commitment_penalty_usd: float | None = None,
    alternatives: int = 0,
    slack: float = 0.05,
    samples: int = 0,
    seed: int = 0,
    fresh: int = 200,
) -> Plan:
    """Plan contracts, capacity investments and allocations for ``scenario``.

    ``objective``: ``"cost"`` (least contract spend plus capex that meets the
    targets), ``"coverage"`` (most target coverage within budgets) or
    ``"time"`` (earliest attainment within budgets). Budgets apply when the
    scenario's ``policy.budget`` is not ``"none"``, scaled by
    ``budget_scale``. A line that declares ``module_capacity_per_month``
    grows in whole modules (a MILP). Commitments (contracts signed before the
    start, contracts and production pledges for recipients) are kept by the
    end of their schedule, or short at ``commitment_penalty_usd`` per unit
    (default: what a unit is worth to a target; ``math.inf``: a hard
    constraint); :attr:`Plan.recipients` says how each is kept. With
    ``alternatives = K`` the plan also carries up to K near-optimal
    alternatives within ``slack`` (a share) of its cost
    (:attr:`Plan.alternatives`, modelling to generate alternatives). With
    ``samples = N`` the contracts and investments are those of the
    sample-average (two-stage) plan over N scenarios drawn with ``seed`` from
    the scenario's distributions (:mod:`materiel.plan.samples`), read in the
    nominal scenario; :attr:`Plan.samples` gives each target's probability of
    being met over ``fresh`` new samples, beside the deterministic plan's. Raises
    :class:`~materiel.ScenarioError` for bad input and :class:`PlanError`
    when the solver fails.
    """
    problems = []

    def refuse(argument: str, value: object, expected: str) -> None:
        problems.append(Problem("plan()", argument, f"got {value!r}; expected {expected}"))

    if objective not in OBJECTIVES:
        refuse("objective", objective, f"one of {', '.join(OBJECTIVES)}")
    if not (np.isfinite(budget_scale) and budget_scale >= 0):
        refuse("budget_scale", budget_scale, "a finite number >= 0")
    if commitment_penalty_usd is not None and not commitment_penalty_usd >= 0:
        refuse("commitment_penalty_usd", commitment_penalty_usd, "a number >= 0 or inf (hard)")
    if not (isinstance(alternatives, int) and 0 <= alternatives <= 20):
        refuse("alternatives", alternatives, "a whole number 0..20")
    if not (np.isfinite(slack) and 0 <= slack <= 1):
        refuse("slack", slack, "a share between 0 and 1")
    if not (isinstance(samples, int) and 0 <= samples <= 1000):
        refuse("samples", samples, "a whole number 0..1000")
    if samples and alternatives:
        refuse(
            "alternatives",
            alternatives,
            "none with samples (plan over samples or find alternatives)",
        )
    if not (isinstance(fresh, int) and 1 <= fresh <= 100_000):
        refuse("fresh", fresh, "a whole number 1..100000")
    if problems:
        raise ScenarioError(problems)
    s = load(scenario)
    t0 = time.perf_counter()
    d = plan_data(s, budget_scale)
    pm = build_model(d, objective, commitment_penalty_usd)
    if samples:
        datas, weights, nominal_drawn = sample_data(s, samples, seed, budget_scale)
        saa = build_sample_average(
            datas,
            objective,
            commitment_penalty_usd,
            feasible_in=[] if nominal_drawn else [d],
            weights=weights,
        )
        pm.timings["sample_average_build_s"] = time.perf_counter() - t0
        _solve(saa, time_limit_s)
        pm.timings["sample_average_solve_s"] = time.perf_counter() - t0
        saa_size = {
            "sample_average_variables": int(saa.model.nvars),
            "sample_average_constraints": int(saa.model.ncons),
            "distinct_samples": len(datas),
        }
        fix_first_stage(pm, first_stage(saa))
    t1 = time.perf_counter()
    _solve(pm, time_limit_s)
    t2 = time.perf_counter()
    _duals(pm, time_limit_s)
    t3 = time.perf_counter()
    pm.timings.update(build_s=t1 - t0, solve_s=t2 - t1, duals_s=t3 - t2)
    result = _read_plan(pm, _source_ref(scenario))
    t4 = time.perf_counter()
    cost = _cost_duals(pm, time_limit_s)
    if cost is not None:
        result.binding = _binding(pm, cost)
    t5 = time.perf_counter()
    if alternatives:
        result.alternatives = _alternatives(pm, alternatives, slack, time_limit_s)
    pm.timings.update(read_s=t4 - t3, cost_duals_s=t5 - t4, alternatives_s=time.perf_counter() - t5)
    if samples:
        result.size.update(saa_size)
        result.samples = _versus_deterministic(
            result,
            s,
            samples,
            seed,
            fresh,
            plan_args={
                "objective": objective,
                "budget_scale": budget_scale,
                "time_limit_s": time_limit_s,
                "commitment_penalty_usd": commitment_penalty_usd,
            },
        )
        result.timings["evaluate_s"] = time.perf_counter() - t5
        if not s.uncertain:
            result.notes.append(
                "the scenario has no distributions (no uncertain table): every sample is the "
                "nominal scenario, so the sample-average plan is the deterministic one"
            )
    return result


def _versus_deterministic(
    result: Plan, s: Scenario, samples: int, seed: int, fresh: int, plan_args: dict[str, Any]
) -> SampleReport:
    """Each target's P(met) over ``fresh`` new samples: this plan and the deterministic one."""
    deterministic = plan(s, **plan_args)
    mine = met_probabilities(result, fresh, seed + 1)
    theirs = met_probabilities(deterministic, fresh, seed + 1)
    return SampleReport(
        samples=samples,
        seed=seed,
        fresh=fresh,
        p_met={tid: (mine[tid], theirs[tid]) for tid in mine},
        cost_usd=(result.cost_usd, deterministic.cost_usd),
        uncertain=len(s.uncertain),
    )
