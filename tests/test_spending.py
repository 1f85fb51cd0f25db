"""Spending: %GDP tables, pledge arithmetic, and budgets that bind the simulation."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from builders import contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.analysis.spending import pledge_table, spending_table
from materiel.cli import app
from materiel.scenario.economics import economic_series, path_pct
from materiel.scenario.schema import SpendingPath

SHARED = Path(
    os.environ.get("MATERIEL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
runner = CliRunner()


def budgeted(policy: str, **extra: object) -> dict:
    s = tiny(
        months=24,
        policy={"contracting_delay_months": 0, "budget": policy, "gdp_growth_pct_per_year": 0.0},
        economics={
            "AAA": {"2024": {"gdp_usd_m": 1000.0, "defence_pct_gdp_nato": 2.0, "source": "fx"}}
        },
        contracts={
            "first": contract(quantity=30_000.0, delivery_months=3),
            "second": contract(quantity=20_000.0, delivery_months=3, decision="2024-02"),
        },
    )
    s["lines"]["l1"]["capacity_per_month"] = s["lines"]["l1"]["max_capacity_per_month"] = 1e6
    s.update(extra)
    return s


def test_budget_arithmetic() -> None:
    # budget = GDP 1,000m x 2% x 20% equipment x 10% munitions = $400,000 a year
    s = materiel.load(budgeted("defer"))
    series = economic_series(s, range(2024, 2026))
    assert series.budget_usd.sel(party="AAA").values.tolist() == pytest.approx([4e5, 4e5])


def test_budget_defers_a_contract_to_the_next_year_with_room() -> None:
    r = materiel.simulate(budgeted("defer"))
    deferred = r.deferred().set_index("contract")
    assert deferred.loc["second", "deferred_months"] == 12  # $300k + $200k > $400k in 2024
    d = r.dataset.contract_deliveries.isel(sample=0)
    assert d.sel(contract="second").values[:13].sum() == 0
    assert d.sel(contract="second").values[13:16].tolist() == pytest.approx([20_000 / 3] * 3)
    b = r.budget().query("party == 'AAA'").set_index("year")
    assert b.loc[2024, "committed_usd"] == pytest.approx(3e5)
    assert b.loc[2025, "committed_usd"] == pytest.approx(2e5)
    assert b.overrun_usd.max() == 0


def test_budget_flag_signs_and_reports_the_overrun() -> None:
    r = materiel.simulate(budgeted("flag"))
    assert r.deferred().empty
    b = r.budget().query("party == 'AAA'").set_index("year")
    assert b.loc[2024, "overrun_usd"] == pytest.approx(1e5)
    assert r.metrics()["budget"]["overruns"][0]["year"] == 2024


def test_no_budget_policy_ignores_money() -> None:
    r = materiel.simulate(budgeted("none"))
    assert r.budget().empty and r.deferred().empty
    d = r.dataset.contract_deliveries.isel(sample=0)
    assert d.sel(contract="second").values[1:4].sum() == pytest.approx(20_000)


def test_tight_budget_delays_time_to_target() -> None:
    base = {"extends": "action-plan"}
    tight = {"extends": "action-plan", "policy": {"budget": "defer", "munitions_share": 0.04}}
    t0 = materiel.simulate(base).targets().set_index("target")
    t1 = materiel.simulate(tight)
    assert not t1.deferred().empty
    late = t1.targets().set_index("target")
    key = "europe-155mm-2030"
    assert t0.loc[key, "met_by_date"]  # without budgets: met by 2030-12
    # the policies still buy 155mm within the budget, later and less than without it
    assert late.loc[key, "first_met"] > t0.loc[key, "first_met"]
    assert late.loc[key, "stock_at_by"] < t0.loc[key, "stock_at_by"]
    # missiles, dearer, are what the budget cuts: met by their dates only without it
    missed = [k for k in t0.index if t0.loc[k, "met_by_date"] and not late.loc[k, "met_by_date"]]
    assert "usa-pac-3-mse-requirement" in missed


NATO_HEADCOUNT = {2014: 3, 2022: 7, 2023: 10, 2024: 23}  # NATO's own counts (2024 edition)


def _count(values: list[float | None]) -> tuple[int, int]:
    known = [v for v in values if v is not None]
    return sum(v >= 2.0 - 1e-12 for v in known), len(known)


def test_spending_counts_match_the_data() -> None:
    s = materiel.load("dataset")
    for basis, field in (("nato", "defence_pct_gdp_nato"), ("sipri", "defence_pct_gdp_sipri")):
        for year in range(2014, 2026):
            table = spending_table(s, year, 2.0, basis)  # type: ignore[arg-type]
            if basis == "sipri" and year == 2025:  # SIPRI ends in 2024: a projected year
                assert set(table.status) == {"projected", "missing"}
                continue
            values = [getattr(s.economics[p][str(year)], field) for p in s.allies]
            meeting, known = _count(values)
            assert int(table.meets.sum()) == meeting, (basis, year)
            assert int(table.meets.notna().sum()) == known, (basis, year)
            assert set(table.status) <= {"actual", "estimate", "missing"}
    for year, count in NATO_HEADCOUNT.items():
        t = spending_table(s, year, 2.0, "nato")
        assert len(t) == 32 and int(t.meets.sum()) == count and int(t.meets.notna().sum()) == 31
    t = spending_table(s, 2025, 2.0, "nato").set_index("party")
    assert t.loc["DEU", "status"] == "missing" and t.loc["DEU", "meets"] is None  # not invented
    assert t.loc["POL", "status"] == "estimate" and t.loc["POL", "pct_gdp"] == pytest.approx(4.48)
    assert (t.status == "estimate").sum() == 18


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_headcounts_match_the_shared_tables() -> None:
    s = materiel.load("dataset")
    nato = SHARED / "nato" / "nato_defexp_2024edition_tidy.csv"
    sipri = SHARED / "sipri" / "sipri_milex_nato_allies_2014_2024.csv"
    if not (nato.is_file() and sipri.is_file()):
        pytest.skip("a shared spending table is missing")
    names = {p.name: k for k, p in s.parties.items()} | {"United States of America": "USA"}
    tables = {
        "nato": [
            (r["party"], int(r["year"]), r["pct_gdp_nato"])
            for r in _rows(nato)
            if r["party"] in s.allies
        ],
        "sipri": [
            (names.get(r["country"], ""), int(r["year"]), r["milex_pct_gdp"]) for r in _rows(sipri)
        ],
    }
    for basis, rows in tables.items():
        for year in range(2014, 2025):
            values = [float(v) if v else None for p, y, v in rows if y == year and p in s.allies]
            table = spending_table(s, year, 2.0, basis)  # type: ignore[arg-type]
            meeting, known = _count(values)
            assert (int(table.meets.sum()), int(table.meets.notna().sum())) == (meeting, known)
            if basis == "nato" and year in NATO_HEADCOUNT:
                assert (meeting, known) == (NATO_HEADCOUNT[year], 31)


def test_cli_spending_every_year_says_how_many_allies_have_data() -> None:
    for year in range(2014, 2026):
        out = runner.invoke(app, ["spending", "--year", str(year), "--basis", "nato"])
        assert out.exit_code == 0, out.output
        last = out.output.strip().splitlines()[-1]
        with_data = 18 if year == 2025 else 31
        assert "allies have data" in last and f"{with_data} of 32" in last, last
        if year in NATO_HEADCOUNT:
            assert last.startswith(f"{NATO_HEADCOUNT[year]} of 31 allies with data meet"), last
    out = runner.invoke(app, ["spending", "hague-pledge", "--year", "2030"])
    assert out.exit_code == 0, out.output
    assert "PROJECTED" in out.output and out.output.count("projected") >= 31
    assert "31 of 32 allies have a projection" in out.output


def test_projected_budget_is_positive_for_every_ally_with_data() -> None:
    """Carry-forward: no ally's budget falls to zero because a figure is missing."""
    for sid in ("dataset", "hague-pledge"):
        s = materiel.load(sid)
        series = economic_series(s, range(2025, 2041)).data  # a window after most data
        for party in s.allies:
            budget = series.budget_usd.sel(party=party).values
            if party == "ISL":  # no armed forces: no defence spending on either basis
                assert (budget == 0).all() and not series.actual.sel(party=party).any()
                continue
            assert (budget > 0).all(), (sid, party)
            assert series.equipment_share_from.sel(party=party).item() == "data"
        deu = series.sel(party="DEU")
        assert bool(deu.projected.sel(year=2025)) and not bool(deu.actual.sel(year=2025))


def test_series_do_not_depend_on_the_window() -> None:
    s = materiel.load("hague-pledge")
    wide = economic_series(s, range(2014, 2041)).data.sel(year=slice(2026, 2040))
    narrow = economic_series(s, range(2026, 2041)).data
    for name in ("gdp_usd_m", "pct_gdp", "equipment_share", "budget_usd"):
        np.testing.assert_allclose(narrow[name].values, wide[name].values, rtol=1e-12)


def test_hague_pledge_never_lowers_a_share() -> None:
    s = materiel.load("hague-pledge")
    years = range(2014, 2041)
    with_path = economic_series(s, years).data.pct_gdp
    held = economic_series(s.model_copy(update={"spending_paths": {}}), years).data.pct_gdp
    assert bool((with_path.fillna(0) >= held.fillna(0) - 1e-12).all())
    pol = with_path.sel(party="POL")
    assert pol.sel(year=2030) == pytest.approx(4.48) and pol.sel(year=2040) == pytest.approx(4.48)
    assert with_path.sel(party="DEU", year=2035) == pytest.approx(3.5)
    assert with_path.sel(party="ESP", year=2035) == pytest.approx(2.1)  # its own path
    # the pledge table and the simulation agree where the pledge is met
    table = pledge_table(s, 3.5, 2035).set_index("party").dropna(subset=["base_year"])
    sim = with_path.sel(year=2035).to_series()
    assert table.pct_gdp_by_year.to_numpy() == pytest.approx(sim[table.index].to_numpy())


def test_path_is_a_floor_by_hand() -> None:
    path = SpendingPath(parties=["*"], target_pct_gdp=3.0, from_year=2025, by_year=2027)
    held = np.array([1.0, 2.0, 2.0, 2.0, 2.0])
    assert path_pct(range(2024, 2029), held, path).tolist() == pytest.approx(
        [1.0, 2.0, 2.5, 3.0, 3.0]
    )
    high = np.array([4.0, 4.0, 4.0, 5.0, 4.0])  # above the target: never lowered
    assert path_pct(range(2024, 2029), high, path).tolist() == pytest.approx(high.tolist())
    assert np.isnan(path_pct(range(2024, 2026), np.array([np.nan, np.nan]), path)).all()


def test_carry_forward_and_equipment_share_by_hand() -> None:
    # 2024: GDP 1,000m, 2%, NATO equipment share 30% -> 1,000 x 2% x 30% x 10% = $600,000;
    # 2025-2026: no figure, 0% growth: the 2024 share and equipment share are carried
    economics = {
        "AAA": {
            "2024": {
                "gdp_usd_m": 1000.0,
                "defence_pct_gdp_nato": 2.0,
                "equipment_share_pct": 30.0,
                "source": "fx",
            }
        },
        "BBB": {"2024": {"gdp_usd_m": 500.0, "defence_pct_gdp_sipri": 4.0, "source": "fx"}},
    }
    s = materiel.load(budgeted("flag", economics=economics))
    series = economic_series(s, range(2025, 2027)).data
    assert series.budget_usd.sel(party="AAA").values.tolist() == pytest.approx([6e5, 6e5])
    # BBB: SIPRI fills the NATO gap, policy.equipment_share (20%) is the fallback
    assert series.budget_usd.sel(party="BBB").values.tolist() == pytest.approx([4e5, 4e5])
    assert series.equipment_share_from.values.tolist() == ["data", "policy"]
    spec = budgeted("flag", economics=economics)
    spec["policy"]["equipment_share_from"] = "policy"
    override = materiel.load(spec)
    series = economic_series(override, range(2025, 2026)).data
    assert float(series.budget_usd.sel(party="AAA", year=2025)) == pytest.approx(4e5)


@pytest.mark.parametrize("growth", [-20.0, 50.0])
def test_extreme_growth_and_far_years_stay_finite(growth: float) -> None:
    spec = budgeted("defer")
    spec["policy"]["gdp_growth_pct_per_year"] = growth
    s = materiel.load(spec)
    series = economic_series(s, range(2090, 2161))
    aaa = series.budget_usd.sel(party="AAA").values  # BBB has no data: no budget
    assert np.isfinite(aaa).all() and (aaa > 0).all()
    with pytest.raises(materiel.ScenarioError, match="economic_series"):
        economic_series(s, range(2030, 2030))
    with pytest.raises(materiel.ScenarioError, match="1900-2300"):
        economic_series(s, range(1500, 1501))


def test_hague_pledge_flag_gives_every_ally_a_budget_every_year() -> None:
    r = materiel.simulate({"extends": "hague-pledge", "policy": {"budget": "flag"}})
    b = r.budget()
    assert set(b.party) == set(r.scenario.allies)
    funded = b[b.party != "ISL"]  # Iceland: no armed forces, no defence spending
    assert (funded.budget_usd > 0).all(), funded[funded.budget_usd <= 0]
    assert (b[b.party == "ISL"].budget_usd == 0).all()
    assert funded.year.nunique() == b.year.nunique() >= 11


def test_pledge_arithmetic_by_hand() -> None:
    # GDP 1,000m, 2.0% in 2024, pledge 3.5% by 2034, no growth: +0.15 pt a year;
    # in 2034 the extra is 1.5% x 1,000m = 15m; cumulative 0.15 x (1 + ... + 10) x 10m = 82.5m
    s = materiel.load(
        budgeted(
            "none",
            economics={
                "AAA": {"2024": {"gdp_usd_m": 1000.0, "defence_pct_gdp_nato": 2.0, "source": "fx"}}
            },
        )
    )
    row = pledge_table(s, 3.5, 2034, buys=["shell"]).set_index("party").loc["AAA"]
    assert row.base_year == 2024 and row.pct_gdp_by_year == pytest.approx(3.5)
    assert row.extra_usd_m_by_year == pytest.approx(15.0)
    assert row.extra_usd_m_cumulative == pytest.approx(82.5)
    # munitions share of 15m = 15m x 0.2 x 0.1 = 300k: 30,000 shells at $10
    assert row["buys_shell"] == pytest.approx(30_000)
    assert row.path == "linear"


def test_scenario_path_overrides_the_linear_pledge() -> None:
    s = materiel.load("hague-pledge")
    t = pledge_table(s, 3.5, 2035).set_index("party")
    assert t.loc["ESP", "path"] == "scenario" and t.loc["ESP", "pct_gdp_by_year"] == pytest.approx(
        2.1
    )
    assert t.loc["DEU", "pct_gdp_by_year"] == pytest.approx(3.5)
    assert (t.extra_usd_m_by_year.dropna() >= -1e-9).sum() >= 25


def test_cli_spending_json_lists_all_allies_and_the_count() -> None:
    import json

    out = runner.invoke(app, ["spending", "--year", "2024", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert len(data["allies"]) == 32 and data["count_meeting"] == 23
    assert data["count_with_data"] == 31 and data["count_estimates"] == 31
    deu = next(a for a in data["allies"] if a["party"] == "DEU")
    assert deu["pct_gdp_nato"] == pytest.approx(2.119, abs=1e-3) and deu["pct_gdp_sipri"]
    assert deu["defence_usd_m_nato"] == pytest.approx(97685.6) and deu["status"] == "estimate"
    out = runner.invoke(app, ["spending", "--pledge", "3.5", "--by", "2035", "--json"])
    pledge = json.loads(out.stdout)["pledge"]
    assert len(pledge["allies"]) == 32 and pledge["extra_usd_m_by_year_total"] > 0
    pol = next(a for a in pledge["allies"] if a["party"] == "POL")
    assert pol["extra_usd_m_by_year"] == 0  # already above 3.5%: a pledge is a floor
    bad = runner.invoke(app, ["spending", "--pledge", "3.5"])
    assert bad.exit_code == 2 and "--pledge/--by" in bad.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--pledge", "3.5", "--by", "2013"], "--by"),
        (["--pledge", "3.5", "--by", "1990"], "--by"),
        (["--pledge", "3.5", "--by", "99999"], "--by"),
        (["--pledge", "nan", "--by", "2030"], "--pledge"),
        (["--pledge", "-1", "--by", "2030"], "--pledge"),
        (["--year", "99999"], "--year"),
        (["--threshold", "nan"], "--threshold"),
    ],
)
def test_cli_spending_bad_arguments_exit_2(args: list[str], option: str) -> None:
    out = runner.invoke(app, ["spending", *args])
    assert out.exit_code == 2, out.output
    assert option in out.output and "Traceback" not in out.output


def test_pledge_table_rejects_a_past_deadline() -> None:
    s = materiel.load("dataset")
    with pytest.raises(materiel.ScenarioError, match="by_year: got 2013"):
        pledge_table(s, 3.5, 2013)


def test_a_delivery_schedule_sets_the_years_a_contract_pays_in() -> None:
    # $400k a year; 45,000 at $10 due 4,000 in 2024-12 and 41,000 in 2025-01 pays $410k in
    # 2025, over the budget, so it is deferred; spread evenly it pays $225k a year and fits
    even = budgeted(
        "defer", contracts={"c": contract(quantity=45_000.0, delivery_months=2, decision="2024-12")}
    )
    assert materiel.simulate(even).deferred().empty
    late = budgeted(
        "defer",
        contracts={
            "c": contract(
                quantity=45_000.0,
                delivery_months=2,
                decision="2024-12",
                schedule=[4_000.0, 41_000.0],
            )
        },
    )
    deferred = materiel.simulate(late).deferred().set_index("contract")
    assert deferred.loc["c", "deferred_months"] > 0


def test_cli_pledge_says_what_an_ally_at_the_pledge_buys_and_no_zero_units() -> None:
    out = CliRunner().invoke(app, ["spending", "--pledge", "3.5", "--by", "2035"])
    assert out.exit_code == 0, out.output
    rows = {line.split()[0]: line for line in out.output.splitlines() if "linear" in line}
    assert rows["POL"].endswith("nothing more: already at or above the pledge")  # 4.48% in 2025
    assert all(" or 0 " not in line and not line.endswith(" 0 pac-3-mse") for line in rows.values())
