"""Tiny hand-worked cases with exact answers, one per mechanism of the engine."""

from __future__ import annotations

import numpy as np
import pytest
from builders import contract, tiny
from hypothesis import given, settings
from hypothesis import strategies as st

import materiel


def run(scenario: dict) -> materiel.Result:
    return materiel.simulate(scenario)


def series(result: materiel.Result, var: str, **sel: str) -> list[float]:
    return result.dataset[var].isel(sample=0).sel(**sel).values.tolist()


def test_one_line_one_buyer() -> None:
    r = run(tiny(contracts={"c1": contract(contracting_delay_months=2)}))
    assert series(r, "production", line="l1") == [0, 0, 100, 100, 100, 0, 0, 0, 0, 0, 0, 0]
    assert series(r, "stock", party="AAA", product="shell")[:6] == [0, 0, 100, 200, 300, 300]
    assert series(r, "payments_usd", party="AAA")[:5] == [0, 0, 1000, 1000, 1000]
    # a tie between capacity and orders is reported as capacity
    assert series(r, "binding", line="l1")[:6] == ["orders"] * 2 + ["capacity"] * 3 + ["orders"]


def test_policy_contracting_delay_and_extra_delay() -> None:
    s = tiny(
        contracts={"c1": contract()},
        policy={"contracting_delay_months": 3, "extra_contracting_delay_months": 2},
    )
    r = run(s)
    assert series(r, "production", line="l1")[:8] == [0, 0, 0, 0, 0, 100, 100, 100]


def test_lead_time_and_ramp() -> None:
    line = {
        "max_capacity_per_month": 400.0,
        "expansion_lead_time_months": 2,
        "ramp_up_months": 2,
        "order_book_horizon_months": 3,
    }
    s = tiny(contracts={"c1": contract(quantity=2400.0, delivery_months=12)})
    s["lines"]["l1"].update(line)
    r = run(s)
    assert series(r, "capacity_added_per_month", line="l1")[:3] == [300, 0, 0]
    assert series(r, "capacity_per_month", line="l1")[:5] == [100, 100, 250, 400, 400]
    assert series(r, "capex_usd", line="l1")[0] == 300 * 50
    assert series(r, "production", line="l1")[:5] == [100, 100, 250, 350, 200]
    assert series(r, "binding", line="l1")[:4] == ["capacity", "capacity", "capacity", "orders"]


@pytest.mark.parametrize(
    ("quantity", "months", "added"),
    [(1200.0, 12, 0.0), (4800.0, 48, 300.0)],
    ids=["annual-no-investment", "multi-year-invests"],
)
def test_investment_needs_firm_multi_year_orders(
    quantity: float, months: int, added: float
) -> None:
    s = tiny(
        contracts={
            "c1": contract(quantity=quantity, delivery_months=months, multi_year=months > 12)
        }
    )
    s["lines"]["l1"].update({"max_capacity_per_month": 400.0})
    r = run(s)
    assert sum(series(r, "capacity_added_per_month", line="l1")) == added


def test_non_firm_contract_does_not_trigger_investment() -> None:
    s = tiny(contracts={"c1": contract(quantity=4800.0, delivery_months=48, firm=False)})
    s["lines"]["l1"].update({"max_capacity_per_month": 400.0})
    assert sum(series(run(s), "capacity_added_per_month", line="l1")) == 0.0


def _with_fuze(fuze_capacity: float, inventory: float = 0.0) -> dict:
    s = tiny(contracts={"c1": contract()})
    s["products"]["shell"]["bom"] = {"fuze": 1.0}
    s["products"]["fuze"] = {"name": "Fuze", "kind": "component", "source": "fx"}
    s["lines"]["f1"] = dict(
        s["lines"]["l1"],
        name="Fuze line",
        product="fuze",
        capacity_per_month=fuze_capacity,
        max_capacity_per_month=fuze_capacity,
    )
    if inventory:
        s["inventories"] = {"alliance": {"fuze": {"quantity": inventory, "source": "fx"}}}
    return s


def test_component_bottleneck() -> None:
    r = run(_with_fuze(50.0))
    assert series(r, "production", line="l1")[:7] == [50, 50, 50, 50, 50, 50, 0]
    assert series(r, "production", line="f1")[:7] == [50, 50, 50, 50, 50, 50, 0]
    assert series(r, "binding", line="l1")[0] == "input:fuze"
    assert series(r, "binding", line="f1")[0] == "capacity"
    assert series(r, "inventory", pool="alliance", product="fuze")[:3] == [0, 0, 0]


def test_component_inventory_on_hand() -> None:
    r = run(_with_fuze(50.0, inventory=20.0))
    # month 0: 20 on hand + 50 made -> 70 shells; fuze line wants 100 - 20 = 80, makes 50
    assert series(r, "production", line="l1")[:2] == [70, 50]
    assert series(r, "component_used", pool="alliance", product="fuze")[:2] == [70, 50]


def test_multi_level_bill_of_materials() -> None:
    s = tiny(contracts={"c1": contract()})
    s["products"]["shell"]["bom"] = {"charge": 1.0}
    s["products"]["charge"] = {
        "name": "Charge",
        "kind": "component",
        "bom": {"nc": 2.0},
        "source": "fx",
    }
    s["products"]["nc"] = {
        "name": "Nitrocellulose",
        "kind": "component",
        "unit": "kg",
        "source": "fx",
    }
    s["lines"]["charges"] = dict(
        s["lines"]["l1"], product="charge", capacity_per_month=80.0, max_capacity_per_month=80.0
    )
    s["lines"]["nc"] = dict(
        s["lines"]["l1"], product="nc", capacity_per_month=100.0, max_capacity_per_month=100.0
    )
    r = run(s)
    # shell wants 100 -> charges want min(80, 100) = 80 -> nc wants 160, makes 100
    # -> charges make 80 * 100/160 = 50 -> shells make 50
    assert series(r, "production", line="nc")[0] == 100
    assert series(r, "production", line="charges")[0] == 50
    assert series(r, "production", line="l1")[0] == 50
    assert [series(r, "binding", line=x)[0] for x in ("l1", "charges", "nc")] == [
        "input:charge",
        "input:nc",
        "capacity",
    ]


def test_joint_contract_split_by_share() -> None:
    r = run(
        tiny(
            contracts={
                "c1": contract(buyers={"AAA": 0.25, "BBB": 0.75}, quantity=400.0, delivery_months=4)
            }
        )
    )
    assert series(r, "receipts", party="AAA", product="shell")[:4] == [25, 25, 25, 25]
    assert series(r, "receipts", party="BBB", product="shell")[:4] == [75, 75, 75, 75]
    assert series(r, "payments_usd", party="BBB")[:4] == [750, 750, 750, 750]


def test_any_eligible_line_shares_by_capacity() -> None:
    s = tiny(contracts={"c1": contract(quantity=200.0, delivery_months=1)})
    s["lines"]["l2"] = dict(
        s["lines"]["l1"], capacity_per_month=300.0, max_capacity_per_month=300.0
    )
    r = run(s)
    assert series(r, "production", line="l1")[0] == 50
    assert series(r, "production", line="l2")[0] == 150


def test_donor_floor_limits_aid_from_stock() -> None:
    s = tiny(
        stocks={"AAA": {"shell": {"quantity": 1000.0, "floor": 800.0, "source": "fx"}}},
        aid={
            "g1": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 300.0,
                "start": "2024-01",
                "end": "2024-01",
                "source": "fx",
            }
        },
        contracts={"c1": contract(quantity=100.0, delivery_months=1, decision="2024-03")},
    )
    r = run(s)
    assert series(r, "pledge_deliveries", pledge="g1")[:4] == [200, 0, 100, 0]
    assert series(r, "stock", party="AAA", product="shell")[:4] == [800, 800, 800, 800]
    assert series(r, "stock", party="REC", product="shell")[:4] == [200, 200, 300, 300]


def test_aid_from_production_goes_through_a_contract() -> None:
    s = tiny(
        aid={
            "g1": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 200.0,
                "start": "2024-01",
                "end": "2024-02",
                "supply": "production",
                "source": "fx",
            }
        }
    )
    r = run(s)
    assert series(r, "receipts", party="REC", product="shell")[:3] == [100, 100, 0]
    assert series(r, "payments_usd", party="AAA")[:3] == [1000, 1000, 0]
    aid = r.aid()
    assert aid.loc[0, "delivered"] == 200 and aid.loc[0, "supply"] == "production"


def test_priority_then_age() -> None:
    s = tiny(
        contracts={
            "low": contract(quantity=100.0, delivery_months=1, priority=5),
            "high": contract(quantity=100.0, delivery_months=1, priority=1),
            # same priority: the older signature is served first
            "newer": contract(quantity=100.0, delivery_months=1, decision="2024-03", priority=7),
            "older": contract(
                quantity=100.0,
                delivery_months=1,
                decision="2024-02",
                delivery_lag_months=1,
                priority=7,
            ),
        }
    )
    r = run(s)
    d = r.dataset.contract_deliveries.isel(sample=0)
    assert d.sel(contract="high").values[:2].tolist() == [100, 0]
    assert d.sel(contract="low").values[:2].tolist() == [0, 100]
    assert d.sel(contract="older").values[2:4].tolist() == [100, 0]
    assert d.sel(contract="newer").values[2:4].tolist() == [0, 100]


def test_consumption_shortfall_and_no_negative_stock() -> None:
    s = tiny(
        stocks={"REC": {"shell": {"quantity": 50.0, "source": "fx"}}},
        consumption={
            "war": {"party": "REC", "product": "shell", "rate_per_month": 100.0, "source": "fx"}
        },
    )
    r = run(s)
    assert series(r, "consumed", party="REC", product="shell")[:2] == [50, 0]
    assert series(r, "shortfall", party="REC", product="shell")[:2] == [50, 100]
    assert min(series(r, "stock", party="REC", product="shell")) == 0
    short = r.shortfall()
    assert short.loc[0, "shortfall"] == 50 + 11 * 100 and short.loc[0, "months_short"] == 12


def test_contract_signed_before_start_keeps_only_what_is_still_due() -> None:
    s = tiny(contracts={"c1": contract(quantity=2400.0, delivery_months=24, decision="2023-01")})
    r = run(s)
    assert series(r, "production", line="l1") == [100.0] * 12
    assert float(r.dataset.contract_deliveries.sum()) == 1200


def test_announced_investment_folds_arrived_part_into_start() -> None:
    s = tiny(
        lines={"l1": dict(tiny()["lines"]["l1"], max_capacity_per_month=400.0)},
        investments={
            "i1": {
                "line": "l1",
                "decision": "2023-11",
                "capacity_added_per_month": 120.0,
                "lead_time_months": 2,
                "ramp_up_months": 4,
                "source": "fx",
            }
        },
    )
    r = run(s)
    assert series(r, "capacity_per_month", line="l1")[:5] == [130, 160, 190, 220, 220]


def test_ceiling_caps_announced_investments() -> None:
    # +100/month decided 2024-01, lead 1, ramp 2 on a line of 100 with a ceiling of 150:
    # +50 arrives in 2024-02, the second +50 would pass the ceiling and never arrives
    s = tiny(
        lines={"l1": dict(tiny()["lines"]["l1"], max_capacity_per_month=150.0)},
        investments={
            "i1": {
                "line": "l1",
                "decision": "2024-01",
                "capacity_added_per_month": 100.0,
                "lead_time_months": 1,
                "ramp_up_months": 2,
                "source": "fx",
            }
        },
    )
    r = run(s)
    assert series(r, "capacity_per_month", line="l1")[:4] == [100, 150, 150, 150]
    assert series(r, "capex_usd", line="l1")[0] == 100 * 50  # spent as announced


def test_time_to_target() -> None:
    s = tiny(
        contracts={"c1": contract(contracting_delay_months=2)},
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 250.0,
                "by": "2024-04",
                "source": "fx",
            }
        },
    )
    row = run(s).targets().iloc[0]
    assert row.first_met == "2024-05" and row.months_to_target == 4
    assert not row.met_by_date and row.months_early == -1 and row.gap_at_by == 50
    assert row.coverage_at_horizon == pytest.approx(300 / 250)


def test_days_of_supply_target() -> None:
    s = tiny(
        stocks={"AAA": {"shell": {"quantity": 305.0, "source": "fx"}}},
        targets={
            "t": {
                "parties": ["AAA", "BBB"],
                "product": "shell",
                "days_of_supply": 30,
                "reference_rate_per_day": 10.0,
                "by": "2024-06",
                "source": "fx",
            }
        },
    )
    row = run(s).targets().iloc[0]
    assert row.required == 300 and row.met_by_date and row.months_to_target == 0


def test_deterministic_bit_for_bit() -> None:
    s = _with_fuze(37.0)
    a, b = run(s).dataset, run(s).dataset
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_aid_pledged_before_start_counts_as_given() -> None:
    s = tiny(
        stocks={"AAA": {"shell": {"quantity": 1000.0, "source": "fx"}}},
        aid={
            "g1": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 400.0,
                "start": "2023-11",
                "end": "2024-02",
                "source": "fx",
            }
        },
    )
    r = run(s)
    # 100 a month; 2023-11 and 2023-12 fell before the start
    assert series(r, "pledge_deliveries", pledge="g1")[:3] == [100, 100, 0]
    aid = r.aid().iloc[0]
    assert aid.delivered == 400 and aid.before_start == 200


def test_order_book_reaches_a_planned_line_by_room_to_grow() -> None:
    # l1 is full (100 of 100); l2 is planned (0 of 300). A firm 6,000 over 12 months, H = 12:
    # l1 keeps what its capacity covers (100 * 12 = 1,200), the other 4,800 goes to l2's room
    s = tiny(contracts={"c1": contract(quantity=6000.0, delivery_months=12)})
    s["lines"]["l2"] = dict(
        s["lines"]["l1"],
        name="Line 2",
        capacity_per_month=0.0,
        max_capacity_per_month=300.0,
        expansion_lead_time_months=1,
    )
    r = run(s)
    assert [series(r, "order_book", line=x)[0] for x in ("l1", "l2")] == [1200, 4800]
    assert series(r, "capacity_added_per_month", line="l2")[:2] == [300, 0]
    assert sum(series(r, "capacity_added_per_month", line="l1")) == 0
    assert series(r, "capacity_per_month", line="l2")[:3] == [0, 300, 300]
    assert series(r, "production", line="l2")[:2] == [0, 300]


def test_contract_with_a_delivery_schedule_falls_due_month_by_month() -> None:
    # 300 due as 0, 150, 50, 100 from 2024-02: due_c(t) = Q * sum(q_0..q_{t-first}) / Q
    c = contract(decision="2024-02", schedule=[0.0, 150.0, 50.0, 100.0], delivery_months=4)
    r = run(tiny(contracts={"c1": c}))
    assert series(r, "production", line="l1")[:7] == [0, 0, 100, 100, 100, 0, 0]
    assert series(r, "stock", party="AAA", product="shell")[:6] == [0, 0, 100, 200, 300, 300]
    c2 = contract(
        decision="2024-02", schedule=[40.0, 0.0, 60.0, 20.0], quantity=120.0, delivery_months=4
    )
    r = run(tiny(contracts={"c1": c2}))
    assert series(r, "production", line="l1")[:6] == [0, 40, 0, 60, 20, 0]


def test_a_scheduled_contract_signed_before_start_keeps_what_is_still_due() -> None:
    # 2023-11: 10, 2023-12: 20 fell due before the start; 30 and 40 remain
    c = contract(
        decision="2023-11", quantity=100.0, schedule=[10.0, 20.0, 30.0, 40.0], delivery_months=4
    )
    r = run(tiny(contracts={"c1": c}))
    assert series(r, "production", line="l1")[:3] == [30, 40, 0]


def test_per_sample_schedules_equal_the_single_run_rule() -> None:
    # the kernel's due_by_month (one run, or per sample: drawn quantities or delays) comes
    # from the compiled fill_due_rows: the same numbers, bit for bit, as the numpy rule
    # inputs.due_share that compile_inputs uses for what fell due before the start
    from materiel.engine.core import due_schedule, fill_due_rows
    from materiel.engine.inputs import due_share, schedule_shapes

    shape, shapes = schedule_shapes([None, (40.0, 0.0, 60.0, 20.0), (1.0, 3.0)])
    quantity, first = np.array([300.0, 240.0, 8.0]), np.array([1, -1, 3])
    months = np.array([3, 4, 2])
    single = due_schedule(quantity, first, months, 8, shape, shapes)
    assert single[:, 0].tolist() == pytest.approx([0, 100, 200, 300, 300, 300, 300, 300])
    assert single[:, 1].tolist() == pytest.approx([80, 200, 240, 240, 240, 240, 240, 240])
    assert single[:, 2].tolist() == pytest.approx([0, 0, 0, 2, 8, 8, 8, 8])
    rule = quantity * due_share(np.arange(8)[:, None], first, months, shape, shapes)
    assert single.tobytes() == rule.tobytes()
    batch = np.full((2, 8, 3), np.nan)
    fill_due_rows(
        batch,
        np.stack([quantity, 2 * quantity]),
        np.stack([first, first + 1]),
        months,
        shape,
        shapes,
    )
    assert batch[0].tobytes() == rule.tobytes()
    assert (
        batch[1].tobytes()
        == (
            2 * quantity * due_share(np.arange(8)[:, None], first + 1, months, shape, shapes)
        ).tobytes()
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e7),
            st.integers(-30, 40),
            st.integers(1, 36),
            st.none() | st.lists(st.floats(0, 100), min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_compiled_due_schedules_equal_the_numpy_rule_bit_for_bit(
    contracts: list[tuple[float, int, int, list[float] | None]],
) -> None:
    from materiel.engine.core import due_schedule
    from materiel.engine.inputs import due_share, schedule_shapes

    schedules = [None if w is None else tuple(w) for *_, w in contracts]
    shape, shapes = schedule_shapes(schedules)
    quantity = np.array([c[0] for c in contracts])
    first = np.array([c[1] for c in contracts])
    months = np.array(
        [c[2] if w is None else len(w) for c, w in zip(contracts, schedules, strict=True)]
    )
    t = np.arange(30)[:, None]
    rule = quantity * due_share(t, first, months, shape, shapes)
    assert due_schedule(quantity, first, months, 30, shape, shapes).tobytes() == rule.tobytes()


def test_monthly_consumption_adds_each_entrys_rate_over_its_months_clipped_to_the_horizon() -> None:
    """Hand-checked: entries before, across, after and inside a 4-month horizon, two on one cell."""
    from materiel.engine.inputs import _consumption

    party = np.array([0, 0, 1, 0, 1])
    product = np.array([0, 0, 0, 1, 0])
    first = np.array([-3, 1, -6, 5, 3])  # starts before the horizon; after it (nothing)
    last = np.array([1, 9, -2, 7, 3])  # ends past it; ends before it starts (nothing)
    rate = np.array([1.0, 10.0, 100.0, 1000.0, 0.5])
    out = _consumption(4, 2, 2, party, product, first, last, rate)
    expected = np.zeros((4, 2, 2))
    expected[:, 0, 0] = [1.0, 11.0, 10.0, 10.0]
    expected[3, 1, 0] = 0.5
    np.testing.assert_array_equal(out, expected)
