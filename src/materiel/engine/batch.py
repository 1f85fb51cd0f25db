"""Per-sample kernel inputs from drawn parameter values, vectorised across samples.

:func:`sample_overrides` starts from the nominal scenario's kernel inputs
(:func:`materiel.engine.core.kernel_args`) and replaces, for every drawn
field in :data:`materiel.scenario.uncertainty.SUPPORTED_FIELDS`, the arrays that field
feeds with one row per sample — recomputing derived arrays (announced
investments' ramps when a lead time changes, contract schedules when a delay
or a quantity changes) with the same formulas as
:func:`materiel.engine.inputs.compile_inputs`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from materiel.engine.core import kernel_args
from materiel.engine.inputs import Inputs, announced_arrive, capacity_arrival, linear_schedule
from materiel.months import month_index
from materiel.scenario.schema import DAYS_PER_MONTH, Scenario

__all__ = ["due_rows", "sample_overrides"]


@njit(cache=True, nogil=True)
def due_rows(quantity: np.ndarray, first: np.ndarray, months: np.ndarray, T: int) -> np.ndarray:
    """Cumulative quantity due by each month, one row per sample: ``(S, T, C)``.

    ``due[s, t, c] = Q[s, c] * clip((t - first[s, c] + 1) / n_c, 0, 1)``, the
    rule of :func:`materiel.engine.core.due_schedule` (bit for bit), compiled
    and without the GIL: building a chunk's schedules was 90% of the time
    spent on per-sample inputs in numpy (profile in ``benchmarks/bench_mc.py``).
    """
    S, C = quantity.shape
    out = np.empty((S, T, C))
    for s in range(S):
        for t in range(T):
            for c in range(C):
                share = (t - first[s, c] + 1) / months[c]
                out[s, t, c] = quantity[s, c] * min(max(share, 0.0), 1.0)
    return out


def _months(values: np.ndarray, least: int) -> np.ndarray:
    whole: np.ndarray = np.maximum(np.rint(values), least).astype(np.int64)
    return whole


class _Batch:
    def __init__(self, inp: Inputs, samples: int) -> None:
        self.base = kernel_args(inp)
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
    s: Scenario, inp: Inputs, draws: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Kernel inputs with one row per sample for every drawn field (see module docstring)."""
    if not draws:
        return {}
    S = len(next(iter(draws.values())))
    T = inp.n_months
    b = _Batch(inp, S)
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
        inherits = (inv.lead_time_months is None and f"lines.{inv.line}.expansion_lead_time_months"
                    in draws) or (inv.ramp_up_months is None
                                  and f"lines.{inv.line}.ramp_up_months" in draws)  # fmt: skip
        if not inherits and not any(k.startswith(prefix) for k in draws):
            continue
        d = month_index(inv.decision, s.start)
        line = s.lines[inv.line]
        nominal_lead = line.expansion_lead_time_months if inv.lead_time_months is None \
            else inv.lead_time_months  # fmt: skip
        nominal_ramp = line.ramp_up_months if inv.ramp_up_months is None else inv.ramp_up_months
        one = np.ones(1)
        nominal_capex = inv.capex_usd
        if nominal_capex is None:
            nominal_capex = inv.capacity_added_per_month * line.capex_usd_per_unit_month
        old = _investment(T, d, one * inv.capacity_added_per_month, one * nominal_lead,
                          one * nominal_ramp, one * nominal_capex, arrives)  # fmt: skip
        added = value(prefix + "capacity_added_per_month", inv.capacity_added_per_month)
        lead = (_months(draws[prefix + "lead_time_months"], 0) if prefix + "lead_time_months"
                in draws else line_lead[:, i] if inv.lead_time_months is None
                else np.full(S, inv.lead_time_months))  # fmt: skip
        ramp = (_months(draws[prefix + "ramp_up_months"], 1) if prefix + "ramp_up_months"
                in draws else line_ramp[:, i] if inv.ramp_up_months is None
                else np.full(S, inv.ramp_up_months))  # fmt: skip
        capex = (np.full(S, inv.capex_usd) if inv.capex_usd is not None
                 else added * line.capex_usd_per_unit_month)  # fmt: skip
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
        S, axis=0,
    )  # fmt: skip
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
        sign = (inp.contract_decided[None] + np.rint(delay) + np.rint(extra)[:, None]).astype(
            np.int64
        )
        first = sign + inp.contract_due_lag[None]
        b.out["contract_quantity"] = quantity
        b.out["contract_sign"] = sign
        b.out["due_by_month"] = due_rows(
            quantity, first.astype(np.int64), inp.contract_due_months.astype(np.int64), T
        )
        b.out["contract_delivered_start"] = np.where(
            sign < 0, quantity * linear_schedule(-1, first, inp.contract_due_months[None]), 0.0
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
    return {name: np.ascontiguousarray(a) for name, a in b.out.items()}
