"""Differences B - A between two runs: hand-worked, equal to the runs' own metrics, in the CLI."""

from __future__ import annotations

import json

import pytest
from builders import contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.analysis.compare import difference
from materiel.analysis.result import Result
from materiel.cli import app
from materiel.months import months_between
from materiel.present.summary import compare_table

runner = CliRunner()
TARGET = {
    "t1": {
        "parties": ["AAA"],
        "product": "shell",
        "by": "2024-03",
        "quantity": 300.0,
        "source": "fx",
    }
}


def test_a_contracting_delay_of_two_months_costs_two_months() -> None:
    # A: 300 shells due over 2024-01..03 (100/month), stock 300 in 2024-03;
    # B: the same contract signed 2 months later, stock 100 at 2024-03, 300 in 2024-05
    a = materiel.simulate(tiny(id="a", contracts={"c1": contract()}, targets=TARGET))
    b = materiel.simulate(
        tiny(id="b", contracts={"c1": contract(contracting_delay_months=2)}, targets=TARGET)
    )
    d = difference(a, b)
    [t] = d.targets.to_dict(orient="records")
    assert (t["first_met_a"], t["first_met_b"], t["months_later"]) == ("2024-03", "2024-05", 2)
    assert (t["met_by_date_a"], t["met_by_date_b"]) == (True, False)
    assert (t["stock_at_by_a"], t["stock_at_by_b"], t["stock_at_by_diff"]) == (300, 100, -200)
    [m] = d.munitions.to_dict(orient="records")
    assert (m["produced_a"], m["produced_b"], m["produced_diff"]) == (300, 300, 0)
    assert d.to_dict()["cost"]["payments_usd"] == {"a": 3000.0, "b": 3000.0, "diff": 0.0}
    table = compare_table([a, b])
    assert table.loc["t1", "b - a"] == "2 months later; stock at date -200"
    assert table.loc["produced shell", "b - a"] == "0"


def test_the_cost_rows_say_whose_capex_is_whose() -> None:
    # B: a firm 6,000 over 12 months on l1 (100 of 400, H = 12): industry adds min(400,
    # 6,000 / 12) - 100 = 300/month at US$50 = US$15,000 (order-driven); AAA pays US$900 of
    # state-funded facilitation in 2024-11. A builds nothing.
    line = dict(tiny()["lines"]["l1"], max_capacity_per_month=400.0)
    fac = {
        "line": "l1",
        "decision": "2024-11",
        "capacity_added_per_month": 10.0,
        "lead_time_months": 1,
        "ramp_up_months": 1,
        "cost_usd": 900.0,
        "funder": "AAA",
        "source": "fx",
    }
    a = materiel.simulate(tiny(id="a", contracts={"c1": contract()}))
    firm = contract(quantity=6000.0, delivery_months=12)
    b = materiel.simulate(
        tiny(id="b", lines={"l1": line}, facilitation={"f1": fac}, contracts={"c1": firm})
    )
    cost = b.metrics()["cost"]
    assert (cost["industry_capex_usd"], cost["state_capex_usd"], cost["capex_usd"]) == (
        15000.0,
        900.0,
        15900.0,
    )
    table = compare_table([a, b])
    assert table.loc["industry capex", "b"] == "$15,000"
    assert table.loc["state-funded capex (facilitation)", "b - a"] == "+$900"
    assert table.loc["total cost", "b"] == "$57,900"  # payments 4,200 x US$10 + capex


@pytest.fixture(scope="module")
def pair() -> tuple[Result, Result]:
    return materiel.simulate("status-quo"), materiel.simulate("action-plan")


def test_differences_are_the_differences_of_the_metrics(pair: tuple[Result, Result]) -> None:
    a, b = pair
    ma, mb = a.metrics(), b.metrics()
    d = difference(a, b).to_dict()
    ta = {t["target"]: t for t in ma["targets"]}
    tb = {t["target"]: t for t in mb["targets"]}
    assert [t["target"] for t in d["targets"]] == list(ta)
    for t in d["targets"]:
        x, y = ta[t["target"]], tb[t["target"]]
        assert t["stock_at_by_diff"] == pytest.approx(y["stock_at_by"] - x["stock_at_by"])
        if x["first_met"] and y["first_met"]:
            assert t["months_later"] == months_between(x["first_met"], y["first_met"])
            assert t["months_later"] == y["months_to_target"] - x["months_to_target"]
        else:
            assert t["months_later"] is None
    ka = {m["product"]: m for m in ma["munitions"]}
    kb = {m["product"]: m for m in mb["munitions"]}
    for m in d["munitions"]:
        for figure in ("produced", "capex_usd", "spent_usd", "delivered"):
            want = kb.get(m["product"], {}).get(figure, 0.0) - ka.get(m["product"], {}).get(
                figure, 0.0
            )
            assert m[f"{figure}_diff"] == pytest.approx(want), (m["product"], figure)
    for figure in ("payments_usd", "capex_usd"):
        want = mb["cost"][figure] - ma["cost"][figure]
        assert d["cost"][figure]["diff"] == pytest.approx(want)
    json.dumps(d)  # JSON-ready


def test_run_compare_prints_and_returns_the_differences() -> None:
    out = runner.invoke(app, ["run", "status-quo", "--compare", "action-plan"])
    assert out.exit_code == 0, out.output
    comparison = out.stdout.split("Comparison")[1]
    assert "action-plan - status-quo" in comparison
    res = runner.invoke(app, ["run", "status-quo", "--compare", "action-plan", "--json"])
    a, b = json.loads(res.stdout)
    assert "difference" not in a and b["difference"]["a"] == "status-quo"
    usa = next(t for t in b["difference"]["targets"] if t["target"] == "usa-155mm-2028")
    # action-plan's multi-year frameworks and faster contracting meet the US target sooner
    assert usa["months_later"] < 0
    assert f"{-usa['months_later']} months earlier" in comparison
