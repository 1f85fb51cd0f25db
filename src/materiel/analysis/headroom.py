"""Aid headroom: how much each donor can give a month without falling under its floor.

The aid planner's question (PRODUCT.md): *how much can each donor deliver per
month without falling under its stock floor, now and once new capacity
arrives?* It is answered from one run of the scenario. With ``S(t)`` the
donor's stock of a munition at the end of month ``t`` in that run (after its
deliveries, scheduled aid and consumption) and ``F`` its floor, extra aid of
``x`` a month given from month ``t0`` to month ``t1`` (the period) lowers the
stock by ``x * n(t)`` with ``n(t) = min(t, t1) - t0 + 1`` months given by
``t``, and the stock stays lower afterwards. The largest sustainable ``x``
keeps ``S(t) - x * n(t) >= F`` for every ``t >= t0``:

    headroom(t0, t1) = max(0, min_{t >= t0} (S(t) - F) / n(t))

The month that attains the minimum is what limits it: inside the period, the
donor's stock and deliveries cannot keep up with the aid; after it, a later
draw on the stock (scheduled aid or consumption) would take it under the
floor; already under the floor in the run itself, there is no headroom.

Assumption, stated with every answer: the extra aid does not change the
donor's own buying. That is exact for written contracts (what a scenario
orders does not depend on its stocks); where a procurement policy reorders to
refill the gap, the donor could sustain more, so the figure is a lower bound.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from materiel._errors import bad_argument
from materiel.analysis.result import Result

__all__ = ["ASSUMPTION", "COLUMNS", "headroom", "headroom_of_series"]

COLUMNS = (
    "donor",
    "product",
    "period",
    "max_monthly_aid",
    "limited_by",
    "limiting_month",
    "stock_at_period_start",
    "floor",
    "receipts_per_month",
)
"""The columns of :func:`headroom`, in order."""

ASSUMPTION = (
    "the extra aid does not change the donor's own orders (exact for written contracts; "
    "a lower bound where a procurement policy reorders to refill)"
)


def headroom_of_series(stock: np.ndarray, floor: float, first: int, last: int) -> tuple[float, int]:
    """Largest monthly aid over months ``first..last`` and the month that limits it.

    ``stock`` is the end-of-month stock without the extra aid (module
    docstring); returns ``(headroom, limiting_month_index)``.
    """
    months = np.arange(first, len(stock))
    given = np.minimum(months, last) - first + 1  # months of aid given by each month
    per_month = (stock[first:] - floor) / given
    worst = int(np.argmin(per_month))
    return max(0.0, float(per_month[worst])), int(months[worst])


def headroom(
    result: Result,
    *,
    donors: Sequence[str] | None = None,
    products: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per donor, munition and calendar year of the run: the largest extra monthly aid.

    Donors are the allies with a stock of the munition (all, or ``donors``,
    which must be allies: recipients and other parties give no aid here);
    one row per year from the run's start, each period running from January
    (or the start) to December (or the horizon). Columns: ``donor``,
    ``product``, ``period``, ``max_monthly_aid``, ``limited_by`` (``stock in
    period``, ``later draw <YYYY-MM>``, ``under floor <YYYY-MM>``),
    ``limiting_month``, ``stock_at_period_start``, ``floor``,
    ``receipts_per_month`` (deliveries to the donor in the period, a month).
    No donor chosen holds a stock of a munition chosen: no rows, the same columns.
    """
    s = result.scenario
    ds = result.dataset.isel(sample=0)
    months = pd.DatetimeIndex(ds.month.values)
    labels = months.strftime("%Y-%m")
    allies = [str(p) for p in ds.party.values if s.parties[str(p)].kind == "ally"]
    for name, values, pool, what in (
        ("donors", donors, allies, "ally ids"),
        ("products", products, s.munitions, "munition ids"),
    ):
        bad = sorted(set(values or ()) - set(pool))
        if bad:
            raise bad_argument("headroom", name, bad, f"{what} among {sorted(pool)}")
    rows: list[dict[str, object]] = []
    for donor, per_product in s.stocks.items():
        if donors is not None and donor not in donors:
            continue
        if s.parties[donor].kind != "ally":
            continue
        for product, entry in per_product.items():
            if product not in s.munitions or (products is not None and product not in products):
                continue
            stock = ds.stock.sel(party=donor, product=product).values
            receipts = ds.receipts.sel(party=donor, product=product).values
            for year in sorted(set(months.year)):
                in_year = np.flatnonzero(months.year == year)
                first, last = int(in_year[0]), int(in_year[-1])
                value, worst = headroom_of_series(stock, entry.floor, first, last)
                if stock[worst] < entry.floor - 1e-9:
                    limited = f"under floor {labels[worst]}"
                elif worst <= last:
                    limited = "stock in period"
                else:
                    limited = f"later draw {labels[worst]}"
                start_stock = entry.quantity if first == 0 else float(stock[first - 1])
                rows.append(
                    {
                        "donor": donor,
                        "product": product,
                        "period": str(year),
                        "max_monthly_aid": value,
                        "limited_by": limited,
                        "limiting_month": labels[worst],
                        "stock_at_period_start": start_stock,
                        "floor": entry.floor,
                        "receipts_per_month": float(receipts[first : last + 1].mean()),
                    }
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))
