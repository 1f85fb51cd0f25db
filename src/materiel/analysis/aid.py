"""Aid timeliness: what was committed against what was delivered, and how late.

Per pledge ``g`` of quantity ``Q`` due evenly over its window (months
``first..last``), with ``due(t) = Q * clip((t - first + 1) / n, 0, 1)`` and
``delivered(t)`` the cumulative deliveries (what fell due before the run's
start counts as delivered on time):

- **on time**: ``min(delivered(last), Q)``; its share of ``Q`` is the
  on-time share (``None`` while the window runs past the horizon);
- **mean delay** of the delivered units, in months, first in first out:
  ``sum_t max(0, min(due(t), D) - delivered(t)) / D`` with ``D`` the total
  delivered by the horizon (the area between the two cumulative curves,
  Little's law); units never delivered are counted apart, as ``undelivered``.

The per-donor, per-year table is the Kiel Institute's view of the same
numbers: what fell due in a year against what arrived in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from materiel.analysis.metrics import plain
from materiel.engine.inputs import linear_schedule
from materiel.months import month_index

if TYPE_CHECKING:
    from materiel.analysis.result import Result

__all__ = ["aid_by_donor_year", "aid_timeliness", "delivery_delay_months"]


def delivery_delay_months(due: np.ndarray, delivered: np.ndarray) -> float:
    """Mean delay of delivered units (FIFO), months: area between cumulative curves / delivered."""
    total = float(delivered[-1]) if len(delivered) else 0.0
    if total <= 0.0:
        return float("nan")
    gap = np.clip(np.minimum(due, total) - delivered, 0.0, None)
    return float(gap.sum() / total)


def _pledge_curves(result: Result) -> list[tuple[str, str, float, np.ndarray, np.ndarray]]:
    """(pledge id, supply, due before the start, due(t), delivered(t)) over the run's months.

    What fell due before the start is taken as delivered (the engine's rule),
    so both curves start from it.
    """
    s, ds = result.scenario, result.dataset
    T = ds.sizes["month"]
    t = np.arange(T)
    out = []  # by position: a labelled selection per pledge costs about 1 ms
    given = plain(ds, "pledge_deliveries", ("month", "pledge"))
    given_before = plain(ds, "pledge_given_before_start")
    for g, pledge in enumerate(plain(ds, "pledge")):  # from stock
        a = s.aid[str(pledge)]
        first, n = month_index(a.start, s.start), month_index(a.end, a.start) + 1
        due = a.quantity * linear_schedule(t, first, n)
        before = float(given_before[g])
        delivered = before + np.cumsum(given[:, g])
        out.append((str(pledge), "stock", before, due, delivered))
    deliveries = plain(ds, "contract_deliveries", ("month", "contract"))
    delivered_before = plain(ds, "contract_delivered_before_start")
    for c, cid in enumerate(plain(ds, "contract")):  # from production: the pledge's contract
        cid = str(cid)
        if not cid.startswith("aid:"):
            continue
        a = s.aid[cid[4:]]
        first, n = month_index(a.start, s.start), month_index(a.end, a.start) + 1
        due = a.quantity * linear_schedule(t, first, n)
        before = float(delivered_before[c])
        delivered = before + np.cumsum(deliveries[:, c])
        out.append((cid[4:], "production", before, due, delivered))
    return out


def aid_timeliness(result: Result) -> pd.DataFrame:
    """Per pledge: pledged, delivered, on time, on-time share, mean delay and undelivered.

    Columns: ``pledge``, ``donor``, ``recipient``, ``product``, ``supply``,
    ``window`` (``YYYY-MM..YYYY-MM``), ``pledged``, ``delivered``,
    ``delivered_on_time``, ``on_time_share`` (None when the window ends after
    the horizon), ``mean_delay_months`` (None when nothing was delivered),
    ``undelivered`` (at the horizon).
    """
    s = result.scenario
    T = result.dataset.sizes["month"]
    rows = []
    for gid, supply, _, due, delivered in _pledge_curves(result):
        a = s.aid[gid]
        last = month_index(a.end, s.start)
        on_time = float(min(delivered[min(last, T - 1)], a.quantity)) if last >= 0 else a.quantity
        delay = delivery_delay_months(due, delivered)
        rows.append(
            {
                "pledge": gid,
                "donor": a.donor,
                "recipient": a.recipient,
                "product": a.product,
                "supply": supply,
                "window": f"{a.start}..{a.end}",
                "pledged": a.quantity,
                "delivered": float(delivered[-1]),
                "delivered_on_time": on_time,
                "on_time_share": on_time / a.quantity if last < T and a.quantity > 0 else None,
                "mean_delay_months": None if np.isnan(delay) else delay,
                "undelivered": max(0.0, a.quantity - float(delivered[-1])),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "pledge",
            "donor",
            "recipient",
            "product",
            "supply",
            "window",
            "pledged",
            "delivered",
            "delivered_on_time",
            "on_time_share",
            "mean_delay_months",
            "undelivered",
        ],
    )


def aid_by_donor_year(result: Result) -> pd.DataFrame:
    """Per donor, munition and calendar year: aid that fell due against aid delivered.

    Columns: ``donor``, ``product``, ``year``, ``due``, ``delivered``,
    ``delivered_share`` (delivered / due; None when nothing fell due) and
    ``behind_at_year_end`` (cumulative due minus cumulative delivered).
    """
    s = result.scenario
    years = pd.DatetimeIndex(result.dataset.month.values).year.to_numpy()
    frames: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for gid, _, before, due, delivered in _pledge_curves(result):
        a = s.aid[gid]
        key = (a.donor, a.product)
        zero = np.zeros_like(due)
        old_due, old_del, old_cum = frames.get(key, (zero, zero, zero))
        # monthly flows in the run (what fell due before the start is left out of both)
        frames[key] = (
            old_due + np.diff(due, prepend=before),
            old_del + np.diff(delivered, prepend=before),
            old_cum + due - delivered,
        )
    rows = []
    for (donor, product), (due_m, del_m, behind) in sorted(frames.items()):
        for year in np.unique(years):
            sel = years == year
            d, g = float(due_m[sel].sum()), float(del_m[sel].sum())
            end = np.flatnonzero(sel)[-1]
            rows.append(
                {
                    "donor": donor,
                    "product": product,
                    "year": int(year),
                    "due": d,
                    "delivered": g,
                    "delivered_share": g / d if d > 0 else None,
                    "behind_at_year_end": float(behind[end]),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "donor",
            "product",
            "year",
            "due",
            "delivered",
            "delivered_share",
            "behind_at_year_end",
        ],
    )
