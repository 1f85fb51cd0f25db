"""The monthly stock-and-flow engine: a pure function from arrays to arrays.

Results carry a leading ``sample`` axis (length 1 for a deterministic run);
all samples run in one call of the compiled kernel
(:mod:`materiel.engine.kernel`), which loops over samples, months and
entities in machine code. This module prepares its arrays and holds the
equations. The month ``t`` proceeds in this order:

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

from collections.abc import Callable

import numpy as np

from materiel.engine import kernel
from materiel.engine.inputs import Inputs, linear_schedule

__all__ = ["BINDING_CAPACITY", "BINDING_INPUT", "BINDING_ORDERS", "run_engine"]

BINDING_CAPACITY = kernel.BINDING_CAPACITY
BINDING_ORDERS = kernel.BINDING_ORDERS
BINDING_INPUT = kernel.BINDING_INPUT  # + product index of the binding input

_OUTPUTS = {
    "capacity": "L", "production": "L", "orders": "L", "order_book": "L",
    "line_deliveries": "L", "capacity_added": "L", "capex_usd": "L",
    "contract_deliveries": "C", "payments_usd": "P", "receipts": "PK", "aid_sent": "PK",
    "aid_received": "PK", "consumed": "PK", "shortfall": "PK", "stock": "PK",
    "pledge_deliveries": "G", "inventory": "QK", "component_used": "QK",
}  # fmt: skip


def _i(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def _f(a: np.ndarray | float) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def run_engine(
    inp: Inputs,
    samples: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Step the scenario month by month; return arrays with a leading sample axis.

    Returned arrays are named by variable and shaped ``(sample, month, ...)``.
    ``progress`` is called once with the last month index when the run is
    done (the compiled kernel runs without calling back into Python); the
    engine itself never prints.
    """
    S, T = samples, inp.n_months
    sizes = {"L": (len(inp.lines),), "C": (len(inp.contracts),), "P": (len(inp.parties),),
             "G": (len(inp.pledges),), "PK": (len(inp.parties), len(inp.products)),
             "QK": (len(inp.pools), len(inp.products))}  # fmt: skip
    out = {name: np.zeros((S, T, *sizes[dims])) for name, dims in _OUTPUTS.items()}
    out["binding"] = np.zeros((S, T, len(inp.lines)), dtype=np.int16)
    order = np.argsort(inp.line_depth, kind="stable")
    depth_count = np.bincount(inp.line_depth, minlength=1)
    months = np.arange(T)[:, None]
    receivers = inp.receive_cell
    K = len(inp.products)
    kernel.step(
        S,
        _i(inp.line_product), _i(inp.line_pool), _i(inp.line_depth), _i(order),
        _i(np.r_[0, np.cumsum(depth_count)]),
        _f(inp.capacity_start[None]), _f(inp.committed_start[None]), _f(inp.capacity_max[None]),
        _i(inp.lead_months[None]), _i(inp.ramp_months[None]), _f(inp.capex_usd_per_unit),
        _f(inp.horizon_months[None]), np.ascontiguousarray(inp.invests, dtype=np.bool_),
        _f(inp.capacity_increment), _f(inp.committed_increment), _f(inp.capex_announced_usd),
        _f(inp.bom),
        _f(inp.contract_quantity), _f(inp.contract_price_usd), _i(inp.contract_sign[None]),
        np.ascontiguousarray(inp.contract_firm, dtype=np.bool_), _f(inp.contract_delivered_start),
        _f((inp.contract_quantity * linear_schedule(
            months, inp.contract_due_first, inp.contract_due_months))[None]),
        _i(inp.assign_contract), _i(inp.assign_line),
        np.ascontiguousarray(inp.assign_any_line, dtype=np.bool_),
        _i(inp.receive_contract), _i(receivers // K), _i(receivers % K), _f(inp.receive_share),
        _i(inp.pay_contract), _i(inp.pay_party), _f(inp.pay_share),
        _f(inp.stock_start[None]), _f(inp.stock_floor), _f(inp.inventory_start),
        _f(inp.consumption_per_month[None]),
        _i(inp.pledge_donor), _i(inp.pledge_recipient), _i(inp.pledge_product),
        _f(inp.pledge_quantity * linear_schedule(months, inp.pledge_first, inp.pledge_months)),
        _f(inp.pledge_given_start),
        *(out[name] for name in (
            "capacity", "production", "orders", "order_book", "line_deliveries",
            "capacity_added", "capex_usd", "binding", "contract_deliveries", "payments_usd",
            "receipts", "aid_sent", "aid_received", "consumed", "shortfall", "stock",
            "pledge_deliveries", "inventory", "component_used",
        )),
    )  # fmt: skip
    if progress is not None:
        progress(T - 1)
    return out
