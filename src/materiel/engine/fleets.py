"""Stocks per weapon-system fleet inside the compiled kernel: usable and unusable rounds.

A party-product cell with fleets (:mod:`materiel.engine.interop`) keeps,
besides its nominal stock ``S_pk`` (what aid and procurement policies see),
the usable stock ``u_f`` of each fleet ``f`` and the stock ``x_pl`` of rounds
from line ``l`` that none of its fleets may fire yet, with
``S_pk = sum_f u_f + sum_l x_pl`` at every month end. With ``Q_l(t)`` the
cell's fleets qualified for line ``l`` at month ``t`` (``qualified_from[l, f]
<= t``) and ``w_f`` the fleet's share of the cell's use:

- **start**: ``u_f = w_f * S_pk(start)`` (assumption: the stock held at the
  start fits the guns in proportion to their use);
- **qualification** (:func:`qualify`, each month before deliveries): where
  ``Q_l(t)`` is no longer empty, ``x_pl`` moves to its fleets in proportion
  to ``w_f / sum_{Q_l(t)} w``;
- **pooling** (:func:`pool`, in a month a qualification takes effect, after
  the lots move): fleets of a cell that fire the same lines' rounds at ``t``
  (``qualified_from[l, f] <= t`` alike for every line) share their usable
  stock in proportion to their use, ``u_f = w_f / sum_G w * sum_G u`` over
  the group ``G`` (exact: every round a fleet holds came from a line it is
  qualified for, so the others of its group may fire it too; rounds received
  later stay in proportion, as receipts and consumption go by ``w_f``);
- **receipts** (:func:`receive`): a delivery ``d`` from line ``l`` goes to
  ``u_f += d * w_f / sum_{Q_l(t)} w`` for ``f`` in ``Q_l(t)``, else to
  ``x_pl``;
- **aid from stock** (:func:`aid`): a donor gives in proportion from every
  fleet and lot, ``u_f, x_pl *= 1 - out_pk / S_pk``; what a recipient
  receives fits all its fleets, ``u_f += in_pk * w_f`` (assumption: donors
  give rounds that fit the recipient's guns);
- **consumption** (:func:`consume`): each fleet draws its share of the
  demand from its own usable stock, ``c_f = min(w_f * D_pk, u_f)`` (all
  scaled down alike where the holder's stock floor binds), the
  fleet's shortfall is ``w_f D_pk - c_f``, and the cell's consumption is
  ``sum_f c_f``.

With one fleet per cell qualified for every line (``nato`` with one fleet
per party) ``u_f = S_pk`` and the run is today's run (up to rounding of
the order in which deliveries are summed).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from materiel.engine.variables import Assignments, Contracts, Fleets

__all__ = [
    "aid",
    "assignment_row_first",
    "by_receiver_from",
    "consume",
    "delivery_share",
    "fit_from",
    "group_rows",
    "has_fleets",
    "mark_by_receiver",
    "open_by_receiver",
    "pool",
    "qualify",
    "receipt_rows",
    "receipts_by_receiver",
    "receive",
    "regroup_months",
    "split",
    "start",
    "watched",
]

_NEVER = 1 << 62  # a line that fits no fleet of the cell


@njit(cache=True)
def has_fleets(fleets: Fleets, P: int, K: int) -> np.ndarray:
    """``(P, K)``: whether the cell keeps its stock per fleet."""
    out = np.zeros((P, K), dtype=np.bool_)
    for f in range(fleets.fleet_party.shape[0]):
        out[fleets.fleet_party[f], fleets.fleet_product[f]] = True
    return out


@njit(cache=True)
def group_rows(keys: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by contract ``keys[row]``: ``rows[first[c]:first[c + 1]]`` in row order."""
    R = keys.shape[0]
    first = np.zeros(C + 1, dtype=np.int64)
    for r in range(R):
        first[keys[r] + 1] += 1
    for c in range(C):
        first[c + 1] += first[c]
    fill = first[:-1].copy()
    rows = np.zeros(R, dtype=np.int64)
    for r in range(R):
        c = keys[r]
        rows[fill[c]] = r
        fill[c] += 1
    return first, rows


@njit(cache=True)
def receipt_rows(contracts: Contracts, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Receipt rows grouped by contract: ``rows[first[c]:first[c + 1]]``."""
    return group_rows(contracts.receive_contract, C)


@njit(cache=True)
def fit_from(fleets: Fleets, line_product: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``(L, P)``: the first month line ``l``'s rounds fit some fleet of party ``p``.

    For the cell ``(p, product of l)``: ``min_f qualified_from[l, f]`` over
    the cell's fleets; ``-1`` (always) where the cell keeps no fleets (its
    stock is one pool that every round fits).
    """
    L, P = line_product.shape[0], cell.shape[0]
    out = np.full((L, P), -1, dtype=np.int64)
    for ln in range(L):
        for p in range(P):
            if cell[p, line_product[ln]]:
                out[ln, p] = _NEVER
    for f in range(fleets.fleet_party.shape[0]):
        p = fleets.fleet_party[f]
        for ln in range(L):
            if line_product[ln] == fleets.fleet_product[f]:
                out[ln, p] = min(out[ln, p], fleets.qualified_from[ln, f])
    return out


@njit(cache=True)
def watched(contracts: Contracts, cell: np.ndarray, C: int) -> np.ndarray:
    """``(C,)``: contracts with a receiver that keeps its stock per fleet."""
    out = np.zeros(C, dtype=np.bool_)
    for r in range(contracts.receive_contract.shape[0]):
        if cell[contracts.receive_party[r], contracts.receive_product[r]]:
            out[contracts.receive_contract[r]] = True
    return out


@njit(cache=True)
def assignment_row_first(assignments: Assignments, recv_first: np.ndarray) -> np.ndarray:
    """``(A + 1,)``: offsets of each assignment's (assignment, receiver) amounts."""
    A = assignments.assign_contract.shape[0]
    out = np.zeros(A + 1, dtype=np.int64)
    for a in range(A):
        c = assignments.assign_contract[a]
        out[a + 1] = out[a] + recv_first[c + 1] - recv_first[c]
    return out


@njit(cache=True)
def by_receiver_from(
    fit: np.ndarray,
    watch: np.ndarray,
    assignments: Assignments,
    a_first: np.ndarray,
    a_rows: np.ndarray,
    contracts: Contracts,
    recv_first: np.ndarray,
    recv_rows: np.ndarray,
    T: int,
) -> np.ndarray:
    """``(C,)``: the month from which each contract is kept per receiver (``T``: never).

    Contract ``c`` is kept per receiver from the first month ``t`` at which,
    for one of its receivers ``r``, some but not all of its lines fit
    (``0 < |L_r(t)| < |L_c|``, :func:`split`); it stays so (its receivers'
    deliveries may then differ from their shares). The lines that fit depend
    on the month alone (``fit``), not on the sample: found once per kernel
    call, for :func:`mark_by_receiver`.
    """
    C = watch.shape[0]
    out = np.full(C, T, dtype=np.int64)
    for c in range(C):
        n = a_first[c + 1] - a_first[c]
        if not watch[c] or n < 2:
            continue
        for t in range(T):
            for i in range(recv_first[c], recv_first[c + 1]):
                p = contracts.receive_party[recv_rows[i]]
                fits = 0
                for j in range(a_first[c], a_first[c + 1]):
                    if fit[assignments.assign_line[a_rows[j]], p] <= t:
                        fits += 1
                if 0 < fits < n:
                    out[c] = t
                    break
            if out[c] < T:
                break
    return out


@njit(cache=True)
def mark_by_receiver(
    t: int,
    turn: np.ndarray,
    by_row: np.ndarray,
    delivered: np.ndarray,
    receive_share: np.ndarray,
    recv_first: np.ndarray,
    recv_rows: np.ndarray,
    delivered_r: np.ndarray,
) -> bool:
    """Contracts kept per receiver from month ``turn[c]`` (:func:`by_receiver_from`) on.

    Until its turn every receiver of a contract has had its share,
    ``delivered_r = share_r * delivered_c``. Returns whether any contract is
    kept per receiver (if none, :func:`open_by_receiver`, :func:`split` and
    :func:`receipts_by_receiver` have nothing to do).
    """
    found = False
    for c in range(turn.shape[0]):
        if by_row[c]:
            found = True
        elif turn[c] <= t:
            by_row[c] = True
            found = True
            for i in range(recv_first[c], recv_first[c + 1]):
                r = recv_rows[i]
                delivered_r[r] = delivered[c] * receive_share[r]
    return found


@njit(cache=True)
def open_by_receiver(
    t: int,
    by_row: np.ndarray,
    due: np.ndarray,
    slot_due: np.ndarray,
    due_col: np.ndarray,
    quantity: np.ndarray,
    sign: np.ndarray,
    firm: np.ndarray,
    receive_share: np.ndarray,
    delivered_r: np.ndarray,
    recv_first: np.ndarray,
    recv_rows: np.ndarray,
    open_c: np.ndarray,
    book_c: np.ndarray,
    open_r: np.ndarray,
    book_r: np.ndarray,
) -> None:
    """Open orders and firm book per receiver of the contracts kept per receiver.

    ``open_r = max(share_r due_c(t) - delivered_r, 0)``, ``book_r =
    firm_c [t >= sign_c] max(share_r Q_c - delivered_r, 0)``; the contract's
    own ``open_c`` and ``book_c`` are set to 0 (its lines get the receivers'
    amounts from :func:`split`). ``due_c(t)`` is ``due[t, c]``, or for a
    policy slot (``due_col[c] >= 0``) ``slot_due[t, due_col[c]]``.
    """
    for c in range(by_row.shape[0]):
        if not by_row[c]:
            continue
        live = sign[c] <= t and firm[c]
        due_t = due[t, c] if due_col[c] < 0 else slot_due[t, due_col[c]]
        for i in range(recv_first[c], recv_first[c + 1]):
            r = recv_rows[i]
            open_r[r] = max(receive_share[r] * due_t - delivered_r[r], 0.0)
            book_r[r] = max(receive_share[r] * quantity[c] - delivered_r[r], 0.0) if live else 0.0
        open_c[c] = 0.0
        book_c[c] = 0.0


@njit(cache=True)
def split(
    t: int,
    fit: np.ndarray,
    by_row: np.ndarray,
    per_row: np.ndarray,
    weight: np.ndarray,
    per_line: np.ndarray,
    per_assignment: np.ndarray,
    ar: np.ndarray,
    ar_first: np.ndarray,
    keep: bool,
    assignments: Assignments,
    a_first: np.ndarray,
    a_rows: np.ndarray,
    contracts: Contracts,
    recv_first: np.ndarray,
    recv_rows: np.ndarray,
) -> None:
    """Share each receiver's part of a contract kept per receiver between the lines that fit it.

    With ``L_r(t)`` the contract's lines whose rounds fit some fleet of
    receiver ``r`` by month ``t`` (every line where ``r`` keeps no fleets, and
    every line of the contract where none fits: those rounds wait, unusable,
    for a qualification), line ``l`` in ``L_r(t)`` gets ``a_{l,r} = x_r *
    w_l / sum_{L_r(t)} w`` (equal shares if all are zero) of the receiver's
    amount ``x_r`` (open orders or firm book), added into ``per_line``; with
    ``keep`` also into ``per_assignment`` and ``ar`` (per assignment and
    receiver, for :func:`delivery_share`).
    """
    for c in range(by_row.shape[0]):
        if not by_row[c]:
            continue
        n = a_first[c + 1] - a_first[c]
        if keep:
            for j in range(a_first[c], a_first[c + 1]):
                a = a_rows[j]
                for x in range(ar_first[a], ar_first[a + 1]):  # (a slice would take a reference)
                    ar[x] = 0.0
        for i in range(recv_first[c], recv_first[c + 1]):
            r = recv_rows[i]
            if per_row[r] <= 0.0:
                continue
            p = contracts.receive_party[r]
            total, count = 0.0, 0
            for j in range(a_first[c], a_first[c + 1]):
                ln = assignments.assign_line[a_rows[j]]
                if fit[ln, p] <= t:
                    total += weight[ln]
                    count += 1
            anyone = count == 0
            if anyone:
                for j in range(a_first[c], a_first[c + 1]):
                    total += weight[assignments.assign_line[a_rows[j]]]
                count = n
            for j in range(a_first[c], a_first[c + 1]):
                a = a_rows[j]
                ln = assignments.assign_line[a]
                if anyone or fit[ln, p] <= t:
                    amount = per_row[r] * (weight[ln] / total if total > 0.0 else 1.0 / count)
                    per_line[ln] += amount
                    if keep:
                        per_assignment[a] += amount
                        ar[ar_first[a] + i - recv_first[c]] = amount


@njit(cache=True)
def delivery_share(kept: bool, open_a: float, part: float, share: float) -> float:
    """The share of an assignment's delivery that goes to one of its contract's receivers.

    ``share_r`` (``share``) for a contract shared by its receivers' shares;
    ``a_{l,r} / open_a`` (``part / open_a``, :func:`split`) for one ``kept`` per receiver.
    Takes the values, not the arrays holding them: a compiled call takes a reference to each
    array it is given (two atomic operations), and this runs per receipt row and assignment.
    """
    if not kept:
        return share
    if open_a <= 0.0:
        return 0.0
    return part / open_a


@njit(cache=True)
def receipts_by_receiver(
    take: np.ndarray,
    open_a: np.ndarray,
    by_row: np.ndarray,
    ar: np.ndarray,
    ar_first: np.ndarray,
    a_first: np.ndarray,
    a_rows: np.ndarray,
    recv_first: np.ndarray,
    recv_rows: np.ndarray,
    receive_share: np.ndarray,
    got: np.ndarray,
    delivered_r: np.ndarray,
) -> None:
    """``got[r]``: this month's receipts of each receiver of a contract kept per receiver.

    ``got_r = sum_a take_a * a_{l,r} / open_a`` over the contract's
    assignments; ``delivered_r += got_r``.
    """
    for c in range(by_row.shape[0]):
        if not by_row[c]:
            continue
        for i in range(recv_first[c], recv_first[c + 1]):
            r = recv_rows[i]
            got[r] = 0.0
            for j in range(a_first[c], a_first[c + 1]):
                a = a_rows[j]
                if take[a] > 0.0:
                    part = ar[ar_first[a] + i - recv_first[c]]
                    got[r] += take[a] * delivery_share(True, open_a[a], part, receive_share[r])
            delivered_r[r] += got[r]


@njit(cache=True)
def start(fleets: Fleets, stock: np.ndarray, usable: np.ndarray) -> None:
    """``u_f = w_f * S_pk`` at the start."""
    for f in range(fleets.fleet_party.shape[0]):
        usable[f] = fleets.fleet_share[f] * stock[fleets.fleet_party[f], fleets.fleet_product[f]]


@njit(cache=True)
def regroup_months(fleets: Fleets, T: int) -> np.ndarray:
    """``(T,)``: months in which a qualification takes effect (and month 0)."""
    out = np.zeros(T, dtype=np.bool_)
    if T > 0:
        out[0] = True
    q = fleets.qualified_from
    for ln in range(q.shape[0]):
        for f in range(q.shape[1]):
            if 0 < q[ln, f] < T:
                out[q[ln, f]] = True
    return out


@njit(cache=True)
def pool(fleets: Fleets, t: int, usable: np.ndarray) -> None:
    """Fleets of a cell that fire the same lines' rounds at ``t`` share their usable stock.

    ``u_f = w_f / sum_G w * sum_G u`` over each group ``G`` of two or more
    fleets (module docstring); a fleet alone keeps its stock untouched.
    """
    F = fleets.fleet_party.shape[0]
    q = fleets.qualified_from
    group = np.arange(F)
    for f in range(F):
        for g in range(f):
            if (
                group[g] != g
                or fleets.fleet_party[g] != fleets.fleet_party[f]
                or fleets.fleet_product[g] != fleets.fleet_product[f]
            ):
                continue
            same = True
            for ln in range(q.shape[0]):
                if (q[ln, f] <= t) != (q[ln, g] <= t):
                    same = False
                    break
            if same:
                group[f] = g
                break
    total = np.zeros(F)
    weight = np.zeros(F)
    members = np.zeros(F, dtype=np.int64)
    for f in range(F):
        total[group[f]] += usable[f]
        weight[group[f]] += fleets.fleet_share[f]
        members[group[f]] += 1
    for f in range(F):
        g = group[f]
        if members[g] > 1 and weight[g] > 0.0:
            usable[f] = total[g] * fleets.fleet_share[f] / weight[g]


@njit(cache=True)
def _qualified_share(fleets: Fleets, t: int, ln: int, p: int, k: int) -> float:
    """``sum_{Q_l(t)} w``: the share of cell (p, k)'s use that line ``ln``'s rounds fit."""
    total = 0.0
    for f in range(fleets.fleet_party.shape[0]):
        if (
            fleets.fleet_party[f] == p
            and fleets.fleet_product[f] == k
            and fleets.qualified_from[ln, f] <= t
        ):
            total += fleets.fleet_share[f]
    return total


@njit(cache=True)
def _to_fleets(
    fleets: Fleets, t: int, ln: int, p: int, k: int, amount: float, total: float, usable: np.ndarray
) -> None:
    for f in range(fleets.fleet_party.shape[0]):
        if (
            fleets.fleet_party[f] == p
            and fleets.fleet_product[f] == k
            and fleets.qualified_from[ln, f] <= t
        ):
            usable[f] += amount * fleets.fleet_share[f] / total


@njit(cache=True)
def qualify(
    fleets: Fleets, t: int, line_product: np.ndarray, usable: np.ndarray, unusable: np.ndarray
) -> bool:
    """Rounds held that a fleet of their holder is now qualified for become usable.

    Returns whether any unusable rounds remain (the kernel skips the lots while none do).
    """
    left = False
    for p in range(unusable.shape[0]):
        for ln in range(unusable.shape[1]):
            if unusable[p, ln] > 0.0:
                total = _qualified_share(fleets, t, ln, p, line_product[ln])
                if total > 0.0:
                    _to_fleets(fleets, t, ln, p, line_product[ln], unusable[p, ln], total, usable)
                    unusable[p, ln] = 0.0
            if unusable[p, ln] != 0.0:
                left = True
    return left


@njit(cache=True)
def receive(
    fleets: Fleets,
    t: int,
    take: np.ndarray,
    assignments: Assignments,
    contracts: Contracts,
    first: np.ndarray,
    rows: np.ndarray,
    cell: np.ndarray,
    usable: np.ndarray,
    unusable: np.ndarray,
    by_row: np.ndarray,
    open_a: np.ndarray,
    ar: np.ndarray,
    ar_first: np.ndarray,
    receive_share: np.ndarray,
    watch: np.ndarray,
    visit: np.ndarray,
    n_visit: int,
) -> bool:
    """Each assignment's delivery ``take[a]`` from its line to the receivers' fleets or lots.

    Receiver ``r`` gets ``take_a * share`` (:func:`delivery_share`: its
    share, or its own part of the assignment where the contract is kept per
    receiver). Only the assignments ``visit[:n_visit]`` (in increasing order,
    every one that may have delivered) of contracts with a receiver that keeps
    fleets (``watch``, :func:`watched`) are visited. Returns whether any went
    to a lot no fleet may fire yet.
    """
    lots = False
    for i_visit in range(n_visit):
        a = visit[i_visit]
        if take[a] <= 0.0:
            continue
        ln, c = assignments.assign_line[a], assignments.assign_contract[a]
        if not watch[c]:
            continue
        for i in range(first[c], first[c + 1]):
            r = rows[i]
            p, k = contracts.receive_party[r], contracts.receive_product[r]
            if not cell[p, k]:
                continue
            part = ar[ar_first[a] + i - first[c]] if by_row[c] else 0.0
            amount = take[a] * delivery_share(by_row[c], open_a[a], part, receive_share[r])
            total = _qualified_share(fleets, t, ln, p, k)
            if total > 0.0:
                _to_fleets(fleets, t, ln, p, k, amount, total, usable)
            else:
                unusable[p, ln] += amount
                lots = True
    return lots


@njit(cache=True)
def aid(
    fleets: Fleets,
    line_product: np.ndarray,
    sent: np.ndarray,
    received: np.ndarray,
    usable: np.ndarray,
    unusable: np.ndarray,
    lot_party: np.ndarray,
    lot_line: np.ndarray,
    held: np.ndarray,
    keep: np.ndarray,
) -> None:
    """Aid out in proportion from every fleet and lot; aid in by share to every fleet.

    A cell with fleets keeps ``keep = min(max(1 - sent / held, 0), 1)`` of its fleets' usable
    stock and lots (1 where nothing is sent or held), ``held`` their total. Only cells with
    fleets are read or written: ``(lot_party[i], lot_line[i])``, in increasing order, are the
    lots whose line's product is such a cell (every other lot keeps all it holds, and its
    cell's ``sent`` is not read); ``held`` and ``keep`` are ``(P, K)`` scratch.
    """
    F = usable.shape[0]
    for f in range(F):
        p, k = fleets.fleet_party[f], fleets.fleet_product[f]
        held[p, k] = 0.0
        keep[p, k] = 1.0
    for f in range(F):
        held[fleets.fleet_party[f], fleets.fleet_product[f]] += usable[f]
    for i in range(lot_party.shape[0]):
        p, ln = lot_party[i], lot_line[i]
        held[p, line_product[ln]] += unusable[p, ln]
    for f in range(F):
        p, k = fleets.fleet_party[f], fleets.fleet_product[f]
        if sent[p, k] > 0.0 and held[p, k] > 0.0:
            keep[p, k] = min(max(1.0 - sent[p, k] / held[p, k], 0.0), 1.0)
    for f in range(F):
        p, k = fleets.fleet_party[f], fleets.fleet_product[f]
        usable[f] = usable[f] * keep[p, k] + received[p, k] * fleets.fleet_share[f]
    for i in range(lot_party.shape[0]):
        p, ln = lot_party[i], lot_line[i]
        unusable[p, ln] *= keep[p, line_product[ln]]


@njit(cache=True)
def consume(
    fleets: Fleets, p: int, k: int, want: float, limit: float, usable: np.ndarray, short: np.ndarray
) -> float:
    """Each fleet of cell (p, k) draws ``w_f * want`` from its usable stock; returns the total.

    ``limit`` is what the holder's own use may draw (stock above its floor,
    ``policy.floor_applies_to``): when the fleets' draws exceed it, each is
    scaled by ``limit / sum_f c_f`` (the floor is kept in every fleet alike).
    """
    total = 0.0
    for f in range(usable.shape[0]):
        if fleets.fleet_party[f] == p and fleets.fleet_product[f] == k:
            total += min(want * fleets.fleet_share[f], usable[f])
    scale = 1.0
    if total > limit:
        scale = limit / total
    used = 0.0
    for f in range(usable.shape[0]):
        if fleets.fleet_party[f] == p and fleets.fleet_product[f] == k:
            need = want * fleets.fleet_share[f]
            c = min(need, usable[f])
            if scale < 1.0:
                c *= scale
            usable[f] -= c
            short[f] = need - c
            used += c
    return limit if scale < 1.0 else used
