"""A lazily labelled result: its plain arrays are its Dataset's, and the Dataset is built once.

:func:`materiel.analysis.simulate.build_result` gives the tables and the web
summary the run's variables as plain numpy arrays (:class:`metrics.Arrays`)
and builds the xarray Dataset only when asked for; both must hold the same
variables with the same dims, dtypes and values.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from materiel.analysis.simulate import build_dataset, build_result, simulate
from materiel.engine import check_invariants, compile_inputs, run_engine
from materiel.scenario.loading import embedded_ids
from materiel.web.catalogue import embedded_scenario
from materiel.web.knobs import Knobs, apply_knobs

CASES = [(sid, {}) for sid in sorted(embedded_ids())] + [
    ("action-plan", {"budget": "defer", "spending_target_pct_gdp": 3.0}),
    ("status-quo", {"budget": "flag", "consumption_scale": 2.0}),
]


def _run(sid: str, knobs: dict[str, Any]) -> tuple[Any, Any, Any]:
    s = apply_knobs(embedded_scenario(sid), Knobs.model_validate(knobs))
    inp = compile_inputs(s)
    raw = run_engine(inp, samples=1)
    check_invariants(inp, raw)
    return inp, raw, s


@pytest.mark.parametrize(("sid", "knobs"), CASES)
def test_arrays_are_the_datasets(sid: str, knobs: dict[str, Any]) -> None:
    inp, raw, s = _run(sid, knobs)
    ds = build_dataset(inp, raw, s)
    arrays = build_result(inp, raw, s).arrays
    assert set(arrays.variables) == {str(name) for name in ds.variables}
    for name, var in ds.variables.items():
        mine = arrays.variables[str(name)]
        assert mine.dims == var.dims, name
        assert mine.values.dtype == var.values.dtype, name
        assert mine.values.shape == var.values.shape, name
        kind = var.values.dtype.kind
        assert np.array_equal(mine.values, var.values, equal_nan=kind in "fc"), name
    assert dict(arrays.sizes) == dict(ds.sizes)
    assert ("budget_usd" in arrays) == ("budget_usd" in ds)


def test_dataset_is_built_once_and_identical() -> None:
    inp, raw, s = _run("action-plan", {"consumption_scale": 1.3})
    calls = []
    result = build_result(inp, raw, s)
    build = result._build
    assert build is not None

    def counted() -> Any:
        calls.append(1)
        return build()

    result._build = counted
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(result.dataset)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(d is seen[0] for d in seen)
    assert result.dataset.identical(build_dataset(inp, raw, s))
    assert simulate(s).dataset.identical(result.dataset)
