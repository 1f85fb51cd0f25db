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

__all__ = ["aid", "consume", "has_fleets", "qualify", "receipt_rows", "receive", "start"]


@njit(cache=True)
def has_fleets(fleets: Fleets, P: int, K: int) -> np.ndarray:
    """``(P, K)``: whether the cell keeps its stock per fleet."""
    out = np.zeros((P, K), dtype=np.bool_)
    for f in range(fleets.fleet_party.shape[0]):
        out[fleets.fleet_party[f], fleets.fleet_product[f]] = True
    return out


@njit(cache=True)
def receipt_rows(contracts: Contracts, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Receipt rows grouped by contract: ``rows[first[c]:first[c + 1]]``."""
    R = contracts.receive_contract.shape[0]
    first = np.zeros(C + 1, dtype=np.int64)
    for r in range(R):
        first[contracts.receive_contract[r] + 1] += 1
    for c in range(C):
        first[c + 1] += first[c]
    fill = first[:-1].copy()
    rows = np.zeros(R, dtype=np.int64)
    for r in range(R):
        c = contracts.receive_contract[r]
        rows[fill[c]] = r
        fill[c] += 1
    return first, rows


@njit(cache=True)
def start(fleets: Fleets, stock: np.ndarray, usable: np.ndarray) -> None:
    """``u_f = w_f * S_pk`` at the start."""
    for f in range(fleets.fleet_party.shape[0]):
        usable[f] = fleets.fleet_share[f] * stock[fleets.fleet_party[f], fleets.fleet_product[f]]


@njit(cache=True)
def _qualified_share(fleets: Fleets, t: int, ln: int, p: int, k: int) -> float:
    """``sum_{Q_l(t)} w``: the share of cell (p, k)'s use that line ``ln``'s rounds fit."""
    total = 0.0
    for f in range(fleets.fleet_party.shape[0]):
        if (fleets.fleet_party[f] == p and fleets.fleet_product[f] == k
                and fleets.qualified_from[ln, f] <= t):  # fmt: skip
            total += fleets.fleet_share[f]
    return total


@njit(cache=True)
def _to_fleets(fleets: Fleets, t: int, ln: int, p: int, k: int, amount: float,
               total: float, usable: np.ndarray) -> None:  # fmt: skip
    for f in range(fleets.fleet_party.shape[0]):
        if (fleets.fleet_party[f] == p and fleets.fleet_product[f] == k
                and fleets.qualified_from[ln, f] <= t):  # fmt: skip
            usable[f] += amount * fleets.fleet_share[f] / total


@njit(cache=True)
def qualify(fleets: Fleets, t: int, line_product: np.ndarray, usable: np.ndarray,
            unusable: np.ndarray) -> bool:  # fmt: skip
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
def receive(fleets: Fleets, t: int, take: np.ndarray, assignments: Assignments,
            contracts: Contracts, first: np.ndarray, rows: np.ndarray, cell: np.ndarray,
            usable: np.ndarray, unusable: np.ndarray) -> bool:  # fmt: skip
    """Each assignment's delivery ``take[a]`` from its line to the receivers' fleets or lots.

    Returns whether any went to a lot no fleet may fire yet.
    """
    lots = False
    for a in range(take.shape[0]):
        if take[a] <= 0.0:
            continue
        ln, c = assignments.assign_line[a], assignments.assign_contract[a]
        for i in range(first[c], first[c + 1]):
            r = rows[i]
            p, k = contracts.receive_party[r], contracts.receive_product[r]
            if not cell[p, k]:
                continue
            amount = take[a] * contracts.receive_share[r]
            total = _qualified_share(fleets, t, ln, p, k)
            if total > 0.0:
                _to_fleets(fleets, t, ln, p, k, amount, total, usable)
            else:
                unusable[p, ln] += amount
                lots = True
    return lots


@njit(cache=True)
def aid(fleets: Fleets, line_product: np.ndarray, sent: np.ndarray, received: np.ndarray,
        cell: np.ndarray, usable: np.ndarray, unusable: np.ndarray) -> None:  # fmt: skip
    """Aid out in proportion from every fleet and lot; aid in by share to every fleet."""
    P, K = sent.shape
    held = np.zeros((P, K))
    for f in range(usable.shape[0]):
        held[fleets.fleet_party[f], fleets.fleet_product[f]] += usable[f]
    for p in range(P):
        for ln in range(unusable.shape[1]):
            held[p, line_product[ln]] += unusable[p, ln]
    keep = np.ones((P, K))
    for p in range(P):
        for k in range(K):
            if cell[p, k] and sent[p, k] > 0.0 and held[p, k] > 0.0:
                keep[p, k] = min(max(1.0 - sent[p, k] / held[p, k], 0.0), 1.0)
    for f in range(usable.shape[0]):
        p, k = fleets.fleet_party[f], fleets.fleet_product[f]
        usable[f] = usable[f] * keep[p, k] + received[p, k] * fleets.fleet_share[f]
    for p in range(P):
        for ln in range(unusable.shape[1]):
            unusable[p, ln] *= keep[p, line_product[ln]]


@njit(cache=True)
def consume(fleets: Fleets, p: int, k: int, want: float, limit: float, usable: np.ndarray,
            short: np.ndarray) -> float:  # fmt: skip
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
