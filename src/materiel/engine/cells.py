"""Which (party, product) stock cells a run can touch: the cells worth recording.

A scenario has parties x products cells (544 in action-plan) and only a few of them
ever hold or move a round (74 there). :func:`live_cells` names a superset of those,
read from the inputs alone, so that a deterministic run records its cell outputs on
those cells only (``run_engine(cells=...)``) and the others are known to be zero.
"""

from __future__ import annotations

import numpy as np

from materiel._memo import ByIdentity
from materiel.engine.inputs import Inputs

__all__ = ["cell_slots", "live_cells"]

_LIVE: ByIdentity[np.ndarray] = ByIdentity(64)


def live_cells(inp: Inputs) -> np.ndarray:
    """``(party, product)`` bool: every cell where any cell output of a run of ``inp`` may
    be nonzero (read-only; built once per set of the fields it reads,
    :class:`~materiel._memo.ByIdentity`).

    The cell outputs (:data:`~materiel.engine.variables.CELL_DIMS`) and the only places
    the kernel (:mod:`materiel.engine.kernel`) writes a value other than 0 into them:

    - ``stock``: the cell's stock, which starts at ``stock_start`` and changes only by
      receipts, aid and consumption (below); a procurement review
      (:mod:`materiel.engine.policy`) and the fleets (:mod:`materiel.engine.fleets`) read
      it, never write it. A cell with neither keeps ``stock_start``: counted when it is
      not ``+0.0`` (``-0.0`` and NaN count too, so the values written are bit for bit
      those a full run writes).
    - ``receipts``: at the cell of each receipt row (``receive_cell``): written
      contracts, aid from production and every procurement policy's contract slots (a
      review rewrites a slot's quantity, dates and buyers' shares, never its rows).
    - ``aid_sent`` / ``aid_received``: at each pledge's (donor, product) and (recipient,
      product).
    - ``consumed`` / ``shortfall``: at each consumption entry's (party, product), whatever
      its rate.
    - ``usable_stock``: the stock where the cell keeps no fleets, else the sum of its
      fleets' usable stocks: the cells above and each fleet's (party, product).
    - ``unusable_stock``: at ``(p, line_product[l])`` for rounds of line ``l`` held by party
      ``p`` that no fleet of ``p`` may fire yet, which exist only where ``p`` keeps some
      fleet (:func:`materiel.engine.fleets.receive` puts rounds in a lot only for a cell
      with fleets; aid only scales lots): every fleet party with every line's product.

    Every other cell of every cell output stays ``0.0`` through the run, so recording
    only these loses nothing (``tests/test_cells.py`` runs every embedded scenario and
    random ones in full and checks it).
    """
    sources = (
        inp.stock_start,
        inp.receive_cell,
        inp.use_party,
        inp.use_product,
        inp.pledge_donor,
        inp.pledge_recipient,
        inp.pledge_product,
        inp.fleet_party,
        inp.fleet_product,
        inp.line_product,
    )
    return _LIVE.get(sources, lambda: _build(inp))


def cell_slots(cells: np.ndarray) -> np.ndarray:
    """``(party, product)`` int64: each cell's column among the cells ``cells`` records
    (``run_engine(cells=...)``: in row-major order of the mask), -1 where not recorded."""
    slot = np.full(cells.shape, -1, dtype=np.int64)
    slot[cells] = np.arange(int(np.count_nonzero(cells)))
    return slot


def _build(inp: Inputs) -> np.ndarray:
    """:func:`live_cells`, built."""
    P, K = len(inp.parties), len(inp.products)
    start = np.asarray(inp.stock_start, dtype=np.float64)
    live: np.ndarray = (start != 0.0) | np.signbit(start) | np.isnan(start)
    flat = live.reshape(P * K)
    flat[_at(inp.receive_cell)] = True
    live[_at(inp.use_party), _at(inp.use_product)] = True
    live[_at(inp.pledge_donor), _at(inp.pledge_product)] = True
    live[_at(inp.pledge_recipient), _at(inp.pledge_product)] = True
    live[_at(inp.fleet_party), _at(inp.fleet_product)] = True
    holders, made = np.unique(_at(inp.fleet_party)), np.unique(_at(inp.line_product))
    live[np.ix_(holders, made)] = True
    live.flags.writeable = False
    return live


def _at(index: np.ndarray) -> np.ndarray:
    """Positions as int64 (an empty list of them may have been built as floats)."""
    return np.asarray(index, dtype=np.int64)
