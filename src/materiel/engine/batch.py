"""Per-sample kernel inputs from drawn parameter values, vectorised across samples.

:func:`sample_overrides` starts from the nominal scenario's kernel inputs
(:func:`materiel.engine.core.kernel_args`) and replaces, for every drawn
field in :data:`materiel.scenario.uncertainty.SUPPORTED_FIELDS`, the arrays that field
feeds with one row per sample — recomputing derived arrays (announced
investments' ramps when a lead time changes, contract schedules when a delay
or a quantity changes) with the same formulas as
:func:`materiel.engine.inputs.compile_inputs`.

One approximation: the order in which a line serves its contracts
(``assign_*``, by priority then signature month) has no sample axis, so every
sample keeps the nominal scenario's order. Where drawn delays (or budget
deferrals) move one contract's signature past another's on the same line and
priority, that sample differs from a single run with the drawn value; results
still do not depend on the chunk size or the thread count.

:func:`sample_economics` adds what depends on money: each sample's contract
prices and, when budgets bind, each sample's budget check (budgets from its
drawn GDP growth and shares, payments at its prices and quantities).
"""

from __future__ import annotations

import numpy as np

from materiel.engine.budget import Terms, budget_years, defer_to_budgets
from materiel.engine.core import fill_due_rows, kernel_args
from materiel.engine.inputs import (
    Inputs,
    always_delayed,
    announced_arrive,
    budget_charges,
    capacity_arrival,
    due_share,
    extra_delay,
    policy_budget,
)
from materiel.months import month_index, parse_month
from materiel.scenario.economics import economic_arrays, grown_gdp_usd_m, munitions_budget_usd
from materiel.scenario.schema import DAYS_PER_MONTH, Scenario

__all__ = ["sample_economics", "sample_overrides"]


def _due(
    workspace: dict[str, np.ndarray] | None,
    inp: Inputs,
    quantity: np.ndarray,
    first: np.ndarray,
) -> np.ndarray:
    """Per-sample due schedules, in ``workspace``'s buffer when one is given (and fits)."""
    shape = (quantity.shape[0], inp.n_months, quantity.shape[1])
    out = None if workspace is None else workspace.get("due_by_month")
    if out is None or out.shape != shape:
        out = np.empty(shape)
        if workspace is not None:
            workspace["due_by_month"] = out
    fill_due_rows(
        out,
        np.ascontiguousarray(quantity, dtype=np.float64),
        np.ascontiguousarray(first, dtype=np.int64),
        inp.contract_due_months.astype(np.int64),
        inp.contract_shape.astype(np.int64),
        inp.contract_shapes,
    )
    return out


def _months(values: np.ndarray, least: int) -> np.ndarray:
    whole: np.ndarray = np.maximum(np.rint(values), least).astype(np.int64)
    return whole


def _own_months(
    draws: dict[str, np.ndarray], path: str, least: int, own: int | None, line: np.ndarray
) -> np.ndarray:
    """An investment's months per sample: drawn at ``path``, else its own value, else
    its line's (``line``, drawn or not)."""
    if path in draws:
        return _months(draws[path], least)
    return line if own is None else np.full(line.shape[0], own)


class _Batch:
    def __init__(self, inp: Inputs, samples: int, base: dict[str, np.ndarray] | None) -> None:
        self.base = kernel_args(inp) if base is None else base
        self.samples = samples
        self.out: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        """The per-sample version of a kernel input (created on first use)."""
        if name not in self.out:
            self.out[name] = np.repeat(self.base[name], self.samples, axis=0)
        return self.out[name]

    def current(self, name: str) -> np.ndarray:
        return self.out.get(name, self.base[name])


def _investment(
    T: int,
    d: int,
    added: np.ndarray,
    lead: np.ndarray,
    ramp: np.ndarray,
    capex: np.ndarray,
    arrives: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One announced investment per sample: arrived by t=-1, increments, commitments, capex.

    Not ``arrives`` (industry stopped investing at the start,
    :func:`~materiel.engine.inputs.announced_arrive`): only what arrived by t=-1.
    """
    before, arriving = capacity_arrival(added, d, lead, ramp, T)
    S = added.shape[0]
    commit_start = added if d < 0 else np.zeros(S)
    commit_inc = np.zeros((S, T))
    capex_inc = np.zeros((S, T))
    if not arrives:
        return before, np.zeros_like(arriving), before, commit_inc, capex_inc
    if 0 <= d < T:
        commit_inc[:, d] = added
        capex_inc[:, d] = capex
    return before, arriving, commit_start, commit_inc, capex_inc


def sample_overrides(
    s: Scenario,
    inp: Inputs,
    draws: dict[str, np.ndarray],
    base: dict[str, np.ndarray] | None = None,
    *,
    workspace: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Kernel inputs with one row per sample for every drawn field (see module docstring).

    ``base``: :func:`~materiel.engine.core.kernel_args` ``(inp)`` when the
    caller holds them (built once per run rather than once per chunk).
    ``workspace``: a dict the caller keeps between calls (one per thread);
    the largest input, the due schedules, is then built in the same buffer
    every call, so a returned override may be overwritten by the next call
    with the same workspace.
    """
    if not draws:
        return {}
    S = len(next(iter(draws.values())))
    T = inp.n_months
    b = _Batch(inp, S, base)
    li = {x: i for i, x in enumerate(inp.lines)}
    pi = {x: i for i, x in enumerate(inp.parties)}
    ki = {x: i for i, x in enumerate(inp.products)}
    uses = list(s.consumption)

    def value(path: str, nominal: float) -> np.ndarray:
        return np.asarray(draws.get(path, np.full(S, float(nominal))), dtype=float)

    # --- lines ---
    line_lead = np.repeat(inp.lead_months[None], S, axis=0)
    line_ramp = np.repeat(inp.ramp_months[None], S, axis=0)
    for lid, line in s.lines.items():
        i = li[lid]
        prefix = f"lines.{lid}."
        if prefix + "capacity_per_month" in draws:
            delta = draws[prefix + "capacity_per_month"] - line.capacity_per_month
            b["capacity_start"][:, i] += delta
            b["committed_start"][:, i] += delta
        if prefix + "max_capacity_per_month" in draws:
            b["capacity_max"][:, i] = draws[prefix + "max_capacity_per_month"]
        if prefix + "expansion_lead_time_months" in draws:
            line_lead[:, i] = _months(draws[prefix + "expansion_lead_time_months"], 0)
            b["lead_months"][:, i] = line_lead[:, i]
        if prefix + "ramp_up_months" in draws:
            line_ramp[:, i] = _months(draws[prefix + "ramp_up_months"], 1)
            b["ramp_months"][:, i] = line_ramp[:, i]
        if prefix + "order_book_horizon_months" in draws:
            b["horizon_months"][:, i] = _months(draws[prefix + "order_book_horizon_months"], 1)

    # --- announced investments whose size or timing varies ---
    arrives = announced_arrive(s)
    for iid, inv in s.investments.items():
        i = li[inv.line]
        prefix = f"investments.{iid}."
        inherits = (
            inv.lead_time_months is None and f"lines.{inv.line}.expansion_lead_time_months" in draws
        ) or (inv.ramp_up_months is None and f"lines.{inv.line}.ramp_up_months" in draws)
        if not inherits and not any(k.startswith(prefix) for k in draws):
            continue
        d = month_index(inv.decision, s.start)
        line = s.lines[inv.line]
        nominal_lead = (
            line.expansion_lead_time_months
            if inv.lead_time_months is None
            else inv.lead_time_months
        )
        nominal_ramp = line.ramp_up_months if inv.ramp_up_months is None else inv.ramp_up_months
        one = np.ones(1)
        nominal_capex = inv.capex_usd
        if nominal_capex is None:
            nominal_capex = inv.capacity_added_per_month * line.capex_usd_per_unit_month
        old = _investment(
            T,
            d,
            one * inv.capacity_added_per_month,
            one * nominal_lead,
            one * nominal_ramp,
            one * nominal_capex,
            arrives,
        )
        added = value(prefix + "capacity_added_per_month", inv.capacity_added_per_month)
        lead = _own_months(
            draws, prefix + "lead_time_months", 0, inv.lead_time_months, line_lead[:, i]
        )
        ramp = _own_months(draws, prefix + "ramp_up_months", 1, inv.ramp_up_months, line_ramp[:, i])
        capex = (
            np.full(S, inv.capex_usd)
            if inv.capex_usd is not None
            else added * line.capex_usd_per_unit_month
        )
        new = _investment(T, d, added, lead.astype(float), ramp.astype(float), capex, arrives)
        b["capacity_start"][:, i] += new[0] - old[0]
        b["capacity_increment"][:, i] += new[1] - old[1]
        b["committed_start"][:, i] += new[2] - old[2]
        b["committed_increment"][:, i] += new[3] - old[3]
        b["capex_announced_usd"][:, i] += new[4] - old[4]

    # --- contracts: quantities and delays ---
    policy = s.policy
    policy_delay = value("policy.contracting_delay_months", policy.contracting_delay_months)
    extra = value("policy.extra_contracting_delay_months", policy.extra_contracting_delay_months)
    timing_varies = any(k.startswith("policy.") and "delay" in k for k in draws)
    rows = np.arange(len(inp.contracts))
    quantity = np.repeat(inp.contract_quantity[None], S, axis=0)
    delay = np.repeat(
        np.where(inp.contract_own_delay >= 0, inp.contract_own_delay, 0)[None].astype(float),
        S,
        axis=0,
    )
    delay[:, inp.contract_own_delay < 0] = policy_delay[:, None]
    changed = timing_varies
    for cid in s.contracts:
        mine = rows[[o == cid for o in inp.contract_origin]]
        if f"contracts.{cid}.quantity" in draws:
            quantity[:, mine] = np.maximum(draws[f"contracts.{cid}.quantity"], 0.0)[:, None]
            changed = True
        if f"contracts.{cid}.contracting_delay_months" in draws:
            delay[:, mine] = _months(draws[f"contracts.{cid}.contracting_delay_months"], 0)[:, None]
            changed = True
    if changed:
        # the rule of a single run (extra_delay): the extra delay where the signature month
        # before it is >= 0 (a backlog contract keeps its date), always for aid from production
        # and policies' decisions; a nominal budget deferral is taken off first, put back after
        deferred = 0 if inp.budget is None else inp.budget.deferred_months[None]
        base = inp.contract_decided[None] - deferred + np.rint(delay).astype(np.int64)
        sign = (
            extra_delay(base, np.rint(extra).astype(np.int64)[:, None], always_delayed(inp)[None])
            + deferred
        ).astype(np.int64)
        first = sign + inp.contract_due_lag[None]
        b.out["contract_quantity"] = quantity
        b.out["contract_sign"] = sign
        b.out["due_by_month"] = _due(workspace, inp, quantity, first)
        b.out["contract_delivered_start"] = np.where(
            sign < 0,
            quantity
            * due_share(
                -1, first, inp.contract_due_months[None], inp.contract_shape, inp.contract_shapes
            ),
            0.0,
        )

    if timing_varies and len(inp.policies):  # procurement policies sign after their delay
        own = inp.pol_own_delay[None].astype(float)
        planned = np.where(own >= 0, own, policy_delay[:, None])
        b.out["pol_delay"] = _months(planned + extra[:, None], 0)
        b.out["pol_planned_delay"] = _months(planned, 0)

    # --- stocks and consumption ---
    for party, per in s.stocks.items():
        for product in per:
            path = f"stocks.{party}.{product}.quantity"
            if path in draws:
                b["stock_start"][:, pi[party], ki[product]] = np.maximum(draws[path], 0.0)
    scale = value("policy.consumption_scale", policy.consumption_scale)
    rate_varies = "policy.consumption_scale" in draws
    unscaled = np.array([u.monthly_rate for u in s.consumption.values()], dtype=float)
    rates = np.repeat(unscaled[None], S, axis=0)
    for e, uid in enumerate(uses):
        for field, factor in (("rate_per_day", DAYS_PER_MONTH), ("rate_per_month", 1.0)):
            if f"consumption.{uid}.{field}" in draws:
                rates[:, e] = np.maximum(draws[f"consumption.{uid}.{field}"], 0.0) * factor
                rate_varies = True
    if rate_varies:
        b.out["use_rate"] = rates * scale[:, None]
    sample_economics(s, inp, draws, b, workspace)
    return {name: np.ascontiguousarray(a) for name, a in b.out.items()}


# --- prices and budgets -------------------------------------------------------------------

ECONOMIC_FIELDS = (
    "policy.gdp_growth_pct_per_year",
    "policy.equipment_share",
    "policy.munitions_share",
)
"""Drawn policy fields that change budgets (and nothing else)."""


def _schedule(inp: Inputs, c: int) -> tuple[float, ...] | None:
    """Contract ``c``'s schedule as shares due each month (None: an even spread)."""
    row = int(inp.contract_shape[c])
    if row < 0:
        return None
    cum = inp.contract_shapes[row, : int(inp.contract_due_months[c])]
    return tuple(float(x) for x in np.diff(cum, prepend=0.0))


def sample_economics(
    s: Scenario,
    inp: Inputs,
    draws: dict[str, np.ndarray],
    b: _Batch,
    workspace: dict[str, np.ndarray] | None = None,
) -> None:
    """Per-sample prices and budget checks, added to ``b`` (the other per-sample inputs).

    **Prices**: contract row ``c`` pays the field ``inp.contract_price_from[c]``
    (:func:`materiel.scenario.prices.priced_by`); where that field is drawn,
    ``price[s, c]`` is its draw.

    **Budgets** (``policy.budget = "defer"``), when a draw changes a budget
    (``gdp_growth_pct_per_year``, ``equipment_share``, ``munitions_share``)
    or a written contract's price, quantity or signature: each sample's
    budgets ``budget[s, p, y] = gdp(g_s) * pct / 100 * 1e6 * e_s * m_s``
    (:mod:`materiel.scenario.economics`, rules 4-7, vectorised) go through
    the same budget check as a single run
    (:func:`~materiel.engine.budget.defer_to_budgets`) with that sample's
    written contracts at their signatures before any deferral; the deferral
    moves their signature and decision months, and what budgets leave for
    procurement policies (``budget_left_usd``) becomes per sample. Budget
    years are the union of the samples' (a sample's years past its own last
    one are uncapped, as in its single run).
    """
    S = b.samples
    paths = inp.contract_price_from
    drawn = sorted({path for path in paths if path in draws})
    for path in drawn:
        cols = [c for c, p in enumerate(paths) if p == path]
        b["contract_price_usd"][:, cols] = np.asarray(draws[path], dtype=float)[:, None]
    written = np.flatnonzero(inp.contract_policy < 0)
    changed = (
        any(f in draws for f in ECONOMIC_FIELDS)
        or any(paths[c] in draws for c in written)
        or "contract_quantity" in b.out
        or "contract_sign" in b.out
    )
    if s.policy.budget != "defer" or inp.budget is None or not changed:
        return
    start_abs, T = parse_month(s.start), inp.n_months
    deferred = inp.budget.deferred_months  # the nominal run's deferral, taken off again
    pre = np.broadcast_to(b.current("contract_sign") - deferred[None], (S, len(paths)))
    quantity = np.broadcast_to(b.current("contract_quantity"), (S, len(paths)))
    price = np.broadcast_to(b.current("contract_price_usd"), (S, len(paths)))
    terms = [
        [
            Terms(
                inp.contract_buyers[c],
                float(quantity[i, c]),
                float(price[i, c]),
                int(pre[i, c]),
                int(inp.contract_due_lag[c]),
                int(inp.contract_due_months[c]),
                int(inp.contract_priority[c]),
                _schedule(inp, int(c)),
            )
            for c in written
        ]
        for i in range(S)
    ]
    years = [budget_years(start_abs, T, rows) for rows in terms]
    union = max(years, key=len)
    econ = economic_arrays(s, range(int(union[0]), int(union[-1]) + 1), s.policy.budget_basis)

    def value(path: str, nominal: float) -> np.ndarray:
        return np.asarray(draws.get(path, np.full(S, float(nominal))), dtype=float)

    policy = s.policy
    gdp = grown_gdp_usd_m(
        econ.gdp_reference_usd_m,
        econ.gdp_years_grown,
        value("policy.gdp_growth_pct_per_year", policy.gdp_growth_pct_per_year),
    )
    by_policy = np.array([f == "policy" for f in econ.equipment_share_from], dtype=bool)
    equipment = np.where(
        by_policy[None, :, None],
        value("policy.equipment_share", policy.equipment_share)[:, None, None],
        econ.equipment_share[None],
    )  # rule 6: the policy's share, or the data's
    budget = munitions_budget_usd(
        gdp, econ.pct_gdp, equipment, value("policy.munitions_share", policy.munitions_share)
    )
    charges = budget_charges(s)
    sign = b["contract_sign"]
    decided = b["contract_decided"]
    undeferred = inp.contract_decided - deferred
    left = np.full((S, len(inp.parties), len(union)), np.inf)
    year_start = None
    for i in range(S):
        plan = defer_to_budgets(
            terms[i],
            charges,
            start_abs,
            T,
            years[i],
            econ.parties,
            budget[i, :, : len(years[i])],
            defer=True,
        )
        sign[i, written] = plan.sign
        decided[i, written] = undeferred[written] + plan.deferred_months
        own, starts = policy_budget(s, plan)  # (P, 0) when no policy is capped
        left[i, :, : own.shape[1]] = own
        if len(starts) == len(union):
            year_start = starts
    b.out["due_by_month"] = _due(workspace, inp, quantity, sign + inp.contract_due_lag[None])
    if year_start is not None:  # procurement policies are capped: per-sample budgets left
        b.out["budget_left_usd"] = left
        b.out["budget_year_start"] = year_start
