"""Defence spending: %GDP per ally-year, pledges, spending paths and procurement budgets.

Definitions used throughout (money in current US$):

- ``defence_usd(p, y) = gdp_usd(p, y) * pct_gdp(p, y) / 100``;
- a **spending path** moves ``pct_gdp`` linearly from its value in
  ``from_year`` (the latest actual figure at or before it) to ``target`` in
  ``by_year`` and holds it after: ``pct(y) = base + (target - base) *
  (y - from_year) / (by_year - from_year)``; a path naming a party overrides
  a path for every ally (``"*"``);
- years after the last GDP figure grow GDP at
  ``policy.gdp_growth_pct_per_year`` (an assumption, stated in the output);
- the **procurement budget** for munitions is
  ``budget(p, y) = defence_usd(p, y) * equipment_share * munitions_share``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from materiel.schema import Scenario, SpendingPath

__all__ = [
    "Basis",
    "EconomicSeries",
    "economic_series",
    "pledge_table",
    "spending_table",
]

Basis = Literal["nato", "sipri"]
_FIELD = {"nato": "defence_pct_gdp_nato", "sipri": "defence_pct_gdp_sipri"}


@dataclass(frozen=True)
class EconomicSeries:
    """GDP and %GDP per ally and year, actual where known, projected after.

    ``actual`` marks the (party, year) cells whose %GDP is a published figure
    on the requested basis (``fallback`` where the other basis filled a gap).
    """

    data: xr.Dataset  # gdp_usd_m, pct_gdp, defence_usd_m, actual, fallback (party, year)

    @property
    def budget_usd(self) -> xr.DataArray:
        """Procurement budget for munitions, US$ (party, year); see module docstring."""
        da: xr.DataArray = self.data["budget_usd"]
        return da


def _value(s: Scenario, party: str, year: int, field: str) -> float | None:
    record = s.economics.get(party, {}).get(str(year))
    value = getattr(record, field) if record is not None else None
    return None if value is None else float(value)


def _path_for(s: Scenario, party: str) -> SpendingPath | None:
    own = [p for p in s.spending_paths.values() if party in p.parties]
    every = [p for p in s.spending_paths.values() if "*" in p.parties]
    return own[-1] if own else every[-1] if every else None


def economic_series(
    s: Scenario,
    years: range,
    basis: Basis = "nato",
    *,
    fallback: bool = True,
) -> EconomicSeries:
    """GDP, %GDP and defence spending per ally and year over ``years``.

    %GDP is the published figure on ``basis``; where it is missing and
    ``fallback`` is set, the other basis; then the last known value is held;
    then spending paths apply from their ``from_year``.
    """
    allies = s.allies
    ys = list(years)
    growth = 1.0 + s.policy.gdp_growth_pct_per_year / 100.0
    other: Basis = "sipri" if basis == "nato" else "nato"
    gdp = np.full((len(allies), len(ys)), np.nan)
    pct = np.full((len(allies), len(ys)), np.nan)
    actual = np.zeros((len(allies), len(ys)), dtype=bool)
    used_fallback = np.zeros((len(allies), len(ys)), dtype=bool)
    for i, party in enumerate(allies):
        known_years = sorted(int(y) for y in s.economics.get(party, {}))
        last_gdp: tuple[int, float] | None = None
        last_pct: float | None = None
        for j, year in enumerate(ys):
            g = _value(s, party, year, "gdp_usd_m")
            if g is not None:
                last_gdp = (year, g)
            elif last_gdp is None:  # before any figure: back-cast from the first one
                first = next((y for y in known_years if _value(s, party, y, "gdp_usd_m")), None)
                if first is not None:
                    g = _value(s, party, first, "gdp_usd_m")
                    assert g is not None
                    g = g / growth ** (first - year)
            else:
                g = last_gdp[1] * growth ** (year - last_gdp[0])
            gdp[i, j] = np.nan if g is None else g
            p = _value(s, party, year, _FIELD[basis])
            if p is not None:
                actual[i, j] = True
            elif fallback and (p := _value(s, party, year, _FIELD[other])) is not None:
                used_fallback[i, j] = True
            if p is not None:
                last_pct = p
            pct[i, j] = np.nan if last_pct is None else last_pct
        path = _path_for(s, party)
        if path is not None:
            pct[i] = _apply_path(ys, pct[i], path)
    data = xr.Dataset(
        {
            "gdp_usd_m": (("party", "year"), gdp),
            "pct_gdp": (("party", "year"), pct),
            "actual": (("party", "year"), actual),
            "fallback": (("party", "year"), used_fallback),
        },
        coords={"party": allies, "year": ys},
        attrs={"basis": basis, "gdp_growth_pct_per_year": s.policy.gdp_growth_pct_per_year},
    )
    data["defence_usd_m"] = data.gdp_usd_m * data.pct_gdp / 100.0
    data["budget_usd"] = (
        data.defence_usd_m * 1e6 * s.policy.equipment_share * s.policy.munitions_share
    ).fillna(0.0)
    return EconomicSeries(data)


def _own_parties(s: Scenario) -> set[str]:
    return {p for path in s.spending_paths.values() for p in path.parties if p != "*"}


def _apply_path(years: list[int], pct: np.ndarray, path: SpendingPath) -> np.ndarray:
    """Linear in %GDP from the value in ``from_year`` to the target in ``by_year``."""
    out = pct.copy()
    if path.from_year in years:
        base = pct[years.index(path.from_year)]
    else:
        before = [j for j, y in enumerate(years) if y <= path.from_year]
        base = pct[before[-1]] if before else pct[0]
    if np.isnan(base):
        return out
    span = max(path.by_year - path.from_year, 1)
    for j, year in enumerate(years):
        if year >= path.from_year:
            share = min((year - path.from_year) / span, 1.0)
            out[j] = base + (path.target_pct_gdp - base) * share
    return out


def spending_table(
    s: Scenario, year: int, threshold_pct: float = 2.0, basis: Basis = "nato"
) -> pd.DataFrame:
    """Per ally in ``year``: spending in US$ and %GDP on both bases, and whether it meets
    ``threshold_pct`` on ``basis`` (None where that basis has no figure)."""
    rows: list[dict[str, object]] = []
    for party in s.allies:
        nato = _value(s, party, year, _FIELD["nato"])
        sipri = _value(s, party, year, _FIELD["sipri"])
        gdp = _value(s, party, year, "gdp_usd_m")
        chosen = nato if basis == "nato" else sipri
        rows.append(
            {
                "party": party,
                "name": s.parties[party].name,
                "gdp_usd_m": gdp,
                "pct_gdp_nato": nato,
                "pct_gdp_sipri": sipri,
                "defence_usd_m_nato": None if nato is None or gdp is None else gdp * nato / 100,
                "defence_usd_m_sipri": _value(s, party, year, "defence_usd_m_sipri"),
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
        path = _path_for(s, party) if party in own else None
        if path is None:  # a pledge is a floor: allies above it hold their level
            path = SpendingPath(
                parties=[party], target_pct_gdp=max(pledge_pct, base_pct), from_year=base_year,
                by_year=by_year, basis=basis,
            )  # fmt: skip
        ys = list(years)
        pct = _apply_path(ys, series.pct_gdp.values, path)
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
