"""Industry's side of the loop, hand-worked: facilitation, plant modules, idle capacity, buffers."""

from __future__ import annotations

from builders import contract, tiny

import materiel
from materiel.analysis import metrics
from materiel.engine.inputs import compile_inputs


def series(result: materiel.Result, var: str, **sel: str) -> list[float]:
    return result.dataset[var].isel(sample=0).sel(**sel).values.tolist()


def _expansion(**kw: object) -> dict[str, object]:
    # +120/month decided 2023-10, lead 2, ramp 4: 30 arrive in 2023-12 (before the start),
    # then 30 a month in 2024-01..03
    out = {
        "line": "l1",
        "decision": "2023-10",
        "capacity_added_per_month": 120.0,
        "lead_time_months": 2,
        "ramp_up_months": 4,
        "source": "fx",
    }
    out.update(kw)
    return out


def _wide_line() -> dict[str, dict[str, object]]:
    return {"l1": dict(tiny()["lines"]["l1"], max_capacity_per_month=400.0)}


def test_industry_announced_investment_stops_when_industry_does_not_invest() -> None:
    s = tiny(lines=_wide_line(), investments={"i1": _expansion()})
    assert series(materiel.simulate(s), "capacity_per_month", line="l1")[:5] == [
        160,
        190,
        220,
        220,
        220,
    ]
    s["policy"]["industry_invests"] = False  # only the 30 arrived before the start remain
    assert series(materiel.simulate(s), "capacity_per_month", line="l1")[:5] == [130] * 5
    s["policy"]["announced_investments"] = "always"  # a record of what was built
    assert series(materiel.simulate(s), "capacity_per_month", line="l1")[:5] == [
        160,
        190,
        220,
        220,
        220,
    ]


def test_facilitation_arrives_whatever_industry_does_and_is_reported_apart() -> None:
    # state-funded +120 decided 2024-02, lead 1, ramp 2: +60 in 2024-03 and 2024-04
    s = tiny(
        lines=_wide_line(),
        policy={"industry_invests": False},
        facilitation={
            "f1": _expansion(
                decision="2024-02", lead_time_months=1, ramp_up_months=2, cost_usd=900.0
            )
        },
    )
    r = materiel.simulate(s)
    assert series(r, "capacity_per_month", line="l1")[:5] == [100, 100, 160, 220, 220]
    assert series(r, "capex_usd", line="l1")[1] == 900.0  # spent in the decision month
    assert metrics.capex_split(r.dataset) == {
        "facilitation": 900.0,
        "announced": 0.0,
        "order_driven": 0.0,
    }


def test_facilitation_is_charged_to_the_funders_budget() -> None:
    # budget: GDP US$1m x 100% defence x 20% equipment x 10% munitions = US$20,000 in 2024;
    # facilitation of US$5,000 funded by AAA in 2024-03 leaves US$15,000 for AAA's purchases
    s = tiny(
        lines=_wide_line(),
        facilitation={"f1": _expansion(decision="2024-03", funder="AAA", cost_usd=5000.0)},
    )
    s["economics"] = {
        "AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
    }
    s["policy"]["budget"] = "defer"
    s["procurement"] = {
        "p": {
            "product": "shell",
            "buyers": {"AAA": 1.0},
            "review": "monthly",
            "adjustment_months": 1.0,
            "source": "fx",
        }
    }
    s["targets"] = {
        "t": {
            "parties": ["AAA"],
            "product": "shell",
            "quantity": 100000.0,
            "by": "2024-12",
            "source": "fx",
        }
    }
    s["policy"]["equipment_share_from"] = "policy"
    inp = compile_inputs(materiel.load(s))
    assert inp.budget is not None
    year = list(inp.budget.years).index(2024)
    row = inp.budget.parties.index("AAA")
    assert inp.budget.committed_usd[row, year] == 5000.0
    assert inp.budget_left_usd[inp.parties.index("AAA"), year] == 15000.0
    r = materiel.simulate(s)
    # the policy buys at US$10 a round what the budget left pays in 2024: 1,500 rounds
    assert r.dataset.contract_quantity.isel(sample=0).sum() == 1500.0


def test_facilitation_needs_a_known_funder_and_line() -> None:
    s = tiny(facilitation={"f1": _expansion(funder="ZZZ", line="nope")})
    try:
        materiel.load(s)
    except materiel.ScenarioError as err:
        text = str(err)
        assert "facilitation.f1.funder" in text and "ZZZ" in text
        assert "facilitation.f1.line" in text and "nope" in text
    else:  # pragma: no cover
        raise AssertionError("expected a ScenarioError")


def test_plant_modules_are_built_whole_within_the_ceiling_and_enter_service_one_by_one() -> None:
    # l1: 100 of 400, modules of 120, lead 1, ramp 3. A firm 6,000 over 12 months, H = 12:
    # wanted 6,000 / 12 - 100 = 400 - 100 = 300 -> ceil(300/120) = 3 modules, but only
    # floor(300/120) = 2 fit under the ceiling: 240, entering service at floor(2 r / 3):
    # r = 1: 0, r = 2: 1 module (month 2), r = 3: 2 modules (month 3)
    line = dict(
        tiny()["lines"]["l1"],
        max_capacity_per_month=400.0,
        module_capacity_per_month=120.0,
        expansion_lead_time_months=1,
        ramp_up_months=3,
    )
    s = tiny(lines={"l1": line}, contracts={"c1": contract(quantity=6000.0, delivery_months=12)})
    r = materiel.simulate(s)
    assert series(r, "capacity_added_per_month", line="l1")[:2] == [240, 0]
    assert series(r, "capacity_per_month", line="l1")[:5] == [100, 100, 220, 340, 340]
    assert series(r, "capex_usd", line="l1")[0] == 240 * 50


def _greenfield(
    greenfield: bool, owner: str = "Co", **contracts: dict[str, object]
) -> materiel.Result:
    # l1 is full (100 of 100); l2 is a planned plant (0 of 300), lead 1, ramp 2, H = 12;
    # both owned by "Co" unless l2's owner is given
    l2 = dict(
        tiny()["lines"]["l1"],
        name="Line 2",
        capacity_per_month=0.0,
        max_capacity_per_month=300.0,
        expansion_lead_time_months=1,
        ramp_up_months=2,
        greenfield=greenfield,
        owner=owner,
    )
    return materiel.simulate(tiny(lines={"l2": l2}, contracts=contracts))


def test_a_greenfield_plant_is_one_decision_taken_when_the_unfilled_book_covers_it() -> None:
    # A firm 4,000 over 12 months: l1 covers 100 * 12 = 1,200, the owner's unfilled book is
    # 2,800, below the plant's 300 * 12 = 3,600: no decision. An ordinary planned line takes the
    # 2,800 as its room share and grows by 2,800 / 12 = 233.3 at once, in small steps
    small = {"c1": contract(quantity=4000.0, delivery_months=12)}
    ordinary = _greenfield(False, **small)
    assert series(ordinary, "order_book", line="l2")[0] == 2800
    assert series(ordinary, "capacity_added_per_month", line="l2")[0] == 2800 / 12
    waits = _greenfield(True, **small)
    assert series(waits, "order_book", line="l2")[0] == 0  # no share of the spill
    assert sum(series(waits, "capacity_added_per_month", line="l2")) == 0
    assert series(waits, "capacity_per_month", line="l2") == [0] * 12
    # A second firm 3,000 decided 2024-04 (month 3): by then l1 delivered 300, so the book is
    # 3,700 + 3,000 = 6,700 and the unfilled part 6,700 - 1,200 = 5,500 >= 3,600: the whole
    # plant (300) is decided in month 3, arriving by the ramp (150 in month 4, 300 from month 5)
    more = dict(small, c2=contract(quantity=3000.0, delivery_months=12, decision="2024-04"))
    built = _greenfield(True, **more)
    assert series(built, "capacity_added_per_month", line="l2")[:5] == [0, 0, 0, 300, 0]
    assert sum(series(built, "capacity_added_per_month", line="l2")) == 300
    assert series(built, "capacity_per_month", line="l2")[:7] == [0, 0, 0, 0, 150, 300, 300]
    assert series(built, "capex_usd", line="l2")[3] == 300 * 50
    # the full line l1 never expands (it is at its ceiling)
    assert sum(series(built, "capacity_added_per_month", line="l1")) == 0
    # once decided it is an ordinary line: its book is its committed share (300 of 400)
    assert series(built, "order_book", line="l2")[4] > 0


def test_a_greenfield_plant_with_one_big_contract_is_built_at_once() -> None:
    # a firm 6,000: unfilled 6,000 - 1,200 = 4,800 >= 3,600, decided in month 0
    r = _greenfield(True, c1=contract(quantity=6000.0, delivery_months=12))
    assert series(r, "capacity_added_per_month", line="l2")[:2] == [300, 0]
    assert series(r, "capacity_per_month", line="l2")[:3] == [0, 150, 300]


def test_a_greenfield_plant_is_decided_on_its_owners_book_not_another_firms() -> None:
    # The same firm 6,000 on l1, but the plant l2 belongs to another firm "New": l1's
    # 4,800 beyond its cover is Co's book, New has none, so the plant is never decided
    big = contract(quantity=6000.0, delivery_months=12)
    other = _greenfield(True, owner="New", c1=big)
    assert sum(series(other, "capacity_added_per_month", line="l2")) == 0
    assert series(other, "capacity_per_month", line="l2") == [0] * 12
    # a firm 4,000 placed with the plant itself (line l2) from 2024-03 is New's own book:
    # 4,000 - 0 * 12 >= 300 * 12 = 3,600, decided whole in month 2, 150 then 300
    own = contract(quantity=4000.0, delivery_months=12, decision="2024-03", line="l2")
    built = _greenfield(True, owner="New", c1=big, c2=own)
    assert series(built, "capacity_added_per_month", line="l2")[:4] == [0, 0, 300, 0]
    assert series(built, "capacity_per_month", line="l2")[:5] == [0, 0, 0, 150, 300]
    # 3,500 with the plant is short of its 3,600: still no decision
    short = contract(quantity=3500.0, delivery_months=12, decision="2024-03", line="l2")
    assert (
        sum(
            series(
                _greenfield(True, owner="New", c1=big, c2=short),
                "capacity_added_per_month",
                line="l2",
            )
        )
        == 0
    )


def _buffered(cover: float) -> dict[str, object]:
    # shells (line l1, 200/month) need one charge each from pool "default" (line c1, 100/month);
    # 400 charges on hand; 100 shells/month due in months 0-3, then 200/month in months 4-7
    lines = {
        "l1": dict(
            tiny()["lines"]["l1"],
            capacity_per_month=200.0,
            max_capacity_per_month=200.0,
            pool="default",
            invests=False,
        ),
        "c1": dict(
            tiny()["lines"]["l1"],
            name="Charges",
            product="charge",
            pool="default",
            capacity_per_month=100.0,
            max_capacity_per_month=100.0,
            invests=False,
        ),
    }
    s = tiny(
        lines=lines,
        contracts={
            "c1": contract(quantity=400.0, delivery_months=4),
            "c2": contract(quantity=800.0, delivery_months=4, decision="2024-05"),
        },
    )
    s["products"]["shell"]["bom"] = {"charge": 1.0}
    s["products"]["charge"] = {"name": "Charge", "kind": "component", "source": "fx"}
    s["inventories"] = {
        "default": {"charge": {"quantity": 400.0, "cover_months": cover, "source": "fx"}}
    }
    return s


def test_a_component_buffer_cushions_a_later_peak() -> None:
    # just-in-time: the 400 on hand replace charge production in months 0-3 (inventory 300,
    # 200, 100, 0), so the peak gets only the 100 charges a month made then
    jit = materiel.simulate(_buffered(0.0))
    assert series(jit, "production", line="c1")[:8] == [0, 0, 0, 0, 100, 100, 100, 100]
    assert series(jit, "production", line="l1")[:8] == [100] * 8
    # a buffer of 2 months of full-rate need (2 x 200 = 400): charges are made all along,
    # the buffer stays at 400 until the peak draws it down (400 -> 300 -> 200 -> 100 -> 0)
    buf = materiel.simulate(_buffered(2.0))
    assert series(buf, "production", line="c1")[:8] == [100] * 8
    assert series(buf, "production", line="l1")[:8] == [100] * 4 + [200] * 4
    inventory = series(buf, "inventory", pool="default", product="charge")
    assert inventory[:8] == [400, 400, 400, 400, 300, 200, 100, 0]


def test_idle_line_mothballs_to_its_warm_rate_and_reactivation_takes_its_lead_time() -> None:
    # l1 (100/month) makes 300 in months 0-2, then idles: below 50 % for 3 months (3, 4, 5),
    # so at the end of month 5 it keeps its warm 20 and mothballs 80. A firm 600 signed in
    # month 7 (book 600 > 20 x 12) calls the 80 back; it returns 2 months later (month 9)
    line = dict(tiny()["lines"]["l1"], warm_capacity_per_month=20.0)
    s = tiny(
        lines={"l1": line},
        policy={"idle_utilisation": 0.5, "idle_months": 3, "reactivation_months": 2},
        contracts={"c1": contract(), "c2": contract(quantity=600.0, decision="2024-08")},
    )
    r = materiel.simulate(s)
    assert series(r, "capacity_per_month", line="l1") == [100] * 6 + [20] * 3 + [100] * 3
    assert series(r, "capacity_mothballed_per_month", line="l1") == [0] * 5 + [80] * 2 + [0] * 5
    assert series(r, "production", line="l1") == [100] * 3 + [0] * 4 + [20, 20] + [100] * 3
    # off by default: the same line never mothballs
    s["policy"]["idle_utilisation"] = 0.0
    assert series(materiel.simulate(s), "capacity_per_month", line="l1") == [100] * 12


def test_embedded_action_plan_without_industry_keeps_only_state_funded_growth() -> None:
    base = materiel.simulate("action-plan")
    alone = materiel.simulate(
        {"extends": "action-plan", "id": "no-invest", "policy": {"industry_invests": False}}
    )
    split = metrics.capex_split(alone.dataset)
    assert split["order_driven"] == 0.0 and split["announced"] == 0.0
    assert split["facilitation"] == metrics.capex_split(base.dataset)["facilitation"] > 0.0
    cap = {
        name: r.dataset.capacity_per_month.isel(sample=0)
        for name, r in (("base", base), ("alone", alone))
    }
    # the Army-funded Camden LAP (50,000/month) arrives either way; Rheinmetall's own
    # Unterlüß plant (decided 2024-02, first output 2025-07) does only when industry invests
    for name in cap:
        assert float(cap[name].sel(line="gdots-camden-lap").max()) == 50000.0
    assert float(cap["base"].sel(line="rheinmetall-unterluess").max()) > 0.0
    assert float(cap["alone"].sel(line="rheinmetall-unterluess").max()) == 0.0


def test_a_facilitation_overrun_defers_no_contract_paying_in_other_years() -> None:
    # AAA's 2024 budget (US$20,000) is overrun by a US$30,000 facilitation; a contract paid
    # in 2025 still fits that year's budget and is signed on time
    s = tiny(
        months=24,
        lines=_wide_line(),
        facilitation={"f1": _expansion(decision="2024-03", funder="AAA", cost_usd=30000.0)},
        contracts={"c1": contract(decision="2025-01")},
    )
    s["economics"] = {
        "AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
    }
    s["policy"].update(budget="defer", equipment_share_from="policy")
    r = materiel.simulate(s)
    assert int(r.dataset.contract_deferred_months.sel(contract="c1")) == 0
    budget = r.budget().query("party == 'AAA'").set_index("year")
    assert budget.loc[2024, "overrun_usd"] == 10000.0
