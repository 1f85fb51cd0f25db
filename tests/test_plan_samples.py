"""Planning under uncertainty: the two-stage (sample-average) plan, worked by hand.

The tiny scenario of :mod:`builders`: one line ``l1`` making ``shell``, US$10 a
shell, capex US$50 per unit of monthly capacity, lead time 2 months, ramp 1
month, 12 months from 2024-01; a target for AAA by 2024-12.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import tiny

import materiel
from materiel.plan import plan
from materiel.plan.data import plan_data
from materiel.plan.model import STEADY, build_model
from materiel.plan.samples import build_sample_average, first_stage, sample_data
from materiel.plan.solve import _solve


def case(capacity: float, quantity: float) -> dict[str, Any]:
    s = tiny(
        targets={
            "t1": {
                "parties": ["AAA"],
                "product": "shell",
                "by": "2024-12",
                "quantity": quantity,
                "source": "fx",
            }
        }
    )
    s["lines"]["l1"].update(capacity_per_month=capacity, max_capacity_per_month=400.0)
    return s


def cost_and_capacity(datas: list[Any]) -> tuple[float, float]:
    """The plan's cost (US$10 a shell, US$50 per unit of monthly capacity) and capacity added."""
    pm = build_sample_average(datas, "cost", None) if len(datas) > 1 else build_model(datas[0])
    _solve(pm, None)
    x = first_stage(pm)
    added = float(x["Line-capacity_decided"][0])
    cost = 10.0 * float(x["Line-delivery"].sum()) + 50.0 * added
    # the objective (thousand US$) is that cost plus tie-breaks: at most STEADY * 2 per
    # unit made (month and line) and STEADY per unit received, US$0.03 a shell
    units = float(x["Line-delivery"].sum())
    objective = float(pm.model.objective.value)
    assert cost / 1e3 - 1e-9 <= objective <= (cost + 3 * STEADY * 1e3 * units) / 1e3
    return cost, added


def test_two_samples_have_the_hand_computed_optimum() -> None:
    # sample A: 80/month, target 1,000; sample B: 100/month, target 1,500.
    # Alone, A buys 1,000 (960 from the line, +4/month over the 10 months from 2024-03):
    # 10,000 + 4 x 50 = 10,200; B buys 1,500 (+30/month): 15,000 + 1,500 = 16,500.
    # Together the contracts are shared: 1,500 must be delivered within A's 80/month,
    # so +54/month: 15,000 + 54 x 50 = 17,700 in each sample, and the mean is 17,700.
    a, b = (
        plan_data(materiel.load(case(80.0, 1000.0))),
        plan_data(materiel.load(case(100.0, 1500.0))),
    )
    cost_a, added_a = cost_and_capacity([a])
    cost_b, added_b = cost_and_capacity([b])
    cost, added = cost_and_capacity([a, b])
    assert (cost_a, added_a) == (pytest.approx(10_200.0), pytest.approx(4.0, rel=1e-6))
    assert (cost_b, added_b) == (pytest.approx(16_500.0), pytest.approx(30.0, rel=1e-6))
    assert (cost, added) == (pytest.approx(17_700.0), pytest.approx(54.0, rel=1e-6))


def uncertain_case() -> dict[str, Any]:
    s = case(90.0, 1500.0)
    s["uncertain"] = {
        "lines.l1.capacity_per_month": {"dist": "uniform", "low": 80.0, "high": 100.0}
    }
    return s


def test_sample_average_plan_meets_targets_more_often() -> None:
    p = plan(uncertain_case(), samples=4, seed=3, fresh=200)
    det = plan(uncertain_case())
    assert p.samples is not None and p.samples.samples == 4 and p.samples.uncertain == 1
    mine, theirs = p.samples.p_met["t1"]
    # nominal 90/month: the deterministic plan adds 42/month and fails where the line is slower
    assert det.investments[0].capacity_added_per_month == pytest.approx(42.0)
    assert 0.2 < theirs < 0.8
    # the sample-average plan fits the slowest of its samples: it adds more and meets more often
    assert p.investments[0].capacity_added_per_month > 42.0
    assert mine > theirs
    assert p.samples.cost_usd == (pytest.approx(p.cost_usd), pytest.approx(det.cost_usd))
    assert p.size["sample_average_variables"] > p.size["variables"]


def test_samples_bad_input() -> None:
    with pytest.raises(materiel.ScenarioError, match="samples"):
        plan(uncertain_case(), samples=-1)
    with pytest.raises(materiel.ScenarioError, match="alternatives"):
        plan(uncertain_case(), samples=2, alternatives=1)
    assert np.isfinite(plan(uncertain_case(), samples=1, fresh=10).cost_usd)


def test_cli_samples(tmp_path: Any) -> None:
    import tomli_w
    from typer.testing import CliRunner

    from materiel.cli import app

    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(uncertain_case()), encoding="utf-8")
    res = CliRunner().invoke(app, ["plan", str(path), "--samples", "2", "--fresh", "20"])
    assert res.exit_code in (0, 1), res.output
    assert "Under uncertainty: sample-average plan over 2 samples (seed 0)" in res.stdout
    assert "t1: " in res.stdout.split("Under uncertainty")[1]
    bad = CliRunner().invoke(app, ["plan", str(path), "--samples", "-2"])
    assert bad.exit_code == 2


def test_samples_without_distributions_are_the_nominal_scenario() -> None:
    # action-plan drops a dataset contract: a drawn scenario must not bring it back
    s = materiel.load("action-plan")
    datas, weights, nominal = sample_data(s, 3, 0, 1.0)
    d = plan_data(s)
    assert (len(datas), weights, nominal) == (1, [1.0], True)
    assert [d.inp.contracts[c] for c in d.backlog] == [
        datas[0].inp.contracts[c] for c in datas[0].backlog
    ]
    assert len(datas[0].inp.contracts) == len(d.inp.contracts)
