"""The monthly stock-and-flow engine: a pure function from arrays to arrays.

All state carries a leading ``sample`` axis (length 1 for a deterministic
run), so the same code runs thousands of samples at once. The loop is over
months; inside a month everything is vectorised across lines, contracts,
parties and products. The month ``t`` proceeds in this order:

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
from dataclasses import dataclass

import numpy as np

from materiel.engine.inputs import Inputs, linear_schedule

__all__ = ["BINDING_CAPACITY", "BINDING_INPUT", "BINDING_ORDERS", "run_engine"]

BINDING_CAPACITY = 0
BINDING_ORDERS = 1
BINDING_INPUT = 2  # + product index of the binding input


class _Segments:
    """Sum a (S, N) array into (S, n) bins given by ``index`` (N,), via one bincount."""

    def __init__(self, index: np.ndarray, n: int, samples: int) -> None:
        self.n = n
        self.samples = samples
        self.index = index
        self.flat = (np.arange(samples)[:, None] * n + index[None, :]).ravel()

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self.samples == 1:  # the common deterministic case, without the reshapes
            return np.bincount(self.index, values[0], self.n)[None, :]
        out = np.bincount(self.flat, weights=values.ravel(), minlength=self.samples * self.n)
        return out.reshape(self.samples, self.n)


def _ratio(num: np.ndarray, den: np.ndarray, default: float | np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, else ``default``."""
    out = np.empty_like(num)  # callers pass ``num`` in the full shape
    out[...] = default
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class _Level:
    """Lines at one bill-of-materials depth, with their input structure precomputed."""

    lines: np.ndarray  # (n,) line indices
    cells: np.ndarray  # (n,) pool-product cell each line makes
    need_for: np.ndarray  # (n, QK) input units per unit of output
    input_cells: np.ndarray  # (n, K) pool-product cell of each possible input
    unused: np.ndarray  # (n, K) True where the line does not use that input
    has_inputs: bool
    into: _Segments  # sums this level's output into pool-product cells


class _Splitter:
    """Shares of a contract between the lines that may serve it.

    ``share_a = w_a / sum_{a' of the same contract} w_a'`` (equal shares when
    every weight is zero); assignments to a named line always get 1.
    """

    def __init__(self, contract: np.ndarray, any_line: np.ndarray, n: int, samples: int) -> None:
        self.active = bool(any_line.any())
        self.by = _Segments(contract, n, samples)
        self.contract = contract
        counts = np.bincount(contract, minlength=n).astype(float)
        self.equal = 1.0 / np.maximum(counts[contract], 1.0)

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        if not self.active:
            return np.ones_like(weights)
        return _ratio(weights, self.by(weights)[:, self.contract], self.equal)


def run_engine(
    inp: Inputs,
    samples: int = 1,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Step the scenario month by month; return arrays with a leading sample axis.

    Returned arrays are named by variable and shaped ``(sample, month, ...)``.
    ``progress`` is called with the month index after each month (for a
    progress bar at the edge); the engine itself never prints.
    """
    # A ratio of a normal number to a subnormal one overflows to inf, which the
    # engine then caps at 1: that is the intended answer, not an error.
    with np.errstate(over="ignore", under="ignore"):
        return _step_months(inp, samples, progress)


def _step_months(
    inp: Inputs, samples: int, progress: Callable[[int], None] | None
) -> dict[str, np.ndarray]:
    S, T = samples, inp.n_months
    L, C, P, K = len(inp.lines), len(inp.contracts), len(inp.parties), len(inp.products)
    Q, G = len(inp.pools), len(inp.pledges)
    QK, PK = Q * K, P * K
    a_c, a_l = inp.assign_contract, inp.assign_line

    # --- static structure ---
    bom_line = inp.bom[inp.line_product]  # (L, K) inputs per unit of each line's output
    line_group = inp.line_pool * K + inp.line_product  # (pool, product) cell of each line
    # need_for[l, g]: units of pool-product cell g one unit of line l's output uses
    need_for = np.zeros((L, QK))
    need_for.reshape(L, Q, K)[np.arange(L), inp.line_pool, :] = bom_line
    uses = bom_line > 0
    input_cells = inp.line_pool[:, None] * K + np.arange(K)[None, :]  # (L, K)
    levels = [
        _Level(lv, line_group[lv], need_for[lv], input_cells[lv], ~uses[lv],
               bool(uses[lv].any()), _Segments(line_group[lv], QK, S))
        for lv in inp.depth_levels
    ]  # fmt: skip
    makers = _Segments(line_group, QK, S)
    by_contract = _Segments(a_c, C, S)
    by_line = _Segments(a_l, L, S)
    to_receivers = _Segments(inp.receive_cell, PK, S)
    to_payers = _Segments(inp.pay_party, P, S)
    pledge_cell = inp.pledge_donor * K + inp.pledge_product
    pledge_to = inp.pledge_recipient * K + inp.pledge_product
    by_donor_cell = _Segments(pledge_cell, PK, S)
    by_recipient_cell = _Segments(pledge_to, PK, S)
    horizon = inp.horizon_months
    span = int(inp.lead_months.max(initial=0) + inp.ramp_months.max(initial=1))
    ramp_steps = np.arange(int(inp.ramp_months.max(initial=1)))
    ramp_valid = ramp_steps[None, :] < inp.ramp_months[:, None]  # (L, R)
    ramp_offset = inp.lead_months[:, None] + ramp_steps[None, :]  # (L, R)
    first_in_segment = inp.assign_segment_first
    split = _Splitter(a_c, inp.assign_any_line, C, S)
    months = np.arange(T)[:, None]
    due_by_month = inp.contract_quantity * linear_schedule(
        months, inp.contract_due_first, inp.contract_due_months
    )  # (T, C)
    owed_by_month = inp.pledge_quantity * linear_schedule(
        months, inp.pledge_first, inp.pledge_months
    )  # (T, G)
    receive_price = inp.contract_price_usd[inp.pay_contract] * inp.pay_share

    # --- state ---
    increment = np.zeros((S, L, T + span + 1))
    increment[:, :, :T] = inp.capacity_increment
    cap = np.broadcast_to(inp.capacity_start, (S, L)).copy()
    committed = np.broadcast_to(inp.committed_start, (S, L)).copy()
    delivered = np.broadcast_to(inp.contract_delivered_start, (S, C)).copy()
    stock = np.broadcast_to(inp.stock_start.ravel(), (S, PK)).copy()
    floor = inp.stock_floor.ravel()
    inventory = np.broadcast_to(inp.inventory_start.ravel(), (S, QK)).copy()
    given = np.broadcast_to(inp.pledge_given_start, (S, G)).copy()

    # --- records ---
    def rec(*shape: int) -> np.ndarray:
        return np.zeros((S, T, *shape))

    out = {
        "capacity": rec(L), "production": rec(L), "orders": rec(L), "order_book": rec(L),
        "line_deliveries": rec(L), "capacity_added": rec(L), "capex_usd": rec(L),
        "binding": np.zeros((S, T, L), dtype=np.int16),
        "contract_deliveries": rec(C), "payments_usd": rec(P),
        "receipts": rec(PK), "aid_sent": rec(PK), "aid_received": rec(PK),
        "consumed": rec(PK), "shortfall": rec(PK), "stock": rec(PK),
        "pledge_deliveries": rec(G), "inventory": rec(QK), "component_used": rec(QK),
    }  # fmt: skip
    s_idx = np.arange(S)[:, None, None]
    l_idx = np.arange(L)[None, :, None]

    for t in range(T):
        # 1. contracts
        open_c = np.maximum(due_by_month[t] - delivered, 0.0)
        live = (inp.contract_sign <= t) & inp.contract_firm
        book_c = np.where(live, inp.contract_quantity - delivered, 0.0)

        # 2. investment against the firm order book
        committed += inp.committed_increment[:, t]
        book = by_line(book_c[:, a_c] * split(committed[:, a_l]))
        book_share = _ratio(committed, makers(committed)[:, line_group], 0.0)
        for level in levels[1:]:
            need = book @ need_for  # (S, QK)
            book[:, level.lines] = need[:, level.cells] * book_share[:, level.lines]
        trigger = inp.invests & (book > committed * horizon)
        added = np.where(
            trigger, np.maximum(np.minimum(inp.capacity_max, book / horizon) - committed, 0.0), 0.0
        )
        if added.any():
            steps = np.where(ramp_valid, (added[:, :, None] / inp.ramp_months[None, :, None]), 0.0)
            increment[s_idx, l_idx, t + ramp_offset[None]] += steps
            committed += added
        out["capacity_added"][:, t] = added
        out["capex_usd"][:, t] = added * inp.capex_usd_per_unit + inp.capex_announced_usd[:, t]
        out["order_book"][:, t] = book

        # 3. capacity
        cap += increment[:, :, t]

        # 4. production: wants flow down the BOM, output flows up
        open_a = open_c[:, a_c] * split(cap[:, a_l])
        orders = by_line(open_a)
        cap_share = _ratio(cap, makers(cap)[:, line_group], 0.0)
        wanted = np.minimum(cap, orders)  # munition lines; component lines below
        for level in levels[1:]:
            ix = level.lines
            net = np.maximum(wanted @ need_for - inventory, 0.0)
            orders[:, ix] = net[:, level.cells] * cap_share[:, ix]
            wanted[:, ix] = np.minimum(cap[:, ix], orders[:, ix])
        production = np.zeros((S, L))
        binding = np.zeros((S, L), dtype=np.int16)
        for depth in range(len(levels) - 1, -1, -1):
            level = levels[depth]
            ix = level.lines
            cap_lv, orders_lv, wanted_lv = cap[:, ix], orders[:, ix], wanted[:, ix]
            if not level.has_inputs:
                made = wanted_lv
                binding[:, ix] = np.where(cap_lv <= orders_lv, BINDING_CAPACITY, BINDING_ORDERS)
            else:
                need = wanted_lv @ level.need_for
                fraction = np.ones_like(need)
                np.divide(inventory, need, out=fraction, where=need > 0)
                np.maximum(fraction, 0.0, out=fraction)  # inventory may be -1e-17
                f_inputs = fraction[:, level.input_cells]  # (S, n, K)
                f_inputs[:, level.unused] = np.inf
                f_min = np.minimum(f_inputs.min(axis=2), 1.0)
                made = wanted_lv * f_min
                # what binds: capacity, else an input (if short), else orders
                # (an input counts as short only beyond rounding: 1e-9 of the need)
                input_limit = np.where(f_min < 1.0 - 1e-9, made, np.inf)
                binding[:, ix] = np.where(
                    cap_lv <= np.minimum(input_limit, orders_lv), BINDING_CAPACITY,
                    np.where(input_limit <= orders_lv, BINDING_INPUT + f_inputs.argmin(axis=2),
                             BINDING_ORDERS),
                )  # fmt: skip
                used = made @ level.need_for
                inventory -= used
                out["component_used"][:, t] += used
            production[:, ix] = made
            if depth > 0:  # component lines feed their pool's inventory
                inventory += level.into(made)
        out["capacity"][:, t] = cap
        out["production"][:, t] = production
        out["binding"][:, t] = binding
        out["orders"][:, t] = orders
        out["inventory"][:, t] = inventory

        # 5. deliveries: fill open orders by priority, then age
        excl = np.cumsum(open_a, axis=1) - open_a  # open orders ahead, across all lines
        ahead = excl - excl[:, first_in_segment]  # ... ahead on the same line
        delivered_a = np.minimum(np.maximum(production[:, a_l] - ahead, 0.0), open_a)
        delivered_c = by_contract(delivered_a)
        out["line_deliveries"][:, t] = by_line(delivered_a)
        delivered += delivered_c
        receipts = to_receivers(delivered_c[:, inp.receive_contract] * inp.receive_share)
        stock += receipts
        out["contract_deliveries"][:, t] = delivered_c
        out["receipts"][:, t] = receipts
        out["payments_usd"][:, t] = to_payers(delivered_c[:, inp.pay_contract] * receive_price)

        # 6. aid from stock, above each donor's floor
        if G:
            owed = np.maximum(owed_by_month[t] - given, 0.0)
            asked = by_donor_cell(owed)
            share = np.minimum(_ratio(np.maximum(stock - floor, 0.0), asked, 0.0), 1.0)
            give = owed * share[:, pledge_cell]
            given += give
            sent, received = by_donor_cell(give), by_recipient_cell(give)
            stock += received - sent
            out["aid_sent"][:, t] = sent
            out["aid_received"][:, t] = received
            out["pledge_deliveries"][:, t] = give

        # 7. consumption
        demand = inp.consumption_per_month[t].ravel()
        consumed = np.minimum(demand, stock)
        stock -= consumed
        out["consumed"][:, t] = consumed
        out["shortfall"][:, t] = demand - consumed
        out["stock"][:, t] = stock
        if progress is not None:
            progress(t)

    for name in ("receipts", "aid_sent", "aid_received", "consumed", "shortfall", "stock"):
        out[name] = out[name].reshape(S, T, P, K)
    for name in ("inventory", "component_used"):
        out[name] = out[name].reshape(S, T, Q, K)
    return out
