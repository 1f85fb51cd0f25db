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
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from materiel.analysis import metrics
from materiel.analysis.result import group_sums
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


@pytest.mark.parametrize(("sid", "knobs"), CASES)
def test_interoperability_rows_from_the_inputs_are_the_compiled_ones(
    sid: str, knobs: dict[str, Any]
) -> None:
    """The Arrays carry the run's ``qualified_from``; the rows read from it are those the
    Dataset gives, where the fleets are compiled from the scenario again."""
    inp, raw, s = _run(sid, knobs)
    arrays = build_result(inp, raw, s).arrays
    assert arrays.qualified_from is inp.qualified_from
    from_inputs = metrics.interoperability_rows(arrays, s)
    assert from_inputs == metrics.interoperability_rows(build_dataset(inp, raw, s), s)
    if s.fleets:
        assert from_inputs


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


def test_group_sums_hand_checked() -> None:
    # Kahan: 1e16 + 1 + 1 keeps both ones (1e16 + 2), where a plain left-to-right sum
    # loses them; NaN is skipped; a group with only NaN sums to 0.
    values = np.array([[1e16, np.nan], [1.0, 3.0], [1.0, np.nan], [5.0, np.nan]])
    got = group_sums(values, [0, 0, 0, 1], 2)
    assert got.tolist() == [[1e16 + 2, 3.0], [5.0, 0.0]]
    assert (1e16 + 1.0) + 1.0 == 1e16  # what the compensation recovers


_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([0.0, 0.1, 1e16, -1e16, 1.0, 3.0]),
)


@given(
    rows=st.lists(st.tuples(st.integers(0, 4), _FLOATS, _FLOATS, _FLOATS), max_size=60),
    in_runs=st.booleans(),
)
@settings(max_examples=400, deadline=None)
def test_group_sums_are_pandas_groupby_sums(
    rows: list[tuple[int, float, float, float]], in_runs: bool
) -> None:
    """The same floats, bit for bit (NaN where pandas gives NaN), as the groupby it replaced
    in :meth:`Result.rows` ``decisions``: codes in runs (pandas' reduceat) or not (Kahan)."""
    if in_runs:
        rows = sorted(rows, key=lambda r: r[0])
    seen: dict[int, int] = {}
    codes = [seen.setdefault(r[0], len(seen)) for r in rows]
    values = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 3)
    got = group_sums(values, codes, len(seen))
    if not rows:
        assert got.shape == (0, 3)
        return
    with np.errstate(over="ignore"):  # pandas' reduceat too: a sum past the largest float
        want = pd.DataFrame(values).groupby(np.array(codes), sort=False).sum().to_numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)  # NaN equal to NaN, every other float exact


def test_contract_months_are_labelled_as_month_label() -> None:
    """The decision and signature months, labelled from a table of months (or one by one
    for a far-off month), read as :func:`materiel.months.month_label` writes them."""
    from materiel.months import month_label, parse_month

    inp, raw, s = _run("action-plan", {})
    raw = dict(raw)
    signed = raw["contract_signed"].copy()
    signed[0, 0], signed[0, -1] = -241, 10**6  # before the table's decades, far past them
    for months in (raw["contract_decided"], signed):
        raw["contract_signed"] = months
        got = build_result(inp, raw, s).arrays.variables["contract_signed"].values
        keep = raw["contract_quantity"][0] > 0.0
        keep |= np.asarray(inp.contract_policy) < 0
        want = [month_label(parse_month(inp.start) + int(m)) for m in months[0][keep]]
        assert got[0].tolist() == want
