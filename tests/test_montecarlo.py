"""Monte Carlo: reproducible draws, exact agreement with one-at-a-time runs, known probabilities."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from builders import check_samples_equal_single_runs, contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.cli import app
from materiel.scenario.uncertainty import Distribution, draw

UNCERTAIN = {
    "extends": "action-plan",
    "lines": {
        "rheinmetall-unterluess": {
            "expansion_lead_time_months": {"dist": "triangular", "low": 12, "mode": 18, "high": 30}
        }
    },
    "investments": {
        "rheinmetall-unterluess-plant": {
            "lead_time_months": {"dist": "uniform", "low": 10, "high": 30}
        }
    },
    "uncertain": {
        "stocks.USA.shell-155mm.quantity": {"dist": "normal", "mean": 1e6, "sd": 2e5, "min": 0},
        "consumption.usa-155mm-training.rate_per_month": {
            "dist": "uniform",
            "low": 4e3,
            "high": 12e3,
        },
        "contracts.ukr-155-us-2025-2026.contracting_delay_months": {
            "dist": "choice",
            "values": [3, 9, 15],
        },
        "contracts.ukr-155-europe-2025-2026.quantity": {"dist": "uniform", "low": 5e5, "high": 2e6},
        "policy.consumption_scale": {"dist": "lognormal", "median": 1.0, "sigma": 0.2},
    },
}


def test_same_seed_same_result_other_seed_differs() -> None:
    a = materiel.sample(UNCERTAIN, 64, seed=7)
    b = materiel.sample(UNCERTAIN, 64, seed=7)
    c = materiel.sample(UNCERTAIN, 64, seed=8)
    np.testing.assert_array_equal(a.dataset.stock.values, b.dataset.stock.values)
    assert not np.array_equal(a.dataset.stock.values, c.dataset.stock.values)
    # chunking does not change results
    d = materiel.sample(UNCERTAIN, 64, seed=7, chunk=10)
    np.testing.assert_array_equal(a.dataset.stock.values, d.dataset.stock.values)


def test_vectorised_samples_equal_one_at_a_time_runs() -> None:
    """Every sample equals a deterministic run of the scenario with that sample's values."""
    check_samples_equal_single_runs(materiel.sample(UNCERTAIN, 6, seed=3), 6)


@pytest.mark.parametrize(
    ("spec", "mean", "sd"),
    [
        ({"dist": "uniform", "low": 2, "high": 8}, 5.0, 6 / 12**0.5),
        ({"dist": "triangular", "low": 0, "mode": 3, "high": 6}, 3.0, (6**2 * 3 / 72) ** 0.5),
        ({"dist": "normal", "mean": 10, "sd": 2}, 10.0, 2.0),
        ({"dist": "lognormal", "median": 1, "sigma": 0.5}, np.exp(0.125), None),
        ({"dist": "choice", "values": [1, 2], "weights": [1, 3]}, 1.75, None),
    ],
)
def test_sample_moments(spec: dict[str, Any], mean: float, sd: float | None) -> None:
    x = draw({"x": Distribution.model_validate(spec)}, {}, 40_000, seed=1)["x"]
    assert x.mean() == pytest.approx(mean, rel=0.02)
    if sd is not None:
        assert x.std() == pytest.approx(sd, rel=0.03)


def test_truncation_and_correlation() -> None:
    dists = {
        "a": Distribution(dist="normal", mean=0, sd=1, min=0, group="g"),
        "b": Distribution(dist="normal", mean=0, sd=1, group="g"),
    }
    x = draw(dists, {"g": 0.8}, 20_000, seed=2)
    assert x["a"].min() >= 0
    both = draw(
        {k: Distribution(dist="normal", mean=0, sd=1, group="g") for k in "ab"},
        {"g": 0.8},
        20_000,
        seed=2,
    )
    assert np.corrcoef(both["a"], both["b"])[0, 1] == pytest.approx(0.8, abs=0.02)


def test_probability_of_meeting_a_target_known_analytically() -> None:
    """Stock ~ U(0, 1000), no flows, target 600: P(met) = 0.4."""
    s = tiny(
        stocks={
            "AAA": {
                "shell": {"quantity": {"dist": "uniform", "low": 0, "high": 1000}, "source": "fx"}
            }
        },
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 600.0,
                "by": "2024-06",
                "source": "fx",
            }
        },
    )
    mc = materiel.sample(s, 8000, seed=11)
    row = mc.target_probabilities().iloc[0]
    assert row.p_met_by_date == pytest.approx(0.4, abs=0.02)
    assert float(mc.met_by_month().sel(target="t").isel(month=-1)) == pytest.approx(0.4, abs=0.02)


def test_sensitivity_ranks_what_matters_first() -> None:
    s = tiny(
        stocks={
            "AAA": {
                "shell": {"quantity": {"dist": "uniform", "low": 0, "high": 1000}, "source": "fx"}
            }
        },
        consumption={
            "other": {
                "party": "BBB",
                "product": "shell",
                "rate_per_month": {"dist": "uniform", "low": 1, "high": 2},
                "source": "fx",
            }
        },
        contracts={"c1": contract(quantity={"dist": "uniform", "low": 0, "high": 100})},
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 600.0,
                "by": "2024-06",
                "source": "fx",
            }
        },
    )
    ranking = materiel.sample(s, 2000, seed=5).sensitivity(target="t")
    assert ranking.input.tolist()[0] == "stocks.AAA.shell.quantity"
    assert ranking.input.tolist()[-1] == "consumption.other.rate_per_month"
    assert ranking.spearman.iloc[0] > 0.9


def test_nominal_run_uses_the_central_value() -> None:
    s = materiel.load(UNCERTAIN, name="u")
    assert s.lines["rheinmetall-unterluess"].expansion_lead_time_months == 18
    assert s.stocks["USA"]["shell-155mm"].quantity == 1e6
    assert s.contracts["ukr-155-us-2025-2026"].contracting_delay_months == 3


def test_bad_distributions_are_reported_with_their_field() -> None:
    bad = copy.deepcopy(UNCERTAIN)
    bad["uncertain"]["lines.rheinmetall-unterluess.capex_usd_per_unit_month"] = {
        "dist": "uniform",
        "low": 1,
        "high": 2,
    }
    bad["uncertain"]["stocks.USA.javelin.quantity"] = {"dist": "uniform", "low": 5, "high": 2}
    with pytest.raises(materiel.ScenarioError) as info:
        materiel.load(bad, name="bad")
    found = {p.path: p.message for p in info.value.problems}
    unsupported = found["uncertain.lines.rheinmetall-unterluess.capex_usd_per_unit_month"]
    assert "distributions are supported on" in unsupported and "prices.*.usd" in unsupported
    assert "expected low < high" in found["uncertain.stocks.USA.javelin.quantity"]


def test_cli_mc_json() -> None:
    out = CliRunner().invoke(app, ["mc", "status-quo", "--samples", "20", "--seed", "1", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["samples"] == 20 and len(data["targets"]) == 10
    assert all(0 <= t["p_met_by_date"] <= 1 for t in data["targets"])
