"""The planner: tiny cases with optima worked by hand, diagnoses, and plan -> scenario -> simulate.

Hand-worked optima use the tiny scenario of :mod:`builders`: one line ``l1``
making ``shell`` at 100/month for 12 months from 2024-01, US$10 a shell,
capex US$50 per unit of monthly capacity, lead time 2 months, ramp 1 month.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from builders import tiny
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.plan import Plan, compare_policy, plan
from materiel.plan.data import plan_data
from materiel.plan.model import build_model
from materiel.plan.solve import _cost_duals, _solve

runner = CliRunner()

STOCK_TOL = 1e-6  # units, relative to the stock (plus 1e-6 absolute)


def target(quantity: float, by: str = "2024-12", parties: list[str] | None = None) -> dict:
    return {
        "parties": parties or ["AAA"],
        "product": "shell",
        "by": by,
        "quantity": quantity,
        "source": "fx",
    }


def tiny_plan(quantity: float = 1500.0, by: str = "2024-12", **line: Any) -> dict[str, Any]:
    s = tiny(targets={"t1": target(quantity, by)})
    s["lines"]["l1"].update(line)
    return s


def assert_round_trip(p: Plan, scenario: dict[str, Any] | None = None) -> float:
    """Simulate the plan's scenario; stocks and line deliveries must match the plan's."""
    r = materiel.simulate(scenario if scenario is not None else p.to_scenario())
    sim = r.dataset.isel(sample=0)
    stock = sim["stock"].transpose("month", "party", "product").values
    planned = p.dataset["stock"].values
    err = np.abs(stock - planned)
    assert np.all(err <= STOCK_TOL * np.abs(planned) + 1e-6), float(err.max())
    lines = sim["line_deliveries"].transpose("line", "month").values
    assert np.allclose(lines, p.dataset["line_deliveries"].values, rtol=1e-6, atol=1e-6)
    simulated = r.targets().set_index("target")
    for t in p.targets:  # the run and the plan agree on each target's stock and verdict
        row = simulated.loc[t.id]
        assert row.stock_at_by == pytest.approx(t.stock_at_by, rel=STOCK_TOL, abs=1e-6), t.id
        assert bool(row.met_by_date) == t.met, t.id
    return float(err.max())


# --- hand-worked optima ---------------------------------------------------------


def test_cost_without_investment() -> None:
    # 1,000 shells in 12 months at 100/month: buy them, add nothing
    p = plan(tiny_plan(1000.0, max_capacity_per_month=400.0))
    assert p.feasible
    assert p.cost_usd == pytest.approx(10 * 1000)
    assert p.objective_value == pytest.approx(10_000)
    assert p.investments == []
    # one contract people can sign: 100 a month from the first month, for 10 months
    [c] = p.contracts
    assert (c.due, c.delivery_months, c.quantity) == ("2024-01", 10, pytest.approx(1000.0))
    assert p.breakdown["new_contracts_usd"] == pytest.approx(10_000)
    assert p.breakdown["target_penalty"] == 0.0
    assert_round_trip(p)


def test_cost_with_capacity_added() -> None:
    # 1,500 shells: 1,200 from current capacity, 300 more from capacity decided in
    # 2024-01, online from 2024-03 (10 months): 30/month; cost 1500 * 10 + 30 * 50
    p = plan(tiny_plan(1500.0, max_capacity_per_month=400.0))
    assert p.feasible
    assert p.contract_spend_usd == pytest.approx(15_000)
    assert p.capex_usd == pytest.approx(1_500)
    assert p.objective_value == pytest.approx(16_500)
    [inv] = p.investments
    assert (inv.line, inv.decision) == ("l1", "2024-01")
    assert inv.capacity_added_per_month == pytest.approx(30.0)
    assert_round_trip(p)


def test_long_horizons_receive_flat_quarters() -> None:
    # 36 months (over two years: receipts flat within a quarter): 1,000 shells by
    # 2024-12 at 100/month are 300 in each of the first three quarters and 100 in
    # the fourth, 33.33 a month; the cost is the same 10,000
    s = tiny_plan(1000.0)
    s["months"] = 36
    p = plan(s)
    assert p.feasible and p.cost_usd == pytest.approx(10_000)
    delivered = p.dataset["line_deliveries"].values[0]
    assert delivered[:9] == pytest.approx(np.full(9, 100.0))
    assert delivered[9:12] == pytest.approx(np.full(3, 100.0 / 3))
    assert delivered[12:] == pytest.approx(np.zeros(24), abs=1e-9)
    assert_round_trip(p)


def test_a_cell_that_only_receives_has_a_level_where_a_target_reads_it() -> None:
    # AAA neither consumes nor gives: its stock never falls, so the programme keeps its level
    # only at the target's month (2024-12, month 11), whose balance sums months 0-11; a party
    # that consumes (REC, 10/month from 200, a target of 50 by 2024-06 met from stock) keeps
    # every month. The optimum is unchanged: 1,000 shells at US$10, and the plan's stocks are
    # the simulator's
    s = tiny_plan(1000.0)
    s["targets"]["t2"] = target(50.0, "2024-06", ["REC"])
    s["consumption"] = {
        "rec-war": {"party": "REC", "product": "shell", "rate_per_month": 10.0, "source": "fx"}
    }
    s["stocks"] = {"REC": {"shell": {"quantity": 200.0, "source": "fx"}}}
    for objective, months in (("cost", [11]), ("time", list(range(12)))):
        pm = build_model(plan_data(materiel.load(s)), objective)
        level = pm.model.variables["Stock-level"].labels.to_pandas()
        assert np.flatnonzero(level.loc["AAA/shell"].values >= 0).tolist() == months
        assert (level.loc["REC/shell"].values >= 0).all()
        rows = pm.model.constraints["Stock-balance"].labels.to_pandas()
        assert np.flatnonzero(rows.loc["AAA/shell"].values >= 0).tolist() == months
    p = plan(s)
    assert p.feasible and p.cost_usd == pytest.approx(10_000)
    assert_round_trip(p)


def test_whole_modules_make_a_milp() -> None:
    # modules of 40/month: 30 is not possible, one module (40) is: capex 2,000
    s = tiny_plan(1500.0, max_capacity_per_month=400.0, module_capacity_per_month=40.0)
    p = plan(s)
    assert p.size["integer_variables"] > 0
    assert p.cost_usd == pytest.approx(15_000 + 40 * 50)
    assert [i.capacity_added_per_month for i in p.investments] == [pytest.approx(40.0)]
    assert_round_trip(p)


def test_contracting_delay_postpones_deliveries() -> None:
    # decided at the start, signed 3 months later: 9 months x 100 = 900 < 1,000
    s = tiny_plan(1000.0)
    s["policy"] = {"contracting_delay_months": 3}
    p = plan(s)
    assert not p.feasible
    [unmet] = p.unmet()
    assert unmet.short == pytest.approx(100.0)
    assert all(c.decision == c.due[:5] + f"{int(c.due[5:]) - 3:02d}" for c in p.contracts)
    assert_round_trip(p)


def test_infeasible_target_is_diagnosed() -> None:
    # no headroom: 6 months x 100 = 600 of 5,000 by 2024-06
    p = plan(tiny_plan(5000.0, "2024-06"))
    assert not p.feasible
    [unmet] = p.unmet()
    assert unmet.id == "t1"
    assert unmet.short == pytest.approx(4400.0)
    assert unmet.stock_at_by == pytest.approx(600.0)
    text = p.diagnosis()
    assert text[0] == "t1 cannot be met by 2024-06: stock 600 (12% of target, short 4,400)"
    assert unmet.sentence() == (
        "t1: AAA shell >= 5,000 by 2024-06 -> NOT met by 2024-06: "
        "stock 600 (12% of target, short 4,400)"
    )
    assert any("line l1 binds in 2024-01..2024-06" in line for line in text)
    assert_round_trip(p)


def test_time_objective_reaches_the_target_first() -> None:
    # cost is indifferent to when; time delivers from the first month: 600 by 2024-06
    p = plan(tiny_plan(600.0), objective="time")
    [status] = p.targets
    assert status.first_met == "2024-06"
    assert status.sentence() == "t1: AAA shell >= 600 by 2024-12 -> met 2024-06 (6 months early)"
    assert p.cost_usd == pytest.approx(6000.0)
    assert_round_trip(p)


def test_coverage_objective_covers_what_can_be_covered() -> None:
    p = plan(tiny_plan(5000.0, "2024-06"), objective="coverage")
    [status] = p.targets
    assert status.stock_at_by == pytest.approx(600.0)
    assert p.objective_value == pytest.approx(4400 / 5000, rel=1e-3)


def test_announced_capacity_stops_at_the_ceiling() -> None:
    # an announced +50/month arriving before the start would make 150/month, but the
    # ceiling is 120 (as in the engine): 12 x 120 = 1,440 of 1,500, short 60
    s = tiny_plan(1500.0, max_capacity_per_month=120.0)
    s["investments"] = {
        "inv": {
            "line": "l1",
            "decision": "2023-01",
            "capacity_added_per_month": 50.0,
            "source": "fx",
        }
    }
    p = plan(s)
    [unmet] = p.unmet()
    assert unmet.short == pytest.approx(60.0)
    assert_round_trip(p)


def _duals_case(bump: tuple[int, float] | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Cost (US$) and cost duals of the 1,500-shell plan, base capacity bumped in a month."""
    d = plan_data(materiel.load(tiny_plan(1500.0, max_capacity_per_month=400.0)))
    if bump is not None:
        d.base_capacity[0, bump[0]] += bump[1]
    pm = build_model(d, "cost")
    _solve(pm, None)
    duals = _cost_duals(pm, None)
    assert duals is not None
    return float(pm.model.objective.value) * 1e3, duals


def test_duals_are_finite_differences_of_the_cost() -> None:
    # 300 shells beyond 1,200 come from capacity added in 2024-01, online for 10
    # months: one more unit of capacity in any month saves a tenth of a unit/month
    # of added capacity, 50 / 10 = US$5, in every month of the year
    cost, duals = _duals_case()
    value = -duals["Line-capacity"][0] * 1e3  # thousand US$ in the programme
    assert value == pytest.approx(np.full(12, 5.0), abs=1e-6)
    for month in (0, 5, 11):
        bumped, _ = _duals_case((month, 1.0))
        assert cost - bumped == pytest.approx(value[month], abs=1e-6)
    p = plan(tiny_plan(1500.0, max_capacity_per_month=400.0))
    [b] = p.binding
    assert b.value == pytest.approx(60.0)
    # the rest of the full dual is the planner's tie-breaks (model.STEADY * (1 + t / 12)
    # thousand US$ per unit made in month t, US$0.01 * (1 + t / 12)): a unit of capacity
    # in month t makes a unit then instead of a tenth of a unit in each of months 2..11,
    # 0.01 * ((1 + t / 12) - 0.1 * (10 + (2 + ... + 11) / 12)) = 0.01 * (t - 6.5) / 12
    # US$, and over the 12 months 0.01 * (66 - 78) / 12 = -0.01: US$0.01 apart from money
    assert b.penalty == pytest.approx(0.01, abs=1e-6)
    assert "saves $60.00 of payments and capex" in b.sentence


def test_penalties_are_reported_apart_from_money() -> None:
    # the target cannot be met: more capacity saves no money (outcomes held), and
    # its worth through the missed target is reported apart
    p = plan(tiny_plan(5000.0, "2024-06"))
    [b] = p.binding
    assert b.value == pytest.approx(0.0, abs=1e-6) and b.penalty > 0
    assert "saves $0.00 of payments and capex; apart," in b.sentence
    assert p.breakdown["target_penalty"] == pytest.approx(4400 * 1.6e3)  # (10 x 0.06 + 1) k$


def test_bad_input_is_a_scenario_error() -> None:
    with pytest.raises(materiel.ScenarioError, match="objective"):
        plan(tiny_plan(), objective="fastest")  # type: ignore[arg-type]
    with pytest.raises(materiel.ScenarioError, match="budget_scale"):
        plan(tiny_plan(), budget_scale=-1.0)


# --- bills of materials, joint buying, consumption ----------------------------


def _with_components(fuze_capacity: float = 80.0) -> dict[str, Any]:
    """Two allies with targets, consumption, and a fuze line that limits output."""
    s = tiny(
        targets={"ta": target(500.0, parties=["AAA"]), "tb": target(300.0, parties=["BBB"])},
        consumption={
            "use-a": {
                "party": "AAA",
                "product": "shell",
                "rate_per_month": 20.0,
                "kind": "training",
                "source": "fx",
            },
            "use-rec": {
                "party": "REC",
                "product": "shell",
                "rate_per_month": 30.0,
                "kind": "war",
                "source": "fx",
            },
        },
        stocks={"REC": {"shell": {"quantity": 100.0, "source": "fx"}}},
    )
    s["products"]["shell"]["bom"] = {"fuze": 1.0}
    s["products"]["fuze"] = {"name": "Fuze", "kind": "component", "source": "fx"}
    s["lines"]["f1"] = dict(
        s["lines"]["l1"],
        name="Fuze line",
        product="fuze",
        capacity_per_month=fuze_capacity,
        max_capacity_per_month=fuze_capacity,
    )
    s["lines"]["l2"] = dict(
        s["lines"]["l1"], name="Line 2", capacity_per_month=50.0, max_capacity_per_month=50.0
    )
    return s


def test_components_bind_and_joint_buying_round_trips() -> None:
    # 500 + 12 x 20 + 300 = 1,040 shells; fuzes allow 80/month = 960 in 12 months
    p = plan(_with_components())
    assert not p.feasible
    assert sum(t.short for t in p.unmet()) == pytest.approx(80.0)
    assert any("fuze in pool alliance binds" in line for line in p.diagnosis())
    assert_round_trip(p)


def test_component_inventory_on_hand_closes_the_gap() -> None:
    # as above, with 80 fuzes on hand in the pool: 960 made + 80 held = 1,040, all met
    s = _with_components()
    s["inventories"] = {"alliance": {"fuze": {"quantity": 80.0, "source": "fx"}}}
    p = plan(s)
    assert p.feasible
    assert p.breakdown["new_contracts_usd"] == pytest.approx(10 * 1040)
    short = _with_components()  # 79 on hand: one shell short
    short["inventories"] = {"alliance": {"fuze": {"quantity": 79.0, "source": "fx"}}}
    assert sum(t.short for t in plan(short).unmet()) == pytest.approx(1.0)
    # not round-tripped: with inventory on hand the simulator delivers BBB's shells up to
    # 60 later within the year than the plan (same before the inventory-free groups were
    # substituted out)


def test_components_with_room_meet_both_targets() -> None:
    p = plan(_with_components(fuze_capacity=150.0))
    assert p.feasible
    assert p.cost_usd == pytest.approx(10 * (500 + 12 * 20 + 300))
    assert {c.buyers["AAA" if "AAA" in c.buyers else "BBB"] for c in p.contracts} == {1.0}
    assert_round_trip(p)


def test_backlog_and_aid_from_stock_round_trip() -> None:
    s = _with_components(fuze_capacity=150.0)
    s["stocks"] = {"AAA": {"shell": {"quantity": 400.0, "floor": 300.0, "source": "fx"}}}
    s["aid"] = {
        "g1": {
            "donor": "AAA",
            "recipient": "REC",
            "product": "shell",
            "quantity": 240.0,
            "start": "2024-01",
            "end": "2024-06",
            "source": "fx",
        }
    }
    s["contracts"] = {
        "old": {
            "buyers": {"BBB": 1.0},
            "product": "shell",
            "line": "l2",
            "quantity": 120.0,
            "decision": "2023-10",
            "delivery_months": 6,
            "contracting_delay_months": 0,
            "source": "fx",
        }
    }
    p = plan(s)
    assert p.size["integer_variables"] > 0  # the donor's floor switch
    assert any(c.backlog for c in p.contracts)
    assert p.backlog_spend_usd == pytest.approx(10 * 120 * 3 / 6)  # 3 months fell due before
    assert_round_trip(p)


# --- near-optimal alternatives -----------------------------------------------


def test_alternatives_are_within_slack_and_build_elsewhere() -> None:
    # 2,900 shells: 2,400 from two lines at 100/month, 500 more from 50/month added in
    # 2024-01 (online 10 months): on l1 at US$50 (optimum, 31,500) or l2 at US$55
    # (31,750, +0.8%): all of it within 5%
    s = tiny_plan(2900.0, max_capacity_per_month=400.0)
    s["lines"]["l2"] = dict(s["lines"]["l1"], name="Line 2", capex_usd_per_unit_month=55.0)
    p = plan(s, alternatives=3, slack=0.05)
    assert p.breakdown_cost_usd == pytest.approx(31_500.0)
    assert [(i.line, i.capacity_added_per_month) for i in p.investments] == [
        ("l1", pytest.approx(50.0))
    ]
    [alt] = p.alternatives  # a second would build and buy the same: not repeated
    assert alt.cost_usd == pytest.approx(31_750.0)
    assert alt.cost_usd <= 1.05 * p.breakdown_cost_usd
    assert alt.capacity_added_per_month == {"l1": pytest.approx(0.0), "l2": pytest.approx(50.0)}
    assert alt.bought == {"AAA/shell": pytest.approx(2900.0)}  # the target is met as before
    assert "builds l2 +50/month" in alt.sentence(p.breakdown_cost_usd)
    # within 0.5% (US$157.50 more) only part moves: 157.5 / (55 - 50) = 31.5/month on l2
    [part] = plan(s, alternatives=2, slack=0.005).alternatives
    added = part.capacity_added_per_month  # MGA-slack allows a thousandth of a dollar more
    assert added == {"l1": pytest.approx(18.5, abs=1e-3), "l2": pytest.approx(31.5, abs=1e-3)}
    assert plan(s, alternatives=2, slack=0.0).alternatives == []


# --- commitments ---------------------------------------------------------------


def _with_commitment(target_quantity: float, by: str) -> dict[str, Any]:
    """AAA buys 300 shells for REC (100 a month, 2024-01..03) and has a target of its own."""
    s = tiny_plan(target_quantity, by)
    s["contracts"] = {
        "aid-rec": {
            "buyers": {"AAA": 1.0},
            "recipient": "REC",
            "product": "shell",
            "quantity": 300.0,
            "decision": "2024-01",
            "delivery_months": 3,
            "source": "fx",
        }
    }
    s["consumption"] = {
        "rec-war": {
            "party": "REC",
            "product": "shell",
            "rate_per_month": 100.0,
            "kind": "war",
            "source": "fx",
        }
    }
    return s


def test_commitment_to_a_recipient_is_kept() -> None:
    # 1,200 shells a year: 300 for REC as committed, 600 for AAA's target
    p = plan(_with_commitment(600.0, "2024-12"))
    assert p.feasible
    assert p.contract_spend_usd == pytest.approx(6000.0)
    assert p.backlog_spend_usd == pytest.approx(3000.0)
    [r] = p.recipients
    assert (r.party, r.commitment, r.kept) == ("REC", "aid-rec", True)
    assert r.delivered == pytest.approx(300.0) and r.by == "2024-03"
    assert r.demand == pytest.approx(1200.0) and r.shortfall == pytest.approx(900.0)
    assert any("REC's demand is supplied by the scenario's commitments" in x for x in p.diagnosis())
    mapping = p.to_scenario()
    kept = [k for k, c in mapping["contracts"].items() if c.get("recipient") == "REC"]
    assert kept and all(k.startswith("commitment-aid-rec") for k in kept)
    r2 = materiel.simulate(mapping)
    assert float(r2.dataset.shortfall.sel(party="REC").sum()) == pytest.approx(900.0)
    assert_round_trip(p)


def test_plan_beside_the_policy() -> None:
    # the scenario alone buys only REC's 300 (US$3,000) and misses AAA's target; the
    # plan also buys AAA's 600 (US$6,000 more) and meets it
    s = _with_commitment(600.0, "2024-12")
    versus = compare_policy(plan(s))
    assert versus["policy"]["payments_usd"] == pytest.approx(3000.0)
    assert versus["plan"]["payments_usd"] == pytest.approx(9000.0)
    assert versus["plan"]["capex_usd"] == versus["policy"]["capex_usd"] == 0.0
    assert versus["policy"]["first_met"]["t1"] is None
    assert versus["plan"]["met_by_date"]["t1"] is True


def test_commitment_hard_or_at_a_penalty_the_user_sets() -> None:
    # 300 shells in 2024-01..03 cannot serve both REC's 300 and AAA's 300 by 2024-03
    s = _with_commitment(300.0, "2024-03")
    hard = plan(s, commitment_penalty_usd=float("inf"))
    [r] = hard.recipients
    assert r.kept and r.delivered == pytest.approx(300.0)
    [unmet] = hard.unmet()
    assert unmet.short == pytest.approx(300.0)
    assert_round_trip(hard)
    cheap = plan(s, commitment_penalty_usd=100.0)  # under a target's worth ($1,600/unit)
    assert cheap.feasible
    [r] = cheap.recipients
    assert not r.kept and r.short == pytest.approx(300.0)
    assert cheap.breakdown["commitment_penalty"] == pytest.approx(300 * 100.0)
    assert "SHORT 300 by 2024-03" in r.sentence()
    assert_round_trip(cheap)
    with pytest.raises(materiel.ScenarioError, match="commitment_penalty_usd"):
        plan(s, commitment_penalty_usd=-1.0)


def test_action_plan_keeps_ukraine_aid() -> None:
    own = materiel.simulate("action-plan").dataset
    p = plan("action-plan")
    assert {r.commitment for r in p.recipients} >= {
        "ukr-155-us-2025-2026",
        "ukr-155-europe-2025-2026",
        "ukr-pac3-2025-2026",
    }
    assert all(r.kept for r in p.recipients)
    run = materiel.simulate(p.to_scenario()).dataset

    def unmet(ds: Any) -> float:
        short = float(ds.shortfall.isel(sample=0).sel(party="UKR", product="shell-155mm").sum())
        return short / float(ds.consumption_demand.sel(party="UKR", product="shell-155mm").sum())

    assert unmet(run) <= unmet(own) + 1e-9
    # contracts people can sign: annual frameworks with a delivery schedule (290 before)
    assert len(p.contracts) <= 100
    assert any(c.schedule for c in p.contracts)
    assert len({(c.line, tuple(c.buyers), c.due[:4]) for c in p.contracts if not c.backlog}) == (
        len([c for c in p.contracts if not c.backlog])
    )


# --- embedded scenarios ------------------------------------------------------


@pytest.mark.parametrize("sid", materiel.embedded_ids())
def test_embedded_round_trip(sid: str) -> None:
    p = plan(sid)
    mapping = p.to_scenario()
    assert mapping["extends"] == sid and mapping["policy"]["industry_invests"] is False
    assert set(mapping["drop"]) >= {f"contracts.{c}" for c in p.scenario.contracts}
    assert_round_trip(p, mapping)


def test_hindcast_with_targets_round_trips() -> None:
    # the hindcast has no target inside its horizon; give it two, so that donors'
    # floors (aid from stock in 2022-24) enter the programme
    s = {
        "extends": "hindcast-2022",
        "id": "hindcast-targets",
        "targets": {
            "usa-155-2024": {
                "parties": ["USA"],
                "product": "shell-155mm",
                "by": "2024-12",
                "quantity": 1_500_000,
                "source": "assumption-targets",
            },
            "ukr-155-2023": {
                "parties": ["UKR"],
                "product": "shell-155mm",
                "by": "2023-12",
                "quantity": 100_000,
                "source": "assumption-targets",
            },
        },
    }
    p = plan(s)
    assert p.size["integer_variables"] > 0
    assert_round_trip(p)


def test_budgets_bind_and_round_trip() -> None:
    s = {"extends": "action-plan", "id": "ap-budget", "policy": {"budget": "defer"}}
    # a tenth of the budgets (NATO equipment shares, carried): too little for the targets
    p = plan(s, budget_scale=0.1)
    assert not p.feasible
    assert any(b.kind == "budget" for b in p.binding)
    assert any(line.startswith("budget of ") for line in p.diagnosis())
    mapping = p.to_scenario()
    assert mapping["policy"]["munitions_share"] == pytest.approx(0.01)
    r = materiel.simulate(mapping)
    assert int((r.dataset["contract_deferred_months"] > 0).sum()) == 0
    assert_round_trip(p, mapping)


# --- command line -------------------------------------------------------------


def _write(tmp_path: Path, scenario: dict[str, Any]) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(tomli_w.dumps(scenario), encoding="utf-8")
    return path


def test_cli_plan_writes_a_scenario_the_simulator_reproduces(tmp_path: Path) -> None:
    src = _write(tmp_path, tiny_plan(1500.0, max_capacity_per_month=400.0))
    out = tmp_path / "plans" / "plan.toml"
    out.parent.mkdir()
    res = runner.invoke(
        app, ["plan", str(src), "--write", str(out), "--alternatives", "2", "--compare-policy"]
    )
    assert res.exit_code == 0, res.output
    assert "Plan vs policy (both simulated)" in res.stdout
    assert "Alternatives within 5.0% of the cost" in res.stdout
    # the alternatives' cost includes the committed backlog; the headline 'cost' does not
    assert "(cost here: payments, new and committed, and capex: $" in res.stdout
    assert "cost $0.00bn" in res.stdout and "l1: 2024: 1,500" in res.stdout
    assert "Recipients" in res.stdout and "Objective: payments" in res.stdout
    planned = materiel.load(out)
    assert planned.policy.industry_invests is False
    assert sum(c.quantity for c in planned.contracts.values()) == pytest.approx(1500.0)
    run = runner.invoke(app, ["run", str(out), "--check-targets"])
    assert run.exit_code == 0, run.output


def test_cli_plan_json_and_exit_codes(tmp_path: Path) -> None:
    src = _write(tmp_path, tiny_plan(5000.0, "2024-06"))
    res = runner.invoke(app, ["plan", str(src), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["feasible"] is False and data["targets"][0]["short"] == pytest.approx(4400.0)
    assert runner.invoke(app, ["plan", "no-such-scenario"]).exit_code == 2
    assert runner.invoke(app, ["plan", str(src), "--budget-scale", "-1"]).exit_code == 2
    assert runner.invoke(app, ["plan", str(src), "--objective", "fast"]).exit_code == 2
    bad = runner.invoke(app, ["plan", str(src), "--commitment-penalty", "lots"])
    assert bad.exit_code == 2 and "--commitment-penalty" in bad.output
    bad = runner.invoke(app, ["plan", str(src), "--slack", "150%"])
    assert bad.exit_code == 2 and "--slack" in bad.output


def test_plan_is_exported() -> None:
    assert materiel.plan is plan and materiel.Plan is Plan


def test_objective_terms_are_written_as_money_or_coverage() -> None:
    from materiel.plan.diagnostics import worth

    assert worth(1.199e10, True) == "$11.99bn" and worth(358_120.0, True) == "$358.12k"
    assert worth(0.01333, False) == "1.333% of a whole target's coverage"
    out = CliRunner().invoke(app, ["plan", "action-plan"])
    line = next(x for x in out.output.splitlines() if x.startswith("Objective:"))
    assert "penalties apart: targets missed $" in line and "commitments short $" in line
    assert "e+" not in line, line
