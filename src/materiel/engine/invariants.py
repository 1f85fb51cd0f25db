"""Conservation laws every finished run must satisfy, checked on the raw arrays.

- **Production is delivered or held**: a munition line's output all goes to
  open orders (``production = line_deliveries``); a component line's output not
  yet used stays in its pool (``inventory(t) - inventory(t-1) = produced - used``).
- **Stocks balance**: ``stock(t) - stock(t-1) = receipts + aid_in - aid_out - consumed``.
- **Rounds are usable or not**: ``stock = usable_stock + unusable_stock``
  (weapon-system fleets, :mod:`materiel.engine.fleets`).
- **Nothing negative**: stocks (usable stock too), inventories, production.
- **No over-delivery**: no contract receives more than its quantity (for a
  policy-made contract, the quantity the kernel decided).
- **Policy contracts are decided once, never negative**: a slot's quantity is
  at least zero and its signature is at or after its decision.
- **Deliveries reach their buyers whole** (written and policy-made contracts
  alike): each month the parties receive what contracts deliver
  (``sum receipts = sum contract_deliveries``) and pay for it
  (``sum payments = sum deliveries x unit price``); each contract's buyer
  shares, as decided, sum to 1.

A broken law raises :class:`~materiel.InvariantError` naming the law, the
line/party/product and the month.

Each law is ``|err| <= TOLERANCE * (1 + |scale|)`` in every cell. A whole run is first
checked in one compiled pass (:func:`_all_hold`, numba, no temporary arrays: a web
request's run in ~0.1 ms, where the numpy laws below take ~1 ms); only when it finds a
cell beyond its bound (or the arrays are not a whole run's) do the numpy laws run, and
they decide and name the broken law.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from numba import njit

from materiel._errors import InvariantError
from materiel._numba import cache_loads_without_registries
from materiel.engine.inputs import Inputs
from materiel.engine.variables import CELL_DIMS, OUTPUTS
from materiel.months import month_label, parse_month

__all__ = ["TOLERANCE", "check_invariants"]

TOLERANCE = 1e-6

cache_loads_without_registries()  # the cached pass loads without numba's registries


def _fail_first(
    inp: Inputs,
    err: np.ndarray,
    scale: np.ndarray | Callable[[], np.ndarray],
    what: str,
    axes: tuple[str, ...],
    cells: np.ndarray | None = None,
) -> None:
    """Raise if ``|err| > TOLERANCE * (1 + |scale|)`` anywhere; name the first place.

    ``-TOLERANCE <= err <= TOLERANCE`` everywhere (the smallest bound) answers first: the
    cell-by-cell bound (``scale``, or ``scale()`` when given as a function) is computed
    only when some error passes it. ``cells``: the (party, product) mask the cell
    outputs were recorded on, as ``(..., cell, 1)`` (:func:`check_invariants`): the
    ``party`` index is then the recorded cell's position, named by its party and product.
    """
    if err.size == 0 or (err.min() >= -TOLERANCE and err.max() <= TOLERANCE):
        return
    bound = scale() if callable(scale) else scale
    bad = np.abs(err) > TOLERANCE * (1.0 + np.abs(bound))
    if not bad.any():
        return
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    names = {
        "line": inp.lines,
        "party": inp.parties,
        "product": inp.products,
        "pool": inp.pools,
        "contract": inp.contracts,
    }
    at = dict(zip(axes, idx, strict=True))
    if cells is not None and "party" in at:  # a recorded cell's position: its party, product
        at["party"], at["product"] = (int(i) for i in np.argwhere(cells)[at["party"]])
    where = []
    for axis in axes:
        if axis == "sample":
            continue
        if axis == "month":
            where.append(f"month {month_label(parse_month(inp.start) + at[axis])}")
        else:
            where.append(f"{axis} {names[axis][at[axis]]}")
    raise InvariantError(
        f"invariant broken: {what} at {', '.join(where)} (off by {float(err[idx]):.6g})"
    )


def _before(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``x`` a month earlier, per sample: ``start`` in the first month."""
    S = x.shape[0]
    before: np.ndarray = np.concatenate(
        [np.broadcast_to(start, (S, 1, *x.shape[2:])), x[:, :-1]], axis=1
    )
    return before


def _change(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``x - _before(x, start)``, month by month, without the shifted copy."""
    out = np.empty_like(x)
    np.subtract(x[:, :1], start, out=out[:, :1])
    np.subtract(x[:, 1:], x[:, :-1], out=out[:, 1:])
    return out


@njit(cache=True, nogil=True)
def _bad(err: float, scale: float) -> bool:  # pragma: no cover - compiled
    """``|err| > TOLERANCE * (1 + |scale|)``: the numpy laws' test of one cell (NaN passes)."""
    return abs(err) > TOLERANCE * (1.0 + abs(scale))


@njit(cache=True, nogil=True)
def _all_hold(
    munition_line: np.ndarray,
    line_pool: np.ndarray,
    line_product: np.ndarray,
    production: np.ndarray,
    line_deliveries: np.ndarray,
    inventory: np.ndarray,
    inventory_start: np.ndarray,
    component_used: np.ndarray,
    stock: np.ndarray,
    stock_start: np.ndarray,
    receipts: np.ndarray,
    aid_received: np.ndarray,
    aid_sent: np.ndarray,
    consumed: np.ndarray,
    usable_stock: np.ndarray,
    unusable_stock: np.ndarray,
    contract_deliveries: np.ndarray,
    delivered_start: np.ndarray,
    quantity: np.ndarray,
    price_usd: np.ndarray,
    payments_usd: np.ndarray,
    shares: np.ndarray,
    signed: np.ndarray,
    decided: np.ndarray,
) -> bool:  # pragma: no cover - compiled; tests/test_invariants.py checks it against numpy
    """Whether every law of :func:`check_invariants` holds in every cell of a whole run
    (every output recorded), each error and scale computed as the numpy laws compute
    them, in the same order of operations (sums over contracts and cells excepted:
    numpy's pairwise and BLAS sums round otherwise, within ~1e-16 of the total)."""
    S, T, L = production.shape
    Q, K = inventory.shape[2], inventory.shape[3]
    P, KS = stock.shape[2], stock.shape[3]  # (cell, 1) when recorded by cell
    C = contract_deliveries.shape[2]
    produced = np.zeros((Q, K))
    for s in range(S):
        for t in range(T):
            for line in range(L):
                made = production[s, t, line]
                if munition_line[line] and _bad(made - line_deliveries[s, t, line], made):
                    return False
                if _bad(min(made, 0.0), made):
                    return False
            produced[:, :] = 0.0
            for line in range(L):
                if not munition_line[line]:
                    produced[line_pool[line], line_product[line]] += production[s, t, line]
            for q in range(Q):
                for k in range(K):
                    held = inventory[s, t, q, k]
                    before = inventory_start[q, k] if t == 0 else inventory[s, t - 1, q, k]
                    change = held - before
                    change -= produced[q, k]
                    change += component_used[s, t, q, k]
                    if _bad(change, held) or _bad(min(held, 0.0), before):
                        return False
            received = 0.0
            for p in range(P):
                for k in range(KS):
                    held = stock[s, t, p, k]
                    before = stock_start[p, k] if t == 0 else stock[s, t - 1, p, k]
                    flows = receipts[s, t, p, k] + aid_received[s, t, p, k]
                    flows -= aid_sent[s, t, p, k]
                    flows -= consumed[s, t, p, k]
                    change = held - before
                    change -= flows
                    usable = usable_stock[s, t, p, k]
                    if (
                        _bad(change, held)
                        or _bad(min(held, 0.0), before)
                        or _bad(held - usable - unusable_stock[s, t, p, k], held)
                        or _bad(min(usable, 0.0), held)
                    ):
                        return False
                    received += receipts[s, t, p, k]
            delivered = 0.0
            value = 0.0
            for c in range(C):
                delivered += contract_deliveries[s, t, c]
                value += contract_deliveries[s, t, c] * price_usd[c]
            if _bad(received - delivered, delivered):
                return False
            paid = 0.0
            for p in range(payments_usd.shape[2]):
                paid += payments_usd[s, t, p]
            if _bad(paid - value, value):
                return False
        for c in range(C):
            total = 0.0
            for t in range(T):
                total += contract_deliveries[s, t, c]
            total += delivered_start[c]
            wanted = quantity[s, c]
            if _bad(max(total - wanted, 0.0), wanted) or _bad(min(wanted, 0.0), wanted):
                return False
            if _bad(min(float(signed[s, c] - decided[s, c]), 0.0), 0.0):
                return False
            if shares.shape[0] > 0 and shares.shape[1] > 0:
                share = 0.0
                for p in range(shares.shape[2]):
                    share += shares[s, c, p]
                if _bad(share - 1.0, 1.0):
                    return False
    return True


_WHOLE_RUN = {
    "production": 3,
    "line_deliveries": 3,
    "inventory": 4,
    "component_used": 4,
    "stock": 4,
    "receipts": 4,
    "aid_received": 4,
    "aid_sent": 4,
    "consumed": 4,
    "usable_stock": 4,
    "unusable_stock": 4,
    "contract_deliveries": 3,
    "contract_quantity": 2,
    "payments_usd": 3,
    "contract_buyer_share": 3,
    "contract_signed": 2,
    "contract_decided": 2,
}
"""What :func:`_all_hold` reads, with each array's number of dims in a whole run."""


def _holds_at_once(
    inp: Inputs,
    raw: Mapping[str, np.ndarray],
    munition_line: np.ndarray,
    stock_start: np.ndarray | None = None,
) -> bool:
    """:func:`_all_hold` on a whole run with all its samples recorded (False otherwise:
    the numpy laws then decide); ``stock_start`` shaped as the cell outputs' last two axes
    (the inputs' by default)."""
    if stock_start is None:
        stock_start = inp.stock_start
    a: dict[str, np.ndarray] = {}
    for name, ndim in _WHOLE_RUN.items():
        given = raw.get(name)
        if given is None or given.ndim != ndim:
            return False
        a[name] = given
    S = a["production"].shape[0]
    recorded = [n for n in _WHOLE_RUN if n != "contract_buyer_share"]
    if any(a[n].shape[0] != S for n in recorded) or a["contract_buyer_share"].shape[0] not in (
        0,
        S,
    ):
        return False  # some outputs not recorded (an empty sample axis)
    held: bool = _all_hold(
        munition_line,
        np.asarray(inp.line_pool, np.int64),
        np.asarray(inp.line_product, np.int64),
        a["production"],
        a["line_deliveries"],
        a["inventory"],
        np.asarray(inp.inventory_start, np.float64),
        a["component_used"],
        a["stock"],
        np.asarray(stock_start, np.float64),
        a["receipts"],
        a["aid_received"],
        a["aid_sent"],
        a["consumed"],
        a["usable_stock"],
        a["unusable_stock"],
        a["contract_deliveries"],
        np.asarray(inp.contract_delivered_start, np.float64),
        a["contract_quantity"],
        np.asarray(inp.contract_price_usd, np.float64),
        a["payments_usd"],
        a["contract_buyer_share"],
        a["contract_signed"],
        a["contract_decided"],
    )
    return held


def check_invariants(
    inp: Inputs, raw: Mapping[str, np.ndarray], cells: np.ndarray | None = None
) -> None:
    """Raise :class:`~materiel.InvariantError` if any conservation law is broken.

    A whole run is checked first in one compiled pass (:func:`_all_hold`); the numpy
    laws (:func:`_numpy_laws`) run only when it finds a cell beyond its bound, and name it.
    ``cells``: the (party, product) mask the run recorded its cell outputs on
    (``run_engine(cells=...)``, shaped ``(sample, month, cell)``), every cell where any
    may be nonzero (:func:`materiel.engine.cells.live_cells`). The laws then read each
    recorded cell as a party of one product, ``(sample, month, cell, 1)`` views, with
    ``stock_start`` at those cells: the same laws cell by cell, and the receipts summed
    over the recorded cells are all of them. A broken law still names party and product.
    """
    munition_line = np.array(
        [inp.product_kind[k] == "munition" for k in inp.line_product], dtype=bool
    )
    stock_start = np.asarray(inp.stock_start, np.float64)
    if cells is not None:
        stock_start = stock_start[cells][:, None]
        raw = {name: _as_cells(name, values) for name, values in raw.items()}
    if not _holds_at_once(inp, raw, munition_line, stock_start):
        _numpy_laws(inp, raw, munition_line, stock_start, cells)


def _as_cells(name: str, values: np.ndarray) -> np.ndarray:
    """A cell output recorded by cell, ``(sample, month, cell)``, as ``(sample, month,
    cell, 1)`` (a view); any other output as it is."""
    var = OUTPUTS.get(name)
    if var is None or var.dims[-2:] != CELL_DIMS or values.ndim != 3:
        return values
    return values.reshape(*values.shape, 1)


def _numpy_laws(
    inp: Inputs,
    raw: Mapping[str, np.ndarray],
    munition_line: np.ndarray,
    stock_start: np.ndarray | None = None,
    cells: np.ndarray | None = None,
) -> None:
    """Every law with numpy, law by law: raise naming the first broken law and its place
    (``stock_start`` and ``cells`` as :func:`check_invariants` gives them; by default the
    inputs' stock and every cell recorded)."""
    if stock_start is None:
        stock_start = inp.stock_start
    production = raw["production"]
    _fail_first(
        inp,
        np.where(munition_line, production - raw["line_deliveries"], 0.0),
        production,
        "a munition line's production differs from its deliveries",
        ("sample", "month", "line"),
    )
    S, T, Q, K = raw["inventory"].shape
    produced = np.zeros((S, T, Q * K))
    for i, cell in enumerate(inp.line_pool * K + inp.line_product):
        if not munition_line[i]:
            produced[:, :, cell] += production[:, :, i]
    produced = produced.reshape(S, T, Q, K)
    inventory = raw["inventory"]
    change = _change(inventory, inp.inventory_start)
    change -= produced
    change += raw["component_used"]
    _fail_first(
        inp,
        change,
        inventory,
        "component balance (inventory change = produced - used)",
        ("sample", "month", "pool", "product"),
    )
    stock = raw["stock"]
    flows = raw["receipts"] + raw["aid_received"]
    flows -= raw["aid_sent"]
    flows -= raw["consumed"]
    cell = ("sample", "month", "party", "product")
    change = _change(stock, stock_start)
    change -= flows
    _fail_first(inp, change, stock, "stock balance", cell, cells)
    _fail_first(
        inp,
        np.minimum(stock, 0.0),
        lambda: _before(stock, stock_start),
        "negative stock",
        cell,
        cells,
    )
    _fail_first(
        inp,
        stock - raw["usable_stock"] - raw["unusable_stock"],
        stock,
        "nominal stock differs from usable + unusable",
        cell,
        cells,
    )
    _fail_first(
        inp, np.minimum(raw["usable_stock"], 0.0), stock, "negative usable stock", cell, cells
    )
    _fail_first(
        inp,
        np.minimum(inventory, 0.0),
        lambda: _before(inventory, inp.inventory_start),
        "negative inventory",
        ("sample", "month", "pool", "product"),
    )
    _fail_first(
        inp,
        np.minimum(production, 0.0),
        production,
        "negative production",
        ("sample", "month", "line"),
    )
    total = raw["contract_deliveries"].sum(axis=1) + inp.contract_delivered_start
    quantity = raw.get("contract_quantity", inp.contract_quantity)
    _fail_first(
        inp,
        np.maximum(total - quantity, 0.0),
        quantity,
        "contract delivered beyond its quantity",
        ("sample", "contract"),
    )
    deliveries = raw["contract_deliveries"]
    if deliveries.shape[0] > 0 and raw["receipts"].ndim == 4:  # every cell recorded
        _fail_first(
            inp,
            raw["receipts"].sum(axis=(2, 3)) - deliveries.sum(axis=2),
            deliveries.sum(axis=2),
            "receipts differ from contract deliveries",
            ("sample", "month"),
        )
    if deliveries.shape[0] > 0:
        value = deliveries @ inp.contract_price_usd
        _fail_first(
            inp,
            raw["payments_usd"].sum(axis=2) - value,
            value,
            "payments differ from deliveries x unit price",
            ("sample", "month"),
        )
    shares = raw.get("contract_buyer_share")
    if shares is not None and shares.shape[0] > 0 and shares.shape[1] > 0:
        _fail_first(
            inp,
            shares.sum(axis=2) - 1.0,
            np.ones(shares.shape[:2]),
            "a contract's buyer shares do not sum to 1",
            ("sample", "contract"),
        )
    if "contract_signed" in raw:
        _fail_first(
            inp,
            np.minimum(quantity, 0.0),
            quantity,
            "negative contract quantity",
            ("sample", "contract"),
        )
        _fail_first(
            inp,
            np.minimum(raw["contract_signed"] - raw["contract_decided"], 0.0),
            np.zeros_like(quantity),
            "contract signed before its decision",
            ("sample", "contract"),
        )
