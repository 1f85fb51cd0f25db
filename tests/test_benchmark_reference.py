"""The engine benchmark's helpers: the PySD reference model and the scenario scaler."""

from __future__ import annotations

import warnings
from typing import Any

import bench_engine
import numpy as np
import pytest
from builders import contract, tiny
from synthetic import replica_id, scale_scenario

import materiel


def _pysd() -> Any:
    with warnings.catch_warnings():  # pysd's dependencies warn on import
        warnings.simplefilter("ignore")
        return pytest.importorskip("pysd")


def test_pysd_model_matches_materiel_month_by_month() -> None:
    _pysd()
    ref = bench_engine.compare_with_pysd()
    assert ref["matches"], ref["max_abs_diff"]
    assert set(ref["max_abs_diff"]) >= {"production", "capacity_per_month", "stock"}
    # the reference exercises every mechanism: expansion, both bindings, a shortfall
    run = materiel.simulate(bench_engine.reference_scenario(ref["parameters"]))
    ds = run.dataset.isel(sample=0)
    assert float(ds.capacity_added_per_month.sum()) > 0
    assert {"capacity", "orders"} <= set(ds.binding.sel(line="l1").values.tolist())
    assert float(ds.shortfall.sum()) > 0


def test_pysd_alignment_is_not_vacuous() -> None:
    """Comparing PySD's stocks without the one-step shift would fail."""
    _pysd()
    pysd_run = bench_engine.run_pysd()
    months = int(pysd_run.parameters["FINAL TIME"])
    ours = bench_engine.materiel_trajectories(
        materiel.simulate(bench_engine.reference_scenario(pysd_run.parameters))
    )
    unshifted = pysd_run.trajectories["Buyer Stock"][:months]
    assert np.max(np.abs(ours["stock"] - unshifted)) > 1.0
    shifted = bench_engine.aligned(pysd_run, months)["stock"]
    np.testing.assert_allclose(ours["stock"], shifted, atol=1e-6)


def _rich_tiny() -> dict[str, Any]:
    """Tiny, plus a component pool, stocks, consumption, aid, an investment and a target."""
    s = tiny(
        contracts={
            "c1": contract(quantity=2400.0, delivery_months=12),
            "c2": contract(buyers={"AAA": 0.5, "BBB": 0.5}, line="l1", quantity=600.0),
        },
        stocks={
            "AAA": {"shell": {"quantity": 500.0, "floor": 100.0, "source": "fx"}},
            "REC": {"shell": {"quantity": 50.0, "source": "fx"}},
        },
        consumption={
            "war": {"party": "REC", "product": "shell", "rate_per_month": 80.0, "source": "fx"}
        },
        aid={
            "g1": {
                "donor": "AAA",
                "recipient": "REC",
                "product": "shell",
                "quantity": 300.0,
                "start": "2024-02",
                "end": "2024-04",
                "source": "fx",
            },
            "g2": {
                "donor": "BBB",
                "recipient": "REC",
                "product": "shell",
                "quantity": 120.0,
                "start": "2024-03",
                "end": "2024-06",
                "supply": "production",
                "source": "fx",
            },
        },
        investments={
            "i1": {
                "line": "l1",
                "decision": "2024-02",
                "capacity_added_per_month": 50.0,
                "source": "fx",
            }
        },
        targets={
            "t1": {
                "parties": ["AAA", "BBB"],
                "product": "shell",
                "quantity": 500.0,
                "by": "2024-10",
                "source": "fx",
            }
        },
        inventories={"alliance": {"fuze": {"quantity": 40.0, "source": "fx"}}},
    )
    s["products"]["shell"]["bom"] = {"fuze": 1.0}
    s["products"]["fuze"] = {"name": "Fuze", "kind": "component", "source": "fx"}
    s["lines"]["l1"]["max_capacity_per_month"] = 300.0
    s["lines"]["f1"] = dict(
        s["lines"]["l1"],
        name="Fuze line",
        product="fuze",
        capacity_per_month=90.0,
        max_capacity_per_month=90.0,
    )
    return s


@pytest.mark.parametrize("share_pools", [False, True], ids=["own-pools", "shared-pools"])
def test_scale_scenario_replicates_and_still_simulates(share_pools: bool) -> None:
    base = materiel.load(_rich_tiny())
    scaled = scale_scenario(base, 3, base.months, share_pools=share_pools)
    assert len(scaled.lines) == 3 * len(base.lines)
    assert sorted(scaled.allies) == sorted(replica_id(p, k) for p in base.allies for k in (1, 2, 3))
    assert [p for p, x in scaled.parties.items() if x.kind != "ally"] == ["REC"]
    for section in ("contracts", "consumption", "aid", "investments", "targets"):
        assert len(getattr(scaled, section)) == 3 * len(getattr(base, section)), section
    assert scaled.products == base.products
    assert scaled.stocks["REC"]["shell"].quantity == 3 * base.stocks["REC"]["shell"].quantity
    assert scaled.lines["l1_x2"].country == "AAA_x2"
    assert scaled.contracts["c2_x3"].buyers == {"AAA_x3": 0.5, "BBB_x3": 0.5}
    assert scaled.aid["g1_x2"].recipient == "REC"

    original = materiel.simulate(base).dataset.isel(sample=0)
    copy = materiel.simulate(scaled).dataset.isel(sample=0)  # invariants checked
    # every copy is an independent replica: each copy of a line makes what the original makes
    for line in base.lines:
        for k in (1, 2, 3):
            np.testing.assert_allclose(
                copy.production.sel(line=replica_id(line, k)).values,
                original.production.sel(line=line).values,
                atol=1e-9,
            )
    np.testing.assert_allclose(
        copy.stock.sel(party="REC").values, 3 * original.stock.sel(party="REC").values, atol=1e-9
    )


def test_scale_scenario_horizon_longer_and_shorter() -> None:
    base = materiel.load(_rich_tiny())
    longer = scale_scenario(base, 2, 240)
    assert longer.months == 240
    assert materiel.simulate(longer).dataset.sizes["month"] == 240
    late = tiny(
        contracts={"c1": contract(), "late": contract(decision="2024-10")},
        targets={
            "t": {
                "parties": ["AAA"],
                "product": "shell",
                "quantity": 1.0,
                "by": "2024-12",
                "source": "fx",
            }
        },
    )
    shorter = scale_scenario(materiel.load(late), 2, 6)
    assert sorted(shorter.contracts) == ["c1", "c1_x2"]
    assert not shorter.targets
    materiel.simulate(shorter)


def test_scale_scenario_rejects_clashing_ids() -> None:
    s = tiny()
    s["lines"]["l1_x2"] = dict(s["lines"]["l1"])
    with pytest.raises(ValueError, match="clashes"):
        scale_scenario(materiel.load(s), 2, 12)
    with pytest.raises(ValueError, match="factor"):
        scale_scenario(materiel.load(tiny()), 0, 12)


def test_stand_in_scenario_loads_and_runs() -> None:
    result = materiel.simulate(bench_engine.stand_in_scenario())
    assert result.dataset.sizes["line"] == 11
    assert float(result.dataset.production.sum()) > 0
