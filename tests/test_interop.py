"""Which rounds fit which guns: fleets, qualifications and policy.interoperability (issue 20)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import contract, tiny

import materiel
from materiel.engine.inputs import compile_inputs


def series(result: materiel.Result, var: str, **sel: str) -> list[float]:
    return [round(x, 9) for x in result.dataset[var].isel(sample=0).sel(**sel).values.tolist()]


def guns(**over: Any) -> dict[str, Any]:
    """tiny + two 'shell' guns: AAA fields g1 (s1) and g2 (s2) half each; BBB fields s2 only.

    Line l1 (100/month) is qualified for s1 only.
    """
    s = tiny(**over)
    s["systems"] = {
        "s1": {"name": "Gun 1", "product": "shell", "source": "fx"},
        "s2": {"name": "Gun 2", "product": "shell", "source": "fx"},
    }
    s["fleets"] = {
        "g1": {"party": "AAA", "system": "s1", "share": 0.5, "source": "fx"},
        "g2": {"party": "AAA", "system": "s2", "share": 0.5, "source": "fx"},
        "g3": {"party": "BBB", "system": "s2", "share": 1.0, "source": "fx"},
    }
    s["qualifications"] = {"l1-s1": {"line": "l1", "system": "s1", "source": "fx"}}
    return s


def use(party: str, rate: float) -> dict[str, Any]:
    return {"party": party, "product": "shell", "rate_per_month": rate, "source": "fx"}


def test_a_round_qualified_for_one_of_two_guns_fills_only_that_guns_demand() -> None:
    s = guns(contracts={"c1": contract()}, consumption={"u": use("AAA", 100.0)})
    r = materiel.simulate(s)
    # g1 gets every round (100 a month for 3 months) and fires 50 a month; g2 has none
    assert series(r, "fleet_stock", fleet="g1")[:6] == [50, 100, 150, 100, 50, 0]
    assert series(r, "fleet_stock", fleet="g2")[:6] == [0] * 6
    assert series(r, "fleet_shortfall", fleet="g2")[:6] == [50] * 6
    assert series(r, "fleet_shortfall", fleet="g1")[:7] == [0] * 6 + [50]
    assert series(r, "shortfall", party="AAA", product="shell")[:7] == [50] * 6 + [100]
    assert series(r, "stock", party="AAA", product="shell")[:6] == [50, 100, 150, 100, 50, 0]
    # without fleets the same rounds meet the whole demand for 3 months
    plain = materiel.simulate(
        tiny(contracts={"c1": contract()}, consumption={"u": use("AAA", 100.0)})
    )
    assert series(plain, "shortfall", party="AAA", product="shell")[:5] == [0, 0, 0, 100, 100]


def test_a_qualification_added_at_month_m_makes_held_and_later_rounds_usable() -> None:
    s = guns(contracts={"c1": contract(buyers={"BBB": 1.0})}, consumption={"u": use("BBB", 10.0)})
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": "2024-02",
        "lead_time_months": 1,
        "cost_usd": 1e6,
        "payer": "BBB",
        "source": "fx",
    }
    r = materiel.simulate(s)
    assert series(r, "usable_stock", party="BBB", product="shell")[:4] == [0, 0, 290, 280]
    assert series(r, "unusable_stock", party="BBB", product="shell")[:4] == [100, 200, 0, 0]
    assert series(r, "stock", party="BBB", product="shell")[:4] == [100, 200, 290, 280]
    assert series(r, "fleet_shortfall", fleet="g3")[:4] == [10, 10, 0, 0]
    (added,) = r.metrics()["interoperability"]["qualifications_added"]
    assert (added["qualified_from"], added["cost_usd"], added["payer"]) == ("2024-03", 1e6, "BBB")


def test_a_qualification_cost_is_charged_to_the_payers_budget_in_its_decision_year() -> None:
    # budget: GDP US$1m x 100% defence x 20% equipment x 10% munitions = US$20,000 a year;
    # qualifying l1 for s2 (decided 2024-02, US$3,000, paid by BBB) commits US$3,000 of BBB's
    # 2024 budget before any contract; one held from the start (no decision) charges nothing
    s = guns(policy={"budget": "flag", "equipment_share_from": "policy"})
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": "2024-02",
        "lead_time_months": 1,
        "cost_usd": 3000.0,
        "payer": "BBB",
        "source": "fx",
    }
    s["qualifications"]["l1-s1"].update(cost_usd=9000.0, payer="AAA")
    s["economics"] = {
        p: {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
        for p in ("AAA", "BBB")
    }
    r = materiel.simulate(s)
    committed = r.dataset["budget_committed_usd"].sel(year=2024)
    assert committed.sel(party="BBB").item() == 3000.0
    assert committed.sel(party="AAA").item() == 0.0
    assert r.dataset["budget_usd"].sel(year=2024, party="BBB").item() == 20000.0


def test_guns_that_come_to_fire_the_same_rounds_share_their_stock() -> None:
    # l1's rounds are qualified for s2 too from 2024-04: g1 and g2 then fire the same rounds,
    # so g1's 150 are shared 75/75 and both fire 50 a month until they run out together
    s = guns(contracts={"c1": contract()}, consumption={"u": use("AAA", 100.0)})
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": "2024-03",
        "lead_time_months": 1,
        "source": "fx",
    }
    r = materiel.simulate(s)
    assert series(r, "fleet_stock", fleet="g1")[:6] == [50, 100, 150, 25, 0, 0]
    assert series(r, "fleet_stock", fleet="g2")[:6] == [0, 0, 0, 25, 0, 0]
    assert series(r, "fleet_shortfall", fleet="g2")[:6] == [50, 50, 50, 0, 25, 50]
    assert series(r, "shortfall", party="AAA", product="shell")[:6] == [50, 50, 50, 0, 50, 100]
    assert series(r, "stock", party="AAA", product="shell")[:6] == [50, 100, 150, 50, 0, 0]


def test_nato_qualifies_standard_rounds_for_standard_guns_after_the_lead_time() -> None:
    s = guns(contracts={"c1": contract(buyers={"BBB": 1.0})})
    s["policy"].update(
        interoperability="nato", interoperability_from="2024-01", interoperability_lead_months=1
    )
    r = materiel.simulate(s)
    assert series(r, "usable_stock", party="BBB", product="shell")[:3] == [0, 200, 300]
    s["systems"]["s2"]["nato_standard"] = False  # a national gun gains nothing
    r = materiel.simulate(s)
    assert series(r, "usable_stock", party="BBB", product="shell")[:3] == [0, 0, 0]
    s["systems"]["s2"]["nato_standard"] = True  # the product's override keeps it national
    s["policy"]["interoperability_by_product"] = {"shell": "national"}
    r = materiel.simulate(s)
    assert series(r, "unusable_stock", party="BBB", product="shell")[:3] == [100, 200, 300]


def _two_lines(buyers: dict[str, float], quantity: float) -> dict[str, Any]:
    """guns() + line l2 (300/month) qualified for s2; one contract open to both lines, 2 months."""
    s = guns(contracts={"c1": contract(buyers=buyers, quantity=quantity, delivery_months=2)})
    s["lines"]["l2"] = dict(
        s["lines"]["l1"], name="Line 2", capacity_per_month=300.0, max_capacity_per_month=300.0
    )
    s["qualifications"]["l2-s2"] = {"line": "l2", "system": "s2", "source": "fx"}
    return s


def test_a_line_serves_a_joint_buy_only_for_the_buyers_whose_guns_its_rounds_fit() -> None:
    # AAA fields s1 and s2, BBB only s2; l1 fits s1, l2 fits s2. Each month AAA's 100 is
    # shared by both lines in proportion to capacity (25/75), BBB's 100 goes to l2 only.
    r = materiel.simulate(_two_lines({"AAA": 0.5, "BBB": 0.5}, 400.0))
    assert series(r, "line_deliveries", line="l1")[:3] == [25, 25, 0]
    assert series(r, "line_deliveries", line="l2")[:3] == [175, 175, 0]
    # every round of l1 went to AAA's s1 guns; BBB got only l2's rounds, all usable
    assert series(r, "fleet_stock", fleet="g1")[:3] == [25, 50, 50]
    assert series(r, "fleet_stock", fleet="g2")[:3] == [75, 150, 150]
    assert series(r, "fleet_stock", fleet="g3")[:3] == [100, 200, 200]
    assert series(r, "receipts", party="BBB", product="shell")[:3] == [100, 100, 0]
    assert float(abs(r.dataset.unusable_stock).max()) == 0.0
    assert series(r, "contract_deliveries", contract="c1")[:3] == [200, 200, 0]
    # without the rule l1 made 50 a month and half of it sat in BBB's stock, unusable
    bare = dict(_two_lines({"AAA": 0.5, "BBB": 0.5}, 400.0), fleets={}, qualifications={})
    plain = materiel.simulate(dict(bare, systems={}))
    assert series(plain, "line_deliveries", line="l1")[:3] == [50, 50, 0]


@pytest.mark.parametrize("decision", ["2024-01", "2024-02", "2024-03"])
def test_a_joint_buy_kept_per_buyer_delivers_each_its_share_once_qualified(decision: str) -> None:
    # l1 (100/month) fits only AAA's s1 until it is qualified for s2 from decision + 1 month;
    # l2 is slow (50/month), so BBB lags its share until l1 may serve it too
    s = _two_lines({"AAA": 0.5, "BBB": 0.5}, 600.0)
    s["lines"]["l2"].update(capacity_per_month=50.0, max_capacity_per_month=50.0)
    s["contracts"]["c1"]["delivery_months"] = 3
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": decision,
        "lead_time_months": 1,
        "source": "fx",
    }
    ds = materiel.simulate(s).dataset.isel(sample=0)  # simulate checks the invariants too
    got = ds.receipts.sel(product="shell").sum("month")
    assert float(got.sel(party="AAA")) == pytest.approx(300.0)
    assert float(got.sel(party="BBB")) == pytest.approx(300.0)  # caught up, never beyond
    assert float(ds.contract_deliveries.sum()) == pytest.approx(600.0)
    assert float(abs(ds.unusable_stock).max()) == 0.0
    np.testing.assert_allclose(ds.stock, ds.usable_stock + ds.unusable_stock, atol=1e-9)


def test_a_pool_contract_goes_to_the_lines_that_fit_its_buyer() -> None:
    r = materiel.simulate(_two_lines({"BBB": 1.0}, 200.0))
    assert series(r, "line_deliveries", line="l1")[:3] == [0, 0, 0]
    assert series(r, "line_deliveries", line="l2")[:3] == [100, 100, 0]
    assert series(r, "fleet_stock", fleet="g3")[:3] == [100, 200, 200]
    assert float(abs(r.dataset.unusable_stock).max()) == 0.0


def _busy(**over: Any) -> dict[str, Any]:
    """Contracts for two allies and a recipient, consumption, and aid from stock."""
    s = tiny(**over)
    s["lines"]["l2"] = dict(s["lines"]["l1"], name="Line 2", country="BBB", capacity_per_month=70.0)
    s["contracts"] = {
        "c1": contract(quantity=900.0, delivery_months=9),
        "c2": contract(buyers={"AAA": 0.3, "BBB": 0.7}, quantity=500.0, delivery_months=5),
        "c3": contract(buyers={"BBB": 1.0}, recipient="REC", quantity=400.0, delivery_months=4),
    }
    s["consumption"] = {"a": use("AAA", 60.0), "r": use("REC", 90.0), "b": use("BBB", 20.0)}
    s["stocks"] = {"AAA": {"shell": {"quantity": 500.0, "source": "fx"}}}
    s["aid"] = {
        "p1": {
            "donor": "AAA",
            "recipient": "REC",
            "product": "shell",
            "quantity": 240.0,
            "start": "2024-02",
            "end": "2024-05",
            "source": "fx",
        }
    }
    return s


def _one_fleet_each(s: dict[str, Any]) -> dict[str, Any]:
    s["systems"] = {"gun": {"name": "Gun", "product": "shell", "source": "fx"}}
    s["fleets"] = {
        p: {"party": p, "system": "gun", "share": 1.0, "source": "fx"}
        for p in ("AAA", "BBB", "REC")
    }
    s["policy"].update(interoperability="nato", interoperability_lead_months=0)
    return s


def test_nato_with_one_fleet_per_party_equals_todays_run() -> None:
    plain = materiel.simulate(_busy()).dataset
    fleets = materiel.simulate(_one_fleet_each(_busy())).dataset
    for var in ("stock", "shortfall", "consumed", "receipts", "aid_sent", "production"):
        np.testing.assert_array_equal(fleets[var].values, plain[var].values, err_msg=var)
    np.testing.assert_array_equal(fleets.usable_stock.values, plain.stock.values)
    assert float(np.abs(fleets.unusable_stock).max()) == 0.0


@pytest.mark.parametrize("lead", [0, 3, 7])
@pytest.mark.parametrize("split", [0.2, 0.5])
def test_invariants_with_mixed_fleets(lead: int, split: float) -> None:
    s = _busy()
    s["systems"] = {
        "s1": {"name": "Gun 1", "product": "shell", "source": "fx"},
        "s2": {"name": "Gun 2", "product": "shell", "source": "fx"},
    }
    s["fleets"] = {
        "a1": {"party": "AAA", "system": "s1", "share": split, "source": "fx"},
        "a2": {"party": "AAA", "system": "s2", "share": 1 - split, "source": "fx"},
        "r2": {"party": "REC", "system": "s2", "share": 1.0, "source": "fx"},
    }
    s["qualifications"] = {
        "q1": {"line": "l1", "system": "s1", "source": "fx"},
        "q2": {
            "line": "l2",
            "system": "s2",
            "decision": "2024-01",
            "lead_time_months": lead,
            "source": "fx",
        },
    }
    ds = materiel.simulate(s).dataset.isel(sample=0)  # simulate checks the invariants too
    np.testing.assert_allclose(ds.stock, ds.usable_stock + ds.unusable_stock, atol=1e-9)
    assert float(ds.usable_stock.min()) >= 0.0
    assert float(ds.fleet_stock.min()) >= 0.0
    by_party = ds.fleet_stock.groupby("fleet_party").sum()
    np.testing.assert_allclose(
        by_party.sel(fleet_party="AAA"), ds.usable_stock.sel(party="AAA", product="shell")
    )
    short = ds.fleet_shortfall.groupby("fleet_party").sum()
    np.testing.assert_allclose(
        short.sel(fleet_party="REC"), ds.shortfall.sel(party="REC", product="shell")
    )


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda s: s["fleets"]["g1"].update(share=0.7), "share", "summing to 1.2"),
        (lambda s: s["fleets"]["g1"].update(system="s9"), "system", "unknown system 's9'"),
        (lambda s: s["qualifications"]["l1-s1"].update(line="nope"), "line", "unknown line"),
        (lambda s: s["systems"]["s1"].update(product="shell-x"), "product", "unknown product"),
    ],
)
def test_bad_fleets_are_located(change: Any, field: str, expected: str) -> None:
    s = guns()
    change(s)
    with pytest.raises(materiel.ScenarioError) as err:
        materiel.load(s)
    text = str(err.value)
    assert field in text and expected in text


def test_embedded_scenarios_say_which_setting_they_use() -> None:
    for sid, setting in (("status-quo", "national"), ("action-plan", "nato")):
        s = materiel.load(sid)
        assert s.policy.interoperability == setting
        assert any(setting in a and "interoperability" in a for a in s.assumptions), sid


def test_outputs_say_which_systems_went_short(tmp_path: Any) -> None:
    from materiel.present.export import write_result
    from materiel.present.summary import summarize

    s = guns(contracts={"c1": contract()}, consumption={"u": use("AAA", 100.0)})
    r = materiel.simulate(s)
    table = r.fleets().set_index("fleet")
    assert table.loc["g2", "share_unmet"] == 1.0
    assert table.loc["g2", "demand"] == 600.0  # half of 100 a month over 12 months
    assert table.loc["g1", "shortfall"] == 6 * 50.0
    assert r.metrics()["interoperability"]["policy"] == "national"
    text = summarize(r)
    assert "policy.interoperability = 'national'" in text
    assert "short: s2 100%, s1 50%" in text
    written = {p.name for p in write_result(r, tmp_path)}
    assert {"fleet_shortfall.csv", "fleet_stock.csv", "usable_stock.csv"} <= written
    rows = (tmp_path / "fleet_shortfall.csv").read_text().splitlines()
    assert rows[0].startswith("month,fleet,party,product,system,quantity")
    assert rows[2].startswith("2024-01,g2,AAA,shell,s2,50.0")
    # g2 went short 5 months while AAA still held l1's rounds (50 .. 150), which only g1 fires
    assert (table.loc["g2", "shortfall_while_held"], table.loc["g1", "shortfall_while_held"]) == (
        250.0,
        0.0,
    )
    assert "of the 900 unmet, 250 (28%) fell in months" in text
    # per party: usable vs nominal, who went short, the capacity its guns can use
    aaa = r.interoperability().set_index("party").loc["AAA"]
    assert (aaa.share_unmet, aaa.short_systems) == (0.75, "s2 100%, s1 50%")
    # l1 (100/month) fits g1 only: half of AAA's use; none of BBB's
    assert (aaa.capacity_start_per_month, aaa.effective_capacity_start_per_month) == (100, 50)
    bbb = r.interoperability().set_index("party").loc["BBB"]
    assert bbb.effective_capacity_end_per_month == 0.0
    assert "50 of 100/month at the start" in text
    assert r.metrics()["interoperability"]["parties"][0]["party"] == "AAA"
    assert "weapon_systems.csv" in written
    from materiel.present.report import build_report

    html = build_report(r).html
    assert "Weapon systems: usable against nominal stock" in html and "s2 100%, s1 50%" in html


def test_no_fleets_no_weapon_system_lines() -> None:
    from materiel.present.summary import summarize

    r = materiel.simulate(tiny(contracts={"c1": contract()}, consumption={"u": use("AAA", 1.0)}))
    assert r.fleets().empty
    assert "Weapon systems" not in summarize(r)
    np.testing.assert_array_equal(r.dataset.usable_stock.values, r.dataset.stock.values)


def test_a_qualifications_cost_is_charged_to_its_payers_budget() -> None:
    # budget: GDP US$1m x 100% defence x 20% equipment x 10% munitions = US$20,000 in 2024;
    # qualifying l1 for s2 at US$5,000 paid by BBB in 2024-03 leaves US$15,000 for its buying
    s = guns()
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": "2024-03",
        "lead_time_months": 2,
        "cost_usd": 5000.0,
        "payer": "BBB",
        "source": "fx",
    }
    s["economics"] = {
        "BBB": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
    }
    s["policy"].update(budget="defer", equipment_share_from="policy")
    s["procurement"] = {
        "p": {
            "product": "shell",
            "buyers": {"BBB": 1.0},
            "review": "monthly",
            "adjustment_months": 1.0,
            "source": "fx",
        }
    }
    s["targets"] = {
        "t": {
            "parties": ["BBB"],
            "product": "shell",
            "quantity": 100000.0,
            "by": "2024-12",
            "source": "fx",
        }
    }
    inp = compile_inputs(materiel.load(s))
    assert inp.budget is not None
    year = list(inp.budget.years).index(2024)
    assert inp.budget.committed_usd[inp.budget.parties.index("BBB"), year] == 5000.0
    assert inp.budget_left_usd[inp.parties.index("BBB"), year] == 15000.0
    r = materiel.simulate(s)
    # the policy buys at US$10 a round what the budget left pays in 2024: 1,500 rounds
    assert float(r.dataset.contract_quantity.isel(sample=0).sum()) == 1500.0
    # the cost outputs carry it: the payer's year, the metrics and run's cost line
    costs = r.costs().set_index(["party", "year"])
    assert costs.loc[("BBB", 2024), "qualification_usd"] == 5000.0
    cost = r.metrics()["cost"]
    assert (cost["qualifications_usd"], cost["qualifications_by_party_usd"]) == (
        5000.0,
        {"BBB": 5000.0},
    )
    paid = r.dataset.qualification_cost_usd.sel(party="BBB").values.tolist()
    assert paid[:4] == [0, 0, 5000, 0]
    from materiel.present.summary import summarize

    assert "round-gun qualifications $5,000" in summarize(r)


def test_targets_count_the_rounds_the_guns_can_fire() -> None:
    from materiel.present.summary import summarize

    # BBB's only guns (s2) cannot fire l1's rounds: 300 held, none usable, target not met
    s = guns(contracts={"c1": contract(buyers={"BBB": 1.0})})
    s["targets"] = {
        "t": {
            "parties": ["BBB"],
            "product": "shell",
            "quantity": 200.0,
            "by": "2024-06",
            "source": "fx",
        }
    }
    row = materiel.simulate(s).targets().iloc[0]
    assert (row.stock_at_horizon, row.first_met, row.counted_on) == (0.0, None, "usable")
    # qualified from 2024-05: the 300 held become usable then
    s["qualifications"]["l1-s2"] = {
        "line": "l1",
        "system": "s2",
        "decision": "2024-04",
        "lead_time_months": 1,
        "source": "fx",
    }
    r = materiel.simulate(s)
    row = r.targets().iloc[0]
    assert (row.stock_at_horizon, row.first_met, bool(row.met_by_date)) == (300.0, "2024-05", True)
    assert "[usable stock" in summarize(r)
    # a party without fleets counts its nominal stock
    s["targets"]["t"]["parties"] = ["REC"]
    assert materiel.simulate(s).targets().iloc[0].counted_on == "nominal"


def test_aid_from_stock_leaves_every_fleet_and_lot_of_the_donor_in_proportion() -> None:
    # BBB buys 300 rounds (100 a month, months 0-2) from l1, qualified for s1 only: BBB's one
    # gun (g3, s2) may fire none, so all 300 wait in BBB's lot of l1. In month 3 BBB gives 60
    # from stock to AAA: held 300, keep 1 - 60/300 = 0.8, so the lot keeps 240; AAA's fleets
    # receive by share, 30 each (g1 and g2 half each)
    s = guns(contracts={"c1": contract(buyers={"BBB": 1.0})})
    s["aid"] = {
        "a1": {
            "donor": "BBB",
            "recipient": "AAA",
            "product": "shell",
            "quantity": 60.0,
            "start": "2024-04",
            "end": "2024-04",
            "supply": "stock",
            "source": "fx",
        }
    }
    r = materiel.simulate(s)
    assert series(r, "unusable_stock", party="BBB", product="shell")[:5] == [
        100,
        200,
        300,
        240,
        240,
    ]
    assert series(r, "stock", party="BBB", product="shell")[:5] == [100, 200, 300, 240, 240]
    assert series(r, "aid_sent", party="BBB", product="shell")[:5] == [0, 0, 0, 60, 0]
    assert series(r, "fleet_stock", fleet="g1")[:5] == [0, 0, 0, 30, 30]
    assert series(r, "fleet_stock", fleet="g2")[:5] == [0, 0, 0, 30, 30]
    assert series(r, "fleet_stock", fleet="g3")[:5] == [0] * 5
