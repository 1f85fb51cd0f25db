"""Spending: %GDP tables, pledge arithmetic, and budgets that bind the simulation."""

from __future__ import annotations

import pytest
from builders import contract, tiny

import materiel
from materiel.analysis.spending import pledge_table, spending_table
from materiel.scenario.economics import economic_series


def budgeted(policy: str, **extra: object) -> dict:
    s = tiny(
        months=24,
        policy={"contracting_delay_months": 0, "budget": policy, "gdp_growth_pct_per_year": 0.0},
        economics={"AAA": {"2024": {"gdp_usd_m": 1000.0, "defence_pct_gdp_nato": 2.0,
                                     "source": "fx"}}},
        contracts={
            "first": contract(quantity=30_000.0, delivery_months=3),
            "second": contract(quantity=20_000.0, delivery_months=3, decision="2024-02"),
        },
    )  # fmt: skip
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
    assert not late.loc[key, "met_by_date"]  # the deferred joint contract leaves it short
    assert late.loc[key, "stock_at_by"] < t0.loc[key, "stock_at_by"]


def test_spending_counts_match_the_data() -> None:
    s = materiel.load("dataset")
    for basis, field in (("nato", "defence_pct_gdp_nato"), ("sipri", "defence_pct_gdp_sipri")):
        for year in (2014, 2019, 2024):
            table = spending_table(s, year, 2.0, basis)  # type: ignore[arg-type]
            values = [getattr(s.economics[p][str(year)], field) for p in s.allies]
            expected = sum(v >= 2.0 for v in values if v is not None)
            assert int(table.meets.sum()) == expected
            assert int(table.meets.notna().sum()) == sum(v is not None for v in values)
    t = spending_table(s, 2024, 2.0, "nato")
    assert len(t) == 32 and int(t.meets.sum()) == 23  # NATO's June 2024 release: 23 allies


def test_pledge_arithmetic_by_hand() -> None:
    # GDP 1,000m, 2.0% in 2024, pledge 3.5% by 2034, no growth: +0.15 pt a year;
    # in 2034 the extra is 1.5% x 1,000m = 15m; cumulative 0.15 x (1 + ... + 10) x 10m = 82.5m
    s = materiel.load(budgeted("none", economics={"AAA": {"2024": {
        "gdp_usd_m": 1000.0, "defence_pct_gdp_nato": 2.0, "source": "fx"}}}))  # fmt: skip
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

    from typer.testing import CliRunner

    from materiel.cli import app

    out = CliRunner().invoke(app, ["spending", "--year", "2024", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert len(data["allies"]) == 32 and data["count_meeting"] == 23
    deu = next(a for a in data["allies"] if a["party"] == "DEU")
    assert deu["pct_gdp_nato"] == 2.12 and deu["pct_gdp_sipri"] is not None
    out = CliRunner().invoke(app, ["spending", "--pledge", "3.5", "--by", "2035", "--json"])
    pledge = json.loads(out.stdout)["pledge"]
    assert len(pledge["allies"]) == 32 and pledge["extra_usd_m_by_year_total"] > 0
    pol = next(a for a in pledge["allies"] if a["party"] == "POL")
    assert pol["extra_usd_m_by_year"] == 0  # already above 3.5%: a pledge is a floor
    bad = CliRunner().invoke(app, ["spending", "--pledge", "3.5"])
    assert bad.exit_code == 2 and "--pledge/--by" in bad.output
