"""The planning programme: one ``define_*`` builder per family of variables and constraints.

The programme mirrors the simulator's monthly equations
(:mod:`materiel.engine.core`) for the quantities a plan decides, month by
month over the horizon (``t = 0 .. T-1``; money in thousands of US$ inside
the programme, to keep its coefficients well scaled):

1. capacity added to a line, decided at the start, arriving after the
   line's lead time along its ramp, capped by its ceiling
   (:func:`define_capacity_expansion`);
2. output of munition lines to new contracts and to the backlog, within
   capacity; components made just in time through the bills of materials,
   per pool (:func:`define_production`);
3. joint buying: any line of a munition may serve any buyer
   (:func:`define_deliveries`);
4. commitments (contracts signed before the start, contracts and production
   pledges for recipients) kept by the end of their schedule or short at a
   visible penalty (:func:`define_commitments`); aid pledged from stock,
   never below the donor's floor (:func:`define_aid`, :func:`define_donor_floors`);
5. stocks of the tracked cells with consumption and penalised shortfall
   (:func:`define_stocks`);
6. targets by date with penalised slack, and, for the ``time`` objective,
   the gap to target in every month up to the date (:func:`define_targets`);
7. munitions budgets per ally-year (:func:`define_budgets`);
8. the objective (:func:`define_objective`).

:func:`build_model` calls them in this order. Penalties are ordered so that
the programme reproduces the simulator's greedy rules (see
:class:`Weights`): a party consumes and a donor gives whenever its stock
allows, earlier before later, aid before consumption within a month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import linopy
import numpy as np
import xarray as xr
from linopy import LinearExpression

from materiel._xarray import lazy_dask
from materiel.engine.budget import TOLERANCE_USD
from materiel.engine.inputs import capacity_arrival
from materiel.months import month_label, parse_month
from materiel.plan.data import PlanData

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = [
    "BUILDERS",
    "Objective",
    "PlanModel",
    "Weights",
    "arrival",
    "base_model",
    "build_model",
    "cost_expression",
    "define_aid",
    "define_budgets",
    "define_capacity_expansion",
    "define_commitments",
    "define_deliveries",
    "define_donor_floors",
    "define_objective",
    "define_production",
    "define_stocks",
    "define_targets",
    "receipt_months",
    "receipt_periods",
    "stock_checkpoints",
    "unit_costs",
]

Objective = Literal["cost", "coverage", "time"]
USD = 1e-3  # programme money unit: thousand US$
COVERAGE = 1e6  # value of meeting one whole target (coverage and time objectives)
TIE = 1e-6  # weight of cost where coverage or time is the objective


@dataclass(frozen=True)
class Weights:
    """Objective weights, in programme units (thousand US$ for the ``cost`` objective).

    - ``cost``: per thousand US$ of contract payments and capex (1, or
      ``TIE`` when the objective is coverage or time);
    - ``slack``: per unit of a target not met by its date; for ``cost``,
      ten times an upper bound of what a unit costs (price plus capex of the
      line and of its components per unit of monthly capacity), so that any
      attainable unit is bought; for ``coverage``, ``COVERAGE / required``;
    - ``gap``: for ``time``, per unit short of a target per month up to its
      date (``COVERAGE / (required * months)``);
    - ``base`` and ``step``: use of stock is rewarded at ``base + step *
      (T - t + b / 2)`` with ``b = 1`` for aid and ``0`` for consumption,
      which orders aid(t) > consumption(t) > aid(t+1). ``base`` is twice the
      most a unit of stock is worth to any target of the product, and
      ``step`` twice what all its targets together are worth per unit (plus
      a month of every time gap): putting a use off by even a month costs
      more than the stock held could earn, so consumption and aid are never
      withheld or deferred to meet a target, as in the simulator;
    - ``late``: per unit of a commitment per month late, a twelfth of what a
      unit is worth to a target (or of ``keep`` where that is smaller): a
      year late weighs like a unit missing from a target (delivery is
      rewarded ``late * (T - t)``, the same up to a constant).
    - ``keep``: per unit of a commitment (a contract signed before the start
      or for a recipient) not delivered by the end of its schedule: by
      default what a unit is worth to a target (``12 * late``), so a
      commitment yields only to a target it would make impossible; the user
      may set it in US$ per unit, or ``inf`` to make commitments hard.
    """

    cost: float
    slack: np.ndarray  # (targets,)
    gap: np.ndarray  # (targets,)
    base: np.ndarray  # (K,)
    step: np.ndarray  # (K,)
    late: np.ndarray  # (K,)
    keep: np.ndarray  # (K,) per unit of a commitment not kept by its date; inf: kept (hard)

    def use(self, product: np.ndarray, T: int, bonus: int) -> np.ndarray:
        """Reward of one unit used in each month: (len(product), T)."""
        later = (T - np.arange(T) + bonus / 2.0)[None, :]
        out: np.ndarray = self.base[product][:, None] + self.step[product][:, None] * later
        return out


@dataclass
class PlanModel:
    """A built programme: the linopy model, its data and weights."""

    model: linopy.Model
    data: PlanData
    objective: Objective
    weights: Weights
    integer: bool
    timings: dict[str, float] = field(default_factory=dict)


def unit_costs(d: PlanData) -> np.ndarray:
    """Upper bound of the cost of one unit of each product, thousand US$ (K,)."""
    inp = d.inp
    K = len(inp.products)
    capex = np.zeros(K)
    np.maximum.at(capex, inp.line_product, inp.capex_usd_per_unit * USD)
    out = np.full(K, np.nan)

    def of(k: int) -> float:
        if np.isnan(out[k]):
            out[k] = 0.0  # guards a (rejected elsewhere) cycle
            out[k] = (
                d.price_usd[k] * USD
                + capex[k]
                + sum(inp.bom[k, j] * of(int(j)) for j in np.flatnonzero(inp.bom[k] > 0))
            )
        return float(out[k])

    for k in range(K):
        of(k)
    return out


def weights_for(
    d: PlanData, objective: Objective, commitment_penalty_usd: float | None = None
) -> Weights:
    """Objective weights for ``objective`` (see :class:`Weights`).

    ``commitment_penalty_usd``: US$ per unit of a commitment not kept
    (``None``: the default of :class:`Weights`; ``inf``: hard).
    """
    K = len(d.inp.products)
    unit = unit_costs(d)
    n = len(d.targets)
    required = np.array([max(t.required, 1.0) for t in d.targets])
    months = np.array([t.month + 1 for t in d.targets], dtype=float)
    product = np.array([t.product for t in d.targets], dtype=np.intp)
    gap = np.zeros(n)
    if objective == "cost":
        cost = 1.0
        slack = 10.0 * unit[product] + 1.0
    elif objective == "coverage":
        cost = TIE
        slack = COVERAGE / required
    else:
        cost = TIE
        gap = COVERAGE / (required * months)
        slack = 10.0 * COVERAGE / required
    value = np.full(K, 0.0)
    together = np.full(K, 0.0)
    if n:
        np.maximum.at(value, product, slack + gap * months)
        np.add.at(together, product, slack + gap)
    value = np.where(value > 0, value, cost * (10.0 * unit + 1.0))
    if commitment_penalty_usd is None:
        keep = value.copy()
    elif np.isinf(commitment_penalty_usd):
        keep = np.full(K, np.inf)
    else:
        keep = np.full(K, commitment_penalty_usd * USD * cost)
    return Weights(
        cost=cost,
        slack=slack,
        gap=gap,
        base=2.0 * value,
        step=2.0 * together,
        late=np.minimum(value, keep) / 12.0,
        keep=keep,
    )


def _expr(
    m: linopy.Model,
    coords: Sequence[tuple[str, Sequence[object]]],
    rows: np.ndarray,
    labels: np.ndarray,
    coeffs: np.ndarray,
) -> tuple[LinearExpression, xr.DataArray]:
    """A linear expression from (row, variable label, coefficient) triplets.

    ``rows`` index the flattened grid of ``coords``; labels below 0 are
    skipped. Returns the expression and the mask of rows that have terms.
    """
    shape = tuple(len(c) for _, c in coords)
    dims = [name for name, _ in coords]
    n = int(np.prod(shape))
    rows, labels, coeffs = (np.asarray(a).ravel() for a in (rows, labels, coeffs))
    rows, labels, coeffs = np.broadcast_arrays(rows, labels, coeffs)
    ok = (labels >= 0) & (coeffs != 0)
    rows, labels, coeffs = rows[ok], labels[ok], coeffs[ok]
    order = np.argsort(rows, kind="stable")
    rows, labels, coeffs = rows[order], labels[order], coeffs[order]
    counts = np.bincount(rows, minlength=n)
    width = max(int(counts.max(initial=0)), 1)
    pos = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    V = np.full((n, width), -1, dtype=np.int64)
    C = np.zeros((n, width))
    V[rows, pos] = labels
    C[rows, pos] = coeffs
    xr_coords = {name: list(c) for name, c in coords}
    ds = xr.Dataset(
        {
            "vars": ([*dims, "_term"], V.reshape((*shape, width))),
            "coeffs": ([*dims, "_term"], C.reshape((*shape, width))),
        },
        coords=xr_coords,
    )
    mask = xr.DataArray(counts.reshape(shape) > 0, coords=xr_coords, dims=dims)
    return LinearExpression(ds, base_model(m)), mask


def base_model(m: linopy.Model) -> linopy.Model:
    """The linopy model itself, also behind one sample's view of a two-stage model
    (:mod:`materiel.plan.samples`)."""
    out: linopy.Model = getattr(m, "base", m)
    return out


def _grid(*sizes: int) -> tuple[np.ndarray, ...]:
    """Index arrays of a grid (``np.indices`` flattened per axis)."""
    return tuple(a.ravel() for a in np.indices(sizes))


def _labels(m: linopy.Model, name: str) -> np.ndarray:
    out: np.ndarray = m.variables[name].labels.values
    return out


QUARTERLY_AFTER_MONTHS = 24
"""Horizons longer than this receive new deliveries in flat quarterly amounts."""


def receipt_months(d: PlanData) -> int:
    """Months over which a planned cell's receipts are flat: 3 on horizons over two years, else 1.

    Contracts are signed per year or quarter and delivered along an agreed
    profile, not re-decided every month; receipts flat within a quarter are
    such a profile. On the x10 benchmark they cut the solve by about 40%
    (:mod:`benchmarks.bench_plan`); on the default scenario the least cost
    rises by 0.013% (US$12m on US$90.96bn). Horizons of two years or less keep
    monthly receipts, where a quarter is a large share of the plan.
    """
    return 3 if d.n_months > QUARTERLY_AFTER_MONTHS else 1


def receipt_periods(d: PlanData) -> np.ndarray:
    """The period of each month's receipts (T,): periods of :func:`receipt_months` months
    from the first month new contracts deliver, ``D``; ``-1`` before it."""
    t = np.arange(d.n_months)
    out: np.ndarray = np.where(t >= d.delay_months, (t - d.delay_months) // receipt_months(d), -1)
    return out


def _receipts(pm: PlanModel) -> np.ndarray:
    """Labels of ``Stock-receipts`` by cell and month (N, T): a period's variable in each of
    its months (``-1`` before the first delivery month)."""
    labels = _labels(pm.model, "Stock-receipts")
    period = receipt_periods(pm.data)
    out: np.ndarray = np.where(period >= 0, labels[:, np.maximum(period, 0)], -1)
    return out


def _shift(labels: np.ndarray, by: np.ndarray | int) -> np.ndarray:
    """Labels of month ``t - by`` at month ``t`` (``-1`` before the start); axis 1 is month."""
    T = labels.shape[1]
    t = np.arange(T)[None, :] - np.asarray(by).reshape(-1, 1)
    rows = np.arange(labels.shape[0])[:, None]
    out = np.where(t >= 0, labels[rows, np.clip(t, 0, T - 1)], -1)
    return out


def _month_coords(d: PlanData) -> list[str]:
    start = parse_month(d.inp.start)
    return [month_label(start + t) for t in range(d.n_months)]


def _ids(d: PlanData) -> dict[str, list[str]]:
    inp = d.inp
    return {
        "mline": [inp.lines[ln] for ln in d.mlines],
        "group": [f"{inp.pools[q]}/{inp.products[j]}" for q, j in d.groups],
        "xline": [inp.lines[ln] for ln in d.xlines],
        "cell": [f"{inp.parties[p]}/{inp.products[k]}" for p, k in d.cells],
        "backlog": [inp.contracts[c] for c in d.backlog],
        "assignment": [
            f"{inp.contracts[d.backlog[b]]}@{inp.lines[ln]}"
            for b, ln in zip(d.backlog_assign, d.backlog_line, strict=True)
        ],
        "pledge": [inp.pledges[g] for g in d.pledges],
        "target": [t.id for t in d.targets],
    }


def arrival(d: PlanData) -> np.ndarray:
    """What a unit of capacity decided at the start has brought by each month: (X, T).

    ``arrived_x(t) = clip((t - lead_x + 1) / ramp_x, 0, 1)``, the engine's ramp
    (:func:`materiel.engine.inputs.capacity_arrival`).
    """
    inp = d.inp
    before, arriving = capacity_arrival(
        1.0, 0, inp.lead_months[d.xlines], inp.ramp_months[d.xlines], d.n_months
    )
    out: np.ndarray = np.asarray(before)[..., None] + np.cumsum(arriving, axis=-1)
    return out


def define_capacity_expansion(pm: PlanModel) -> None:
    """Capacity added to expandable lines (variable ``Line-capacity_decided``).

    ``A_x`` is the capacity added to line ``x``, decided in the horizon's first
    month (at most the line's headroom under its ceiling; whole modules where
    the line declares ``module_capacity_per_month``: ``A_x = size_x * n_x``
    with ``n_x`` integer, ``Line-modules``). It comes online along the
    engine's ramp, ``online_x(t) = arrived_x(t) * A_x`` (:func:`arrival`),
    a term of the capacity constraints (:func:`define_production`).

    One decision per line, at the start, loses nothing: capex is paid on the
    capacity added whenever it is decided (no discounting, and budgets count
    contract payments only), and capacity decided at the start is online at
    least as early as the same capacity decided later, so every plan with
    later decisions has one as cheap with the same total decided at the start.
    (Monthly decisions gave the solver ``2 X T`` more columns and rows, the
    x10 benchmark's largest family, for nothing.)
    """
    m, d = pm.model, pm.data
    X = len(d.xlines)
    if X == 0:
        return
    ids = _ids(d)
    coords = [("xline", ids["xline"])]
    upper = xr.DataArray(d.x_headroom, coords=coords)
    m.add_variables(lower=0, upper=upper, coords=coords, name="Line-capacity_decided")
    A = _labels(m, "Line-capacity_decided")
    modular = np.flatnonzero(d.x_module > 0)
    if len(modular):
        mcoords = [("mod_line", [ids["xline"][i] for i in modular])]
        most = np.floor(d.x_headroom[modular] / d.x_module[modular] + 1e-9)
        m.add_variables(
            lower=0,
            upper=xr.DataArray(most, coords=mcoords),
            coords=mcoords,
            name="Line-modules",
            integer=True,
        )
        n_lab = _labels(m, "Line-modules")
        r = np.arange(len(modular))
        expr, mask = _expr(
            m,
            mcoords,
            np.concatenate([r, r]),
            np.concatenate([A[modular], n_lab]),
            np.concatenate([np.ones(r.size), -d.x_module[modular]]),
        )
        m.add_constraints(expr, "=", 0.0, name="Line-modules", mask=mask)
        pm.integer = True


def _online_terms(
    pm: PlanModel, lines: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triplets ``(row * T + t, A_x, -arrived_x(t))`` of capacity coming online.

    ``lines[i]`` (a line index) contributes to row ``rows[i]``; lines that
    cannot expand contribute nothing.
    """
    d = pm.data
    T = d.n_months
    empty = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), np.zeros(0))
    if len(d.xlines) == 0 or len(lines) == 0:
        return empty
    xpos = np.full(len(d.inp.lines), -1)
    xpos[d.xlines] = np.arange(len(d.xlines))
    x = xpos[np.asarray(lines, dtype=np.intp)]
    ok = x >= 0
    x, r = x[ok], np.asarray(rows)[ok]
    arrived = arrival(d)[x]  # (n, T)
    A = _labels(pm.model, "Line-capacity_decided")[x]
    out_rows = (r[:, None] * T + np.arange(T)[None, :]).ravel()
    return out_rows, np.repeat(A, T), -arrived.ravel()


def define_production(pm: PlanModel) -> None:
    """Munition line output and components made just in time (``Line-capacity``, ``Component-*``).

    Munition line ``l``: ``new_l(t) + sum_a backlog_a(t) <= base_l(t) + online_l(t)``
    (``Line-capacity``). New deliveries start at month ``D`` (the contracting delay).

    Component group ``g = (pool q, component j)``, the lines of ``j`` in ``q``
    taken together as the simulator splits a group's need by capacity:

    - ``made_g(t) <= sum_{l in g} base_l(t) + online_l(t)`` (``Component-capacity``);
    - ``inv_g(t) = inv_g(t-1) + made_g(t) - used_g(t)`` with
      ``used_g(t) = sum_{l in q} bom[k_l, j] * output_l(t) + sum_{i} bom[i, j] * made_{q,i}(t)``
      (``Component-balance``);
    - ``inv_g(t) <= inv_g(t-1)`` (``Component-no_stockpile``): the simulator
      makes no component before it is needed.

    A group holding no inventory at the start never holds any, so
    ``made_g = used_g``: it has no ``made``, ``inv`` or balance of its own,
    and ``used_g`` (exploded through the bills of materials down to the
    stocked groups, :func:`_component_use`) stands for ``made_g`` in its
    capacity row and in the use of the groups above it (HiGHS's presolve
    made the same substitution, in 3 s of the x10 benchmark).
    """
    m, d = pm.model, pm.data
    T = d.n_months
    ids, months = _ids(d), _month_coords(d)
    M, G = len(d.mlines), len(d.groups)
    mcoords = [("mline", ids["mline"]), ("month", months)]
    wanted = {k for c, (_, k) in enumerate(d.cells) if d.planned[c]}
    sold = np.array([int(k) in wanted for k in d.mline_product], dtype=bool)
    upper = np.where(sold[:, None] & (np.arange(T)[None, :] >= d.delay_months), np.inf, 0.0)
    m.add_variables(
        lower=0,
        upper=xr.DataArray(upper, coords=mcoords),
        coords=mcoords,
        name="Line-delivery",
    )
    A_n = len(d.backlog_assign)
    if A_n:
        acoords = [("assignment", ids["assignment"]), ("month", months)]
        m.add_variables(lower=0, coords=acoords, name="Backlog-delivery")
    new = _labels(m, "Line-delivery")
    bl = _labels(m, "Backlog-delivery") if A_n else np.zeros((0, T), dtype=np.int64)
    mpos = {int(ln): i for i, ln in enumerate(d.mlines)}

    # output_l(t) as triplets over (mline, month): new + backlog
    mi, t = _grid(M, T)
    out_rows = [mi * T + t]
    out_labels = [new.ravel()]
    for a, ln in enumerate(d.backlog_line):
        out_rows.append(mpos[int(ln)] * T + np.arange(T))
        out_labels.append(bl[a])
    o_rows, o_labels = np.concatenate(out_rows), np.concatenate(out_labels)
    on_rows, on_labels, on_coeffs = _online_terms(pm, d.mlines, np.arange(M))
    cap_rows, cap_labels, cap_coeffs = (
        [o_rows, on_rows],
        [o_labels, on_labels],
        [np.ones(o_rows.size), on_coeffs],
    )
    expr, mask = _expr(
        m,
        mcoords,
        np.concatenate(cap_rows),
        np.concatenate(cap_labels),
        np.concatenate(cap_coeffs),
    )
    rhs = xr.DataArray(d.base_capacity[d.mlines], coords=mcoords)
    m.add_constraints(expr, "<=", rhs, name="Line-capacity", mask=mask)
    if G == 0:
        return

    gcoords = [("group", ids["group"]), ("month", months)]
    has_lines = np.array([len(lines) > 0 for lines in d.group_lines])
    stocked = d.group_inventory > 0
    m.add_variables(
        lower=0,
        upper=xr.DataArray(
            np.repeat(np.where(has_lines, np.inf, 0.0)[:, None], T, 1), coords=gcoords
        ),
        coords=gcoords,
        name="Component-production",
        mask=xr.DataArray(np.repeat(stocked[:, None], T, 1), coords=gcoords),
    )
    m.add_variables(
        lower=0,
        upper=xr.DataArray(np.repeat(d.group_inventory[:, None], T, 1), coords=gcoords),
        coords=gcoords,
        name="Component-inventory",
        mask=xr.DataArray(np.repeat(stocked[:, None], T, 1), coords=gcoords),
    )  # none where a group holds none at the start: it makes just in time
    made = _labels(m, "Component-production")
    inv = _labels(m, "Component-inventory")
    gi, t = _grid(G, T)
    g_rows = gi * T + t
    gpos = {grp: g for g, grp in enumerate(d.groups)}
    o_line = d.mlines[o_rows // T]
    o_t = o_rows % T
    used = _component_use(d, o_line, gpos, stocked)
    # capacity of each group: made_g (stocked) or used_g (just in time) within capacity
    base = np.zeros((G, T))
    for g, lines in enumerate(d.group_lines):
        base[g] = d.base_capacity[lines].sum(axis=0)
    rows, labs, coefs = [g_rows[stocked[gi]]], [made[stocked].ravel()], [np.ones(stocked.sum() * T)]
    _add_use_terms(rows, labs, coefs, used, np.flatnonzero(~stocked), made, o_t, o_labels, T)
    in_group = [(int(ln), g) for g, lines in enumerate(d.group_lines) for ln in lines]
    on_rows, on_labels, on_coeffs = _online_terms(
        pm,
        np.array([ln for ln, _ in in_group], dtype=np.intp),
        np.array([g for _, g in in_group], dtype=np.intp),
    )
    expr, mask = _expr(
        m,
        gcoords,
        np.concatenate([*rows, on_rows]),
        np.concatenate([*labs, on_labels]),
        np.concatenate([*coefs, on_coeffs]),
    )
    mask = mask & xr.DataArray(has_lines | ~stocked, coords=[gcoords[0]])
    m.add_constraints(
        expr, "<=", xr.DataArray(base, coords=gcoords), name="Component-capacity", mask=mask
    )
    if not stocked.any():
        return
    # balance of a stocked group: inv(t) - inv(t-1) - made(t) + used(t) = inv_start [t == 0]
    rows = [g_rows, g_rows, g_rows]
    labs = [inv.ravel(), _shift(inv, 1).ravel(), made.ravel()]
    coefs = [np.ones(g_rows.size), -np.ones(g_rows.size), -np.ones(g_rows.size)]
    _add_use_terms(rows, labs, coefs, used, np.flatnonzero(stocked), made, o_t, o_labels, T)
    expr, mask = _expr(
        m, gcoords, np.concatenate(rows), np.concatenate(labs), np.concatenate(coefs)
    )
    on_hand = np.zeros((G, T))
    on_hand[:, 0] = d.group_inventory
    mask = mask & xr.DataArray(stocked, coords=[gcoords[0]])
    m.add_constraints(
        expr, "=", xr.DataArray(on_hand, coords=gcoords), name="Component-balance", mask=mask
    )
    expr, mask = _expr(
        m,
        gcoords,
        np.concatenate([g_rows, g_rows]),
        np.concatenate([inv.ravel(), _shift(inv, 1).ravel()]),
        np.concatenate([np.ones(g_rows.size), -np.ones(g_rows.size)]),
    )
    mask = (
        mask
        & xr.DataArray(stocked, coords=[gcoords[0]])
        & xr.DataArray(np.arange(T) >= 1, coords=[gcoords[1]])
    )
    m.add_constraints(expr, "<=", 0.0, name="Component-no_stockpile", mask=mask)


def _add_use_terms(
    rows: list[np.ndarray],
    labs: list[np.ndarray],
    coefs: list[np.ndarray],
    used: list[tuple[np.ndarray, dict[int, float]]],
    groups: np.ndarray,
    made: np.ndarray,
    o_t: np.ndarray,
    o_labels: np.ndarray,
    T: int,
) -> None:
    """Append ``used_g(t)``'s terms (:func:`_component_use`) for each of ``groups``, in row
    ``g * T + t``: the munition lines' outputs and the stocked components' ``made``."""
    for g in map(int, groups):
        outputs, children = used[g]
        sel = outputs > 0
        rows.append(g * T + o_t[sel])
        labs.append(o_labels[sel])
        coefs.append(outputs[sel])
        for g2, share in children.items():
            rows.append(g * T + np.arange(T))
            labs.append(made[g2])
            coefs.append(np.full(T, share))


def _component_use(
    d: PlanData, o_line: np.ndarray, gpos: dict[tuple[int, int], int], stocked: np.ndarray
) -> list[tuple[np.ndarray, dict[int, float]]]:
    """What each component group uses, through bills of materials exploded down to stock.

    ``used_g(t) = sum_o u_{g,o} * output_o(t) + sum_{g2 stocked} v_{g,g2} * made_{g2}(t)``
    over the munition lines' output terms ``o`` (``o_line``: the line of each):
    a group that holds no inventory makes just in time, ``made_g = used_g``,
    so it is replaced by its own use, recursively (``u`` and ``v`` add the
    bill of materials of every such component within the pool).
    """
    inp = d.inp
    out: dict[int, tuple[np.ndarray, dict[int, float]]] = {}

    def use(g: int) -> tuple[np.ndarray, dict[int, float]]:
        if g in out:
            return out[g]
        q, j = d.groups[g]
        outputs = inp.bom[inp.line_product[o_line], j] * (inp.line_pool[o_line] == q)
        children: dict[int, float] = {}
        for (q2, i), g2 in gpos.items():
            share = float(inp.bom[i, j])
            if q2 != q or share <= 0:
                continue
            if stocked[g2]:
                children[g2] = children.get(g2, 0.0) + share
            else:
                sub_outputs, sub_children = use(g2)
                outputs = outputs + share * sub_outputs
                for g3, v in sub_children.items():
                    children[g3] = children.get(g3, 0.0) + share * v
        out[g] = (outputs, children)
        return out[g]

    return [use(g) for g in range(len(d.groups))]


def define_deliveries(pm: PlanModel) -> None:
    """Receipts of planned cells and the backlog's schedule (``Product-balance``, ``Backlog-*``).

    Joint buying, any line of a munition serving any buyer:
    ``sum_{l makes k} new_l(t) = sum_{c holds k} receipts_c(t)`` (``Product-balance``).

    Backlog contract ``b`` (signed before the start): delivered no faster than
    due, ``Y_b(t) = Y_b(t-1) + sum_{a of b} backlog_a(t) <= due_b(t)``
    (``Backlog-schedule``; ``Y`` is ``Backlog-delivered``).
    """
    m, d = pm.model, pm.data
    T = d.n_months
    ids, months = _ids(d), _month_coords(d)
    N = len(d.cells)
    if N == 0:
        return
    period = receipt_periods(d)
    first = [months[int(np.argmax(period == i))] for i in range(max(int(period.max()) + 1, 1))]
    ccoords = [("cell", ids["cell"]), ("period", first)]
    upper = np.repeat(np.where(d.planned, np.inf, 0.0)[:, None], len(first), axis=1)
    m.add_variables(
        lower=0,
        upper=xr.DataArray(upper, coords=ccoords),
        coords=ccoords,
        name="Stock-receipts",
    )  # per month of the period, from its first month (receipt_periods)
    rec = _receipts(pm)
    new = _labels(m, "Line-delivery")
    products = sorted({int(k) for k in d.mline_product} | {k for _, k in d.cells})
    kpos = {k: i for i, k in enumerate(products)}
    pcoords = [("munition", [d.inp.products[k] for k in products]), ("month", months)]
    t = np.arange(T)
    rows, labs, coefs = [], [], []
    for i, k in enumerate(d.mline_product):
        rows.append(kpos[int(k)] * T + t)
        labs.append(new[i])
        coefs.append(np.ones(T))
    for c, (_, k) in enumerate(d.cells):
        if d.planned[c]:
            rows.append(kpos[k] * T + t)
            labs.append(rec[c])
            coefs.append(-np.ones(T))
    if rows:
        expr, mask = _expr(
            m, pcoords, np.concatenate(rows), np.concatenate(labs), np.concatenate(coefs)
        )
        m.add_constraints(expr, "=", 0.0, name="Product-balance", mask=mask)
    B = len(d.backlog)
    if B == 0 or len(d.backlog_assign) == 0:
        return
    bcoords = [("backlog", ids["backlog"]), ("month", months)]
    m.add_variables(
        lower=0,
        upper=xr.DataArray(d.backlog_due, coords=bcoords),
        coords=bcoords,
        name="Backlog-delivered",
    )
    # index arithmetic, not ``Y - Y.shift(month=1).fillna(0) - delivered``: that labelled form
    # writes the same rows but took 30-55 ms more a build (define_deliveries 82 -> 136 ms at x1,
    # 98 -> 129 ms at x10, CPU, min of 5; the x1 build is ~0.35 s): shift+fillna 13 ms, each
    # expression sum 13-20 ms of xarray alignment
    Y = _labels(m, "Backlog-delivered")
    y = _labels(m, "Backlog-delivery")
    b, tt = _grid(B, T)
    r = b * T + tt
    rows = [r, r] + [int(bb) * T + t for bb in d.backlog_assign]
    labs = [Y.ravel(), _shift(Y, 1).ravel()] + [y[a] for a in range(len(d.backlog_assign))]
    coefs = [np.ones(r.size), -np.ones(r.size)] + [-np.ones(T)] * len(d.backlog_assign)
    expr, mask = _expr(
        m, bcoords, np.concatenate(rows), np.concatenate(labs), np.concatenate(coefs)
    )
    m.add_constraints(expr, "=", 0.0, name="Backlog-schedule")


def define_commitments(pm: PlanModel) -> None:
    """Commitments are kept by the end of their schedule (``Commitment-kept``, ``-short``).

    ``Y_b(e_b) + short_b >= due_b(e_b)`` with ``e_b`` the last month commitment
    ``b`` falls due (or the horizon's last), ``Y_b`` what the plan has
    delivered of it (``Backlog-delivered``) and ``short_b >= 0`` penalised at
    ``keep`` per unit (:class:`Weights`); with an infinite penalty there is no
    ``short_b`` and the commitment is a hard constraint. Every commitment of
    the scenario is here: a pledge is never dropped, only reported short.
    """
    m, d, w = pm.model, pm.data, pm.weights
    B = len(d.backlog)
    if "Backlog-delivered" not in m.variables:
        return
    inp = d.inp
    ids = _ids(d)
    bcoords = [("backlog", ids["backlog"])]
    Y = _labels(m, "Backlog-delivered")
    rows, labs = [np.arange(B)], [Y[np.arange(B), d.backlog_end]]
    keep = w.keep[inp.contract_product[d.backlog]]
    soft = np.isfinite(keep)
    if soft.any():
        upper = xr.DataArray(np.where(soft, np.inf, 0.0), coords=bcoords)
        m.add_variables(lower=0, upper=upper, coords=bcoords, name="Commitment-short")
        rows.append(np.arange(B))
        labs.append(np.where(soft, _labels(m, "Commitment-short"), -1))
    expr, _ = _expr(
        m, bcoords, np.concatenate(rows), np.concatenate(labs), np.ones(sum(len(r) for r in rows))
    )
    due = xr.DataArray(d.backlog_due[np.arange(B), d.backlog_end], coords=bcoords)
    m.add_constraints(expr, ">=", due, name="Commitment-kept")


def define_aid(pm: PlanModel) -> None:
    """Aid pledged from stock (``Aid-delivery``, ``Aid-given``, ``Aid-schedule``).

    ``G_h(t) = G_h(t-1) + aid_h(t) <= owed_h(t)``: a pledge gives no more than
    has fallen due (``owed`` is cumulative, net of what was given before the
    start). Whether the donor can give is :func:`define_donor_floors`.
    """
    m, d = pm.model, pm.data
    H = len(d.pledges)
    if H == 0:
        return
    ids, months = _ids(d), _month_coords(d)
    coords = [("pledge", ids["pledge"]), ("month", months)]
    m.add_variables(lower=0, coords=coords, name="Aid-delivery")
    m.add_variables(
        lower=0,
        upper=xr.DataArray(np.maximum(d.pledge_owed, 0.0), coords=coords),
        coords=coords,
        name="Aid-given",
    )
    # labelled: the same rows as index arithmetic (checked on test_plan's aid case); the same
    # form cost ~45 ms a build in Backlog-schedule, paid here only where there are pledges
    # (none in bench_plan's scenarios; with a donor's floor the solve is a MIP)
    G, a = m.variables["Aid-given"], m.variables["Aid-delivery"]
    m.add_constraints(G - G.shift(month=1).fillna(0) - a, "=", 0.0, name="Aid-schedule")


def _receipt_terms(pm: PlanModel) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Triplets (cell*T + t, label, coefficient) of everything a cell receives in month t.

    New deliveries and the backlog shares of each cell (aid excluded).
    """
    m, d = pm.model, pm.data
    inp, T = d.inp, d.n_months
    t = np.arange(T)
    rec = _receipts(pm)
    rows = [np.arange(len(d.cells))[:, None] * T + t[None, :]]
    labs, coefs = [rec.ravel()], [np.ones(rec.size)]
    rows = [rows[0].ravel()]
    if len(d.backlog_assign):
        y = _labels(m, "Backlog-delivery")
        K = len(inp.products)
        for a, b in enumerate(d.backlog_assign):
            c = d.backlog[b]
            for r in np.flatnonzero(inp.receive_contract == c):
                cell = int(inp.receive_cell[r])
                n = d.cell_index.get((cell // K, cell % K))
                if n is not None:
                    rows.append(n * T + t)
                    labs.append(y[a])
                    coefs.append(np.full(T, inp.receive_share[r]))
    return rows, labs, coefs


def stock_checkpoints(pm: PlanModel, demand: np.ndarray) -> np.ndarray:
    """Months in which a cell's stock level is a variable: (N, T) booleans.

    A cell that never consumes and gives no aid (a *quiet* cell) only
    receives, so its stock never falls and ``s_c >= 0`` holds by itself; its
    level matters only where a target reads it (the target's month, or every
    month up to it for the ``time`` objective). Its balance is then written
    between those checkpoints ``t_1 < t_2 < ...`` alone,
    ``s_c(t_j) = s_c(t_{j-1}) + sum_{t_{j-1} < t <= t_j} received_c(t)``
    (``s_c(t_0)`` the stock at the start), and nothing after the last: the
    same feasible set, without the chain HiGHS's aggregator would otherwise
    substitute away (270 of 470 cells at x10, :mod:`benchmarks.bench_plan`).
    Every other cell has a level in every month.
    """
    d, inp = pm.data, pm.data.inp
    T = demand.shape[1]
    quiet: np.ndarray = ~np.any(demand > 0, axis=1)
    for g in d.pledges:
        quiet[d.cell_index[(int(inp.pledge_donor[g]), int(inp.pledge_product[g]))]] = False
    need = np.repeat(~quiet[:, None], T, axis=1)
    for tgt in d.targets:
        cells = np.asarray(tgt.cells, dtype=np.intp)
        if pm.objective == "time":
            need[cells[:, None], np.arange(tgt.month + 1)[None, :]] = True
        else:
            need[cells, tgt.month] = True
    out: np.ndarray = need
    return out


def define_stocks(pm: PlanModel) -> None:
    """Stocks of the tracked cells (``Stock-level``, ``Stock-shortfall``, ``Stock-balance``).

    ``s_c(t) = s_c(t-1) + receipts_c(t) + backlog_c(t) + aid_in_c(t) - aid_out_c(t)
    - (demand_c(t) - shortfall_c(t))`` with ``s_c >= 0`` and
    ``0 <= shortfall_c <= demand_c``: unmet demand is shortfall, penalised
    (:class:`Weights`) so that consumption happens whenever stock allows (no
    shortfall variable in a month with no demand). A cell that only receives
    has a level only at the months a target reads it, and its balance sums
    the months between (:func:`stock_checkpoints`).
    """
    m, d = pm.model, pm.data
    inp, T = d.inp, d.n_months
    ids, months = _ids(d), _month_coords(d)
    N = len(d.cells)
    if N == 0:
        return
    coords = [("cell", ids["cell"]), ("month", months)]
    party = np.array([p for p, _ in d.cells], dtype=np.intp)
    product = np.array([k for _, k in d.cells], dtype=np.intp)
    demand = inp.consumption_per_month[:, party, product].T  # (N, T)
    need = stock_checkpoints(pm, demand)
    m.add_variables(
        lower=0, coords=coords, name="Stock-level", mask=xr.DataArray(need, coords=coords)
    )
    m.add_variables(
        lower=0,
        upper=xr.DataArray(demand, coords=coords),
        coords=coords,
        name="Stock-shortfall",
        mask=xr.DataArray(demand > 0, coords=coords),
    )
    s, u = _labels(m, "Stock-level"), _labels(m, "Stock-shortfall")
    c, t = _grid(N, T)
    r = c * T + t
    rows, labs, coefs = _receipt_terms(pm)
    coefs = [-x for x in coefs]
    rows += [r, r, r]
    labs += [s.ravel(), _shift(s, 1).ravel(), u.ravel()]
    coefs += [np.ones(r.size), -np.ones(r.size), -np.ones(r.size)]
    if len(d.pledges):
        a = _labels(m, "Aid-delivery")
        for h, g in enumerate(d.pledges):
            k = int(inp.pledge_product[g])
            donor = d.cell_index[(int(inp.pledge_donor[g]), k)]
            recipient = d.cell_index[(int(inp.pledge_recipient[g]), k)]
            rows += [donor * T + np.arange(T), recipient * T + np.arange(T)]
            labs += [a[h], a[h]]
            coefs += [np.ones(T), -np.ones(T)]
    # month t's terms go to the balance of the cell's next checkpoint (itself where it has one)
    later = np.where(need, np.arange(T)[None, :], T)
    nxt = np.minimum.accumulate(later[:, ::-1], axis=1)[:, ::-1]
    to = np.where(nxt < T, np.arange(N)[:, None] * T + nxt, -1).ravel()
    row, lab = to[np.concatenate(rows)], np.concatenate(labs)
    expr, _ = _expr(
        m, coords, np.maximum(row, 0), np.where(row >= 0, lab, -1), np.concatenate(coefs)
    )
    rhs = -demand.copy()
    rhs[:, 0] += inp.stock_start[party, product]
    summed = np.zeros(N * T)
    np.add.at(summed, to[to >= 0], rhs.ravel()[to >= 0])
    m.add_constraints(
        expr,
        "=",
        xr.DataArray(summed.reshape(N, T), coords=coords),
        name="Stock-balance",
        mask=xr.DataArray(need, coords=coords),
    )


def define_donor_floors(pm: PlanModel) -> None:
    """A donor gives aid only from stock above its floor (``Aid-floor``, ``Aid-switch``).

    The simulator gives ``min(owed, max(0, stock - floor))``, where stock is
    what the donor holds before aid in the month,
    ``before_c(t) = s_c(t-1) + receipts_c(t) + backlog_c(t)``. Below its floor a
    donor gives nothing but still consumes, so the floor cannot be a bound on
    the stock. With a binary ``z_c(t)`` (``Aid-may_give``), only for donors
    whose floor is positive and only from the month their first pledge falls due:

    - ``sum_{h of c} aid_h(t) <= before_c(t) - floor_c * z_c(t)`` (``Aid-floor``):
      with ``z = 1`` aid comes from above the floor; with ``z = 0`` it is at
      most the stock, and
    - ``sum_{h of c} aid_h(t) <= owed_c * z_c(t)`` (``Aid-switch``): with ``z = 0``
      there is none. ``z = 1`` is possible only when ``before_c(t) >= floor_c``.

    A donor with no floor needs no switch: ``sum aid_h(t) <= before_c(t)``.
    """
    m, d = pm.model, pm.data
    inp, T = d.inp, d.n_months
    if len(d.pledges) == 0:
        return
    donors = sorted(
        {d.cell_index[(int(inp.pledge_donor[g]), int(inp.pledge_product[g]))] for g in d.pledges}
    )
    ids, months = _ids(d), _month_coords(d)
    coords = [("donor", [ids["cell"][c] for c in donors]), ("month", months)]
    s = _labels(m, "Stock-level")
    a = _labels(m, "Aid-delivery")
    dpos = {c: i for i, c in enumerate(donors)}
    party = np.array([d.cells[c][0] for c in donors], dtype=np.intp)
    product = np.array([d.cells[c][1] for c in donors], dtype=np.intp)
    floor = inp.stock_floor[party, product]
    first = np.full(len(donors), T)
    owed = np.zeros(len(donors))
    t = np.arange(T)
    a_rows, a_labs = [], []
    for h, g in enumerate(d.pledges):
        i = dpos[d.cell_index[(int(inp.pledge_donor[g]), int(inp.pledge_product[g]))]]
        first[i] = min(first[i], max(int(inp.pledge_first[g]), 0))
        owed[i] += max(float(d.pledge_owed[h].max(initial=0.0)), 0.0)
        a_rows.append(i * T + t)
        a_labs.append(a[h])
    active = xr.DataArray(t[None, :] >= first[:, None], coords=coords)
    switched = floor > 0
    z = np.full((len(donors), T), -1, dtype=np.int64)
    if switched.any():
        upper = np.where(switched[:, None] & active.values, 1.0, 0.0)
        m.add_variables(
            lower=0,
            upper=xr.DataArray(upper, coords=coords),
            coords=coords,
            name="Aid-may_give",
            integer=True,
        )
        z = np.where(upper > 0, _labels(m, "Aid-may_give"), -1)
        pm.integer = True
    rows, labs = list(a_rows), list(a_labs)
    coefs = [np.ones(T) for _ in a_rows]
    r_rows, r_labs, r_coefs = _receipt_terms(pm)
    cell_of_row = np.concatenate(r_rows) // T
    month_of_row = np.concatenate(r_rows) % T
    keep = np.isin(cell_of_row, donors)
    rows.append(
        np.array([dpos[int(c)] for c in cell_of_row[keep]], dtype=np.intp) * T + month_of_row[keep]
    )
    labs.append(np.concatenate(r_labs)[keep])
    coefs.append(-np.concatenate(r_coefs)[keep])
    for i, c in enumerate(donors):
        rows += [i * T + t, i * T + t]
        labs += [_shift(s[c : c + 1], 1)[0], z[i]]
        coefs += [-np.ones(T), np.full(T, floor[i])]
    expr, mask = _expr(m, coords, np.concatenate(rows), np.concatenate(labs), np.concatenate(coefs))
    rhs = np.zeros((len(donors), T))
    rhs[:, 0] = inp.stock_start[party, product]
    m.add_constraints(
        expr, "<=", xr.DataArray(rhs, coords=coords), name="Aid-floor", mask=mask & active
    )
    if switched.any():
        rows = [*a_rows, np.arange(len(donors) * T)]
        labs = [*a_labs, z.ravel()]
        coefs = [np.ones(T) for _ in a_rows] + [-np.repeat(owed, T)]
        expr, mask = _expr(
            m, coords, np.concatenate(rows), np.concatenate(labs), np.concatenate(coefs)
        )
        mask = mask & active & xr.DataArray(switched, coords=[coords[0]])
        m.add_constraints(expr, "<=", 0.0, name="Aid-switch", mask=mask)


def define_targets(pm: PlanModel) -> None:
    """Targets by date (``Target-by-date``, ``Target-slack``; ``Target-gap`` for ``time``).

    ``sum_{c in target} s_c(by) + slack >= required`` with ``slack >= 0``
    penalised (:class:`Weights`), so that an unattainable target shows as
    slack instead of an infeasible programme. For the ``time`` objective also
    ``gap(t) + sum_{c in target} s_c(t) >= required`` for every month up to
    ``by``, with ``gap >= 0`` penalised: the earlier the stock reaches the
    target, the smaller the sum of gaps.
    """
    m, d = pm.model, pm.data
    n, T = len(d.targets), d.n_months
    if n == 0:
        return
    ids, months = _ids(d), _month_coords(d)
    tcoords = [("target", ids["target"])]
    m.add_variables(lower=0, coords=tcoords, name="Target-slack")
    slack = _labels(m, "Target-slack")
    s = _labels(m, "Stock-level")
    rows, labs = [np.arange(n)], [slack]
    for i, tgt in enumerate(d.targets):
        rows.append(np.full(len(tgt.cells), i))
        labs.append(s[tgt.cells, tgt.month])
    expr, _ = _expr(
        m, tcoords, np.concatenate(rows), np.concatenate(labs), np.ones(sum(len(r) for r in rows))
    )
    required = xr.DataArray([tgt.required for tgt in d.targets], coords=tcoords)
    m.add_constraints(expr, ">=", required, name="Target-by-date")
    if pm.objective != "time":
        return
    coords = [("target", ids["target"]), ("month", months)]
    t = np.arange(T)
    upto = np.array([[tt <= tgt.month for tt in t] for tgt in d.targets])
    m.add_variables(
        lower=0,
        upper=xr.DataArray(np.where(upto, np.inf, 0.0), coords=coords),
        coords=coords,
        name="Target-gap",
    )
    gap = _labels(m, "Target-gap")
    rows, labs = [np.arange(n * T)], [gap.ravel()]
    for i, tgt in enumerate(d.targets):
        for c in tgt.cells:
            rows.append(i * T + t)
            labs.append(s[c])
    expr, _ = _expr(
        m, coords, np.concatenate(rows), np.concatenate(labs), np.ones(sum(len(r) for r in rows))
    )
    rhs = xr.DataArray(np.repeat(required.values[:, None], T, axis=1), coords=coords)
    m.add_constraints(expr, ">=", rhs, name="Target-gap", mask=xr.DataArray(upto, coords=coords))


def _payment_terms(pm: PlanModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Payments as (payer party, month, variable label, US$ per unit) arrays."""
    m, d = pm.model, pm.data
    inp, T = d.inp, d.n_months
    t = np.arange(T)
    party, month, labs, usd = [], [], [], []
    rec = _receipts(pm) if d.cells else np.zeros((0, T), dtype=np.int64)
    for c, (_, k) in enumerate(d.cells):
        if not d.planned[c] or d.price_usd[k] <= 0:
            continue
        for payer, share in d.payers[c].items():
            party.append(np.full(T, payer))
            month.append(t)
            labs.append(rec[c])
            usd.append(np.full(T, share * d.price_usd[k]))
    if len(d.backlog_assign):
        y = _labels(m, "Backlog-delivery")
        for a, b in enumerate(d.backlog_assign):
            c = d.backlog[b]
            for r in np.flatnonzero(inp.pay_contract == c):
                party.append(np.full(T, inp.pay_party[r]))
                month.append(t)
                labs.append(y[a])
                usd.append(np.full(T, inp.pay_share[r] * inp.contract_price_usd[c]))
    if not labs:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, empty.astype(np.int64), np.zeros(0)
    return (np.concatenate(party), np.concatenate(month), np.concatenate(labs), np.concatenate(usd))


def define_budgets(pm: PlanModel) -> None:
    """Munitions budgets per ally-year, when the scenario's policy applies them (``Budget``).

    ``sum_{t in year y} sum payments_p(t) <= budget_p(y) * budget_scale`` where
    payments are price x delivered quantity x the ally's share, on new
    contracts and on the backlog, as the simulator's budget check counts
    committed payments (capex is industry's, not in these budgets).
    """
    m, d = pm.model, pm.data
    if d.scenario.policy.budget == "none" or len(d.budget_allies) == 0:
        return
    party, month, labs, usd = _payment_terms(pm)
    apos = {int(p): i for i, p in enumerate(d.budget_allies)}
    ok = np.array([int(p) in apos for p in party], dtype=bool)
    Y = len(d.budget_years)
    coords = [
        ("ally", [d.inp.parties[p] for p in d.budget_allies]),
        ("year", [int(y) for y in d.budget_years]),
    ]
    rows = np.array([apos[int(p)] for p in party[ok]], dtype=np.intp) * Y + d.month_year[month[ok]]
    expr, mask = _expr(m, coords, rows, labs[ok], usd[ok] * USD)
    # a hair under the budget: half the rounding the simulator's check allows
    below = 0.5 * TOLERANCE_USD * USD
    rhs = xr.DataArray(np.maximum(d.budget_usd * USD * (1 - 1e-9) - below, 0.0), coords=coords)
    m.add_constraints(expr, "<=", rhs, name="Budget", mask=mask)


def _cost_terms(pm: PlanModel) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contract payments and capex as (labels, thousand US$ x ``cost`` weight) pairs."""
    m, d, w = pm.model, pm.data, pm.weights
    terms: list[tuple[np.ndarray, np.ndarray]] = []
    _, _, labs, usd = _payment_terms(pm)
    terms.append((labs, usd * USD * w.cost))
    if len(d.xlines):
        A = _labels(m, "Line-capacity_decided")
        capex = d.inp.capex_usd_per_unit[d.xlines] * USD
        # a small cost on capacity that has none, so that none is added for nothing
        terms.append((A, w.cost * np.where(capex > 0, capex, 1e-3)))
    return terms


def _linear(pm: PlanModel, terms: list[tuple[np.ndarray, np.ndarray]]) -> LinearExpression:
    labels = np.concatenate([lab.ravel() for lab, _ in terms])
    coeffs = np.concatenate([np.broadcast_to(c, lab.shape).ravel() for lab, c in terms])
    ok = (labels >= 0) & (coeffs != 0)
    ds = xr.Dataset({"vars": (["_term"], labels[ok]), "coeffs": (["_term"], coeffs[ok])})
    return LinearExpression(ds, base_model(pm.model))


def cost_expression(pm: PlanModel) -> LinearExpression:
    """Contract payments (new and committed) plus capex, in thousand US$."""
    return _linear(pm, _cost_terms(pm))


STEADY = 1e-5  # programme units (thousand US$) per unit delivered: breaks ties in timing and buyer


def _tie_breaks(pm: PlanModel) -> list[tuple[np.ndarray, np.ndarray]]:
    """Tiny costs that pick, among plans of equal cost, one that is easy to sign.

    The least-cost programme is degenerate: a unit delivered in March or in
    May before a December target, or to any party of a joint target, costs
    the same, and a solver's vertex scatters deliveries over months and
    buyers. A cost of ``STEADY * cost * (1 + t / T)`` per unit delivered in
    month ``t`` (earlier is cheaper) fills lines at capacity from the first
    month on munition line ``l`` (times ``1 + l / M``: the first lines
    first), the same per unit of a commitment on its ``a``-th line
    assignment (``1 + a / A``), and ``STEADY * cost * (1 + c / N)`` per unit
    received by cell ``c`` (the first party of a target first) buy for as
    few parties, from as few lines, as stocks and capacity allow. ``STEADY``
    is a hundred-thousandth of a thousand US$ (US$0.01) per unit: at a
    millionth, a month's step on a 12-month horizon (``1e-6 / 12``) was
    under the solver's dual tolerance (1e-7) and a one-year plan could skip
    a month; at 1e-5 the default scenario's plan is 75 contracts (87 at
    1e-6), at the same cost.
    """
    m, d, w = pm.model, pm.data, pm.weights
    T, N = d.n_months, max(len(d.cells), 1)
    terms: list[tuple[np.ndarray, np.ndarray]] = []
    new = _labels(m, "Line-delivery")
    M = max(new.shape[0], 1)
    early = 1 + np.arange(T)[None, :] / T
    first_line = 1 + np.arange(new.shape[0])[:, None] / M
    terms.append((new, STEADY * w.cost * early * first_line))
    if "Backlog-delivery" in m.variables:
        y = _labels(m, "Backlog-delivery")
        by_line = 1 + np.arange(y.shape[0])[:, None] / max(y.shape[0], 1)
        terms.append((y, np.broadcast_to(STEADY * w.cost * by_line, y.shape)))
    if "Stock-receipts" in m.variables:
        rec = _receipts(pm)
        by_cell = STEADY * w.cost * (1 + np.arange(rec.shape[0]) / N)
        terms.append((rec, np.broadcast_to(by_cell[:, None], rec.shape)))
    return terms


def define_objective(pm: PlanModel) -> None:
    """The objective (see :class:`Weights`).

    ``cost``: ``min sum price * deliveries + sum capex * added + sum W * slack
    + penalties``; ``coverage``: ``min sum (COVERAGE / required) * slack +
    TIE * cost + penalties``; ``time``: as coverage, plus ``sum_t gap(t) *
    COVERAGE / (required * months)``. Penalties (shortfall, aid not given,
    backlog late) are what mirror the simulator's rules.
    """
    m, d, w = pm.model, pm.data, pm.weights
    inp, T = d.inp, d.n_months
    terms = _cost_terms(pm)
    terms += _tie_breaks(pm)
    if len(d.groups) and (d.group_inventory > 0).any():
        made = _labels(m, "Component-production")
        later = 1.0 + (T - np.arange(T)) / T  # use inventory first, as the simulator does
        delta = 1e-4 * w.cost * later[None, :] * (d.group_inventory > 0)[:, None]
        terms.append((made.ravel(), delta.ravel()))
    if len(d.targets):
        terms.append((_labels(m, "Target-slack"), w.slack))
        if pm.objective == "time":
            gap = _labels(m, "Target-gap")
            terms.append((gap.ravel(), np.repeat(w.gap, T)))
    if len(d.cells):
        product = np.array([k for _, k in d.cells], dtype=np.intp)
        u = _labels(m, "Stock-shortfall")
        terms.append((u.ravel(), w.use(product, T, 0).ravel()))
    if len(d.pledges):
        a = _labels(m, "Aid-delivery")
        product = inp.pledge_product[d.pledges]
        terms.append((a.ravel(), -w.use(product, T, 1).ravel()))
    if len(d.backlog_assign):
        y = _labels(m, "Backlog-delivery")
        product = inp.contract_product[d.backlog[d.backlog_assign]]
        reward = w.late[product][:, None] * (T - np.arange(T))[None, :]
        terms.append((y.ravel(), -reward.ravel()))
    if "Commitment-short" in m.variables:
        keep = w.keep[inp.contract_product[d.backlog]]
        terms.append((_labels(m, "Commitment-short"), np.where(np.isfinite(keep), keep, 0.0)))
    m.add_objective(_linear(pm, terms))


def build_model(
    d: PlanData,
    objective: Objective = "cost",
    commitment_penalty_usd: float | None = None,
    *,
    model: linopy.Model | None = None,
) -> PlanModel:
    """Build the planning programme for ``d``: every ``define_*`` builder in order.

    ``commitment_penalty_usd``: US$ per unit of a commitment not kept by its
    date (``None``: what a unit is worth to a target; ``inf``: hard).
    ``model``: what the builders add to (by default a new linopy model; the
    sample-average planner passes one stage of its shared programme).
    """
    pm = PlanModel(
        model=linopy.Model(force_dim_names=True) if model is None else model,
        data=d,
        objective=objective,
        weights=weights_for(d, objective, commitment_penalty_usd),
        integer=False,
    )
    for define in BUILDERS:
        define(pm)
    return pm


BUILDERS = (
    define_capacity_expansion,
    define_production,
    define_deliveries,
    define_commitments,
    define_aid,
    define_stocks,
    define_donor_floors,
    define_targets,
    define_budgets,
    define_objective,
)
"""The ``define_*`` builders in the order :func:`build_model` calls them."""
