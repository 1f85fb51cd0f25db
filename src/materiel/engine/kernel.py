"""The compiled month-stepping kernel (numba), one pass over all samples.

:func:`step` implements the equations in :mod:`materiel.engine.core` with
explicit loops, compiled by numba: a deterministic run is overhead-free and
thousands of samples run in one call. It takes only arrays and writes its
results into the output arrays it is given; it reads no files and keeps no
state between calls.

Per-sample parameters: arrays whose first axis is ``sample`` may have length
1 (shared by every sample) or the number of samples; ``_row(a, s)`` picks the
right row.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from materiel.engine import policy

__all__ = ["BINDING_CAPACITY", "BINDING_INPUT", "BINDING_ORDERS", "step"]

BINDING_CAPACITY = 0
BINDING_ORDERS = 1
BINDING_INPUT = 2  # + product index of the binding input
_SHORT = 1.0 - 1e-9  # an input counts as short only beyond rounding


@njit(cache=True)
def _row(a: np.ndarray, s: int) -> np.ndarray:
    row: np.ndarray = a[0] if a.shape[0] == 1 else a[s]
    return row


@njit(cache=True, nogil=True)
def step(  # one flat signature of arrays keeps the kernel compilable
    first: int,
    last: int,
    # lines (L,) and per-sample line parameters (S or 1, L)
    line_product: np.ndarray,
    line_pool: np.ndarray,
    line_depth: np.ndarray,
    lines_by_depth: np.ndarray,
    depth_start: np.ndarray,
    capacity_start: np.ndarray,
    committed_start: np.ndarray,
    capacity_max: np.ndarray,
    lead_months: np.ndarray,
    ramp_months: np.ndarray,
    capex_usd_per_unit: np.ndarray,
    horizon_months: np.ndarray,
    invests: np.ndarray,
    capacity_increment: np.ndarray,  # (S or 1, L, T)
    committed_increment: np.ndarray,  # (S or 1, L, T)
    capex_announced_usd: np.ndarray,  # (S or 1, L, T)
    bom: np.ndarray,  # (K, K)
    # contracts (C,), (T, C); assignments (A,) sorted by line then priority then age
    contract_quantity: np.ndarray,  # (S or 1, C)
    contract_price_usd: np.ndarray,
    contract_sign: np.ndarray,  # (S or 1, C)
    contract_firm: np.ndarray,
    contract_delivered_start: np.ndarray,  # (S or 1, C)
    due_by_month: np.ndarray,  # (S or 1, T, C)
    assign_contract: np.ndarray,
    assign_line: np.ndarray,
    assign_any_line: np.ndarray,
    receive_contract: np.ndarray,
    receive_party: np.ndarray,
    receive_product: np.ndarray,
    receive_share: np.ndarray,
    pay_contract: np.ndarray,
    pay_party: np.ndarray,
    pay_share: np.ndarray,
    # stocks and flows
    stock_start: np.ndarray,  # (S or 1, P, K)
    stock_floor: np.ndarray,  # (P, K)
    inventory_start: np.ndarray,  # (Q, K)
    use_party: np.ndarray,  # (E,) consumption entries
    use_product: np.ndarray,
    use_first: np.ndarray,
    use_last: np.ndarray,
    use_rate: np.ndarray,  # (S or 1, E) units a month
    pledge_donor: np.ndarray,
    pledge_recipient: np.ndarray,
    pledge_product: np.ndarray,
    owed_by_month: np.ndarray,  # (T, G)
    pledge_given_start: np.ndarray,
    # procurement policies (V,), reviews (W,) and their contract slots: engine/policy.py
    contract_decided: np.ndarray,  # (C,)
    contract_due_months: np.ndarray,  # (C,)
    pol_product: np.ndarray,
    pol_review_months: np.ndarray,
    pol_adjust_months: np.ndarray,
    pol_delay: np.ndarray,  # (S or 1, V)
    pol_multi_share: np.ndarray,
    pol_delivery_lag: np.ndarray,
    pol_member: np.ndarray,  # (V, P)
    pol_desired: np.ndarray,  # (V, T)
    rev_policy: np.ndarray,
    rev_month: np.ndarray,
    rev_slot: np.ndarray,  # (W, 2)
    budget_mode: np.ndarray,  # (1,)
    budget_offset: np.ndarray,  # (1,)
    budget_left_usd: np.ndarray,  # (P, Y)
    cell_slot: np.ndarray,  # (P, K): column of each party-product cell in the outputs, -1 = none
    # outputs (S, T, ...); party-product outputs are (S, T, recorded cells)
    out_capacity: np.ndarray,
    out_production: np.ndarray,
    out_orders: np.ndarray,
    out_order_book: np.ndarray,
    out_line_deliveries: np.ndarray,
    out_capacity_added: np.ndarray,
    out_capex_usd: np.ndarray,
    out_binding: np.ndarray,
    out_contract_deliveries: np.ndarray,
    out_payments_usd: np.ndarray,
    out_receipts: np.ndarray,
    out_aid_sent: np.ndarray,
    out_aid_received: np.ndarray,
    out_consumed: np.ndarray,
    out_shortfall: np.ndarray,
    out_stock: np.ndarray,
    out_pledge_deliveries: np.ndarray,
    out_inventory: np.ndarray,
    out_component_used: np.ndarray,
    out_contract_quantity: np.ndarray,  # (S, C)
    out_contract_decided: np.ndarray,  # (S, C)
    out_contract_signed: np.ndarray,  # (S, C)
) -> None:
    """Step samples ``first..last-1`` through every month (equations: :mod:`materiel.engine.core`).

    Releases the GIL, so disjoint sample ranges can run on several threads.
    """
    L = line_product.shape[0]
    T = capacity_increment.shape[2]
    C = contract_quantity.shape[1]
    E = use_party.shape[0]
    A = assign_contract.shape[0]
    K = bom.shape[0]
    Q = inventory_start.shape[0]
    P = stock_floor.shape[0]
    G = pledge_donor.shape[0]
    D = depth_start.shape[0] - 2  # deepest bill-of-materials level
    span = T + 1
    for ln in range(L):
        span = max(span, T + int(np.max(lead_months[:, ln])) + int(np.max(ramp_months[:, ln])) + 1)

    # bills of materials as short lists: inputs[p, j] (-1 ends the list), per_unit[p, j]
    J = 1
    for p in range(K):
        J = max(J, int(np.sum(bom[p] > 0.0)))
    inputs = np.full((K, J), -1, dtype=np.int64)
    per_unit = np.zeros((K, J))
    for p in range(K):
        j = 0
        for k in range(K):
            if bom[p, k] > 0.0:
                inputs[p, j] = k
                per_unit[p, j] = bom[p, k]
                j += 1

    # the recorded party-product cells, in output order
    M = out_stock.shape[2]
    # outputs given with an empty sample axis are not recorded (lean Monte Carlo runs)
    keep_book = out_order_book.shape[0] > 0
    keep_added = out_capacity_added.shape[0] > 0
    keep_binding = out_binding.shape[0] > 0
    keep_used = out_component_used.shape[0] > 0
    keep_orders = out_orders.shape[0] > 0
    keep_inventory = out_inventory.shape[0] > 0
    keep_line_deliveries = out_line_deliveries.shape[0] > 0
    keep_deliveries = out_contract_deliveries.shape[0] > 0
    keep_receipts = out_receipts.shape[0] > 0
    keep_aid = out_aid_sent.shape[0] > 0
    keep_consumed = out_consumed.shape[0] > 0
    rec_party = np.zeros(M, dtype=np.int64)
    rec_product = np.zeros(M, dtype=np.int64)
    for p in range(P):
        for k in range(K):
            if cell_slot[p, k] >= 0:
                rec_party[cell_slot[p, k]] = p
                rec_product[cell_slot[p, k]] = k

    # contracts' assignment counts, for equal shares when no eligible line has capacity
    n_assign = np.zeros(C)
    for a in range(A):
        n_assign[assign_contract[a]] += 1.0

    for s in range(first, last):  # samples are independent (threads take disjoint ranges)
        cap_max = _row(capacity_max, s)
        lead = _row(lead_months, s)
        ramp = _row(ramp_months, s)
        horizon = _row(horizon_months, s)
        sign = _row(contract_sign, s)
        due = _row(due_by_month, s)
        quantity = _row(contract_quantity, s)
        W = rev_policy.shape[0]
        w_next = 0
        budget_left = budget_left_usd.copy()
        if W > 0:  # policies fill in their contract slots: this sample's own copies
            sign = sign.copy()
            due = due.copy()
            quantity = quantity.copy()
        rate = _row(use_rate, s)
        commit_more = _row(committed_increment, s)
        capex_more = _row(capex_announced_usd, s)
        increment = np.zeros((L, span))
        increment[:, :T] = _row(capacity_increment, s)
        cap = _row(capacity_start, s).copy()
        committed = _row(committed_start, s).copy()
        delivered = _row(contract_delivered_start, s).copy()
        demand = np.zeros((P, K))
        stock = _row(stock_start, s).copy()
        inventory = inventory_start.copy()
        given = pledge_given_start.copy()
        book = np.zeros(L)
        orders = np.zeros(L)
        wanted = np.zeros(L)
        made = np.zeros(L)
        open_c = np.zeros(C)
        book_c = np.zeros(C)
        weight_sum = np.zeros(C)
        open_a = np.zeros(A)
        need = np.zeros((Q, K))
        group = np.zeros((Q, K))
        fraction = np.ones((Q, K))
        delivered_c = np.zeros(C)

        for t in range(T):
            # 0. procurement policies review, on the stocks at the end of month t - 1
            if W > 0:
                w_next = policy.review(
                    t, w_next, s, stock, delivered, quantity, sign, due, contract_decided,
                    contract_due_months, contract_price_usd, receive_contract, receive_party,
                    receive_product, receive_share, pay_contract, pay_party, pay_share,
                    use_party, use_product, use_first, use_last, rate, pledge_donor,
                    pledge_recipient, pledge_product, owed_by_month, pol_product,
                    pol_review_months, pol_adjust_months, _row(pol_delay, s), pol_multi_share,
                    pol_delivery_lag, pol_member, pol_desired, rev_policy, rev_month, rev_slot,
                    budget_mode[0], budget_offset[0], budget_left,
                )  # fmt: skip

            # 1. contracts: open orders and the firm order book
            for c in range(C):
                open_c[c] = max(due[t, c] - delivered[c], 0.0)
                live = sign[c] <= t and contract_firm[c]
                book_c[c] = quantity[c] - delivered[c] if live else 0.0

            # 2. investment against the firm order book
            for ln in range(L):
                committed[ln] += commit_more[ln, t]
                book[ln] = 0.0
            _split(assign_contract, assign_line, assign_any_line, committed, n_assign,
                   weight_sum, book_c, book, open_a, False)  # fmt: skip
            _down_the_bom(book, committed, line_product, line_pool, lines_by_depth, depth_start,
                          inputs, per_unit, need, group, D, False, orders, inventory)  # fmt: skip
            for ln in range(L):
                added = 0.0
                if invests[ln] and book[ln] > committed[ln] * horizon[ln]:
                    added = max(min(cap_max[ln], book[ln] / horizon[ln]) - committed[ln], 0.0)
                if added > 0.0:
                    for r in range(ramp[ln]):
                        increment[ln, t + lead[ln] + r] += added / ramp[ln]
                    committed[ln] += added
                out_capex_usd[s, t, ln] = added * capex_usd_per_unit[ln] + capex_more[ln, t]
                if keep_added:
                    out_capacity_added[s, t, ln] = added
                if keep_book:
                    out_order_book[s, t, ln] = book[ln]

            # 3. capacity
            for ln in range(L):
                cap[ln] += increment[ln, t]

            # 4. production: wants flow down the bill of materials, output flows up
            for ln in range(L):
                orders[ln] = 0.0
            _split(assign_contract, assign_line, assign_any_line, cap, n_assign,
                   weight_sum, open_c, orders, open_a, True)  # fmt: skip
            for ln in range(L):
                wanted[ln] = min(cap[ln], orders[ln])
            _down_the_bom(wanted, cap, line_product, line_pool, lines_by_depth, depth_start,
                          inputs, per_unit, need, group, D, True, orders, inventory)  # fmt: skip
            for d in range(D, -1, -1):
                need[:, :] = 0.0
                for i in range(depth_start[d], depth_start[d + 1]):
                    ln = lines_by_depth[i]
                    p = line_product[ln]
                    for j in range(J):
                        if inputs[p, j] < 0:
                            break
                        need[line_pool[ln], inputs[p, j]] += wanted[ln] * per_unit[p, j]
                for q in range(Q):
                    for k in range(K):
                        f = 1.0
                        if need[q, k] > 0.0:
                            f = min(max(inventory[q, k] / need[q, k], 0.0), 1.0)
                        fraction[q, k] = f
                for i in range(depth_start[d], depth_start[d + 1]):
                    ln = lines_by_depth[i]
                    p, q = line_product[ln], line_pool[ln]
                    f_min, worst = 1.0, -1
                    for j in range(J):
                        k = inputs[p, j]
                        if k < 0:
                            break
                        if fraction[q, k] < f_min:
                            f_min, worst = fraction[q, k], k
                    made[ln] = wanted[ln] * f_min
                    input_limit = made[ln] if f_min < _SHORT else np.inf
                    if keep_binding:
                        if cap[ln] <= min(input_limit, orders[ln]):
                            out_binding[s, t, ln] = BINDING_CAPACITY
                        elif input_limit <= orders[ln]:
                            out_binding[s, t, ln] = BINDING_INPUT + worst
                        else:
                            out_binding[s, t, ln] = BINDING_ORDERS
                    for j in range(J):
                        k = inputs[p, j]
                        if k < 0:
                            break
                        used = made[ln] * per_unit[p, j]
                        inventory[q, k] -= used
                        if keep_used:
                            out_component_used[s, t, q, k] += used
                if d > 0:  # component lines feed their pool's inventory
                    for i in range(depth_start[d], depth_start[d + 1]):
                        ln = lines_by_depth[i]
                        inventory[line_pool[ln], line_product[ln]] += made[ln]
            for ln in range(L):
                out_capacity[s, t, ln] = cap[ln]
                out_production[s, t, ln] = made[ln]
                if keep_orders:
                    out_orders[s, t, ln] = orders[ln]
            if keep_inventory:
                out_inventory[s, t] = inventory

            # 5. deliveries: each line's output fills its open orders by priority, then age
            delivered_c[:] = 0.0
            a = 0
            while a < A:
                ln = assign_line[a]
                left = made[ln] if line_depth[ln] == 0 else 0.0
                while a < A and assign_line[a] == ln:
                    take = min(open_a[a], max(left, 0.0))
                    left -= take
                    delivered_c[assign_contract[a]] += take
                    if keep_line_deliveries:
                        out_line_deliveries[s, t, ln] += take
                    a += 1
            for c in range(C):
                delivered[c] += delivered_c[c]
                if keep_deliveries:
                    out_contract_deliveries[s, t, c] = delivered_c[c]
            for r in range(receive_contract.shape[0]):
                x = delivered_c[receive_contract[r]] * receive_share[r]
                stock[receive_party[r], receive_product[r]] += x
                m = cell_slot[receive_party[r], receive_product[r]]
                if m >= 0 and keep_receipts:
                    out_receipts[s, t, m] += x
            for b in range(pay_contract.shape[0]):
                c = pay_contract[b]
                out_payments_usd[s, t, pay_party[b]] += (
                    delivered_c[c] * contract_price_usd[c] * pay_share[b]
                )

            # 6. aid from stock, above each donor's floor, pro rata between pledges
            if G > 0:
                asked = np.zeros((P, K))
                owed = np.zeros(G)
                for g in range(G):
                    owed[g] = max(owed_by_month[t, g] - given[g], 0.0)
                    asked[pledge_donor[g], pledge_product[g]] += owed[g]
                share = np.zeros((P, K))
                for p in range(P):
                    for k in range(K):
                        if asked[p, k] > 0.0:
                            share[p, k] = min(max(stock[p, k] - stock_floor[p, k], 0.0)
                                              / asked[p, k], 1.0)  # fmt: skip
                for g in range(G):
                    give = owed[g] * share[pledge_donor[g], pledge_product[g]]
                    given[g] += give
                    stock[pledge_donor[g], pledge_product[g]] -= give
                    stock[pledge_recipient[g], pledge_product[g]] += give
                    if keep_aid:
                        m = cell_slot[pledge_donor[g], pledge_product[g]]
                        if m >= 0:
                            out_aid_sent[s, t, m] += give
                        m = cell_slot[pledge_recipient[g], pledge_product[g]]
                        if m >= 0:
                            out_aid_received[s, t, m] += give
                        out_pledge_deliveries[s, t, g] = give

            # 7. consumption: never below zero; the rest is shortfall
            for e in range(E):
                demand[use_party[e], use_product[e]] = 0.0
            for e in range(E):
                if use_first[e] <= t <= use_last[e]:
                    demand[use_party[e], use_product[e]] += rate[e]
            for e in range(E):
                p, k = use_party[e], use_product[e]
                want = demand[p, k]
                if want > 0.0:  # each cell once, whichever of its entries comes first
                    demand[p, k] = 0.0
                    used = min(want, stock[p, k])
                    stock[p, k] -= used
                    m = cell_slot[p, k]
                    if m >= 0:
                        out_shortfall[s, t, m] = want - used
                        if keep_consumed:
                            out_consumed[s, t, m] = used
            for m in range(M):
                out_stock[s, t, m] = stock[rec_party[m], rec_product[m]]
        policy.record(s, quantity, sign, contract_decided, out_contract_quantity,
                      out_contract_decided, out_contract_signed)  # fmt: skip


@njit(cache=True)
def _split(
    assign_contract: np.ndarray,
    assign_line: np.ndarray,
    assign_any_line: np.ndarray,
    weight: np.ndarray,
    n_assign: np.ndarray,
    weight_sum: np.ndarray,
    per_contract: np.ndarray,
    per_line: np.ndarray,
    per_assignment: np.ndarray,
    keep: bool,
) -> None:
    """Share each contract's amount between its lines in proportion to ``weight``.

    ``share_a = w_a / sum(w)`` over the contract's assignments (equal shares
    if all are zero; 1 for a contract naming its line). Adds the shares into
    ``per_line``; with ``keep`` also stores them in ``per_assignment``.
    """
    weight_sum[:] = 0.0
    for a in range(assign_contract.shape[0]):
        weight_sum[assign_contract[a]] += weight[assign_line[a]]
    for a in range(assign_contract.shape[0]):
        c = assign_contract[a]
        if not assign_any_line[a]:
            share = 1.0
        elif weight_sum[c] > 0.0:
            share = weight[assign_line[a]] / weight_sum[c]
        else:
            share = 1.0 / n_assign[c]
        amount = per_contract[c] * share
        per_line[assign_line[a]] += amount
        if keep:
            per_assignment[a] = amount


@njit(cache=True)
def _down_the_bom(
    per_line: np.ndarray,
    weight: np.ndarray,
    line_product: np.ndarray,
    line_pool: np.ndarray,
    lines_by_depth: np.ndarray,
    depth_start: np.ndarray,
    inputs: np.ndarray,
    per_unit: np.ndarray,
    need: np.ndarray,
    group: np.ndarray,
    D: int,
    net: bool,
    orders: np.ndarray,
    inventory: np.ndarray,
) -> None:
    """Pass a per-line quantity down the bill of materials, level by level.

    A component line at depth d gets ``need_g * weight_l / sum(weight in g)``
    of what the lines above need from its pool-product cell g. With ``net``
    the need is net of the ``inventory`` on hand, stored in ``orders``, and
    the quantity passed on is ``min(weight, orders)`` (capacity-limited
    wants); otherwise (the order book) the gross need is passed on.
    """
    need[:, :] = 0.0
    group[:, :] = 0.0
    for i in range(lines_by_depth.shape[0]):
        ln = lines_by_depth[i]
        group[line_pool[ln], line_product[ln]] += weight[ln]
    for i in range(depth_start[0], depth_start[1]):
        ln = lines_by_depth[i]
        _add_needs(need, per_line[ln], line_pool[ln], line_product[ln], inputs, per_unit)
    for d in range(1, D + 1):
        for i in range(depth_start[d], depth_start[d + 1]):
            ln = lines_by_depth[i]
            q, p = line_pool[ln], line_product[ln]
            share = weight[ln] / group[q, p] if group[q, p] > 0.0 else 0.0
            if net:
                orders[ln] = max(need[q, p] - inventory[q, p], 0.0) * share
                per_line[ln] = min(weight[ln], orders[ln])
            else:
                per_line[ln] = need[q, p] * share
        for i in range(depth_start[d], depth_start[d + 1]):
            ln = lines_by_depth[i]
            _add_needs(need, per_line[ln], line_pool[ln], line_product[ln], inputs, per_unit)


@njit(cache=True)
def _add_needs(
    need: np.ndarray,
    amount: float,
    pool: int,
    product: int,
    inputs: np.ndarray,
    per_unit: np.ndarray,
) -> None:
    """``need[pool, input] += amount * units of input per unit of product``."""
    for j in range(inputs.shape[1]):
        if inputs[product, j] < 0:
            break
        need[pool, inputs[product, j]] += amount * per_unit[product, j]
