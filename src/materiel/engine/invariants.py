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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from materiel._errors import InvariantError
from materiel.engine.inputs import Inputs
from materiel.months import month_label, parse_month

__all__ = ["TOLERANCE", "check_invariants"]

TOLERANCE = 1e-6


def _fail_first(
    inp: Inputs,
    err: np.ndarray,
    scale: np.ndarray | Callable[[], np.ndarray],
    what: str,
    axes: tuple[str, ...],
) -> None:
    """Raise if ``|err| > TOLERANCE * (1 + |scale|)`` anywhere; name the first place.

    ``-TOLERANCE <= err <= TOLERANCE`` everywhere (the smallest bound) answers first: the
    cell-by-cell bound (``scale``, or ``scale()`` when given as a function) is computed
    only when some error passes it.
    """
    if err.size == 0 or (err.min() >= -TOLERANCE and err.max() <= TOLERANCE):
        return
    bound = scale() if callable(scale) else scale
    bad = np.abs(err) > TOLERANCE * (1.0 + np.abs(bound))
    if not bad.any():
        return
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    names = {"line": inp.lines, "party": inp.parties, "product": inp.products,
             "pool": inp.pools, "contract": inp.contracts}  # fmt: skip
    where = []
    for axis, i in zip(axes, idx, strict=True):
        if axis == "sample":
            continue
        if axis == "month":
            where.append(f"month {month_label(parse_month(inp.start) + i)}")
        else:
            where.append(f"{axis} {names[axis][i]}")
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


def check_invariants(inp: Inputs, raw: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`~materiel.InvariantError` if any conservation law is broken."""
    munition_line = np.array([inp.product_kind[k] == "munition" for k in inp.line_product])
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
    cells = inp.line_pool * K + inp.line_product
    for i, cell in enumerate(cells):
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
    change = _change(stock, inp.stock_start)
    change -= flows
    _fail_first(
        inp, change, stock, "stock balance", ("sample", "month", "party", "product"),
    )  # fmt: skip
    _fail_first(
        inp, np.minimum(stock, 0.0), lambda: _before(stock, inp.stock_start), "negative stock",
        ("sample", "month", "party", "product"),
    )  # fmt: skip
    _fail_first(
        inp, stock - raw["usable_stock"] - raw["unusable_stock"], stock,
        "nominal stock differs from usable + unusable", ("sample", "month", "party", "product"),
    )  # fmt: skip
    _fail_first(
        inp, np.minimum(raw["usable_stock"], 0.0), stock, "negative usable stock",
        ("sample", "month", "party", "product"),
    )  # fmt: skip
    _fail_first(
        inp, np.minimum(inventory, 0.0), lambda: _before(inventory, inp.inventory_start),
        "negative inventory",
        ("sample", "month", "pool", "product"),
    )  # fmt: skip
    _fail_first(
        inp, np.minimum(production, 0.0), production, "negative production",
        ("sample", "month", "line"),
    )  # fmt: skip
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
            inp, raw["receipts"].sum(axis=(2, 3)) - deliveries.sum(axis=2),
            deliveries.sum(axis=2), "receipts differ from contract deliveries",
            ("sample", "month"),
        )  # fmt: skip
    if deliveries.shape[0] > 0:
        value = deliveries @ inp.contract_price_usd
        _fail_first(
            inp, raw["payments_usd"].sum(axis=2) - value, value,
            "payments differ from deliveries x unit price", ("sample", "month"),
        )  # fmt: skip
    shares = raw.get("contract_buyer_share")
    if shares is not None and shares.shape[0] > 0 and shares.shape[1] > 0:
        _fail_first(
            inp, shares.sum(axis=2) - 1.0, np.ones(shares.shape[:2]),
            "a contract's buyer shares do not sum to 1", ("sample", "contract"),
        )  # fmt: skip
    if "contract_signed" in raw:
        _fail_first(
            inp, np.minimum(quantity, 0.0), quantity, "negative contract quantity",
            ("sample", "contract"),
        )  # fmt: skip
        _fail_first(
            inp, np.minimum(raw["contract_signed"] - raw["contract_decided"], 0.0),
            np.zeros_like(quantity), "contract signed before its decision",
            ("sample", "contract"),
        )  # fmt: skip
