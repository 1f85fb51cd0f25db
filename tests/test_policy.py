"""Procurement policies: the stock-management rule, hand-worked, and its invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import check_contract_conservation, contract, tiny
from hypothesis import HealthCheck, given, settings

import materiel
from materiel.present.summary import summarize
from materiel.scenario.loading import embedded_ids
from materiel.testing import scenarios


def policy(**kw: Any) -> dict[str, Any]:
    """AAA buys `shell` for itself, monthly, adjustment time 4 months, no delay."""
    p = {
        "product": "shell",
        "buyers": {"AAA": 1.0},
        "review": "monthly",
        "adjustment_months": 4.0,
        "contracting_delay_months": 0,
        "source": "fx",
    }
    p.update(kw)
    return p


def target(quantity: float, by: str = "2024-12", parties: tuple[str, ...] = ("AAA",)) -> dict:
    return {
        "parties": list(parties),
        "product": "shell",
        "quantity": quantity,
        "by": by,
        "source": "fx",
    }


def idle_line(s: dict[str, Any]) -> dict[str, Any]:
    """No capacity: nothing is delivered, so the supply line only grows."""
    s["lines"]["l1"].update(capacity_per_month=0.0, max_capacity_per_month=0.0)
    return s


def contracts(r: materiel.Result) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = r.contracts().to_dict(orient="records")
    return rows


def test_gap_over_adjustment_time_plus_expected_use() -> None:
    # stock 200, desired 600, use 10/month, A = 4, no delay, annual orders (mean wait
    # 11/2 months): desired supply line 10 * 5.5 = 55, gap G = 600 + 55 - 200 = 455,
    # q = G/A + U = 123.75; then S = 190, SL = 123.75: G = 341.25, q = 95.3125;
    # then S = 180, SL = 219.0625: G = 255.9375, q = 73.984375
    s = idle_line(
        tiny(
            stocks={"AAA": {"shell": {"quantity": 200.0, "source": "fx"}}},
            consumption={
                "u": {"party": "AAA", "product": "shell", "rate_per_month": 10.0, "source": "fx"}
            },
            targets={"t": target(600.0)},
            procurement={"p": policy()},
        )
    )
    rows = contracts(materiel.simulate(s))
    assert [r["quantity"] for r in rows[:3]] == [123.75, 95.3125, 73.984375]
    assert [r["contract"] for r in rows[:2]] == ["policy:p:2024-01", "policy:p:2024-02"]
    assert (rows[0]["decided_by"], rows[0]["origin"]) == ("policy", "policy:p")
    assert rows[0]["buyers"] == "AAA:1"
    assert not rows[0]["firm"] and not rows[0]["multi_year"]


def test_orders_stop_once_the_supply_line_covers_the_gap() -> None:
    # yearly, A = 6 <= R = 12: the first review orders the whole gap (300); at the
    # next one S + SL = 400 = D, no use: nothing more is ordered (the slot is dropped)
    s = idle_line(
        tiny(
            months=24,
            stocks={"AAA": {"shell": {"quantity": 100.0, "source": "fx"}}},
            targets={"t": target(400.0, by="2025-12")},
            procurement={"p": policy(review="yearly", adjustment_months=6.0)},
        )
    )
    rows = contracts(materiel.simulate(s))
    assert [(r["contract"], r["quantity"]) for r in rows] == [("policy:p:2024-01", 300.0)]


def test_written_contracts_count_in_the_supply_line() -> None:
    s = idle_line(
        tiny(
            months=24,
            targets={"t": target(400.0, by="2025-12")},
            contracts={"c1": contract(quantity=150.0)},
            procurement={"p": policy(review="yearly", adjustment_months=12.0)},
        )
    )
    rows = contracts(materiel.simulate(s))
    assert [(r["contract"], r["quantity"]) for r in rows] == [
        ("c1", 150.0),
        ("policy:p:2024-01", 250.0),
    ]
    assert [(r["decided_by"], r["origin"]) for r in rows] == [
        ("scenario", "c1"),
        ("policy", "policy:p"),
    ]


def test_contracting_delay_then_signature() -> None:
    # a 300 gap decided in January, signed 2 + 1 (extra) months later, due over 12 months
    s = tiny(
        targets={"t": target(300.0)},
        procurement={
            "p": policy(review="yearly", adjustment_months=1.0, contracting_delay_months=2)
        },
        policy={"contracting_delay_months": 0, "extra_contracting_delay_months": 1},
    )
    r = materiel.simulate(s)
    row = contracts(r)[0]
    assert (row["decided"], row["signed"], row["quantity"]) == ("2024-01", "2024-04", 300.0)
    production = r.dataset.production.isel(sample=0).sel(line="l1").values
    assert production.tolist() == [0.0, 0.0, 0.0] + [25.0] * 9


def test_multi_year_share_splits_each_decision() -> None:
    # 400 decided: a quarter as a firm 2-year framework, the rest an annual order
    s = tiny(
        targets={"t": target(400.0)},
        procurement={
            "p": policy(
                review="yearly", adjustment_months=1.0, multi_year_share=0.25, framework_years=2
            )
        },
    )
    r = materiel.simulate(s)
    rows = {row["contract"]: row for row in contracts(r)}
    multi, annual = rows["policy:p:2024-01:multi-year"], rows["policy:p:2024-01:annual"]
    assert (multi["quantity"], multi["firm"], multi["multi_year"]) == (100.0, True, True)
    assert (annual["quantity"], annual["firm"], annual["multi_year"]) == (300.0, False, False)
    production = r.dataset.production.isel(sample=0).sel(line="l1").values
    np.testing.assert_allclose(production, 100.0 / 24 + 25.0)
    # only the firm part counts in the order book
    book = r.dataset.order_book.isel(sample=0).sel(line="l1").values
    assert book[0] == 100.0 and book[1] == pytest.approx(100.0 - 100.0 / 24)


def test_yearly_review_month_and_expected_use_over_the_year() -> None:
    # reviews in July only; use 10/month from July: U = 10 (the mean over the months
    # left in the horizon), U * R = 120, plus the gap 500 + 10 * 5.5 - 200 = 355 (A = R)
    s = idle_line(
        tiny(
            stocks={"AAA": {"shell": {"quantity": 200.0, "source": "fx"}}},
            consumption={
                "u": {
                    "party": "AAA",
                    "product": "shell",
                    "rate_per_month": 10.0,
                    "start": "2024-07",
                    "source": "fx",
                }
            },
            targets={"t": target(500.0)},
            procurement={"p": policy(review="yearly", review_month=7, adjustment_months=12.0)},
        )
    )
    rows = contracts(materiel.simulate(s))
    assert [(r["contract"], r["quantity"]) for r in rows] == [("policy:p:2024-07", 475.0)]


def test_desired_stock_is_the_highest_target_not_yet_past() -> None:
    from materiel.engine.inputs import desired_stock

    s = materiel.load(
        tiny(
            targets={"a": target(300.0, by="2024-03"), "b": target(200.0, by="2024-06")},
            procurement={"p": policy()},
        )
    )
    assert desired_stock(s, "p").tolist() == [300.0] * 3 + [200.0] * 3 + [300.0] * 6


def test_joint_buy_shares_and_group_stock() -> None:
    # the group AAA + BBB holds 100 + 100 against 400: 200 bought, split 3:1
    s = idle_line(
        tiny(
            stocks={
                "AAA": {"shell": {"quantity": 100.0, "source": "fx"}},
                "BBB": {"shell": {"quantity": 100.0, "source": "fx"}},
            },
            targets={"t": target(400.0, parties=("AAA", "BBB"))},
            procurement={
                "p": policy(
                    buyers={"AAA": 0.75, "BBB": 0.25}, review="yearly", adjustment_months=1.0
                )
            },
        )
    )
    rows = contracts(materiel.simulate(s))
    assert [(r["quantity"], r["buyers"]) for r in rows] == [(200.0, "AAA:0.75,BBB:0.25")]


@pytest.mark.parametrize(
    ("procurement", "field", "expected"),
    [
        (policy(buyers={"ZZZ": 1.0}), "buyers", "unknown party 'ZZZ'"),
        (policy(buyers={"AAA": 0.5}), "buyers", "buyer shares must sum to 1"),
        (policy(targets=["nope"]), "targets", "unknown target 'nope'"),
        (policy(parties=["BBB"]), "targets", "no target on 'shell' counts only the group"),
        (policy(pool="elsewhere"), "pool", "no line in pool 'elsewhere' makes 'shell'"),
        (policy(start="2024-06", end="2024-03"), "end", "expected end (2024-03)"),
    ],
)
def test_bad_policies_are_located(procurement: dict, field: str, expected: str) -> None:
    s = tiny(targets={"t": target(100.0)}, procurement={"p": procurement})
    with pytest.raises(materiel.ScenarioError) as err:
        materiel.load(s, name="bad.toml")
    found = [p for p in err.value.problems if p.path.startswith("procurement.p.")]
    assert found and found[0].path == f"procurement.p.{field}", err.value.problems
    assert expected in found[0].message
    assert found[0].file == "bad.toml"


def _budget_capped() -> dict[str, Any]:
    """AAA buys yearly against a 5,000 target with a 20,000 US$ munitions budget in 2024."""
    return idle_line(
        tiny(
            months=24,
            targets={"t": target(5000.0, by="2025-12")},
            procurement={"p": policy(review="yearly", adjustment_months=1.0)},
            economics={
                "AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
            },
            policy={"contracting_delay_months": 0, "budget": "defer"},
        )
    )


def test_budget_cap_cuts_a_decision_to_the_budget_left() -> None:
    # AAA's munitions budget: GDP 1 US$m x 100 % x equipment 0.2 x munitions 0.1 = 20,000 US$
    # in 2024, 3 % more in 2025; at 10 US$ a shell a year's order is cut to 2,000, then 2,060;
    # what is cut stays in the gap (5,000 - 2,000 = 3,000 at the second review)
    s = _budget_capped()
    rows = contracts(materiel.simulate(s))
    assert [r["contract"] for r in rows] == ["policy:p:2024-01", "policy:p:2025-01"]
    assert [r["quantity"] for r in rows] == pytest.approx([2000.0, 2060.0])


def test_budget_committed_counts_policy_decisions() -> None:
    # as above: 2,000 shells at 10 US$ signed 2024-01, due over 2024 -> 20,000 US$ committed
    # in 2024; 2,060 signed 2025-01 -> 20,600 in 2025: each year's budget, exactly
    s = _budget_capped()
    b = materiel.simulate(s).budget().query("party == 'AAA'")
    assert b.year.tolist() == [2024, 2025]
    assert b.committed_usd.tolist() == pytest.approx([20000.0, 20600.0])
    assert b.budget_usd.tolist() == pytest.approx([20000.0, 20600.0])
    assert b.overrun_usd.tolist() == pytest.approx([0.0, 0.0])


def test_flagged_policy_decision_counts_as_an_overrun() -> None:
    # "flag" signs the whole gap: 5,000 shells x 10 US$ due over 2024 = 50,000 US$ committed
    # against a 20,000 US$ budget (overrun 30,000); in 2025 S + SL = 5,000 = D: nothing more
    s = idle_line(
        tiny(
            months=24,
            targets={"t": target(5000.0, by="2025-12")},
            procurement={"p": policy(review="yearly", adjustment_months=1.0)},
            economics={
                "AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
            },
            policy={"contracting_delay_months": 0, "budget": "flag"},
        )
    )
    r = materiel.simulate(s)
    assert [(c["contract"], c["quantity"]) for c in contracts(r)] == [("policy:p:2024-01", 5000.0)]
    b = r.budget().query("party == 'AAA'")
    assert b.committed_usd.tolist() == pytest.approx([50000.0, 0.0])
    assert b.overrun_usd.tolist() == pytest.approx([30000.0, 0.0])
    assert "1 ally-years over budget" in summarize(r)


def by_gap_scenario(shares: str) -> dict[str, Any]:
    """AAA and BBB (written shares 1/2 each) hold 100 and 300 against a joint 800."""
    return tiny(
        stocks={
            "AAA": {"shell": {"quantity": 100.0, "source": "fx"}},
            "BBB": {"shell": {"quantity": 300.0, "source": "fx"}},
        },
        targets={"t": target(800.0, parties=("AAA", "BBB"))},
        procurement={
            "p": policy(
                buyers={"AAA": 0.5, "BBB": 0.5},
                review="yearly",
                adjustment_months=1.0,
                shares=shares,
            )
        },
    )


def test_joint_buy_split_by_gap() -> None:
    # q = 800 - 400 = 400; gaps: AAA 0.5 x 800 - 100 = 300, BBB 400 - 300 = 100, so AAA
    # takes 3/4 and BBB 1/4: 300 and 100 delivered over the year, each ends at 400 (its
    # half of the target) and pays 10 US$ a shell
    r = materiel.simulate(by_gap_scenario("by-gap"))
    rows = contracts(r)
    assert [(c["quantity"], c["buyers"]) for c in rows] == [(400.0, "AAA:0.75,BBB:0.25")]
    ds = r.dataset.isel(sample=0, month=-1)
    stock = ds.stock.sel(product="shell")
    assert float(stock.sel(party="AAA")) == pytest.approx(400.0)
    assert float(stock.sel(party="BBB")) == pytest.approx(400.0)
    paid = r.dataset.payments_usd.isel(sample=0).sum("month")
    assert float(paid.sel(party="AAA")) == pytest.approx(3000.0)
    assert float(paid.sel(party="BBB")) == pytest.approx(1000.0)
    # fixed shares split the same 400 in halves: AAA ends at 300, BBB at 500
    fixed = materiel.simulate(by_gap_scenario("fixed"))
    assert [c["buyers"] for c in contracts(fixed)] == ["AAA:0.5,BBB:0.5"]
    end = fixed.dataset.stock.isel(sample=0, month=-1).sel(product="shell")
    assert end.sel(party=["AAA", "BBB"]).values.tolist() == pytest.approx([300.0, 500.0])


def test_by_gap_with_a_recipient_is_refused() -> None:
    s = tiny(
        targets={"t": target(100.0, parties=("REC",))},
        procurement={"p": policy(recipient="REC", shares="by-gap")},
    )
    with pytest.raises(materiel.ScenarioError) as err:
        materiel.load(s, name="bad.toml")
    found = [p for p in err.value.problems if p.path == "procurement.p.shares"]
    assert found and "by-gap" in found[0].message and found[0].file == "bad.toml"


def test_policy_contracts_are_conserved() -> None:
    # what policy-made contracts deliver is what their buyers receive and pay for, shares as
    # decided (by gap here), and never more than was decided
    r = materiel.simulate(by_gap_scenario("by-gap"))
    check_contract_conservation(r)


@pytest.mark.parametrize("sid", embedded_ids())
def test_embedded_scenarios_hold_invariants_and_are_deterministic(sid: str) -> None:
    a = materiel.simulate(sid)  # raises InvariantError on a broken law
    b = materiel.simulate(sid)
    for name in a.dataset.data_vars:
        np.testing.assert_array_equal(a.dataset[name].values, b.dataset[name].values)
    np.testing.assert_array_equal(a.dataset.contract_quantity, b.dataset.contract_quantity)


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(data=scenarios(max_policies=2))
def test_random_scenarios_with_policies_hold_invariants(data: dict[str, Any]) -> None:
    result = materiel.simulate(data)  # raises InvariantError if a balance breaks
    ds = result.dataset
    assert float(ds.stock.min()) >= -1e-9
    assert bool((ds.contract_quantity >= 0.0).all())
    delivered = ds.contract_deliveries.sum(["sample", "month"])
    assert bool((delivered <= ds.contract_quantity * (1 + 1e-9) + 1e-9).all())
    again = materiel.simulate(data).dataset
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].values, again[name].values)
