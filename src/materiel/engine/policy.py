"""Procurement policies inside the compiled kernel: the buyers' side of the loop.

Each review ``w`` of a procurement policy ``v`` falls in month ``t_w`` and
owns up to two preallocated contract slots (a multi-year framework and an
annual order) in the kernel's contract arrays. At the start of month ``t_w``,
on the stocks at the end of month ``t_w - 1``, :func:`review` applies the
stock-management rule (equation: :mod:`materiel.engine.core`) and fills in the
slots' quantity, signature month and due schedule; from then on deliveries,
payments and receipts flow through the ordinary contract machinery.
:func:`record` writes every contract's quantity, decision and signature month
for the sample.

Budgets (``policy.budget = "defer"``): a decision is cut to what every
buyer's remaining munitions budget allows in every year its payments fall
in; what is cut stays in the gap and is decided again at the next review.
Reviews in the same month are decided in the order of the scenario's
``[procurement.*]`` table, so earlier policies are served first from a
shared budget.
``"flag"`` signs the whole decision; its payments count in the committed
budget (``budget_committed_usd``) like a written contract's, so overruns are
flagged.

Joint buying (``shares = "by-gap"``): a decision is split between the
buyers in proportion to their gaps, ``g_p = max(0, w_p (D + U L) - S_p -
SL_p)`` with ``w_p`` the buyer's written share, ``S_p`` its own stock and
``SL_p`` its own supply line (undelivered receipts of contracts decided by
``t``); a buyer's share is ``g_p / sum g``, or ``w_p`` when no buyer has a
gap. When the whole gap is ordered at once each buyer ends at its share of
the target. The shares are written into the decision's receipt and payment
rows and recorded in ``contract_buyer_share``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from materiel.engine.fleets import group_rows
from materiel.engine.variables import Consumption, Contracts, Outputs, Pledges, Policies

__all__ = ["BUDGET_CAP", "BUDGET_NONE", "record", "review", "rows"]

BUDGET_NONE = 0
BUDGET_CAP = 1


@njit(cache=True)
def _expected_use(
    v: int,
    t: int,
    R: int,
    T: int,
    product: int,
    member: np.ndarray,
    use_party: np.ndarray,
    use_product: np.ndarray,
    use_first: np.ndarray,
    use_last: np.ndarray,
    rate: np.ndarray,
    pledge_donor: np.ndarray,
    pledge_recipient: np.ndarray,
    pledge_product: np.ndarray,
    owed_by_month: np.ndarray,
) -> float:
    """Mean monthly use of the group over months ``t .. min(t + R, T) - 1``.

    ``U = mean_tau [sum_e rate_e [first_e <= tau <= last_e]
    + sum_g (owed_g(tau) - owed_g(tau - 1))]`` over the group's consumption
    entries ``e`` of the product and the stock pledges ``g`` of the product
    from a group party to a party outside the group.
    """
    end = min(t + R, T)
    total = 0.0
    for e in range(use_party.shape[0]):
        if use_product[e] == product and member[v, use_party[e]]:
            lo = max(t, use_first[e])
            hi = min(end - 1, use_last[e])
            if hi >= lo:
                total += rate[e] * (hi - lo + 1)
    for g in range(pledge_donor.shape[0]):
        if (
            pledge_product[g] == product
            and member[v, pledge_donor[g]]
            and not member[v, pledge_recipient[g]]
        ):
            before = owed_by_month[t - 1, g] if t > 0 else 0.0
            total += owed_by_month[end - 1, g] - before
    return total / max(end - t, 1)


@njit(cache=True)
def _shares_by_gap(
    v: int,
    t: int,
    k: int,
    desired: float,
    stock: np.ndarray,
    delivered: np.ndarray,
    quantity: np.ndarray,
    receive_share: np.ndarray,
    contract_decided: np.ndarray,
    contracts: Contracts,
    policies: Policies,
    product_first: np.ndarray,
    product_rows: np.ndarray,
) -> np.ndarray:
    """Buyers' shares of policy ``v``'s decision in month ``t``, by gap (module docstring).

    ``desired`` is the group's ``D + U L``; ``contract_decided`` the sample's row; returns
    one share per party (0 for non-buyers). ``product_rows[product_first[k]:product_first[k
    + 1]]``: the receipt rows of product ``k``, in row order.
    """
    written = policies.pol_share[v]
    P = written.shape[0]
    own = np.zeros(P)  # S_p + SL_p
    for p in range(P):
        own[p] = stock[p, k]
    for i in range(product_first[k], product_first[k + 1]):
        r = product_rows[i]
        c, p = contracts.receive_contract[r], contracts.receive_party[r]
        if written[p] > 0.0 and contract_decided[c] <= t:
            own[p] += receive_share[r] * max(quantity[c] - delivered[c], 0.0)
    gap = np.zeros(P)
    total = 0.0
    for p in range(P):
        if written[p] > 0.0:
            gap[p] = max(written[p] * desired - own[p], 0.0)
            total += gap[p]
    out: np.ndarray = gap / total if total > 0.0 else written.copy()
    return out


@njit(cache=True)
def _payment_years(
    amount: float, sign: int, months: int, price: float, offset: int, per_year: np.ndarray
) -> None:
    """Add the payments of ``amount`` units due evenly over ``months`` from ``sign``, by year."""
    per_month = amount * price / months
    Y = per_year.shape[0]
    for m in range(sign, sign + months):
        y = (offset + m) // 12
        if 0 <= y < Y:
            per_year[y] += per_month


@njit(cache=True)
def rows(
    contracts: Contracts, K: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The row groupings :func:`review` reads, built once per kernel call.

    Receipt rows by product, receipt rows by contract and payment rows by
    contract, each as ``(first, rows)`` (:func:`materiel.engine.fleets.group_rows`).
    """
    C = contracts.contract_quantity.shape[1]
    product_first, product_rows = group_rows(contracts.receive_product, K)
    recv_first, recv_rows = group_rows(contracts.receive_contract, C)
    pay_first, pay_rows = group_rows(contracts.pay_contract, C)
    return product_first, product_rows, recv_first, recv_rows, pay_first, pay_rows


@njit(cache=True)
def review(
    t: int,
    w_next: int,
    s: int,
    stock: np.ndarray,
    delivered: np.ndarray,
    quantity: np.ndarray,
    sign: np.ndarray,
    due: np.ndarray,
    due_col: np.ndarray,
    rate: np.ndarray,
    pol_delay: np.ndarray,
    pol_planned_delay: np.ndarray,
    budget_left: np.ndarray,
    receive_share: np.ndarray,
    pay_share: np.ndarray,
    contracts: Contracts,
    consumption: Consumption,
    pledges: Pledges,
    policies: Policies,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> int:
    """Decide every review falling in month ``t``; return the index of the next review.

    Reviews are sorted by month; ``w_next`` is the first not yet decided.
    ``quantity``, ``sign``, ``rate``, ``pol_delay`` and ``pol_planned_delay``
    are sample ``s``'s rows; ``due`` holds this sample's due schedules of the
    policy slots only, slot ``c``'s in column ``due_col[c]``. Writes the
    slots' ``quantity``, ``sign`` and due schedules (this sample's copies),
    with ``shares = "by-gap"`` the slots' ``receive_share`` and ``pay_share``
    rows, and, with a budget cap (``policies`` has budget years), takes the
    decision's payments off ``budget_left``. ``rows`` (:func:`rows`): receipt
    rows by product, receipt rows and payment rows by contract, so a review
    visits only the rows it reads or writes.
    """
    product_first, product_rows, recv_first, recv_rows, pay_first, pay_rows = rows
    # per-sample rows (one shared row when every sample has the same)
    price_rows, decided_rows = contracts.contract_price_usd, policies.contract_decided
    contract_price_usd = price_rows[0] if price_rows.shape[0] == 1 else price_rows[s]
    contract_decided = decided_rows[0] if decided_rows.shape[0] == 1 else decided_rows[s]
    receive_contract, receive_party = contracts.receive_contract, contracts.receive_party
    pay_contract, pay_party = contracts.pay_contract, contracts.pay_party
    use_party, use_product = consumption.use_party, consumption.use_product
    use_first, use_last = consumption.use_first, consumption.use_last
    pledge_donor, pledge_recipient = pledges.pledge_donor, pledges.pledge_recipient
    pledge_product, owed_by_month = pledges.pledge_product, pledges.owed_by_month
    contract_due_months = policies.contract_due_months
    pol_product, pol_review_months = policies.pol_product, policies.pol_review_months
    pol_adjust_months, pol_multi_share = policies.pol_adjust_months, policies.pol_multi_share
    pol_delivery_lag, pol_member = policies.pol_delivery_lag, policies.pol_member
    pol_desired, rev_policy = policies.pol_desired, policies.rev_policy
    rev_month, rev_slot = policies.rev_month, policies.rev_slot
    capped = policies.budget_year_start.shape[0] > 0
    budget_mode = BUDGET_CAP if capped else BUDGET_NONE
    budget_offset = -policies.budget_year_start[0] if capped else 0
    T = due.shape[0]
    W = rev_policy.shape[0]
    w = w_next
    C = quantity.shape[0]
    while w < W and rev_month[w] == t:
        v = rev_policy[w]
        k = pol_product[v]
        R = pol_review_months[v]
        held = 0.0  # S: the group's stock at the end of month t - 1
        for p in range(stock.shape[0]):
            if pol_member[v, p]:
                held += stock[p, k]
        line = 0.0  # SL: decided or signed, not yet delivered, received by the group
        for i in range(product_first[k], product_first[k + 1]):  # rows of product k, in order
            r = product_rows[i]
            c = receive_contract[r]
            if pol_member[v, receive_party[r]] and contract_decided[c] <= t:
                line += receive_share[r] * max(quantity[c] - delivered[c], 0.0)
        use = _expected_use(
            v,
            t,
            R,
            T,
            k,
            pol_member,
            use_party,
            use_product,
            use_first,
            use_last,
            rate,
            pledge_donor,
            pledge_recipient,
            pledge_product,
            owed_by_month,
        )
        # desired supply line: expected use over the acquisition lag the buyer plans for
        # (its contracting delay + mean delivery wait); an extra delay is friction it does
        # not plan for, so it lengthens the real lag without raising the order
        wanted_line = use * (pol_planned_delay[v] + pol_delivery_lag[v])
        gap = pol_desired[v, t] + wanted_line - held - line
        q = max(0.0, use * R + gap * min(1.0, R / pol_adjust_months[v]))
        when = t + pol_delay[v]
        # the multi-year and annual parts' shares (two scalars, not an array per review)
        share0 = pol_multi_share[v]
        share1 = 1.0 - pol_multi_share[v]
        if rev_slot[w, 0] < 0:
            share1 = 1.0
        if rev_slot[w, 1] < 0:
            share0 = 1.0
        if policies.pol_by_gap[v]:
            split = _shares_by_gap(
                v,
                t,
                k,
                pol_desired[v, t] + wanted_line,
                stock,
                delivered,
                quantity,
                receive_share,
                contract_decided,
                contracts,
                policies,
                product_first,
                product_rows,
            )
            for j in range(2):
                c = rev_slot[w, j]
                if c < 0:
                    continue
                for i in range(recv_first[c], recv_first[c + 1]):
                    r = recv_rows[i]
                    receive_share[r] = split[receive_party[r]]
                for i in range(pay_first[c], pay_first[c + 1]):
                    b = pay_rows[i]
                    pay_share[b] = split[pay_party[b]]
        if budget_mode == BUDGET_CAP and q > 0.0:
            per_year = np.zeros(budget_left.shape[1])
            for j in range(2):
                c = rev_slot[w, j]
                if c >= 0:
                    _payment_years(
                        share0 if j == 0 else share1,
                        when,
                        contract_due_months[c],
                        contract_price_usd[c],
                        budget_offset,
                        per_year,
                    )
            for b in range(pay_contract.shape[0]):
                c = pay_contract[b]
                if c == rev_slot[w, 0] or (c == rev_slot[w, 1] and rev_slot[w, 0] < 0):
                    p = pay_party[b]
                    for y in range(per_year.shape[0]):
                        need = pay_share[b] * per_year[y]
                        if need > 0.0:
                            q = min(q, max(budget_left[p, y], 0.0) / need)
            for b in range(pay_contract.shape[0]):
                c = pay_contract[b]
                if c == rev_slot[w, 0] or (c == rev_slot[w, 1] and rev_slot[w, 0] < 0):
                    for y in range(per_year.shape[0]):
                        budget_left[pay_party[b], y] -= pay_share[b] * per_year[y] * q
        for j in range(2):
            c = rev_slot[w, j]
            if c < 0 or c >= C:
                continue
            amount = q * (share0 if j == 0 else share1)
            quantity[c] = amount
            sign[c] = when
            n = contract_due_months[c]
            col = due_col[c]
            for m in range(max(when, 0), T):
                due[m, col] = amount * min(max((m - when + 1) / n, 0.0), 1.0)
        w += 1
    return w


@njit(cache=True)
def record(
    s: int,
    quantity: np.ndarray,
    sign: np.ndarray,
    contract_decided: np.ndarray,
    pay_share: np.ndarray,
    contracts: Contracts,
    out: Outputs,
) -> None:
    """Write each contract's quantity, decision and signature months and buyers' shares."""
    for c in range(quantity.shape[0]):
        out.contract_quantity[s, c] = quantity[c]
        out.contract_decided[s, c] = contract_decided[c]
        out.contract_signed[s, c] = sign[c]
    if out.contract_buyer_share.shape[0] > 0:
        for b in range(contracts.pay_contract.shape[0]):
            out.contract_buyer_share[s, contracts.pay_contract[b], contracts.pay_party[b]] = (
                pay_share[b]
            )
