"""The simulate answer's summary, read from plain arrays, equals the table-based one.

:func:`materiel.web.routes.simulate.summary` reads :meth:`Result.rows` and the
run's plain arrays. Here the same summary is computed the way it was before
(labelled xarray sums, pandas tables and groupbys over the Dataset, kept below
as the reference) for every embedded scenario under several knob sets, and the
two must encode to the same JSON bytes: same keys, order, values and types
(an int that became a float, or the reverse, fails).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from materiel._errors import ScenarioError
from materiel.analysis import metrics
from materiel.analysis.result import ROW_TABLES, Result, records
from materiel.scenario.loading import embedded_ids
from materiel.web.app import create_app
from materiel.web.catalogue import Catalogue
from materiel.web.routes.simulate import summary
from materiel.web.schemas import SimulateRequest, clean
from materiel.web.store import Store

EMBEDDED = sorted(embedded_ids())
KNOBS: list[dict[str, Any]] = [
    {},
    {"extra_contracting_delay_months": 7, "consumption_scale": 1.73, "multi_year_share": 0.41},
    {"consumption_scale": 0.5, "industry_invests": False},
    {"contracting_delay_months": 0, "multi_year_share": 1.0, "budget": "defer"},
    {"spending_target_pct_gdp": 3.5, "spending_by_year": 2030, "budget": "flag"},
    {"consumption_scale": 4.0, "extra_contracting_delay_months": 24},
]
_SUMMARY_COLUMNS = [
    "target",
    "product",
    "required",
    "by",
    "stock_at_by",
    "met_by_date",
    "first_met",
    "months_early",
    "stock_at_horizon",
]


def _old_decisions(r: Result) -> pd.DataFrame:
    """``Result.decisions`` as it was: from the contracts table, one groupby."""
    df = r.contracts()
    columns = [
        "policy",
        "product",
        "contracts",
        "first",
        "last",
        "quantity",
        "multi_year_quantity",
        "delivered",
    ]
    mine = (df.decided_by == "policy").to_numpy()
    if not mine.any():
        return pd.DataFrame(columns=columns)
    df = df[mine]
    quantity = df.quantity.to_numpy()
    code_of: dict[tuple[str, str], int] = {}
    codes = [
        code_of.setdefault((str(origin).removeprefix("policy:"), str(product)), len(code_of))
        for origin, product in zip(df.origin, df["product"], strict=True)
    ]
    groups: dict[tuple[str, str], list[int]] = {key: [] for key in code_of}
    keys = list(code_of)
    for i, code in enumerate(codes):
        groups[keys[code]].append(i)
    sums = (
        pd.DataFrame(
            {
                "quantity": quantity,
                "multi_year_quantity": np.where(df.multi_year.to_numpy(), quantity, 0.0),
                "delivered": df.delivered.to_numpy(),
            }
        )
        .groupby(np.array(codes), sort=False)
        .sum()
    )
    decided = df.decided.to_numpy()
    out = pd.DataFrame(
        [
            [policy, product, len(rows), min(decided[rows]), max(decided[rows])]
            for (policy, product), rows in groups.items()
        ],
        columns=columns[:5],
    )
    for name in columns[5:]:
        out[name] = sums[name].to_numpy()
    return out


def _old_interoperability(r: Result) -> pd.DataFrame:
    """``metrics.interoperability_table`` as it was: a pandas groupby over the fleet table."""
    from materiel.engine.interop import compile_fleets

    ds, s, plain = r.dataset, r.scenario, metrics.plain
    fleets = r.fleets()
    if fleets.empty:
        return pd.DataFrame()
    lines = [str(x) for x in plain(ds, "line")]
    parties = [str(x) for x in plain(ds, "party")]
    products = [str(x) for x in plain(ds, "product")]
    compiled = compile_fleets(s, lines, parties, products)
    qualified, share = compiled["qualified_from"], compiled["fleet_share"]
    cap = plain(ds, "capacity_per_month", ("month", "line"))
    nominal = plain(ds, "stock", ("month", "party", "product"))
    usable = plain(ds, "usable_stock", ("month", "party", "product"))
    line_product = plain(ds, "line_product")
    T = cap.shape[0]
    rows = []
    for (p, k), group in fleets.groupby(["party", "product"], sort=False):
        mine = np.array([i for i, f in enumerate(compiled["fleets"]) if f in set(group.fleet)])
        of_k = np.flatnonzero(line_product == k)
        at = (-1, parties.index(str(p)), products.index(str(k)))

        def effective(t: int, mine: np.ndarray = mine, of_k: np.ndarray = of_k) -> float:
            fits = (qualified[np.ix_(of_k, mine)] <= t) * share[mine]
            return float((cap[t, of_k] * fits.sum(axis=1)).sum())

        demand = float(group.demand.sum())
        worst = group[group.shortfall > 0].sort_values("share_unmet", ascending=False)
        rows.append(
            {
                "party": p,
                "product": k,
                "fleets": len(group),
                "stock_end": float(nominal[at]),
                "usable_end": float(usable[at]),
                "unusable_end": float(group.unusable_end.iloc[0]),
                "unusable_max": float(group.unusable_max.iloc[0]),
                "demand": demand,
                "shortfall": float(group.shortfall.sum()),
                "share_unmet": float(group.shortfall.sum()) / demand if demand > 0 else 0.0,
                "shortfall_while_held": float(group.shortfall_while_held.sum()),
                "short_systems": ", ".join(
                    f"{x.system} {x.share_unmet:.0%}" for x in worst.itertuples()
                ),
                "capacity_start_per_month": float(cap[0, of_k].sum()),
                "effective_capacity_start_per_month": effective(0),
                "capacity_end_per_month": float(cap[T - 1, of_k].sum()),
                "effective_capacity_end_per_month": effective(T - 1),
            }
        )
    return pd.DataFrame(rows)


def _table_summary(r: Result) -> dict[str, Any]:
    """The summary as the tables and the labelled Dataset give it (the code before the
    plain-array summary)."""
    ds, s = r.dataset, r.scenario
    targets = records(r.targets()[_SUMMARY_COLUMNS]) if s.targets else []
    for row in targets:
        if row["months_early"] is not None:
            row["months_early"] = int(row["months_early"])
    return {
        "scenario": s.id,
        "start": s.start,
        "months": s.months,
        "targets": targets,
        "cost": {
            "payments_usd": float(ds.payments_usd.sum()),
            "capex_usd": float(ds.capex_usd.sum()),
        },
        "contracts": {
            "scenario": int((ds.contract_decided_by == "scenario").sum()),
            "policy": int((ds.contract_decided_by == "policy").sum()),
        },
        "decisions": records(_old_decisions(r)),
        "floors": r.floors(),
        "interoperability": s.policy.interoperability,
        "weapon_systems": records(_old_interoperability(r)),
    }


def _encoded(answer: dict[str, Any]) -> str:
    return json.dumps(clean(answer), allow_nan=False)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return Catalogue(Store(tmp_path_factory.mktemp("summary") / "s.db"))


def _fresh(catalogue: Catalogue, sid: str, knobs: dict[str, Any]) -> Result:
    """A run's result with no table computed yet (the cached one may have some)."""
    r = catalogue.run(SimulateRequest.model_validate({"scenario": sid, "knobs": knobs}))
    return Result(r.dataset, r.scenario)


@pytest.mark.parametrize("sid", EMBEDDED)
def test_summary_equals_the_tables_one(catalogue: Catalogue, sid: str) -> None:
    seen = {"decisions": 0, "weapon_systems": 0, "targets": 0}
    for knobs in KNOBS:
        fast, slow = (
            summary(_fresh(catalogue, sid, knobs)),
            _table_summary(_fresh(catalogue, sid, knobs)),
        )
        assert _encoded(fast) == _encoded(slow), (sid, knobs)
        for key in seen:
            seen[key] += len(slow[key])
    if sid == "action-plan":  # the comparison covered every table's rows
        assert all(n > 0 for n in seen.values()), seen


@pytest.mark.parametrize("sid", EMBEDDED)
def test_rows_are_the_tables_records(catalogue: Catalogue, sid: str) -> None:
    """``Result.rows(t)`` is ``records(result.t())``, up to ints a missing value made floats."""
    r = _fresh(catalogue, sid, KNOBS[1])
    for table in ROW_TABLES:
        rows, tabled = r.rows(table), records(getattr(r, table)())
        assert len(rows) == len(tabled)
        for a, b in zip(rows, tabled, strict=True):
            assert list(a) == list(b)
            for key, value in a.items():
                assert value == b[key] or (value is None and b[key] is None), (table, key)
                if b[key] is not None and not isinstance(value, int | float):
                    assert type(value) is type(b[key]), (table, key)
    if sid != "action-plan":
        return
    rows = r.rows("targets")
    rows[0]["target"] = "changed"  # a caller's copy: the next call is unchanged
    assert r.rows("targets")[0]["target"] != "changed"
    with pytest.raises(ScenarioError, match="table: got 'costs'; expected one of targets"):
        r.rows("costs")


def test_api_answer_has_the_tables_summary(tmp_path: Any) -> None:
    """Through the ASGI app (uncached, new knobs): the summary is the tables' one."""
    knobs = {"consumption_scale": 1.37, "extra_contracting_delay_months": 3}

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(tmp_path / "api.db"))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                "/api/simulate", json={"scenario": "action-plan", "knobs": knobs}
            )

    got = asyncio.run(ask())
    assert got.status_code == 200
    catalogue = Catalogue(Store(tmp_path / "ref.db"))
    expected = _table_summary(_fresh(catalogue, "action-plan", knobs))
    assert got.json()["summary"] == json.loads(_encoded(expected))
