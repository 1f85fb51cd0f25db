"""Economic series: GDP and %GDP per ally-year, spending paths and procurement budgets.

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

from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from materiel.scenario.schema import Scenario, SpendingPath

__all__ = [
    "PCT_GDP_FIELD",
    "Basis",
    "EconomicSeries",
    "ally_value",
    "apply_path",
    "economic_series",
    "path_for",
]

Basis = Literal["nato", "sipri"]
PCT_GDP_FIELD = {"nato": "defence_pct_gdp_nato", "sipri": "defence_pct_gdp_sipri"}


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


def ally_value(s: Scenario, party: str, year: int, field: str) -> float | None:
    record = s.economics.get(party, {}).get(str(year))
    value = getattr(record, field) if record is not None else None
    return None if value is None else float(value)


def path_for(s: Scenario, party: str) -> SpendingPath | None:
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
    ``fallback`` is set, the other basis; then the last known value is held
    (from years before ``years`` too, as is the last known GDP, grown at
    ``policy.gdp_growth_pct_per_year``); then spending paths apply from their
    ``from_year``.
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
        for year in (y for y in known_years if y < ys[0]):  # held from before the range
            if (g := ally_value(s, party, year, "gdp_usd_m")) is not None:
                last_gdp = (year, g)
            p = ally_value(s, party, year, PCT_GDP_FIELD[basis])
            if p is None and fallback:
                p = ally_value(s, party, year, PCT_GDP_FIELD[other])
            if p is not None:
                last_pct = p
        for j, year in enumerate(ys):
            g = ally_value(s, party, year, "gdp_usd_m")
            if g is not None:
                last_gdp = (year, g)
            elif last_gdp is None:  # before any figure: back-cast from the first one
                first = next((y for y in known_years if ally_value(s, party, y, "gdp_usd_m")), None)
                if first is not None:
                    g = ally_value(s, party, first, "gdp_usd_m")
                    assert g is not None
                    g = g / growth ** (first - year)
            else:
                g = last_gdp[1] * growth ** (year - last_gdp[0])
            gdp[i, j] = np.nan if g is None else g
            p = ally_value(s, party, year, PCT_GDP_FIELD[basis])
            if p is not None:
                actual[i, j] = True
            elif fallback and (p := ally_value(s, party, year, PCT_GDP_FIELD[other])) is not None:
                used_fallback[i, j] = True
            if p is not None:
                last_pct = p
            pct[i, j] = np.nan if last_pct is None else last_pct
        path = path_for(s, party)
        if path is not None:
            pct[i] = apply_path(ys, pct[i], path)
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


def apply_path(years: list[int], pct: np.ndarray, path: SpendingPath) -> np.ndarray:
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
