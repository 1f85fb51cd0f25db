"""Monte Carlo over money: drawn unit prices, GDP growth and spending shares, hand-checked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import check_samples_equal_single_runs, contract, tiny

import materiel
from materiel.analysis.montecarlo import Quantity, sample_quantities
from materiel.testing import MONEY

AAA_ECONOMY = {"AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}}
"""AAA's munitions budget: 1 US$m x 100 % x equipment 0.2 x munitions 0.1 = 20,000 US$ in 2024,
growing with policy.gdp_growth_pct_per_year (3 % by default) after."""


def _budgeted(**overrides: Any) -> dict[str, Any]:
    s = tiny(
        months=24,
        economics=AAA_ECONOMY,
        policy={"contracting_delay_months": 0, "budget": "defer"},
        **overrides,
    )
    s["lines"]["l1"].update(capacity_per_month=1000.0, max_capacity_per_month=1000.0)
    return s


def _stock(when: str) -> Quantity:
    return Quantity("stock", when, {"party": "AAA", "product": "shell"})


def test_price_drawn_from_two_values_gives_each_samples_purchases() -> None:
    # AAA's yearly policy buys against 5,000 shells, cut to the budget: 20,000 US$ in 2024 and
    # 20,600 in 2025 buy 2,000 + 2,060 shells at 10 US$, 1,000 + 1,030 at 20 US$; both spend
    # the whole budget, 40,600 US$
    s = _budgeted(
        products={
            "shell": {
                "name": "Shell",
                "kind": "munition",
                "source": "fx",
                "unit_price_usd": {"dist": "choice", "values": [10, 20]},
            }
        },
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 5000.0,
                "by": "2025-12",
                "source": "fx",
            }
        },
        procurement={
            "p": {
                "product": "shell",
                "buyers": {"AAA": 1.0},
                "review": "yearly",
                "adjustment_months": 1.0,
                "contracting_delay_months": 0,
                "source": "fx",
            }
        },
    )
    table = sample_quantities(
        s, {"2024": _stock("2024-12"), "2025": _stock("2025-12")}, n=16, seed=1
    )
    price = table["products.shell.unit_price_usd"]
    assert set(price) == {10.0, 20.0}
    cheap = price == 10.0
    np.testing.assert_allclose(table["2024"], np.where(cheap, 2000.0, 1000.0), rtol=1e-9)
    np.testing.assert_allclose(table["2025"], np.where(cheap, 4060.0, 2030.0), rtol=1e-9)
    mc = materiel.sample(s, 16, seed=1)
    np.testing.assert_allclose(mc.cost_usd, 40600.0, rtol=1e-9)


def test_written_contract_deferred_where_its_samples_budget_is_short() -> None:
    # 1,020 shells due over 2024 cost 10,200 US$ at 10 US$ (fits 20,000) or 20,400 at 20 US$:
    # that fits with munitions share 0.2 (40,000), else moves to 2025, where it fits with 3 %
    # growth (20,600) and never with -5 % (19,000): left unsigned
    s = _budgeted(
        contracts={
            "c": contract(
                quantity=1020.0,
                delivery_months=12,
                unit_price_usd={"dist": "choice", "values": [10, 20]},
            )
        },
        uncertain={
            "policy.munitions_share": {"dist": "choice", "values": [0.1, 0.2]},
            "policy.gdp_growth_pct_per_year": {"dist": "choice", "values": [3, -5]},
        },
    )
    table = sample_quantities(
        s, {"2024": _stock("2024-12"), "2025": _stock("2025-12")}, n=64, seed=2
    )
    price = table["contracts.c.unit_price_usd"].to_numpy()
    share = table["policy.munitions_share"].to_numpy()
    growth = table["policy.gdp_growth_pct_per_year"].to_numpy()
    fits_2024 = (price == 10.0) | (share == 0.2)
    fits_2025 = ~fits_2024 & (growth == 3.0)
    assert fits_2024.any() and fits_2025.any() and (~fits_2024 & ~fits_2025).any()
    np.testing.assert_allclose(table["2024"], np.where(fits_2024, 1020.0, 0.0), atol=1e-9)
    np.testing.assert_allclose(
        table["2025"], np.where(fits_2024 | fits_2025, 1020.0, 0.0), atol=1e-9
    )


@pytest.mark.parametrize("spec", ["hand", "hague"])
def test_vectorised_money_samples_equal_one_at_a_time_runs(spec: str) -> None:
    """Each sample's prices and budgets equal a deterministic run with that sample's values."""
    if spec == "hand":
        s: dict[str, Any] = _budgeted(
            contracts={"c": contract(quantity=1020.0, delivery_months=12)},
            targets={
                "t": {
                    "parties": ["AAA"],
                    "product": "shell",
                    "quantity": 5000.0,
                    "by": "2025-12",
                    "source": "fx",
                }
            },
            procurement={
                "p": {
                    "product": "shell",
                    "buyers": {"AAA": 1.0},
                    "review": "yearly",
                    "adjustment_months": 1.0,
                    "contracting_delay_months": 0,
                    "source": "fx",
                }
            },
            uncertain={
                "products.shell.unit_price_usd": {"dist": "uniform", "low": 5, "high": 25},
                "policy.munitions_share": {"dist": "uniform", "low": 0.05, "high": 0.2},
                "policy.gdp_growth_pct_per_year": {"dist": "uniform", "low": -10, "high": 10},
            },
        )
        n = 8
    else:
        s, n = MONEY, 3
    check_samples_equal_single_runs(materiel.sample(s, n, seed=4), n, payments=True)


def test_money_draws_spread_hague_pledge_and_rank_in_sensitivity() -> None:
    from materiel.analysis.sensitivity import sensitivity_table

    mc = materiel.sample(MONEY, 40, seed=9, trajectories=False)
    europe = mc.stock_at_date(next(t for t in mc.scenario.targets if "155" in t))
    assert np.ptp(europe) > 0  # budgets bind: drawn money moves what is bought
    assert np.ptp(mc.cost_usd) > 0
    table = sensitivity_table(mc)
    listed = set(table[table.significant].input)  # past the Bonferroni cut
    assert "policy.munitions_share" in listed, table


@pytest.mark.parametrize(
    ("path", "spec", "expected"),
    [
        (
            "policy.munitions_share",
            {"dist": "uniform", "low": 0.5, "high": 1.5},
            "can draw 1.5, above the field's maximum 1",
        ),
        (
            "policy.gdp_growth_pct_per_year",
            {"dist": "normal", "mean": 3, "sd": 2},
            "can draw inf, above the field's maximum 50",
        ),
        (
            "prices.shell-155mm-2024.usd",
            {"dist": "normal", "mean": 4000, "sd": 1000},
            "below the field's minimum 0",
        ),
    ],
)
def test_money_distributions_outside_the_fields_bounds_are_rejected(
    path: str, spec: dict[str, Any], expected: str
) -> None:
    with pytest.raises(materiel.ScenarioError) as info:
        materiel.load({"extends": "hague-pledge", "uncertain": {path: spec}}, name="bad.toml")
    found = {p.path: p.message for p in info.value.problems}
    assert expected in found[f"uncertain.{path}"], found


def test_monte_carlo_dataset_keeps_party_and_product_and_units_per_variable() -> None:
    s = tiny(
        stocks={
            "AAA": {
                "shell": {"quantity": {"dist": "uniform", "low": 0, "high": 100}, "source": "fx"}
            }
        },
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 50.0,
                "by": "2024-06",
                "source": "fx",
            }
        },
    )
    s["products"]["shell"]["unit"] = "round"
    ds = materiel.sample(s, 4, seed=0).dataset
    one = materiel.simulate(s).dataset
    assert ds.stock.dims == ("sample", "month", "party", "product")
    assert ds.stock.attrs["units"] == "rounds"
    assert ds.capacity_per_month.attrs["units"] == "rounds/month"
    for name, da in ds.data_vars.items():
        expected = one[name].attrs["units"] if name in one else "US$"
        assert da.attrs["units"] == expected, name
