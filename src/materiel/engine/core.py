"""The monthly stock-and-flow engine: a pure function from arrays to arrays.

Results carry a leading ``sample`` axis (length 1 for a deterministic run);
all samples run in one call of the compiled kernel
(:mod:`materiel.engine.kernel`), which loops over samples, months and
entities in machine code. This module prepares its arrays and holds the
equations. The month ``t`` proceeds in this order:

0. **Procurement policies** (:mod:`materiel.engine.policy`; the
   stock-management rule of Sterman, *Business Dynamics*, ch. 17). At each
   review month ``t`` of policy ``v`` (every month, or once a year in its
   review month), on the stocks at the end of month ``t - 1``, the group
   decides ``q_v(t) = max(0, U*R + (D - S - SL) * min(1, R/A))``: ``U`` the
   group's expected use per month (mean over ``t .. t+R-1`` within the
   horizon of its consumption plus the aid from stock it owes outside the
   group), ``R`` the review period (1 or 12 months), ``D`` the desired stock
   (highest counted target not yet past its date, else the highest) plus the
   desired supply line ``U * L`` (Sterman's ``SL* = expected loss rate x
   acquisition lag``, with ``L = delay + m (12 F - 1)/2 + (1 - m) 11/2`` the
   months from decision to the mean delivery; without it the stock would
   settle ``U * L`` below its target), ``S`` the group's stock, ``SL`` its
   supply line ``sum_c share_c,group * (Q_c - delivered_c)`` over contracts
   decided by ``t`` (written or policy-made) received by the group, and ``A``
   the adjustment time. For a monthly review a gap ``G = D + U*L - S - SL``
   gives ``G/A + U``; with ``A <= R`` the gap is ordered at once and the next
   review orders only ``U*R``. The decision is
   signed at ``t + delay + extra delay``: ``m_v * q`` as a firm multi-year
   framework due over ``12 * framework_years`` months, ``(1 - m_v) * q`` as a
   non-firm annual order due over 12 months, each from its signature
   (``due_c`` below), bought by the buyers in their shares. With
   ``policy.budget = "defer"`` ``q`` is cut to what each buyer's munitions
   budget left (after written contracts and earlier decisions) pays in every
   year; the cut stays in the gap for the next review.
1. **Contracts.** Contract ``c`` is signed at ``sign_c`` and falls due along
   ``due_c(t) = Q_c * clip((t - first_c + 1) / n_c, 0, 1)``; open orders are
   ``open_c(t) = due_c(t) - delivered_c(t-1)``; the firm order book is
   ``book_c(t) = firm_c * [t >= sign_c] * (Q_c - delivered_c(t-1))``. A
   contract open to any eligible line is split between those lines in
   proportion to their capacity (orders) or committed capacity (book).
2. **Investment.** A component line's order book is what its users' books
   need through the bill of materials, shared by committed capacity within its
   pool. Line ``l`` expands when ``book_l > committed_l * H_l``:
   ``dC_l = clip(min(Cmax_l, book_l / H_l) - committed_l, 0, inf)``, arriving
   from ``t + lead_l`` in ``ramp_l`` equal monthly steps; capex
   ``dC_l * capex_l`` is spent in month ``t``.
3. **Capacity.** ``cap_l(t) = cap_l(t-1) + increment_l(t)``.
4. **Production.** Munition lines want ``min(cap_l, open_l)``; that need flows
   down the bill of materials level by level, each component line wanting
   ``min(cap_l, share_l * max(0, need_g - inventory_g))``. Then, deepest level
   first, each line's inputs are shared pro rata when short:
   ``f_g = min(1, inventory_g / need_g)`` and
   ``output_l = min(cap_l, orders_l) * min_{j in BOM} f_{pool_l, j}``. The
   smallest of capacity, inputs and orders is recorded as what binds.
5. **Deliveries.** Each line's output fills its open orders by priority, then
   age: with ``before_a`` the open orders ahead of assignment ``a`` on its
   line, ``delivered_a = clip(output_l - before_a, 0, open_a)``. Deliveries go
   to buyers by share (or to the contract's recipient); buyers pay
   ``delivered * unit price`` by share.
6. **Aid from stock.** Pledge ``g`` owes ``due_g(t) - given_g(t-1)``; a donor
   gives at most ``max(0, stock - floor)``, shared pro rata between pledges.
7. **Consumption.** ``consumed = min(demand, stock)``; ``shortfall = demand -
   consumed``.

Balances: ``stock(t) = stock(t-1) + receipts + aid_in - aid_out - consumed``
and ``inventory(t) = inventory(t-1) + produced - used``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from materiel.engine import kernel, policy
from materiel.engine.inputs import Inputs, linear_schedule
from materiel.months import parse_month

__all__ = ["BINDING_CAPACITY", "BINDING_INPUT", "BINDING_ORDERS", "run_engine"]

BINDING_CAPACITY = kernel.BINDING_CAPACITY
BINDING_ORDERS = kernel.BINDING_ORDERS
BINDING_INPUT = kernel.BINDING_INPUT  # + product index of the binding input

_OUTPUTS = {
    "capacity": "L", "production": "L", "orders": "L", "order_book": "L",
    "line_deliveries": "L", "capacity_added": "L", "capex_usd": "L",
    "contract_deliveries": "C", "payments_usd": "P", "receipts": "M", "aid_sent": "M",
    "aid_received": "M", "consumed": "M", "shortfall": "M", "stock": "M",
    "pledge_deliveries": "G", "inventory": "QK", "component_used": "QK",
}  # fmt: skip
_CONTRACT_OUTPUTS = ("contract_quantity", "contract_decided", "contract_signed")
_AID = {"aid_sent", "aid_received", "pledge_deliveries"}
_ALWAYS = {"capacity", "production", "capex_usd", "payments_usd", "stock", "shortfall"}
_CELL_OUTPUTS = ("receipts", "aid_sent", "aid_received", "consumed", "shortfall", "stock")


def _i(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _f(a: np.ndarray | float) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _b(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.bool_)


def due_schedule(quantity: np.ndarray, first: np.ndarray, months: np.ndarray, T: int) -> np.ndarray:
    """Cumulative quantity due by each month: ``(..., T, C)`` from ``(..., C)`` inputs."""
    t = np.arange(T)[:, None]
    due: np.ndarray = quantity[..., None, :] * linear_schedule(
        t, first[..., None, :], months[..., None, :]
    )
    return due


def kernel_args(inp: Inputs) -> dict[str, np.ndarray]:
    """The kernel's inputs for one scenario; per-sample ones have a sample axis of length 1.

    Monte Carlo replaces per-sample entries with arrays of one row per sample.
    """
    K = len(inp.products)
    order = np.argsort(inp.line_depth, kind="stable")
    depth_count = np.bincount(inp.line_depth, minlength=1)
    T = inp.n_months
    months = np.arange(T)[:, None]
    return {
        "line_product": _i(inp.line_product), "line_pool": _i(inp.line_pool),
        "line_depth": _i(inp.line_depth), "lines_by_depth": _i(order),
        "depth_start": _i(np.r_[0, np.cumsum(depth_count)]),
        "capacity_start": _f(inp.capacity_start[None]),
        "committed_start": _f(inp.committed_start[None]),
        "capacity_max": _f(inp.capacity_max[None]), "lead_months": _i(inp.lead_months[None]),
        "ramp_months": _i(inp.ramp_months[None]), "capex_usd_per_unit": _f(inp.capex_usd_per_unit),
        "horizon_months": _f(inp.horizon_months[None]), "invests": _b(inp.invests),
        "capacity_increment": _f(inp.capacity_increment[None]),
        "committed_increment": _f(inp.committed_increment[None]),
        "capex_announced_usd": _f(inp.capex_announced_usd[None]), "bom": _f(inp.bom),
        "contract_quantity": _f(inp.contract_quantity[None]),
        "contract_price_usd": _f(inp.contract_price_usd),
        "contract_sign": _i(inp.contract_sign[None]), "contract_firm": _b(inp.contract_firm),
        "contract_delivered_start": _f(inp.contract_delivered_start[None]),
        "due_by_month": _f(due_schedule(inp.contract_quantity, inp.contract_due_first,
                                        inp.contract_due_months, T)[None]),
        "assign_contract": _i(inp.assign_contract), "assign_line": _i(inp.assign_line),
        "assign_any_line": _b(inp.assign_any_line),
        "receive_contract": _i(inp.receive_contract), "receive_party": _i(inp.receive_cell // K),
        "receive_product": _i(inp.receive_cell % K), "receive_share": _f(inp.receive_share),
        "pay_contract": _i(inp.pay_contract), "pay_party": _i(inp.pay_party),
        "pay_share": _f(inp.pay_share),
        "stock_start": _f(inp.stock_start[None]), "stock_floor": _f(inp.stock_floor),
        "inventory_start": _f(inp.inventory_start),
        "use_party": _i(inp.use_party), "use_product": _i(inp.use_product),
        "use_first": _i(inp.use_first), "use_last": _i(inp.use_last),
        "use_rate": _f(inp.use_rate[None]),
        "pledge_donor": _i(inp.pledge_donor), "pledge_recipient": _i(inp.pledge_recipient),
        "pledge_product": _i(inp.pledge_product),
        "owed_by_month": _f(inp.pledge_quantity * linear_schedule(
            months, inp.pledge_first, inp.pledge_months)),
        "pledge_given_start": _f(inp.pledge_given_start),
        **policy_args(inp),
    }  # fmt: skip


def policy_args(inp: Inputs) -> dict[str, np.ndarray]:
    """The kernel's procurement-policy inputs (:mod:`materiel.engine.policy`)."""
    P = len(inp.parties)
    mode, offset, left = policy.BUDGET_NONE, 0, np.zeros((P, 0))
    if inp.budget is not None and inp.policies and inp.budget_mode == "defer":
        plan = inp.budget
        mode = policy.BUDGET_CAP
        offset = parse_month(inp.start) - int(plan.years[0]) * 12
        left = np.full((P, len(plan.years)), np.inf)
        rows = [inp.parties.index(p) for p in plan.parties]
        left[rows] = plan.budget_usd - plan.committed_usd
    return {
        "contract_decided": _i(inp.contract_decided),
        "contract_due_months": _i(inp.contract_due_months),
        "pol_product": _i(inp.pol_product), "pol_review_months": _i(inp.pol_review_months),
        "pol_adjust_months": _f(inp.pol_adjust_months), "pol_delay": _i(inp.pol_delay[None]),
        "pol_multi_share": _f(inp.pol_multi_share),
        "pol_delivery_lag": _f(inp.pol_delivery_lag), "pol_member": _b(inp.pol_member),
        "pol_desired": _f(inp.pol_desired), "rev_policy": _i(inp.rev_policy),
        "rev_month": _i(inp.rev_month), "rev_slot": _i(inp.rev_slot.reshape(-1, 2)),
        "budget_mode": _i(np.array([mode])), "budget_offset": _i(np.array([offset])),
        "budget_left_usd": _f(left),
    }  # fmt: skip


_ARG_ORDER = (
    "line_product", "line_pool", "line_depth", "lines_by_depth", "depth_start",
    "capacity_start", "committed_start", "capacity_max", "lead_months", "ramp_months",
    "capex_usd_per_unit", "horizon_months", "invests", "capacity_increment",
    "committed_increment", "capex_announced_usd", "bom", "contract_quantity",
    "contract_price_usd", "contract_sign", "contract_firm", "contract_delivered_start",
    "due_by_month", "assign_contract", "assign_line", "assign_any_line", "receive_contract",
    "receive_party", "receive_product", "receive_share", "pay_contract", "pay_party",
    "pay_share", "stock_start", "stock_floor", "inventory_start", "use_party", "use_product",
    "use_first", "use_last", "use_rate", "pledge_donor", "pledge_recipient", "pledge_product",
    "owed_by_month", "pledge_given_start",
    # procurement policies
    "contract_decided", "contract_due_months", "pol_product", "pol_review_months",
    "pol_adjust_months", "pol_delay", "pol_multi_share", "pol_delivery_lag", "pol_member",
    "pol_desired",
    "rev_policy", "rev_month", "rev_slot", "budget_mode", "budget_offset", "budget_left_usd",
)  # fmt: skip
_OUT_ORDER = (
    "capacity", "production", "orders", "order_book", "line_deliveries", "capacity_added",
    "capex_usd", "binding", "contract_deliveries", "payments_usd", "receipts", "aid_sent",
    "aid_received", "consumed", "shortfall", "stock", "pledge_deliveries", "inventory",
    "component_used",
    # per contract (S, C)
    "contract_quantity", "contract_decided", "contract_signed",
)  # fmt: skip


def run_engine(
    inp: Inputs,
    samples: int = 1,
    progress: Callable[[int], None] | None = None,
    *,
    overrides: dict[str, np.ndarray] | None = None,
    cells: np.ndarray | None = None,
    record: tuple[str, ...] | None = None,
) -> dict[str, np.ndarray]:
    """Step the scenario month by month; return arrays with a leading sample axis.

    Returned arrays are named by variable and shaped ``(sample, month, ...)``.
    ``overrides`` replaces kernel inputs (:func:`kernel_args`) with per-sample
    arrays (one row per sample). ``cells`` is a (party, product) boolean mask
    of the stock cells to record (all by default, shaped ``(..., party,
    product)``); with a mask, cell outputs are ``(sample, month, cell)`` in
    row-major order of the mask. ``record`` names the outputs to keep (all by
    default; ``capacity``, ``production``, ``capex_usd``, ``payments_usd``,
    ``stock`` and ``shortfall`` always); the others come back with an empty
    sample axis. ``progress`` is called once with the last
    month index when the run is done; the engine itself never prints.
    """
    S, T = samples, inp.n_months
    P, K = len(inp.parties), len(inp.products)
    mask = np.ones((P, K), dtype=bool) if cells is None else cells
    slot = np.full((P, K), -1, dtype=np.int64)
    slot[mask] = np.arange(int(mask.sum()))
    sizes = {"L": (len(inp.lines),), "C": (len(inp.contracts),), "P": (P,),
             "G": (len(inp.pledges),), "M": (int(mask.sum()),),
             "QK": (len(inp.pools), K)}  # fmt: skip
    kept = set(_OUTPUTS) | {"binding"} if record is None else set(record) | _ALWAYS
    if kept & _AID:  # the kernel records these three together
        kept |= _AID

    def rows(name: str) -> int:
        return S if name in kept else 0

    out = {name: np.zeros((rows(name), T, *sizes[dims])) for name, dims in _OUTPUTS.items()}
    out["binding"] = np.zeros((rows("binding"), T, len(inp.lines)), dtype=np.int16)
    for name in _CONTRACT_OUTPUTS:  # what each contract slot became (policy-made ones decided)
        out[name] = np.zeros((S, len(inp.contracts)))
    args = kernel_args(inp)
    for name, value in (overrides or {}).items():
        args[name] = np.ascontiguousarray(value, dtype=args[name].dtype)
    arrays = (*(args[name] for name in _ARG_ORDER), slot, *(out[n] for n in _OUT_ORDER))
    threads = max(1, min(S, os.cpu_count() or 1))
    bounds = [S * i // threads for i in range(threads + 1)]
    if threads == 1:
        kernel.step(0, S, *arrays)
    else:  # the kernel releases the GIL: each thread steps its own samples
        with ThreadPoolExecutor(threads) as pool:
            done = [pool.submit(kernel.step, bounds[i], bounds[i + 1], *arrays)
                    for i in range(threads)]  # fmt: skip
            for job in done:
                job.result()
    if cells is None:
        for name in _CELL_OUTPUTS:
            out[name] = out[name].reshape(rows(name), T, P, K)
    if progress is not None:
        progress(T - 1)
    return out
