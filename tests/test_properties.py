"""Property tests: random valid scenarios round-trip through TOML and never break invariants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from hypothesis import HealthCheck, given, settings

import materiel
from materiel.testing import scenarios

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FAST
@given(data=scenarios())
def test_toml_round_trip_is_lossless(data: dict[str, Any], tmp_path: Path) -> None:
    scenario = materiel.load(data, name="generated")
    text = tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
    path = tmp_path / "generated.toml"
    path.write_text(text)
    assert materiel.load(path) == scenario


@FAST
@given(data=scenarios())
def test_random_scenarios_hold_invariants(data: dict[str, Any]) -> None:
    result = materiel.simulate(data)  # raises InvariantError if a balance breaks
    ds = result.dataset
    assert float(ds.stock.min()) >= -1e-9
    assert float(ds.inventory.min()) >= -1e-9
    assert float(ds.production.min()) >= 0.0
    assert bool((ds.production <= ds.capacity_per_month + 1e-9).all())
    assert bool((ds.shortfall >= -1e-9).all())
    delivered = ds.contract_deliveries.sum(["sample", "month"])
    assert bool((delivered <= ds.contract_quantity * (1 + 1e-9) + 1e-9).all())
    again = materiel.simulate(data).dataset
    for name in ds.data_vars:
        np.testing.assert_array_equal(ds[name].values, again[name].values)
