"""Differences between two runs, B - A: targets, munitions and cost.

:func:`difference` subtracts run A's metrics from run B's, figure by figure,
so every difference is the difference of two numbers the runs report
(:meth:`Result.targets`, :meth:`Result.munitions`, :meth:`Result.metrics`):

- per target: ``months_later = first_met(B) - first_met(A)`` in months
  (negative: B reaches the target earlier; empty when either run never
  does), and ``stock_at_by_diff = stock_at_by(B) - stock_at_by(A)``;
- per munition: ``produced``, ``capex_usd``, ``spent_usd`` and ``delivered``
  of B minus those of A (a munition one run does not make counts as 0);
- cost: contract payments, capex and their sum, B minus A (US$).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from materiel.analysis.result import Result, records
from materiel.months import months_between

__all__ = ["Difference", "difference"]

_MUNITION_FIGURES = ("produced", "capex_usd", "spent_usd", "delivered")


@dataclass(frozen=True)
class Difference:
    """B - A, as tables (``targets``, ``munitions``, ``cost``); see :func:`difference`."""

    a: str
    b: str
    targets: pd.DataFrame
    munitions: pd.DataFrame
    cost: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"a", "b", "targets": [...], "munitions": [...], "cost": {...}}``."""
        return {
            "a": self.a,
            "b": self.b,
            "targets": records(self.targets),
            "munitions": records(self.munitions),
            "cost": {
                str(r["figure"]): {k: v for k, v in r.items() if k != "figure"}
                for r in records(self.cost)
            },
        }


def _target_rows(a: Result, b: Result) -> pd.DataFrame:
    ta = a.targets().set_index("target")
    tb = b.targets().set_index("target")
    rows = []
    for tid in [*ta.index, *(t for t in tb.index if t not in ta.index)]:
        ra = ta.loc[tid] if tid in ta.index else None
        rb = tb.loc[tid] if tid in tb.index else None
        first_a = None if ra is None or pd.isna(ra["first_met"]) else str(ra["first_met"])
        first_b = None if rb is None or pd.isna(rb["first_met"]) else str(rb["first_met"])
        stock_a = None if ra is None else float(ra.stock_at_by)
        stock_b = None if rb is None else float(rb.stock_at_by)
        either = ra if ra is not None else rb
        assert either is not None
        rows.append(
            {
                "target": str(tid),
                "product": str(either["product"]),
                "by": str(either["by"]),
                "first_met_a": first_a,
                "first_met_b": first_b,
                "months_later": (months_between(first_a, first_b) if first_a and first_b else None),
                "met_by_date_a": None if ra is None else bool(ra.met_by_date),
                "met_by_date_b": None if rb is None else bool(rb.met_by_date),
                "stock_at_by_a": stock_a,
                "stock_at_by_b": stock_b,
                "stock_at_by_diff": (
                    stock_b - stock_a if stock_a is not None and stock_b is not None else None
                ),
            }
        )
    columns = [
        "target",
        "product",
        "by",
        "first_met_a",
        "first_met_b",
        "months_later",
        "met_by_date_a",
        "met_by_date_b",
        "stock_at_by_a",
        "stock_at_by_b",
        "stock_at_by_diff",
    ]
    df = pd.DataFrame(rows, columns=columns)
    df["months_later"] = df["months_later"].astype("Int64")
    return df


def _munition_rows(a: Result, b: Result) -> pd.DataFrame:
    ma, mb = (r.munitions() for r in (a, b))
    ma = ma.set_index("product") if len(ma) else pd.DataFrame()
    mb = mb.set_index("product") if len(mb) else pd.DataFrame()
    products = [*ma.index, *(k for k in mb.index if k not in ma.index)]
    rows = []
    for k in products:
        row: dict[str, Any] = {"product": str(k)}
        for figure in _MUNITION_FIGURES:
            va = float(ma.loc[k, figure]) if k in ma.index else 0.0
            vb = float(mb.loc[k, figure]) if k in mb.index else 0.0
            row.update({f"{figure}_a": va, f"{figure}_b": vb, f"{figure}_diff": vb - va})
        rows.append(row)
    columns = ["product"] + [f"{f}_{s}" for f in _MUNITION_FIGURES for s in ("a", "b", "diff")]
    return pd.DataFrame(rows, columns=columns)


def _cost(r: Result) -> dict[str, float]:
    """The totals of ``Result.metrics()["cost"]``, without computing the other metrics."""
    ds = r.dataset.isel(sample=0)
    return {"payments_usd": float(ds.payments_usd.sum()), "capex_usd": float(ds.capex_usd.sum())}


def _cost_rows(a: Result, b: Result) -> pd.DataFrame:
    ca, cb = _cost(a), _cost(b)
    rows = []
    for figure in ("payments_usd", "capex_usd"):
        rows.append(
            {"figure": figure, "a": ca[figure], "b": cb[figure], "diff": cb[figure] - ca[figure]}
        )
    total_a = ca["payments_usd"] + ca["capex_usd"]
    total_b = cb["payments_usd"] + cb["capex_usd"]
    rows.append({"figure": "total_usd", "a": total_a, "b": total_b, "diff": total_b - total_a})
    return pd.DataFrame(rows, columns=["figure", "a", "b", "diff"])


def difference(a: Result, b: Result) -> Difference:
    """What run ``b`` changes against run ``a``, figure by figure (B - A; module docstring).

    >>> d = difference(materiel.simulate("status-quo"), materiel.simulate("action-plan"))
    >>> d.targets[["target", "months_later", "stock_at_by_diff"]]  # doctest: +SKIP
    """
    return Difference(
        a=a.scenario.id,
        b=b.scenario.id,
        targets=_target_rows(a, b),
        munitions=_munition_rows(a, b),
        cost=_cost_rows(a, b),
    )
