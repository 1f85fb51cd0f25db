"""Unit prices per product and year: the rule, and contracts paying the year's price."""

from __future__ import annotations

import pytest
from builders import contract, tiny

import materiel
from materiel.scenario.prices import unit_price_usd

PRICES = {
    "shell-2021": {"product": "shell", "year": 2021, "usd": 2.0, "source": "fx"},
    "shell-2024": {"product": "shell", "year": 2024, "usd": 8.0, "source": "fx"},
}


def test_latest_year_at_or_before_then_product_default_then_explicit() -> None:
    s = materiel.load(tiny(prices=PRICES))
    assert unit_price_usd(s, "shell", 2021) == 2.0
    assert unit_price_usd(s, "shell", 2023) == 2.0  # holds until the next figure
    assert unit_price_usd(s, "shell", 2030) == 8.0
    assert unit_price_usd(s, "shell", 2019) == 10.0  # before any row: the product's price
    assert unit_price_usd(s, "shell", 2024, explicit_usd=5.0) == 5.0  # a contract's own wins
    plain = materiel.load(tiny())
    assert unit_price_usd(plain, "shell", 2024) == 10.0


def test_without_a_product_price_the_earliest_row_is_used() -> None:
    products = {"shell": {"name": "Shell", "kind": "munition", "source": "fx"}}
    s = materiel.load(tiny(products=products, prices=PRICES))
    assert unit_price_usd(s, "shell", 2000) == 2.0


def test_contracts_pay_their_decision_years_price() -> None:
    s = tiny(
        start="2023-07",
        months=24,
        prices=PRICES,
        contracts={
            "c2023": contract(decision="2023-07", quantity=30.0),
            "c2024": contract(decision="2024-02", quantity=30.0),
            "own": contract(decision="2024-02", quantity=30.0, unit_price_usd=3.0),
            "yearly": contract(decision="2023-07", quantity=30.0, repeats=2),
        },
    )
    ds = materiel.simulate(s).dataset
    price = ds.contract_price_usd.to_series()
    assert price["c2023"] == 2.0
    assert price["c2024"] == 8.0
    assert price["own"] == 3.0
    assert price["yearly"] == 2.0 and price["yearly#2"] == 8.0  # placed 2023-07, 2024-07
    paid = float((ds.contract_deliveries * ds.contract_price_usd).sum())
    assert paid == pytest.approx(30 * (2 + 8 + 3 + 2 + 8))


def test_a_price_for_an_unknown_product_is_reported() -> None:
    bad = {"x": {"product": "nope", "year": 2024, "usd": 1.0, "source": "fx"}}
    with pytest.raises(materiel.ScenarioError, match=r"prices\.x\.product"):
        materiel.load(tiny(prices=bad))


def test_dataset_prices_follow_the_public_record() -> None:
    s = materiel.load("dataset")
    assert unit_price_usd(s, "shell-155mm", 2022) == pytest.approx(2_160)  # EUR 2,000 pre-war
    assert unit_price_usd(s, "shell-155mm", 2024) == pytest.approx(4_000)  # NATO average
    assert 4.2e6 <= unit_price_usd(s, "pac-3-mse", 2025) <= 5.2e6
    assert unit_price_usd(s, "stinger", 2023) == pytest.approx(480_000)
    for key, p in s.prices.items():
        assert s.sources[p.source or ""], key
