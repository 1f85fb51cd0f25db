"""Defence spending tables: who meets a threshold, and what reaching a pledge costs.

The series behind them (GDP, %GDP, the carry-forward rule, spending paths as
floors, equipment shares) are built by
:func:`materiel.scenario.economics.economic_series`; see its module docstring
for the definitions. A pledge here and a spending path in the simulation
follow the same rule, :func:`materiel.scenario.economics.path_pct`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from materiel._errors import bad_argument
from materiel.scenario.economics import (
    FIRST_YEAR,
    LAST_YEAR,
    PCT_GDP_FIELD,
    Basis,
    ally_value,
    data_years,
    economic_arrays,
    path_for,
    path_pct,
)
from materiel.scenario.schema import Scenario, SpendingPath

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported only where a DataFrame is returned: ``materiel spending``
# builds its rows with numpy alone and answers well under a second.

__all__ = ["Basis", "pledge_table", "spending_payload", "spending_table"]

PLEDGE_LAST_YEAR = 2100  # as a spending path's by_year


def _own_parties(s: Scenario) -> set[str]:
    return {p for path in s.spending_paths.values() for p in path.parties if p != "*"}


def _check_year(function: str, argument: str, year: object, first: int, last: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int | np.integer):
        raise bad_argument(function, argument, year, "a whole year")
    if not first <= int(year) <= last:
        raise bad_argument(function, argument, year, f"a year from {first} to {last}")
    return int(year)


def spending_table(
    s: Scenario, year: int, threshold_pct: float = 2.0, basis: Basis = "nato"
) -> pd.DataFrame:
    """Per ally in ``year``: spending in US$ and %GDP, and whether it meets ``threshold_pct``.

    ``status`` says what the figure on ``basis`` is:

    - ``actual`` / ``estimate``: published (``estimate`` where NATO labels
      the year an estimate, e.g. 2024e);
    - ``missing``: no published figure in a year the data cover (not
      invented; the simulation carries the latest actual share forward);
    - ``projected``: ``year`` is after the last year with data on ``basis``:
      the carry-forward rule, then the scenario's spending paths
      (:func:`~materiel.scenario.economics.economic_series`).

    ``pct_gdp`` is the figure on ``basis`` (published or projected);
    ``pct_gdp_nato``/``pct_gdp_sipri`` are the published figures (the
    ``basis`` one is the projected figure in a projected year);
    ``defence_usd_m_nato`` is NATO's published US$ where there is one, else
    GDP x %GDP; ``meets`` is None where the status is ``missing``.
    """
    import pandas as pd

    return pd.DataFrame(_spending_rows(s, year, threshold_pct, basis))


def _spending_rows(
    s: Scenario, year: int, threshold_pct: float, basis: Basis
) -> list[dict[str, Any]]:
    """The rows of :func:`spending_table` as dicts (numbers are floats, bools or None)."""
    year = _check_year("spending_table", "year", year, FIRST_YEAR, LAST_YEAR)
    if not (isinstance(threshold_pct, int | float) and math.isfinite(threshold_pct)):
        raise bad_argument("spending_table", "threshold_pct", threshold_pct, "a finite number")
    field = PCT_GDP_FIELD[basis]
    covered = data_years(s, field)
    projected = bool(covered) and year > covered[-1]
    series = economic_arrays(s, range(year, year + 1), basis)
    rows: list[dict[str, Any]] = []
    for i, party in enumerate(series.parties):
        nato = ally_value(s, party, year, PCT_GDP_FIELD["nato"])
        sipri = ally_value(s, party, year, PCT_GDP_FIELD["sipri"])
        gdp = ally_value(s, party, year, "gdp_usd_m")
        published = nato if basis == "nato" else sipri
        if projected:
            value = float(series.pct_gdp[i, 0])
            chosen = None if math.isnan(value) else value
            gdp = float(series.gdp_usd_m[i, 0]) if gdp is None else gdp
            status = "projected" if chosen is not None else "missing"
            if basis == "nato":
                nato = chosen
            else:
                sipri = chosen
        else:
            chosen = published
            estimate = bool(ally_value(s, party, year, "estimate_nato")) and basis == "nato"
            status = "missing" if chosen is None else "estimate" if estimate else "actual"
        usd_nato = ally_value(s, party, year, "defence_usd_m_nato")
        if usd_nato is None and nato is not None and gdp is not None:
            usd_nato = gdp * nato / 100
        usd_sipri = ally_value(s, party, year, "defence_usd_m_sipri")
        if usd_sipri is None and projected and sipri is not None and gdp is not None:
            usd_sipri = gdp * sipri / 100
        share = float(series.equipment_share[i, 0])
        rows.append(
            {
                "party": party,
                "name": s.parties[party].name,
                "gdp_usd_m": gdp,
                "pct_gdp_nato": nato,
                "pct_gdp_sipri": sipri,
                "defence_usd_m_nato": usd_nato,
                "defence_usd_m_sipri": usd_sipri,
                "equipment_share_pct": None if math.isnan(share) else 100 * share,
                "equipment_share_from": series.equipment_share_from[i],
                "status": status,
                "pct_gdp": chosen,
                "meets": None if chosen is None else chosen >= threshold_pct - 1e-12,
            }
        )
    return rows


def pledge_table(
    s: Scenario,
    pledge_pct: float,
    by_year: int,
    basis: Basis = "nato",
    buys: Sequence[str] = ("shell-155mm", "pac-3-mse"),
) -> pd.DataFrame:
    """Per ally: the path from its latest actual %GDP to ``pledge_pct`` by ``by_year``.

    The path is the scenario's own path for the ally if it names the ally,
    else linear in %GDP from the ally's latest actual year (on ``basis``,
    else the other basis) to ``pledge_pct`` in ``by_year``; either way a
    floor, by the same rule as the simulation
    (:func:`~materiel.scenario.economics.path_pct`): an ally above the pledge
    holds its level. ``extra_usd_m_by_year`` is the spending in ``by_year``
    above holding today's %GDP; ``extra_usd_m_cumulative`` sums it over the
    path; ``buys_<munition>`` is what the munitions budget of
    ``extra_usd_m_by_year`` (x the ally's equipment share, see
    ``equipment_share_from``, x ``policy.munitions_share``) buys at the
    scenario's unit price.

    Raises :class:`~materiel.ScenarioError` for a pledge that is not a
    finite %GDP in [0, 100] or a ``by_year`` before the latest spending data.
    """
    if isinstance(pledge_pct, bool) or not (
        isinstance(pledge_pct, int | float) and math.isfinite(pledge_pct) and 0 <= pledge_pct <= 100
    ):
        raise bad_argument("pledge_table", "pledge_pct", pledge_pct, "a %GDP from 0 to 100")
    known = data_years(s)
    if not known:
        raise bad_argument("pledge_table", "scenario", s.id, "a scenario with spending data")
    latest = known[-1]
    by_year = _check_year("pledge_table", "by_year", by_year, latest, PLEDGE_LAST_YEAR)
    years = range(known[0], by_year + 1)
    ys = list(years)
    no_paths = s.model_copy(update={"spending_paths": {}})
    held = economic_arrays(no_paths, years, basis)  # today's %GDP carried forward
    own = _own_parties(s)
    at_by = ys.index(by_year)
    year_values = np.array(ys)
    rows: list[dict[str, object]] = []
    for i, party in enumerate(held.parties):
        known_years = year_values[held.actual[i] | held.fallback[i]]
        if len(known_years) == 0:
            rows.append({"party": party, "name": s.parties[party].name, "base_year": None})
            continue
        base_year = int(known_years.max())
        base_pct = float(held.pct_gdp[i, held.column(base_year)])
        path = path_for(s, party) if party in own else None
        if path is None:
            path = SpendingPath.model_construct(
                parties=[party],
                target_pct_gdp=pledge_pct,
                from_year=base_year,
                by_year=by_year,
                basis=basis,
            )
        held_pct = held.pct_gdp[i]
        pct = path_pct(ys, held_pct, path)
        gdp = held.gdp_usd_m[i]
        extra = np.where(year_values > base_year, (pct - held_pct) * gdp / 100.0, 0.0)
        share = float(held.equipment_share[i, at_by])
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
            "equipment_share_pct": 100 * share,
            "equipment_share_from": held.equipment_share_from[i],
        }
        munitions_usd = float(extra[at_by]) * 1e6 * share * s.policy.munitions_share
        for product in buys:
            price = s.products[product].unit_price_usd if product in s.products else None
            row[f"buys_{product}"] = munitions_usd / price if price else None
        rows.append(row)
    import pandas as pd

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

    ``allies`` are the rows of :func:`spending_table` with counts (meeting
    the threshold, with data, estimates; ``projected`` when the year is past
    the data); with both ``pledge_pct`` and ``by_year``, ``pledge`` adds the
    rows of :func:`pledge_table`, the GDP growth assumed after the data, the
    munitions share and where the equipment share comes from, and the
    all-ally extra in ``by_year``. Bad arguments raise
    :class:`~materiel.ScenarioError` naming the argument.
    """
    rows = _spending_rows(s, year, threshold_pct, basis)
    known = [row for row in rows if row["meets"] is not None]
    status = [row["status"] for row in rows]
    payload: dict[str, Any] = {
        "scenario": s.id,
        "year": year,
        "threshold_pct": threshold_pct,
        "basis": basis,
        "projected": "projected" in status,
        "allies": [_json_row(row) for row in rows],
        "count_meeting": sum(bool(row["meets"]) for row in known),
        "count_with_data": len(known),
        "count_allies": len(rows),
        "count_estimates": status.count("estimate"),
    }
    if pledge_pct is not None and by_year is not None:
        from materiel.analysis.result import records

        pledged = pledge_table(s, pledge_pct, by_year, basis)
        payload["pledge"] = {
            "pct_gdp": pledge_pct,
            "by": by_year,
            "gdp_growth_pct_per_year": s.policy.gdp_growth_pct_per_year,
            "munitions_share": s.policy.munitions_share,
            "equipment_share_from": s.policy.equipment_share_from,
            "allies": records(pledged),
            "extra_usd_m_by_year_total": float(pledged.extra_usd_m_by_year.sum()),
        }
    return payload


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-ready data: NaN and infinities as None (as ``records`` does for a table)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
