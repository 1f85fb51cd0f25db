"""Defence spending tables: who meets a threshold, and what reaching a pledge costs.

The series behind them (GDP, %GDP, spending paths) are built by
:func:`materiel.scenario.economics.economic_series`; see its module docstring
for the definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from materiel.scenario.economics import (
    PCT_GDP_FIELD,
    Basis,
    ally_value,
    apply_path,
    economic_series,
    path_for,
)
from materiel.scenario.schema import Scenario, SpendingPath

__all__ = ["Basis", "pledge_table", "spending_payload", "spending_table"]


def _own_parties(s: Scenario) -> set[str]:
    return {p for path in s.spending_paths.values() for p in path.parties if p != "*"}


def spending_table(
    s: Scenario, year: int, threshold_pct: float = 2.0, basis: Basis = "nato"
) -> pd.DataFrame:
    """Per ally in ``year``: spending in US$ and %GDP on both bases, and whether it meets
    ``threshold_pct`` on ``basis`` (None where that basis has no figure)."""
    rows: list[dict[str, object]] = []
    for party in s.allies:
        nato = ally_value(s, party, year, PCT_GDP_FIELD["nato"])
        sipri = ally_value(s, party, year, PCT_GDP_FIELD["sipri"])
        gdp = ally_value(s, party, year, "gdp_usd_m")
        chosen = nato if basis == "nato" else sipri
        rows.append(
            {
                "party": party,
                "name": s.parties[party].name,
                "gdp_usd_m": gdp,
                "pct_gdp_nato": nato,
                "pct_gdp_sipri": sipri,
                "defence_usd_m_nato": None if nato is None or gdp is None else gdp * nato / 100,
                "defence_usd_m_sipri": ally_value(s, party, year, "defence_usd_m_sipri"),
                "meets": None if chosen is None else chosen >= threshold_pct - 1e-12,
            }
        )
    return pd.DataFrame(rows)


def pledge_table(
    s: Scenario,
    pledge_pct: float,
    by_year: int,
    basis: Basis = "nato",
    buys: Sequence[str] = ("shell-155mm", "pac-3-mse"),
) -> pd.DataFrame:
    """Per ally: the path from its latest actual %GDP to ``pledge_pct`` by ``by_year``.

    The path is linear in %GDP from the ally's latest actual year (on
    ``basis``, else the other basis) unless the scenario gives the ally its
    own path. ``extra_usd_m_by_year`` is the spending in ``by_year`` above
    holding today's %GDP; ``extra_usd_m_cumulative`` sums it over the path;
    ``buys_<munition>`` is what the munitions share of ``extra_usd_m_by_year``
    buys at the scenario's unit price.
    """
    latest = 0
    for per_year in s.economics.values():
        latest = max([latest, *(int(y) for y in per_year)])
    first = 2014
    years = range(first, max(by_year, latest) + 1)
    no_paths = s.model_copy(update={"spending_paths": {}})
    held = economic_series(no_paths, years, basis)  # today's %GDP held
    held_data = held.data
    own = _own_parties(s)
    rows: list[dict[str, object]] = []
    for party in s.allies:
        series = held_data.sel(party=party)
        known = series.year.values[(series.actual | series.fallback).values]
        if len(known) == 0:
            rows.append({"party": party, "name": s.parties[party].name, "base_year": None})
            continue
        base_year = int(known.max())
        base_pct = float(series.pct_gdp.sel(year=base_year))
        path = path_for(s, party) if party in own else None
        if path is None:  # a pledge is a floor: allies above it hold their level
            path = SpendingPath(
                parties=[party], target_pct_gdp=max(pledge_pct, base_pct), from_year=base_year,
                by_year=by_year, basis=basis,
            )  # fmt: skip
        ys = list(years)
        pct = apply_path(ys, series.pct_gdp.values, path)
        gdp = series.gdp_usd_m.values
        extra = np.where(np.array(ys) > base_year, (pct - base_pct) * gdp / 100.0, 0.0)
        at_by = ys.index(by_year)
        row: dict[str, object] = {
            "party": party,
            "name": s.parties[party].name,
            "base_year": base_year,
            "base_pct_gdp": base_pct,
            "path": "scenario" if party in own else "linear",
            "pct_gdp_by_year": float(pct[at_by]),
            "gdp_usd_m_by_year": float(gdp[at_by]),
            "extra_usd_m_by_year": float(extra[at_by]),
            "extra_usd_m_cumulative": float(extra[: at_by + 1].sum()),
        }
        munitions_usd = (
            float(extra[at_by]) * 1e6 * s.policy.equipment_share * s.policy.munitions_share
        )
        for product in buys:
            price = s.products[product].unit_price_usd if product in s.products else None
            row[f"buys_{product}"] = munitions_usd / price if price else None
        rows.append(row)
    return pd.DataFrame(rows)


def spending_payload(
    s: Scenario,
    year: int,
    threshold_pct: float = 2.0,
    basis: Basis = "nato",
    pledge_pct: float | None = None,
    by_year: int | None = None,
) -> dict[str, Any]:
    """The spending answer of ``materiel spending --json`` and ``GET /api/spending``.

    ``allies`` are the rows of :func:`spending_table`; with both ``pledge_pct``
    and ``by_year``, ``pledge`` adds the rows of :func:`pledge_table`, the
    GDP growth assumed after the data, the munitions share of extra spending
    (``equipment_share * munitions_share``) and the all-ally extra in ``by_year``.
    """
    from materiel._errors import bad_argument
    from materiel.analysis.result import records

    if by_year is not None and by_year < 2014:  # pledge_table's paths start in 2014 (Wales)
        raise bad_argument("spending_payload", "by_year", by_year, "a year from 2014 on")
    table = spending_table(s, year, threshold_pct, basis)
    known = table.meets.notna()
    payload: dict[str, Any] = {
        "scenario": s.id,
        "year": year,
        "threshold_pct": threshold_pct,
        "basis": basis,
        "allies": records(table),
        "count_meeting": int(table.meets[known].sum()),
        "count_with_data": int(known.sum()),
    }
    if pledge_pct is not None and by_year is not None:
        pledged = pledge_table(s, pledge_pct, by_year, basis)
        payload["pledge"] = {
            "pct_gdp": pledge_pct,
            "by": by_year,
            "gdp_growth_pct_per_year": s.policy.gdp_growth_pct_per_year,
            "munitions_share_of_extra": s.policy.equipment_share * s.policy.munitions_share,
            "allies": records(pledged),
            "extra_usd_m_by_year_total": float(pledged.extra_usd_m_by_year.sum()),
        }
    return payload
