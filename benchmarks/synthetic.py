"""Synthetic scenarios for the engine benchmark: any scenario, replicated ``factor`` times.

:func:`scale_scenario` makes ``factor`` copies of the supply system of a
scenario: every ally, line, pool, stock, inventory, contract, consumption,
aid pledge, investment, target and economic record. Copy 1 keeps the
original ids; copy ``k >= 2`` gets the suffix ``_x{k}`` (``DEU_x3``,
``rheinmetall-unterluess_x3``). Ids may only use ``[A-Za-z0-9_.-]``, so the
suffix cannot be written ``~3``.

Products and their bills of materials are shared, and so are parties that
are not allies (recipients such as UKR): each copy's aid and consumption go
to the same recipient, whose starting stock and floor are multiplied by
``factor`` so that every copy sees the same recipient as the original. With
the pools copied too (the default), each copy is an independent replica of
the original system, and every copy of a line produces what the original
line produces, month by month (a handy check of both this function and the
engine's linearity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import materiel
from materiel.months import month_index

__all__ = ["SUFFIX", "replica_id", "scale_scenario"]

SUFFIX = "_x"
"""Separator between an id and its copy number."""


def replica_id(key: str, copy: int) -> str:
    """Id of copy ``copy`` (1-based) of ``key``: copy 1 keeps the id."""
    return key if copy == 1 else f"{key}{SUFFIX}{copy}"


def _put(table: dict[str, Any], key: str, value: Any, section: str) -> None:
    """Add ``key`` to ``table``; a key already there means a copy's id clashes."""
    if key in table:
        raise ValueError(
            f"copied id {key!r} in {section} clashes with an existing id; "
            f"rename ids that end in {SUFFIX!r} and a number"
        )
    table[key] = value


def _within(month: str, start: str, months: int) -> bool:
    """Whether ``month`` falls on or before the last month of the horizon."""
    return month_index(month, start) <= months - 1


def scale_scenario(
    scenario: materiel.Scenario,
    factor: int,
    months: int,
    *,
    share_pools: bool = False,
) -> materiel.Scenario:
    """Replicate ``scenario``'s supply system ``factor`` times over a horizon of ``months``.

    Allies, lines, investments, contracts, stocks, consumption, aid, targets
    and economic records are copied with suffixed ids (see the module
    docstring); products, bills of materials, sources, policy and
    non-ally parties are kept. Component pools are copied too unless
    ``share_pools`` is true, in which case all copies draw on the original
    pools and the starting inventories are multiplied by ``factor``.

    With a horizon shorter than the original, contracts and investments
    decided, aid starting and targets dated after its end are dropped so the
    result still validates. The result is built from ``scenario.model_dump()``
    and validated again with :func:`materiel.load` (as a standalone mapping).
    """
    if factor < 1:
        raise ValueError(f"expected a factor of at least 1, got {factor}")
    src = scenario.model_dump()
    src.pop("extends", None)
    start = src["start"]
    allies = set(scenario.allies)
    copies = range(1, factor + 1)

    def party(p: str, k: int) -> str:
        return replica_id(p, k) if p in allies else p

    def pool(q: str, k: int) -> str:
        return q if share_pools else replica_id(q, k)

    out: dict[str, Any] = {
        key: value
        for key, value in src.items()
        if key
        not in (
            "parties",
            "lines",
            "investments",
            "contracts",
            "stocks",
            "inventories",
            "consumption",
            "aid",
            "targets",
            "economics",
            "spending_paths",
        )
    }
    out["id"] = f"{scenario.id}-x{factor}-{months}m"[:80]
    out["months"] = months

    def replicate(
        section: str,
        edit: Callable[[dict[str, Any], int], dict[str, Any]],
        keep: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> None:
        out[section] = {}
        for k in copies:
            for key, record in src[section].items():
                if keep(record):
                    _put(out[section], replica_id(key, k), edit(record, k), section)

    out["parties"] = {}
    for pid, record in src["parties"].items():
        for k in copies if pid in allies else (1,):
            _put(out["parties"], party(pid, k), record, "parties")
    replicate(
        "lines",
        lambda line, k: {
            **line,
            "country": party(line["country"], k),
            "pool": pool(line["pool"], k),
        },
    )
    replicate(
        "investments",
        lambda inv, k: {**inv, "line": replica_id(inv["line"], k)},
        keep=lambda inv: _within(inv["decision"], start, months),
    )
    replicate(
        "contracts",
        lambda c, k: {
            **c,
            "buyers": {party(b, k): share for b, share in c["buyers"].items()},
            "line": None if c["line"] is None else replica_id(c["line"], k),
            "recipient": None if c["recipient"] is None else party(c["recipient"], k),
        },
        keep=lambda c: _within(c["decision"], start, months),
    )
    replicate("consumption", lambda use, k: {**use, "party": party(use["party"], k)})
    replicate(
        "aid",
        lambda a, k: {**a, "donor": party(a["donor"], k), "recipient": party(a["recipient"], k)},
        keep=lambda a: _within(a["start"], start, months),
    )
    replicate(
        "targets",
        lambda t, k: {**t, "parties": [party(p, k) for p in t["parties"]]},
        keep=lambda t: 0 <= month_index(t["by"], start) <= months - 1,
    )

    def counted(pol: dict[str, Any]) -> bool:
        """The policy keeps a target of its group inside the shortened horizon."""
        group = set(pol["parties"] or ([pol["recipient"]] if pol["recipient"] else pol["buyers"]))
        return any(
            x["product"] == pol["product"]
            and set(x["parties"]) <= group
            and 0 <= month_index(x["by"], start) <= months - 1
            and (pol["targets"] is None or key in pol["targets"])
            for key, x in src["targets"].items()
        )

    replicate(
        "procurement",
        lambda pol, k: {
            **pol,
            "buyers": {party(b, k): share for b, share in pol["buyers"].items()},
            "parties": None if pol["parties"] is None else [party(p, k) for p in pol["parties"]],
            "targets": None
            if pol["targets"] is None
            else [replica_id(x, k) for x in pol["targets"]],
            "recipient": None if pol["recipient"] is None else party(pol["recipient"], k),
            "pool": None if pol["pool"] is None else pool(pol["pool"], k),
        },
        keep=counted,
    )

    # tables keyed by party or pool
    out["stocks"] = {}
    for pid, per_product in src["stocks"].items():
        if pid in allies:
            for k in copies:
                _put(out["stocks"], party(pid, k), per_product, "stocks")
        else:  # one recipient serves every copy
            out["stocks"][pid] = {
                prod: {**st, "quantity": st["quantity"] * factor, "floor": st["floor"] * factor}
                for prod, st in per_product.items()
            }
    out["inventories"] = {}
    for q, per_product in src["inventories"].items():
        if share_pools:
            out["inventories"][q] = {
                prod: {**inv, "quantity": inv["quantity"] * factor}
                for prod, inv in per_product.items()
            }
        else:
            for k in copies:
                _put(out["inventories"], pool(q, k), per_product, "inventories")
    out["economics"] = {}
    for pid, years in src["economics"].items():
        for k in copies if pid in allies else (1,):
            _put(out["economics"], party(pid, k), years, "economics")
    out["spending_paths"] = {
        key: {
            **path,
            "parties": path["parties"]
            if path["parties"] == ["*"]
            else [party(p, k) for k in copies for p in path["parties"]],
        }
        for key, path in src["spending_paths"].items()
    }
    return materiel.load(out, name=f"scale_scenario({scenario.id}, {factor}, {months})")
