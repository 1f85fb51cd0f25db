"""The compiled month-stepping kernel (numba), one pass over all samples.

:func:`step` implements the equations in :mod:`materiel.engine.core` with
explicit loops, compiled by numba: a deterministic run is overhead-free and
thousands of samples run in one call. It takes named tuples of arrays, one
per group of inputs, and writes its results into the output arrays it is
given (:mod:`materiel.engine.variables` declares every field: dims, units,
meaning); it reads no files and keeps no state between calls. Arrays are read
by name (``lines.capacity_max``), never by position.

Per-sample parameters: arrays whose first axis is ``sample`` may have length
1 (shared by every sample) or the number of samples; ``_row(a, s)`` picks the
right row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from materiel._numba import arraymath_without_scipy
from materiel.engine import fleets as fleet_stock
from materiel.engine import policy
from materiel.engine.binding import Binding
from materiel.engine.variables import (
    Assignments,
    Consumption,
    Contracts,
    Fleets,
    Lines,
    Outputs,
    Pledges,
    Policies,
    Stocks,
)

__all__ = ["step"]

arraymath_without_scipy()  # numba's first dispatch without importing scipy.linalg (0.3-0.5 s)

_CAPACITY = int(Binding.CAPACITY)
_ORDERS = int(Binding.ORDERS)
_INPUT = int(Binding.INPUT)  # + product index of the binding input
_SHORT = 1.0 - 1e-9  # an input counts as short only beyond rounding


class _Tree(NamedTuple):
    """The few line arrays the bill-of-materials helpers read.

    Passed instead of all of :class:`~materiel.engine.variables.Lines`: a
    compiled call takes a reference to every array of a tuple it is given,
    and these helpers run several times a month (a ``Lines`` argument to
    :func:`_room` was 17% of the kernel's time).
    """

    line_product: np.ndarray
    line_pool: np.ndarray
    line_owner: np.ndarray
    lines_by_depth: np.ndarray
    depth_start: np.ndarray
    greenfield: np.ndarray


@njit(cache=True)
def _row(a: np.ndarray, s: int) -> np.ndarray:
    row: np.ndarray = a[0] if a.shape[0] == 1 else a[s]
    return row


@njit(cache=True, nogil=True)
def step(
    first: int,
    last: int,
    lines: Lines,
    contracts: Contracts,
    assignments: Assignments,
    stocks: Stocks,
    consumption: Consumption,
    pledges: Pledges,
    policies: Policies,
    fleets: Fleets,
    cell_slot: np.ndarray,  # (P, K): column of each party-product cell in the outputs, -1 = none
    out: Outputs,
) -> None:
    """Step samples ``first..last-1`` through every month (equations: :mod:`materiel.engine.core`).

    Releases the GIL, so disjoint sample ranges can run on several threads.
    """
    L = lines.line_product.shape[0]
    T = lines.capacity_increment.shape[2]
    C = contracts.contract_quantity.shape[1]
    E = consumption.use_party.shape[0]
    A = assignments.assign_contract.shape[0]
    K = lines.bom.shape[0]
    Q = stocks.inventory_start.shape[0]
    P = stocks.stock_floor.shape[0]
    G = pledges.pledge_donor.shape[0]
    D = lines.depth_start.shape[0] - 2  # deepest bill-of-materials level
    tree = _Tree(
        lines.line_product,
        lines.line_pool,
        lines.line_owner,
        lines.lines_by_depth,
        lines.depth_start,
        lines.greenfield,
    )
    # arrays read in the month loop, once per call (a tuple field read there, beside a call,
    # takes and drops a reference, two atomic operations, each time)
    lines_by_depth, depth_start, line_pool = tree.lines_by_depth, tree.depth_start, tree.line_pool
    line_product, line_owner, greenfield = tree.line_product, tree.line_owner, tree.greenfield
    span = T + 1
    for ln in range(L):
        latest = int(np.max(lines.lead_months[:, ln])) + int(np.max(lines.ramp_months[:, ln]))
        span = max(span, T + latest + 1, T + int(lines.reactivation_months[ln]) + 1)

    # bills of materials as short lists: inputs[p, j] (-1 ends the list), per_unit[p, j]
    J = 1
    for p in range(K):
        J = max(J, int(np.sum(lines.bom[p] > 0.0)))
    inputs = np.full((K, J), -1, dtype=np.int64)
    per_unit = np.zeros((K, J))
    for p in range(K):
        j = 0
        for k in range(K):
            if lines.bom[p, k] > 0.0:
                inputs[p, j] = k
                per_unit[p, j] = lines.bom[p, k]
                j += 1

    # aid (step 6): the pledges' donor cells, each once, and the month's scratch
    n_gcell = 0
    gcell_party = np.empty(G, dtype=np.int64)
    gcell_product = np.empty(G, dtype=np.int64)
    asked = np.zeros((P, K))  # (a cell no pledge gives from is never read)
    share = np.zeros((P, K))
    owed = np.zeros(G)
    for g in range(G):
        p, k = pledges.pledge_donor[g], pledges.pledge_product[g]
        if asked[p, k] == 0.0:
            asked[p, k] = 1.0
            gcell_party[n_gcell], gcell_product[n_gcell] = p, k
            n_gcell += 1

    # aid and fleets: the month's sums by cell (zero between months: each is zeroed after
    # fleets.aid reads it), fleets.aid's scratch, and the lots whose product is a cell with fleets
    aid_out = np.zeros((P, K))
    aid_in = np.zeros((P, K))
    held = np.zeros((P, K))
    keep = np.ones((P, K))
    fleet_cell = fleet_stock.has_fleets(fleets, P, K)
    fleet_lot_party, fleet_lot_line = _lots(fleet_cell, line_product)

    # the recorded party-product cells, in output order
    M = out.stock.shape[2]
    # outputs given with an empty sample axis are not recorded (lean Monte Carlo runs)
    keep_book = out.order_book.shape[0] > 0
    keep_added = out.capacity_added.shape[0] > 0
    keep_mothballed = out.mothballed.shape[0] > 0
    keep_binding = out.binding.shape[0] > 0
    keep_used = out.component_used.shape[0] > 0
    keep_orders = out.orders.shape[0] > 0
    keep_inventory = out.inventory.shape[0] > 0
    keep_line_deliveries = out.line_deliveries.shape[0] > 0
    keep_deliveries = out.contract_deliveries.shape[0] > 0
    keep_receipts = out.receipts.shape[0] > 0
    keep_aid = out.aid_sent.shape[0] > 0
    keep_consumed = out.consumed.shape[0] > 0
    # the outputs every run records unless the caller keeps none of them (lean Monte Carlo keeps
    # only what its reductions read)
    keep_capacity = out.capacity.shape[0] > 0
    keep_production = out.production.shape[0] > 0
    keep_capex = out.capex_usd.shape[0] > 0
    keep_payments = out.payments_usd.shape[0] > 0
    keep_shortfall = out.shortfall.shape[0] > 0
    keep_stock = out.stock.shape[0] > 0
    keep_usable = out.usable_stock.shape[0] > 0
    keep_unusable = out.unusable_stock.shape[0] > 0
    keep_fleets = out.fleet_stock.shape[0] > 0
    keep_fleet_short = out.fleet_shortfall.shape[0] > 0
    keep_contracts = out.contract_quantity.shape[0] > 0
    keep_buyer_share = out.contract_buyer_share.shape[0] > 0
    rec_party = np.zeros(M, dtype=np.int64)
    rec_product = np.zeros(M, dtype=np.int64)
    for p in range(P):
        for k in range(K):
            if cell_slot[p, k] >= 0:
                rec_party[cell_slot[p, k]] = p
                rec_product[cell_slot[p, k]] = k

    # component buffers (order-up-to inventories): only where a pool keeps one
    buffered = bool(np.any(stocks.inventory_cover > 0.0))
    available = np.zeros((Q, K))
    # weapon-system fleets (engine/fleets.py): cells that keep their stock per fleet
    F = fleets.fleet_party.shape[0]
    rec_fleet = np.zeros(M, dtype=np.bool_)
    for m in range(M):
        rec_fleet[m] = fleet_cell[rec_party[m], rec_product[m]]
    recv_first, recv_rows = fleet_stock.receipt_rows(contracts, C)
    # each receipt row's stock cell (party * K + product) and output column, in that order
    recv_cell = np.empty(recv_rows.shape[0], dtype=np.int64)
    recv_slot = np.empty(recv_rows.shape[0], dtype=np.int64)
    for i in range(recv_rows.shape[0]):
        p, k = contracts.receive_party[recv_rows[i]], contracts.receive_product[recv_rows[i]]
        recv_cell[i] = p * K + k
        recv_slot[i] = cell_slot[p, k]
    # joint contracts and pools respect qualification: a contract whose lines fit some of a
    # receiver's guns but not all is kept per receiver (engine/fleets.py: split)
    R = contracts.receive_contract.shape[0]
    fit = fleet_stock.fit_from(fleets, lines.line_product, fleet_cell)
    watch = fleet_stock.watched(contracts, fleet_cell, C)
    a_first, a_rows = fleet_stock.group_rows(assignments.assign_contract, C)
    ar_first = fleet_stock.assignment_row_first(assignments, recv_first)
    turn = fleet_stock.by_receiver_from(
        fit, watch, assignments, a_first, a_rows, contracts, recv_first, recv_rows, T
    )
    regroup = fleet_stock.regroup_months(fleets, T)  # months a qualification takes effect
    # no contract is kept per receiver before the first turn (mark_by_receiver has nothing to do)
    first_turn = int(np.min(turn)) if C > 0 else T
    # receipt and payment rows by contract: a month's deliveries touch only their contracts' rows
    # (recv_first/recv_rows above; payment rows likewise)
    pay_first, pay_rows = fleet_stock.group_rows(contracts.pay_contract, C)
    policy_rows = policy.rows(contracts, K)  # the rows a procurement review reads or writes
    # fleet lots by recorded cell: (party, line, column) wherever the line's product is recorded
    lot_party, lot_line = _lots(cell_slot >= 0, lines.line_product)
    n_lot = lot_party.shape[0]
    lot_column = np.zeros(n_lot, dtype=np.int64)
    for i in range(n_lot):
        lot_column[i] = cell_slot[lot_party[i], lines.line_product[lot_line[i]]]
    # tuple fields read in loops that also call a compiled function: read once here (a field
    # read there takes and drops a reference, two atomic operations, each time)
    consumption_floor = stocks.consumption_floor
    # per-sample working copies, allocated once per call (not once per sample)
    W = policies.rev_policy.shape[0]
    B = contracts.pay_contract.shape[0]
    own_sign = np.empty(C, dtype=np.int64)
    # policy slots' due schedules: column due_col[c] of own_due, copied per sample (a review
    # rewrites only these; every other contract's schedule is read from the sample's row)
    due_col = np.full(C, -1, dtype=np.int64)
    n_slot = 0
    for w in range(W):
        for j in range(2):
            c = policies.rev_slot[w, j]
            if 0 <= c < C and due_col[c] < 0:
                due_col[c] = n_slot
                n_slot += 1
    slot_c = np.empty(n_slot, dtype=np.int64)
    for c in range(C):
        if due_col[c] >= 0:
            slot_c[due_col[c]] = c
    own_due = np.empty((T, n_slot))
    own_quantity = np.empty(C)
    own_receive_share = np.empty(R)
    own_pay_share = np.empty(B)
    increment = np.empty((L, span))
    unusable = np.empty((P, L))

    # lines per pool-product group: the order book moves between lines of a group only
    n_group = np.zeros((Q, K))
    for ln in range(L):
        n_group[lines.line_pool[ln], lines.line_product[ln]] += 1.0
    # an owner's book beyond its lines' committed cover, by owner index and product (greenfield)
    # (rows: owner indices, 0..max(line_owner))
    n_owner = 1
    for ln in range(L):
        n_owner = max(n_owner, line_owner[ln] + 1)
    unfilled = np.zeros((n_owner, K))

    # runs of consecutive assignments of one line (deliveries fill a run's orders from the
    # line's output in assignment order)
    run_of = np.zeros(A, dtype=np.int64)
    all_a = np.arange(A)
    for a in range(1, A):
        same = assignments.assign_line[a] == assignments.assign_line[a - 1]
        run_of[a] = run_of[a - 1] if same else run_of[a - 1] + 1
    # contracts' assignment counts, for equal shares when no eligible line has capacity
    n_assign = np.zeros(C)
    for a in range(A):
        n_assign[assignments.assign_contract[a]] += 1.0

    for s in range(first, last):  # samples are independent (threads take disjoint ranges)
        cap_max = _row(lines.capacity_max, s)
        lead = _row(lines.lead_months, s)
        ramp = _row(lines.ramp_months, s)
        horizon = _row(lines.horizon_months, s)
        sign = _row(contracts.contract_sign, s)
        due = _row(contracts.due_by_month, s)
        quantity = _row(contracts.contract_quantity, s)
        w_next = 0
        budget_left = _row(policies.budget_left_usd, s).copy()
        price = _row(contracts.contract_price_usd, s)
        receive_share = contracts.receive_share
        pay_share = contracts.pay_share
        if W > 0:  # policies fill in their contract slots: this sample's own copies
            own_sign[:] = sign
            for m in range(T):
                for k in range(n_slot):
                    own_due[m, k] = due[m, slot_c[k]]
            own_quantity[:] = quantity
            own_receive_share[:] = receive_share  # split by gap at each decision
            own_pay_share[:] = pay_share
            sign, quantity = own_sign, own_quantity
            receive_share, pay_share = own_receive_share, own_pay_share
        rate = _row(consumption.use_rate, s)
        commit_more = _row(lines.committed_increment, s)
        capex_more = _row(lines.capex_announced_usd, s)
        increment[:, :T] = _row(lines.capacity_increment, s)  # (months past T: zero)
        increment[:, T:] = 0.0
        cap = _row(lines.capacity_start, s).copy()
        committed = _row(lines.committed_start, s).copy()
        delivered = _row(contracts.contract_delivered_start, s).copy()
        demand = np.zeros((P, K))
        stock = _row(stocks.stock_start, s).copy()
        stock_cells = stock.reshape(P * K)  # the same memory, by cell
        inventory = stocks.inventory_start.copy()
        given = pledges.pledge_given_start.copy()
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
        spill = np.zeros((Q, K))
        room = np.zeros((Q, K))
        delivered_c = np.zeros(C)
        idle = np.zeros(L, dtype=np.int64)  # consecutive months below the idle utilisation
        moth = np.zeros(L)  # mothballed capacity not yet called back
        take_a = np.zeros(A)
        live_a = np.zeros(A, dtype=np.int64)
        # dormant contracts (open orders and firm book both 0 until month wake[c], their
        # delivered quantity unchanged meanwhile) are skipped; cand_a: assignments of the others
        wake = np.zeros(C, dtype=np.int64)
        asleep = np.zeros(C, dtype=np.bool_)
        cand_a = np.zeros(A, dtype=np.int64)
        n_cand = 0
        regroup_cand = True
        usable = np.zeros(F)
        unusable[:, :] = 0.0
        lots = False  # any rounds no fleet of their holder may fire yet
        fleet_short = np.zeros(F)
        by_row = np.zeros(C, dtype=np.bool_)  # contracts kept per receiver
        delivered_r = np.zeros(R)
        open_r = np.zeros(R)
        book_r = np.zeros(R)
        got_r = np.zeros(R)
        ar = np.zeros(ar_first[A])  # open orders per (assignment, receiver)
        row_any = False  # any contract kept per receiver (by_row) yet
        if F > 0:
            fleet_stock.start(fleets, stock, usable)
        # outputs that are added to, or written only in some of their columns, start from zero:
        # the caller may pass buffers holding an earlier run (every other output is written in
        # full each month)
        if keep_used:
            out.component_used[s] = 0.0
        if keep_line_deliveries:
            out.line_deliveries[s] = 0.0
        if keep_receipts:
            out.receipts[s] = 0.0
        if keep_aid:
            out.aid_sent[s] = 0.0
            out.aid_received[s] = 0.0
        if keep_consumed:
            out.consumed[s] = 0.0
        if keep_payments:
            out.payments_usd[s] = 0.0
        if keep_shortfall:
            out.shortfall[s] = 0.0
        if keep_unusable:
            out.unusable_stock[s] = 0.0
        if keep_buyer_share:
            out.contract_buyer_share[s] = 0.0

        for t in range(T):
            # 0. procurement policies review, on the stocks at the end of month t - 1 (called
            # only in a month with a review: a call passes every input array, each counted)
            if w_next < W and policies.rev_month[w_next] == t:
                w_first = w_next
                w_next = policy.review(
                    t,
                    w_next,
                    s,
                    stock,
                    delivered,
                    quantity,
                    sign,
                    own_due,
                    due_col,
                    rate,
                    _row(policies.pol_delay, s),
                    _row(policies.pol_planned_delay, s),
                    budget_left,
                    receive_share,
                    pay_share,
                    contracts,
                    consumption,
                    pledges,
                    policies,
                    policy_rows,
                )
                for w in range(w_first, w_next):  # the slots it wrote are looked at again
                    for j in range(2):
                        c = policies.rev_slot[w, j]
                        if 0 <= c < C:
                            wake[c] = t

            # 1. contracts: open orders and the firm order book (a dormant contract's are 0)
            for c in range(C):
                if wake[c] > t and not by_row[c]:
                    continue
                k = due_col[c]  # a policy slot's schedule is this sample's own copy
                open_c[c] = max((due[t, c] if k < 0 else own_due[t, k]) - delivered[c], 0.0)
                live = sign[c] <= t and contracts.contract_firm[c]
                book_c[c] = quantity[c] - delivered[c] if live else 0.0
                dormant = open_c[c] == 0.0 and book_c[c] == 0.0 and not by_row[c]
                if dormant:
                    wake[c] = _wake(
                        t,
                        c if k < 0 else k,
                        due if k < 0 else own_due,
                        delivered[c],
                        quantity[c],
                        sign[c],
                        contracts.contract_firm[c],
                    )
                if dormant != asleep[c]:
                    asleep[c] = dormant
                    regroup_cand = True
            if F > 0 and t >= first_turn:  # per receiver where its guns fit only some lines
                row_any = fleet_stock.mark_by_receiver(
                    t, turn, by_row, delivered, receive_share, recv_first, recv_rows, delivered_r
                )
            if row_any:
                fleet_stock.open_by_receiver(
                    t,
                    by_row,
                    due,
                    own_due,
                    due_col,
                    quantity,
                    sign,
                    contracts.contract_firm,
                    receive_share,
                    delivered_r,
                    recv_first,
                    recv_rows,
                    open_c,
                    book_c,
                    open_r,
                    book_r,
                )
            # assignments of contracts with open orders or firm book, in order
            if regroup_cand:  # the assignments of contracts not dormant, in order
                n_cand = 0
                for a in range(A):
                    if not asleep[assignments.assign_contract[a]]:
                        cand_a[n_cand] = a
                        n_cand += 1
                regroup_cand = False
            n_live = 0
            for i in range(n_cand):
                a = cand_a[i]
                c = assignments.assign_contract[a]
                if open_c[c] != 0.0 or book_c[c] != 0.0:
                    live_a[n_live] = a
                    n_live += 1

            # 2. investment against the firm order book
            for ln in range(L):
                committed[ln] += commit_more[ln, t]
                book[ln] = 0.0
            _split(
                assignments,
                committed,
                n_assign,
                weight_sum,
                book_c,
                book,
                open_a,
                False,
                live_a,
                n_live,
            )
            if row_any:  # (with no contract kept per receiver, split has nothing to do)
                fleet_stock.split(
                    t,
                    fit,
                    by_row,
                    book_r,
                    committed,
                    book,
                    open_a,
                    ar,
                    ar_first,
                    False,
                    assignments,
                    a_first,
                    a_rows,
                    contracts,
                    recv_first,
                    recv_rows,
                )
            unfilled[:, :] = 0.0  # each owner's own book beyond its cover, before the spill
            _book_to_room(
                book,
                committed,
                cap_max,
                horizon,
                lines_by_depth,
                line_pool,
                line_product,
                line_owner,
                greenfield,
                0,
                depth_start[1],
                spill,
                room,
                n_group,
                unfilled,
            )
            _down_the_bom(
                book,
                committed,
                tree,
                inputs,
                per_unit,
                need,
                group,
                D,
                False,
                orders,
                inventory,
                cap_max,
                horizon,
                n_group,
                spill,
                room,
                unfilled,
            )
            for ln in range(L):
                added = 0.0
                if greenfield[ln] and committed[ln] <= 0.0:  # a new plant: all or nothing
                    gap = unfilled[line_owner[ln], line_product[ln]]
                    if lines.invests[ln] and gap >= cap_max[ln] * horizon[ln] * (1.0 - 1e-9):
                        added = cap_max[ln]
                elif lines.invests[ln] and book[ln] > committed[ln] * horizon[ln]:
                    added = max(min(cap_max[ln], book[ln] / horizon[ln]) - committed[ln], 0.0)
                m = lines.module_capacity[ln]
                if added > 0.0 and m > 0.0:  # whole modules, within the ceiling
                    n = min(
                        np.ceil(added / m - 1e-9),
                        np.floor((cap_max[ln] - committed[ln]) / m + 1e-9),
                    )
                    added = max(n, 0.0) * m
                    for r in range(ramp[ln]):  # module j in service from lead + ceil(j R/n) - 1
                        step = np.floor(n * (r + 1) / ramp[ln] + 1e-9) - np.floor(
                            n * r / ramp[ln] + 1e-9
                        )
                        increment[ln, t + lead[ln] + r] += m * step
                elif added > 0.0:
                    for r in range(ramp[ln]):
                        increment[ln, t + lead[ln] + r] += added / ramp[ln]
                if added > 0.0:
                    committed[ln] += added
                if keep_capex:
                    out.capex_usd[s, t, ln] = (
                        added * lines.capex_usd_per_unit[ln] + capex_more[ln, t]
                    )
                if keep_added:
                    out.capacity_added[s, t, ln] = added
                if keep_book:
                    out.order_book[s, t, ln] = book[ln]

            # 3. capacity, never above the line's ceiling (announced investments included);
            # mothballed capacity is called back when last month's open orders or the firm
            # book outgrow the warm rate, and returns after the reactivation lead time
            for ln in range(L):
                if moth[ln] > 0.0 and (
                    orders[ln] > cap[ln] * (1.0 + 1e-9)
                    or book[ln] > cap[ln] * horizon[ln] * (1.0 + 1e-9)
                ):
                    increment[ln, t + lines.reactivation_months[ln]] += moth[ln]
                    moth[ln] = 0.0
                cap[ln] = min(cap[ln] + increment[ln, t], cap_max[ln])

            # 4. production: wants flow down the bill of materials, output flows up
            for ln in range(L):
                orders[ln] = 0.0
            _split(
                assignments, cap, n_assign, weight_sum, open_c, orders, open_a, True, live_a, n_live
            )
            if row_any:
                fleet_stock.split(
                    t,
                    fit,
                    by_row,
                    open_r,
                    cap,
                    orders,
                    open_a,
                    ar,
                    ar_first,
                    True,
                    assignments,
                    a_first,
                    a_rows,
                    contracts,
                    recv_first,
                    recv_rows,
                )
            for ln in range(L):
                wanted[ln] = min(cap[ln], orders[ln])
            if buffered:  # order-up-to: component lines also refill the buffer
                _buffer_gap(
                    inventory, stocks.inventory_cover, cap, tree, inputs, per_unit, available
                )
            _down_the_bom(
                wanted,
                cap,
                tree,
                inputs,
                per_unit,
                need,
                group,
                D,
                True,
                orders,
                available if buffered else inventory,
                cap_max,
                horizon,
                n_group,
                spill,
                room,
                unfilled,
            )
            for d in range(D, -1, -1):
                need[:, :] = 0.0
                for i in range(depth_start[d], depth_start[d + 1]):
                    ln = lines_by_depth[i]
                    p = line_product[ln]
                    if wanted[ln] == 0.0:  # adds +-0 to needs that are never -0: nothing
                        continue
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
                            out.binding[s, t, ln] = _CAPACITY
                        elif input_limit <= orders[ln]:
                            out.binding[s, t, ln] = _INPUT + worst
                        else:
                            out.binding[s, t, ln] = _ORDERS
                    for j in range(J):
                        k = inputs[p, j]
                        if k < 0:
                            break
                        used = made[ln] * per_unit[p, j]
                        inventory[q, k] -= used
                        if keep_used:
                            out.component_used[s, t, q, k] += used
                if d > 0:  # component lines feed their pool's inventory
                    for i in range(depth_start[d], depth_start[d + 1]):
                        ln = lines_by_depth[i]
                        inventory[line_pool[ln], line_product[ln]] += made[ln]
            for ln in range(L):
                if keep_capacity:
                    out.capacity[s, t, ln] = cap[ln]
                if keep_production:
                    out.production[s, t, ln] = made[ln]
                if keep_orders:
                    out.orders[s, t, ln] = orders[ln]
                # idle capacity: open orders below the idle utilisation for idle_months
                # (a line starved of inputs is not idle), down to the warm rate
                if lines.idle_utilisation[ln] > 0.0 and cap[ln] > 0.0:
                    low = orders[ln] < lines.idle_utilisation[ln] * cap[ln] * (1.0 - 1e-9)
                    idle[ln] = idle[ln] + 1 if low else 0
                    if idle[ln] >= lines.idle_months[ln]:
                        warm = lines.warm_capacity[ln]
                        if warm < 0.0:
                            warm = lines.warm_share[ln] * cap[ln]
                        warm = max(warm, orders[ln])  # never below the work in hand
                        if cap[ln] > warm:
                            moth[ln] += cap[ln] - warm
                            cap[ln] = warm
                        idle[ln] = 0
                if keep_mothballed:
                    out.mothballed[s, t, ln] = moth[ln]
            if keep_inventory:
                out.inventory[s, t] = inventory

            # 5. deliveries: each line's output fills its open orders by priority, then age
            # (open_a > 0 only for live assignments, or any of a contract kept per receiver:
            # without those, only the live ones are visited, run by run; the others take 0)
            delivered_c[:] = 0.0
            take_a[:] = 0.0
            n_visit = n_live if not row_any else A
            watched_took = False  # any delivery to a contract with a receiver that keeps fleets
            i = 0
            while i < n_visit:
                a = live_a[i] if not row_any else i
                ln = assignments.assign_line[a]
                run = run_of[a]
                left = made[ln] if lines.line_depth[ln] == 0 else 0.0
                sent = 0.0
                # open_a >= 0: once nothing is left every further take is 0 (adds nothing)
                while i < n_visit:
                    a = live_a[i] if not row_any else i
                    if run_of[a] != run:
                        break
                    if left > 0.0 and open_a[a] > 0.0:
                        take = min(open_a[a], left)
                        left -= take
                        c = assignments.assign_contract[a]
                        delivered_c[c] += take
                        watched_took = watched_took or watch[c]
                        sent += take
                        take_a[a] = take
                    i += 1
                if keep_line_deliveries:  # (a line with no run visited keeps its zero)
                    out.line_deliveries[s, t, ln] = sent
            if F > 0:  # rounds fit the fleets they are qualified for, or wait in lots
                if lots:  # rounds waiting in lots: those a fleet may fire now move to it
                    lots = fleet_stock.qualify(fleets, t, line_product, usable, unusable)
                if regroup[t]:  # fleets that now fire the same rounds share their stock
                    fleet_stock.pool(fleets, t, usable)
                if watched_took:  # (receive visits only those deliveries; a call costs a
                    # reference to each of its ~30 arrays)
                    got = fleet_stock.receive(
                        fleets,
                        t,
                        take_a,
                        assignments,
                        contracts,
                        recv_first,
                        recv_rows,
                        fleet_cell,
                        usable,
                        unusable,
                        by_row,
                        open_a,
                        ar,
                        ar_first,
                        receive_share,
                        watch,
                        all_a if row_any else live_a,
                        A if row_any else n_live,
                    )
                    lots = lots or got
            if row_any:
                fleet_stock.receipts_by_receiver(
                    take_a,
                    open_a,
                    by_row,
                    ar,
                    ar_first,
                    a_first,
                    a_rows,
                    recv_first,
                    recv_rows,
                    receive_share,
                    got_r,
                    delivered_r,
                )
            for c in range(C):  # (nothing above reads delivered: one pass over the contracts)
                delivered[c] += delivered_c[c]
                if keep_deliveries:
                    out.contract_deliveries[s, t, c] = delivered_c[c]
                if delivered_c[c] == 0.0:  # its receipt rows would add zeros
                    continue
                for i in range(recv_first[c], recv_first[c + 1]):
                    r = recv_rows[i]
                    x = got_r[r] if by_row[c] else delivered_c[c] * receive_share[r]
                    stock_cells[recv_cell[i]] += x
                    m = recv_slot[i]
                    if m >= 0 and keep_receipts:
                        out.receipts[s, t, m] += x
                for j in range(pay_first[c], pay_first[c + 1] if keep_payments else 0):
                    b = pay_rows[j]
                    out.payments_usd[s, t, contracts.pay_party[b]] += (
                        delivered_c[c] * price[c] * pay_share[b]
                    )

            # 6. aid from stock, above each donor's floor, pro rata between pledges
            if G > 0:  # (only the donors' cells are asked: only they are zeroed and shared)
                for i in range(n_gcell):
                    asked[gcell_party[i], gcell_product[i]] = 0.0
                for g in range(G):
                    owed[g] = max(pledges.owed_by_month[t, g] - given[g], 0.0)
                    asked[pledges.pledge_donor[g], pledges.pledge_product[g]] += owed[g]
                for i in range(n_gcell):
                    p, k = gcell_party[i], gcell_product[i]
                    share[p, k] = 0.0
                    if asked[p, k] > 0.0:
                        share[p, k] = min(
                            max(stock[p, k] - stocks.stock_floor[p, k], 0.0) / asked[p, k], 1.0
                        )
                for g in range(G):
                    give = owed[g] * share[pledges.pledge_donor[g], pledges.pledge_product[g]]
                    given[g] += give
                    stock[pledges.pledge_donor[g], pledges.pledge_product[g]] -= give
                    stock[pledges.pledge_recipient[g], pledges.pledge_product[g]] += give
                    aid_out[pledges.pledge_donor[g], pledges.pledge_product[g]] += give
                    aid_in[pledges.pledge_recipient[g], pledges.pledge_product[g]] += give
                    if keep_aid:
                        m = cell_slot[pledges.pledge_donor[g], pledges.pledge_product[g]]
                        if m >= 0:
                            out.aid_sent[s, t, m] += give
                        m = cell_slot[pledges.pledge_recipient[g], pledges.pledge_product[g]]
                        if m >= 0:
                            out.aid_received[s, t, m] += give
                        out.pledge_deliveries[s, t, g] = give
                if F > 0:
                    fleet_stock.aid(
                        fleets,
                        line_product,
                        aid_out,
                        aid_in,
                        usable,
                        unusable,
                        fleet_lot_party,
                        fleet_lot_line,
                        held,
                        keep,
                    )
                    for g in range(G):  # (the only cells written above)
                        aid_out[pledges.pledge_donor[g], pledges.pledge_product[g]] = 0.0
                        aid_in[pledges.pledge_recipient[g], pledges.pledge_product[g]] = 0.0

            # 7. consumption: never below the holder's consumption floor; the rest is shortfall
            for e in range(E):
                demand[consumption.use_party[e], consumption.use_product[e]] = 0.0
            for e in range(E):
                if consumption.use_first[e] <= t <= consumption.use_last[e]:
                    demand[consumption.use_party[e], consumption.use_product[e]] += rate[e]
            for e in range(E):
                p, k = consumption.use_party[e], consumption.use_product[e]
                want = demand[p, k]
                if want > 0.0:  # each cell once, whichever of its entries comes first
                    demand[p, k] = 0.0
                    if fleet_cell[p, k]:  # each fleet fires only the rounds it may fire
                        limit = max(stock[p, k] - consumption_floor[p, k], 0.0)
                        used = fleet_stock.consume(fleets, p, k, want, limit, usable, fleet_short)
                    else:
                        used = min(want, max(stock[p, k] - consumption_floor[p, k], 0.0))
                    stock[p, k] -= used
                    m = cell_slot[p, k]
                    if m >= 0 and keep_shortfall:
                        out.shortfall[s, t, m] = want - used
                    if m >= 0 and keep_consumed:
                        out.consumed[s, t, m] = used
            for m in range(M):  # a cell with fleets: its fleets' usable stock, added below
                x = stock[rec_party[m], rec_product[m]]
                if keep_stock:
                    out.stock[s, t, m] = x
                if keep_usable:
                    out.usable_stock[s, t, m] = 0.0 if rec_fleet[m] else x
            if F > 0:
                if lots and keep_unusable:
                    for i in range(n_lot):
                        p, ln = lot_party[i], lot_line[i]
                        out.unusable_stock[s, t, lot_column[i]] += unusable[p, ln]
                for f in range(F):
                    m = cell_slot[fleets.fleet_party[f], fleets.fleet_product[f]]
                    if m >= 0 and keep_usable:
                        out.usable_stock[s, t, m] += usable[f]
                    if keep_fleets:
                        out.fleet_stock[s, t, f] = usable[f]
                    if keep_fleet_short:
                        out.fleet_shortfall[s, t, f] = fleet_short[f]
                    fleet_short[f] = 0.0
        if keep_contracts:  # run_engine keeps the three contract outputs together
            policy.record(
                s, quantity, sign, _row(policies.contract_decided, s), pay_share, contracts, out
            )


@njit(cache=True)
def _lots(where: np.ndarray, line_product: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (party, line) lots whose line's product is a ``where`` cell (``where``: (party,
    product) bool), party by party, lines in order: ``(party[i], line[i])``."""
    n = 0
    for p in range(where.shape[0]):
        for ln in range(line_product.shape[0]):
            if where[p, line_product[ln]]:
                n += 1
    party = np.empty(n, dtype=np.int64)
    line = np.empty(n, dtype=np.int64)
    n = 0
    for p in range(where.shape[0]):
        for ln in range(line_product.shape[0]):
            if where[p, line_product[ln]]:
                party[n], line[n] = p, ln
                n += 1
    return party, line


@njit(cache=True)
def _wake(
    t: int, c: int, due: np.ndarray, delivered: float, quantity: float, sign: int, firm: bool
) -> int:
    """The first month after ``t`` at which dormant contract ``c`` may have open orders or book.

    With its delivered quantity unchanged (nothing is delivered to a contract
    with neither), ``open_c(m) = max(due_c(m) - delivered_c, 0)`` is 0 while
    ``due_c(m) <= delivered_c``, and ``book_c(m)`` is 0 before its signature
    month or when it is not firm or ``Q_c = delivered_c``. ``T`` if never (a
    procurement review that rewrites the contract wakes it again). ``due_c``
    is column ``c`` of ``due``: the sample's row, or for a policy slot its
    column of the slots' own copy.
    """
    T: int = due.shape[0]
    first = T
    if firm and quantity - delivered != 0.0 and sign < T:  # (signed beyond the horizon: never)
        first = max(sign, t + 1)
    for m in range(t + 1, first):
        if not (due[m, c] - delivered <= 0.0):
            return m
    return first


@njit(cache=True)
def _split(
    assignments: Assignments,
    weight: np.ndarray,
    n_assign: np.ndarray,
    weight_sum: np.ndarray,
    per_contract: np.ndarray,
    per_line: np.ndarray,
    per_assignment: np.ndarray,
    keep: bool,
    live: np.ndarray,
    n_live: int,
) -> None:
    """Share each contract's amount between its lines in proportion to ``weight``.

    ``share_a = w_a / sum(w)`` over the contract's assignments (equal shares
    if all are zero; 1 for a contract naming its line). Adds the shares into
    ``per_line``; with ``keep`` also stores them in ``per_assignment`` (0 for
    every assignment not shared). Only the assignments ``live[:n_live]`` (in
    increasing order, every assignment of a contract with a nonzero amount)
    are visited: the others' shares are all zero.
    """
    assign_contract = assignments.assign_contract
    assign_line = assignments.assign_line
    weight_sum[:] = 0.0  # (one memset: cheaper than a pass zeroing the live contracts')
    for i in range(n_live):
        a = live[i]
        weight_sum[assign_contract[a]] += weight[assign_line[a]]
    if keep:
        per_assignment[:] = 0.0
    for i in range(n_live):
        a = live[i]
        c = assign_contract[a]
        if per_contract[c] == 0.0:  # nothing to share: every share of it is zero
            continue
        if not assignments.assign_any_line[a]:
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
    lines: _Tree,
    inputs: np.ndarray,
    per_unit: np.ndarray,
    need: np.ndarray,
    group: np.ndarray,
    D: int,
    net: bool,
    orders: np.ndarray,
    inventory: np.ndarray,
    cap_max: np.ndarray,
    horizon: np.ndarray,
    n_group: np.ndarray,
    spill: np.ndarray,
    room: np.ndarray,
    unfilled: np.ndarray,
) -> None:
    """Pass a per-line quantity down the bill of materials, level by level.

    A component line at depth d gets ``need_g * weight_l / sum(weight in g)``
    of what the lines above need from its pool-product cell g. With ``net``
    the need is net of the ``inventory`` on hand, stored in ``orders``, and
    the quantity passed on is ``min(weight, orders)`` (capacity-limited
    wants); otherwise (the order book) the gross need is passed on, after
    :func:`_book_to_room` at each level.
    """
    line_product, line_pool = lines.line_product, lines.line_pool
    lines_by_depth, depth_start = lines.lines_by_depth, lines.depth_start
    line_owner, greenfield = lines.line_owner, lines.greenfield
    need[:, :] = 0.0
    group[:, :] = 0.0
    for i in range(lines_by_depth.shape[0]):
        ln = lines_by_depth[i]
        group[line_pool[ln], line_product[ln]] += weight[ln]
    for i in range(depth_start[0], depth_start[1]):
        ln = lines_by_depth[i]
        if per_line[ln] != 0.0:  # a zero adds +-0 to needs that are never -0: nothing
            _add_needs(need, per_line[ln], line_pool[ln], line_product[ln], inputs, per_unit)
    for d in range(1, D + 1):
        for i in range(depth_start[d], depth_start[d + 1]):
            ln = lines_by_depth[i]
            q, p = line_pool[ln], line_product[ln]
            share = weight[ln] / group[q, p] if group[q, p] > 0.0 else 0.0
            if not net and group[q, p] <= 0.0:  # no line has committed capacity: equal shares
                share = 1.0 / n_group[q, p]
            if net:
                orders[ln] = max(need[q, p] - inventory[q, p], 0.0) * share
                per_line[ln] = min(weight[ln], orders[ln])
            else:
                per_line[ln] = need[q, p] * share
        if not net:
            _book_to_room(
                per_line,
                weight,
                cap_max,
                horizon,
                lines_by_depth,
                line_pool,
                line_product,
                line_owner,
                greenfield,
                depth_start[d],
                depth_start[d + 1],
                spill,
                room,
                n_group,
                unfilled,
            )
        for i in range(depth_start[d], depth_start[d + 1]):
            ln = lines_by_depth[i]
            if per_line[ln] != 0.0:
                _add_needs(need, per_line[ln], line_pool[ln], line_product[ln], inputs, per_unit)


@njit(cache=True, inline="always")
def _book_to_room(
    book: np.ndarray,
    committed: np.ndarray,
    cap_max: np.ndarray,
    horizon: np.ndarray,
    lines_by_depth: np.ndarray,
    line_pool: np.ndarray,
    line_product: np.ndarray,
    line_owner: np.ndarray,
    greenfield: np.ndarray,
    lo: int,
    hi: int,
    spill: np.ndarray,
    room: np.ndarray,
    n_group: np.ndarray,
    unfilled: np.ndarray,
) -> None:
    """Within each pool-product group of lines ``lines_by_depth[lo:hi]`` (one depth), book beyond
    committed capacity goes to room.

    A line keeps the book its committed capacity covers,
    ``covered_l = min(book_l, committed_l * H_l)``; the rest of its group's
    book, ``spill_g = sum_g (book_l - covered_l)``, goes to the lines with
    room to grow in proportion to it, ``room_l = max(0, Cmax_l - committed_l)``:
    ``book_l = covered_l + spill_g * room_l / sum_g room``. So a planned line
    at zero capacity receives orders and is built once the others are full.
    A greenfield line with nothing committed has no room (``room_l = 0``): it
    is decided whole in the investment step, not grown by shares of spill.
    A group of one line, or one without room, keeps its book as it is.
    Before the spill moves it, each owner's own excess is added up for the
    greenfield rule: ``unfilled[o, p] += sum_{l of owner o} (book_l -
    covered_l)`` (``o`` the line's owner index within its pool).

    Inlined, and given the line arrays rather than the tree: a tuple field read here, or inside
    the loops, would take and drop a reference (two atomic operations) each time.
    """
    spill[:, :] = 0.0
    room[:, :] = 0.0
    for i in range(lo, hi):
        ln = lines_by_depth[i]
        q, p = line_pool[ln], line_product[ln]
        excess = max(book[ln] - committed[ln] * horizon[ln], 0.0)
        spill[q, p] += excess
        unfilled[line_owner[ln], p] += excess
        room[q, p] += _room(greenfield[ln], committed[ln], cap_max[ln])
    for i in range(lo, hi):
        ln = lines_by_depth[i]
        q, p = line_pool[ln], line_product[ln]
        if n_group[q, p] > 1.0 and spill[q, p] > 0.0 and room[q, p] > 0.0:
            covered = min(book[ln], committed[ln] * horizon[ln])
            grow = _room(greenfield[ln], committed[ln], cap_max[ln])
            book[ln] = covered + spill[q, p] * grow / room[q, p]


@njit(cache=True)
def _room(greenfield: bool, committed: float, cap_max: float) -> float:
    """A line's room to grow, ``max(0, Cmax_l - committed_l)``; 0 for an undecided greenfield line.

    Takes the line's values, not arrays: a compiled call takes a reference to each array it is
    given (two atomic operations), and this runs per line per level twice a month.
    """
    if greenfield and committed <= 0.0:
        return 0.0
    room: float = max(cap_max - committed, 0.0)
    return room


@njit(cache=True)
def _buffer_gap(
    inventory: np.ndarray,
    cover: np.ndarray,
    cap: np.ndarray,
    lines: _Tree,
    inputs: np.ndarray,
    per_unit: np.ndarray,
    available: np.ndarray,
) -> None:
    """Inventory free to replace production: ``inventory_g - B_g``, ``B_g = c_g sum cap_l bom``.

    ``B_g`` is the order-up-to buffer of pool-product cell ``g``: ``c_g``
    months of what the lines drawing on it need at full capacity. Component
    lines are asked for ``max(0, need_g - (inventory_g - B_g))``: the need plus
    the refill of the buffer, net of any inventory above it.
    """
    available[:, :] = 0.0
    for ln in range(lines.line_product.shape[0]):
        _add_needs(
            available, cap[ln], lines.line_pool[ln], lines.line_product[ln], inputs, per_unit
        )
    for q in range(available.shape[0]):
        for k in range(available.shape[1]):
            available[q, k] = inventory[q, k] - cover[q, k] * available[q, k]


@njit(cache=True, inline="always")
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
