"""Economic series: GDP and %GDP per ally-year, spending paths and procurement budgets.

Money is in current US$. For an ally ``p`` and a year ``y`` the rules apply in
this order (:func:`economic_series`):

1. **Actual**: ``pct(p, y)`` is the published %GDP on the chosen basis (NATO
   or SIPRI definition); where that basis has none and ``fallback`` is set,
   the other basis's figure (flagged ``fallback``).
2. **Carried** (a documented rule, not data): in a year without a figure the
   latest earlier figure is carried forward, and before the first figure the
   first one is held back: ``held(p, y) = pct(p, y*)`` with ``y*`` the latest
   year ``<= y`` with a figure (else the earliest). So no ally's budget falls
   to zero because a figure is missing; an ally with no figure at all on
   either basis (Iceland: no armed forces) has no defence spending.
3. **Spending path** (the scenario's ``spending_paths``, and a pledge in
   ``materiel spending --pledge``): a path is a floor, it never lowers a
   share (:func:`path_pct`)::

       base   = held(p, from_year)
       f(y)   = min(1, (y - from_year) / (by_year - from_year))
       pct(y) = max(held(p, y), base + (target - base) * f(y))

   for ``y >= from_year``; a path naming the party overrides one for every
   ally (``"*"``).
4. **GDP**: the published figure; after the last one it grows at
   ``g = policy.gdp_growth_pct_per_year`` (an assumption, stated in the
   output): ``gdp(y) = gdp(y_last) * (1 + g/100) ** (y - y_last)``; before
   the first it is back-cast at the same rate.
5. ``defence_usd(p, y) = gdp(p, y) * pct(p, y) / 100``.
6. **Equipment share** ``e(p, y)``: with ``policy.equipment_share_from =
   "data"`` (the default) NATO's per-ally share of defence spending on major
   equipment (Table 8a) / 100, carried like rule 2 (latest actual forward);
   ``policy.equipment_share`` for an ally with no such figure (the fallback).
   With ``"policy"``, ``policy.equipment_share`` for every ally (the override).
   ``equipment_share_from`` in the series says which, per ally.
7. The **procurement budget** for munitions is
   ``budget(p, y) = defence_usd(p, y) * 1e6 * e(p, y) * policy.munitions_share``.

Rules 2-7 are computed over the union of the requested years and the years
with data, so the result for a year does not depend on the window asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from materiel._errors import bad_argument
from materiel.scenario.schema import Scenario, SpendingPath

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "PCT_GDP_FIELD",
    "Basis",
    "EconomicArrays",
    "EconomicSeries",
    "ally_value",
    "data_years",
    "economic_arrays",
    "economic_series",
    "grown_gdp_usd_m",
    "munitions_budget_usd",
    "path_for",
    "path_pct",
]

Basis = Literal["nato", "sipri"]
PCT_GDP_FIELD = {"nato": "defence_pct_gdp_nato", "sipri": "defence_pct_gdp_sipri"}
FIRST_YEAR, LAST_YEAR = 1900, 2300  # years a series may cover (GDP growth stays finite)


@dataclass(frozen=True)
class EconomicSeries:
    """GDP and %GDP per ally and year, actual where known, projected after.

    ``data`` holds (party, year): ``gdp_usd_m``, ``pct_gdp``, ``defence_usd_m``,
    ``equipment_share``, ``budget_usd`` and the masks ``actual`` (a published
    %GDP on the requested basis), ``fallback`` (the other basis filled a
    gap) and ``projected`` (carried forward, held back or on a spending
    path); ``equipment_share_from`` (party) is ``"data"`` or ``"policy"``.
    """

    data: xr.Dataset

    @property
    def budget_usd(self) -> xr.DataArray:
        """Procurement budget for munitions, US$ (party, year); see module docstring."""
        da: xr.DataArray = self.data["budget_usd"]
        return da


def ally_value(s: Scenario, party: str, year: int, field: str) -> float | None:
    """One published figure of ``party`` in ``year`` (None where there is none)."""
    record = s.economics.get(party, {}).get(str(year))
    value = getattr(record, field) if record is not None else None
    return None if value is None else float(value)


def data_years(s: Scenario, field: str | None = None) -> list[int]:
    """Sorted years with any economic figure (or with ``field``) for some ally."""
    out: set[int] = set()
    for party in s.allies:
        for key, record in s.economics.get(party, {}).items():
            in_range = key.isdigit() and FIRST_YEAR <= int(key) <= LAST_YEAR
            if in_range and (field is None or getattr(record, field) is not None):
                out.add(int(key))
    return sorted(out)


def path_for(s: Scenario, party: str) -> SpendingPath | None:
    """The scenario's spending path for ``party``: its own, else the one for every ally."""
    own = [p for p in s.spending_paths.values() if party in p.parties]
    every = [p for p in s.spending_paths.values() if "*" in p.parties]
    return own[-1] if own else every[-1] if every else None


def path_pct(years: Sequence[int], held: np.ndarray, path: SpendingPath) -> np.ndarray:
    """%GDP along ``path``, a floor over ``held`` (the series without paths); see rule 3.

    ``base`` is ``held`` in ``path.from_year`` (the latest year before it in
    ``years`` if it is not one of them; the first value if none is). Where
    ``base`` is unknown (NaN) the path has nothing to start from and
    ``held`` is returned unchanged.
    """
    ys = list(years)
    out = np.asarray(held, dtype=float).copy()
    if path.from_year in ys:
        base = out[ys.index(path.from_year)]
    else:
        before = [j for j, y in enumerate(ys) if y <= path.from_year]
        base = out[before[-1]] if before else out[0]
    if np.isnan(base):
        return out
    span = max(path.by_year - path.from_year, 1)
    for j, year in enumerate(ys):
        if year >= path.from_year:
            share = min((year - path.from_year) / span, 1.0)
            linear = base + (path.target_pct_gdp - base) * share
            out[j] = linear if np.isnan(out[j]) else max(out[j], linear)
    return out


def _carried(values: list[float | None]) -> np.ndarray:
    """Rule 2: carry the latest figure forward, hold the first one back."""
    out = np.full(len(values), np.nan)
    last: float | None = next((v for v in values if v is not None), None)
    for j, v in enumerate(values):
        if v is not None:
            last = v
        out[j] = np.nan if last is None else last
    return out


def _gdp_reference(s: Scenario, party: str, span: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rule 4's parts: ``gdp(y) = ref(y) * (1 + g/100) ** years(y)`` for every year of ``span``.

    ``ref`` is the published figure (``years`` 0) or, where there is none,
    the latest earlier one (the earliest before the first), ``years`` the
    years from it (negative: back-cast). NaN where the ally has no figure.
    """
    known = [(y, g) for y in span if (g := ally_value(s, party, y, "gdp_usd_m")) is not None]
    ref, years = np.full(len(span), np.nan), np.zeros(len(span))
    if not known:
        return ref, years
    for j, year in enumerate(span):
        g = ally_value(s, party, year, "gdp_usd_m")
        if g is None:
            ref_year, g = next(((y, v) for y, v in reversed(known) if y <= year), known[0])
            years[j] = year - ref_year
        ref[j] = g
    return ref, years


def grown_gdp_usd_m(
    reference: np.ndarray, years: np.ndarray, growth_pct: float | np.ndarray
) -> np.ndarray:
    """Rule 4: ``gdp = ref * (1 + g/100) ** years``; ``growth_pct`` one value or one per sample.

    ``reference`` and ``years`` are (party, year) (:class:`EconomicArrays`'
    ``gdp_reference_usd_m`` and ``gdp_years_grown``); with an array of
    growth rates the result is (sample, party, year).
    """
    g = np.asarray(growth_pct, dtype=float)
    growth = (1.0 + g / 100.0).reshape((*g.shape, 1, 1))
    out: np.ndarray = reference * growth**years
    return out


def munitions_budget_usd(
    gdp_usd_m: np.ndarray,
    pct_gdp: np.ndarray,
    equipment_share: np.ndarray,
    munitions_share: float | np.ndarray,
) -> np.ndarray:
    """Rules 5 and 7: ``budget = gdp * pct / 100 * 1e6 * e * munitions_share`` (US$; NaN -> 0).

    Arrays broadcast: per-sample GDP or equipment shares (sample, party, year)
    or one ``munitions_share`` per sample give budgets per sample.
    """
    m = np.asarray(munitions_share, dtype=float)
    budget = gdp_usd_m * pct_gdp / 100.0 * 1e6 * equipment_share * m.reshape((*m.shape, 1, 1))
    out: np.ndarray = np.nan_to_num(budget, nan=0.0, posinf=np.inf, neginf=-np.inf)
    return out


@dataclass(frozen=True)
class EconomicArrays:
    """The series of :func:`economic_series` as plain numpy arrays (party, year).

    For callers that want numbers without xarray (``materiel spending``
    answers in well under a second this way). ``parties`` and ``years`` label
    the rows and columns; the fields are those of
    :class:`EconomicSeries`'s ``data``, and rule 4's parts
    (``gdp_reference_usd_m``, ``gdp_years_grown``) from which
    :func:`grown_gdp_usd_m` and :func:`munitions_budget_usd` recompute the
    budgets for other values of the policy's growth and shares (Monte Carlo).
    """

    parties: list[str]
    years: list[int]
    basis: Basis
    gdp_usd_m: np.ndarray
    pct_gdp: np.ndarray
    equipment_share: np.ndarray
    actual: np.ndarray
    fallback: np.ndarray
    projected: np.ndarray
    defence_usd_m: np.ndarray
    budget_usd: np.ndarray
    equipment_share_from: list[str]
    gdp_reference_usd_m: np.ndarray  # rule 4: gdp = reference * (1 + g/100) ** years grown
    gdp_years_grown: np.ndarray

    def column(self, year: int) -> int:
        """Index of ``year`` along the year axis."""
        return self.years.index(year)


def economic_arrays(
    s: Scenario,
    years: range,
    basis: Basis = "nato",
    *,
    fallback: bool = True,
) -> EconomicArrays:
    """GDP, %GDP, defence spending, equipment share and budget per ally over ``years``.

    The rules and equations are in the module docstring; the same numbers as
    :func:`economic_series`, without building an :class:`xarray.Dataset`.
    Raises :class:`~materiel.ScenarioError` for an empty ``years`` or one
    outside 1900-2300.
    """
    ys = list(years)
    if not ys or ys[0] < FIRST_YEAR or ys[-1] > LAST_YEAR or ys != sorted(ys):
        shown = f"range({ys[0]}, {ys[-1] + 1})" if ys else "an empty range"
        expected = f"a non-empty, increasing range of years within {FIRST_YEAR}-{LAST_YEAR}"
        raise bad_argument("economic_series", "years", shown, expected)
    if basis not in PCT_GDP_FIELD:
        raise bad_argument("economic_series", "basis", basis, "'nato' or 'sipri'")
    allies = s.allies
    known = data_years(s)
    span = list(range(min([ys[0], *known]), max([ys[-1], *known]) + 1))
    other: Basis = "sipri" if basis == "nato" else "nato"
    shape = (len(allies), len(span))
    pct, equipment = np.full(shape, np.nan), np.full(shape, np.nan)
    reference, grown = np.full(shape, np.nan), np.zeros(shape)
    actual = np.zeros(shape, dtype=bool)
    used_fallback = np.zeros(shape, dtype=bool)
    share_from = []
    by_policy = s.policy.equipment_share_from == "policy"
    for i, party in enumerate(allies):
        reference[i], grown[i] = _gdp_reference(s, party, span)
        figures: list[float | None] = []
        for j, year in enumerate(span):
            p = ally_value(s, party, year, PCT_GDP_FIELD[basis])
            if p is not None:
                actual[i, j] = True
            elif fallback and (p := ally_value(s, party, year, PCT_GDP_FIELD[other])) is not None:
                used_fallback[i, j] = True
            figures.append(p)
        pct[i] = _carried(figures)
        path = path_for(s, party)
        if path is not None:
            pct[i] = path_pct(span, pct[i], path)
        shares = [ally_value(s, party, y, "equipment_share_pct") for y in span]
        if by_policy or all(v is None for v in shares):
            equipment[i] = s.policy.equipment_share
            share_from.append("policy")
        else:
            equipment[i] = _carried(shares) / 100.0
            share_from.append("data")
    gdp = grown_gdp_usd_m(reference, grown, s.policy.gdp_growth_pct_per_year)
    keep = [span.index(y) for y in ys]
    gdp_kept, pct, equipment = gdp[:, keep], pct[:, keep], equipment[:, keep]
    actual, used_fallback = actual[:, keep], used_fallback[:, keep]
    defence = gdp_kept * pct / 100.0
    budget = munitions_budget_usd(gdp_kept, pct, equipment, s.policy.munitions_share)
    if not bool(np.isfinite(budget).all()):
        bad = float(np.nanmax(np.abs(gdp)))
        raise bad_argument(
            "economic_series",
            "policy.gdp_growth_pct_per_year",
            s.policy.gdp_growth_pct_per_year,
            f"a growth rate that keeps GDP finite over {span[0]}-{span[-1]} "
            f"(largest GDP {bad:.3g} US$ m)",
        )
    return EconomicArrays(
        parties=list(allies),
        years=ys,
        basis=basis,
        gdp_usd_m=gdp_kept,
        pct_gdp=pct,
        equipment_share=equipment,
        actual=actual,
        fallback=used_fallback,
        projected=~actual & ~used_fallback & ~np.isnan(pct),
        defence_usd_m=defence,
        budget_usd=budget,
        equipment_share_from=share_from,
        gdp_reference_usd_m=reference[:, keep],
        gdp_years_grown=grown[:, keep],
    )


def economic_series(
    s: Scenario,
    years: range,
    basis: Basis = "nato",
    *,
    fallback: bool = True,
) -> EconomicSeries:
    """GDP, %GDP, defence spending, equipment share and budget per ally over ``years``.

    The rules and equations are in the module docstring; the numbers are
    those of :func:`economic_arrays`, labelled. Raises
    :class:`~materiel.ScenarioError` for an empty ``years`` or one outside
    1900-2300.
    """
    import xarray as xr

    from materiel._xarray import lazy_dask

    lazy_dask()
    a = economic_arrays(s, years, basis, fallback=fallback)
    dims = ("party", "year")
    data = xr.Dataset(
        {
            "gdp_usd_m": (dims, a.gdp_usd_m),
            "pct_gdp": (dims, a.pct_gdp),
            "equipment_share": (dims, a.equipment_share),
            "actual": (dims, a.actual),
            "fallback": (dims, a.fallback),
            "equipment_share_from": (("party",), np.array(a.equipment_share_from, dtype=object)),
            "projected": (dims, a.projected),
            "defence_usd_m": (dims, a.defence_usd_m),
            "budget_usd": (dims, a.budget_usd),
        },
        coords={"party": a.parties, "year": a.years},
        attrs={
            "basis": basis,
            "gdp_growth_pct_per_year": s.policy.gdp_growth_pct_per_year,
            "equipment_share_from": s.policy.equipment_share_from,
            "munitions_share": s.policy.munitions_share,
        },
    )
    return EconomicSeries(data)
