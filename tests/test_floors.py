"""Stock floors: against aid only, or against the holder's own consumption too, by hand."""

from __future__ import annotations

from typing import Any

import pytest
from builders import tiny

import materiel
from materiel.present.summary import summarize


def holder(applies_to: str | None, **kw: Any) -> dict[str, Any]:
    """AAA holds 100 above a floor of 80 and uses 10 a month; its line makes nothing."""
    s = tiny(
        stocks={"AAA": {"shell": {"quantity": 100.0, "floor": 80.0, "source": "fx"}}},
        consumption={
            "u": {"party": "AAA", "product": "shell", "rate_per_month": 10.0, "source": "fx"}
        },
        **kw,
    )
    s["lines"]["l1"].update(capacity_per_month=0.0, max_capacity_per_month=0.0)
    if applies_to is not None:
        s["policy"]["floor_applies_to"] = applies_to
    return s


def cell(r: materiel.Result, name: str, party: str = "AAA") -> list[float]:
    values: list[float] = r.dataset[name].isel(sample=0).sel(party=party, product="shell").values
    return [float(x) for x in values]


def test_floor_holds_against_own_consumption_by_default() -> None:
    # 100 - 10 - 10 = 80, then the floor: the other 10 months' use (100) is unmet
    r = materiel.simulate(holder(None))
    assert cell(r, "stock") == [90.0, 80.0] + [80.0] * 10
    assert cell(r, "consumed") == [10.0, 10.0] + [0.0] * 10
    assert sum(cell(r, "shortfall")) == 100.0
    assert r.floors()["applies_to"] == "all"
    assert r.metrics()["floors"]["parties_with_floors"] == ["AAA"]
    assert "policy.floor_applies_to = 'all'" in summarize(r)


def test_floor_against_aid_only_lets_consumption_draw_it() -> None:
    # the floor binds aid only: 100 is used in 10 months, the last 2 months' 20 are unmet
    r = materiel.simulate(holder("aid"))
    assert cell(r, "stock") == [90.0 - 10 * m for m in range(10)] + [0.0, 0.0]
    assert sum(cell(r, "shortfall")) == 20.0
    assert "policy.floor_applies_to = 'aid'" in summarize(r)
    assert "own consumption may draw below" in r.floors()["rule"]


@pytest.mark.parametrize(("applies_to", "end"), [("all", 80.0), ("aid", 0.0)])
def test_aid_comes_first_then_consumption(applies_to: str, end: float) -> None:
    # 30 owed to REC in 2024-01: 20 above the floor is given (both rules); then "all" keeps
    # the 80 (every month's use, 120, unmet); "aid" lets use draw the 80 down to 0 in 8
    # months (the last 4 months' 40 unmet)
    s = holder(
        applies_to,
        aid={
            "g": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 30.0,
                "start": "2024-01",
                "end": "2024-01",
                "source": "fx",
            }
        },
    )
    r = materiel.simulate(s)
    assert float(r.dataset.pledge_deliveries.sum()) == 20.0
    assert cell(r, "stock")[-1] == end
    assert sum(cell(r, "shortfall")) == (120.0 if applies_to == "all" else 40.0)


def test_bad_floor_rule_is_located() -> None:
    s = holder("donors")
    with pytest.raises(materiel.ScenarioError) as err:
        materiel.load(s, name="bad.toml")
    found = [p for p in err.value.problems if p.path == "policy.floor_applies_to"]
    assert found and found[0].file == "bad.toml", err.value.problems
    assert "donors" in found[0].message or "'aid'" in found[0].message
