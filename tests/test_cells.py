"""The live cells (:func:`materiel.engine.cells.live_cells`): a full run's cell outputs are
zero, bit for bit, everywhere else."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import xarray as xr
from builders import contract, tiny
from hypothesis import HealthCheck, given, settings

import materiel
from materiel._errors import InvariantError
from materiel.analysis import metrics
from materiel.analysis.result import Result
from materiel.analysis.simulate import build_dataset, simulate
from materiel.engine import check_invariants, compile_inputs, run_engine
from materiel.engine.cells import live_cells
from materiel.engine.inputs import Inputs
from materiel.engine.invariants import _holds_at_once
from materiel.engine.variables import CELL_DIMS, OUTPUTS
from materiel.scenario.loading import embedded_ids, load
from materiel.testing import scenarios
from materiel.web.catalogue import embedded_scenario
from materiel.web.knobs import Knobs, apply_knobs
from materiel.web.routes.simulate import summary
from materiel.web.schemas import clean

CELL_OUTPUTS = [name for name, v in OUTPUTS.items() if v.dims[-2:] == CELL_DIMS]


def _zero_outside(inp: Inputs) -> np.ndarray:
    """Check a full run of ``inp``; answer its live cells."""
    live = live_cells(inp)
    assert live.shape == (len(inp.parties), len(inp.products))
    raw = run_engine(inp, samples=1)
    for name in CELL_OUTPUTS:
        outside = raw[name][..., ~live]
        assert not outside.any(), name  # -0.0 too: its bits are not +0.0's
        assert not np.signbit(outside).any(), name
    return live


def test_names_the_eight_cell_outputs() -> None:
    assert sorted(CELL_OUTPUTS) == sorted(
        [
            "stock",
            "usable_stock",
            "unusable_stock",
            "receipts",
            "aid_sent",
            "aid_received",
            "consumed",
            "shortfall",
        ]
    )


@pytest.mark.parametrize("sid", sorted(embedded_ids()))
def test_embedded_scenarios_are_zero_outside_the_live_cells(sid: str) -> None:
    live = _zero_outside(compile_inputs(load(sid)))
    assert live.sum() < live.size / 4  # the point: most cells are dead


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(max_policies=2))
def test_random_scenarios_are_zero_outside_the_live_cells(data: dict[str, Any]) -> None:
    _zero_outside(compile_inputs(materiel.load(data, name="generated")))


def test_hand_checked_cells() -> None:
    """One contract bought (and received) by AAA: its cell alone; BBB and REC hold nothing."""
    inp = compile_inputs(materiel.load(tiny(contracts={"c1": contract()}), name="tiny"))
    assert inp.parties == ["AAA", "BBB", "REC"]
    assert live_cells(inp).tolist() == [[True], [False], [False]]
    assert not live_cells(compile_inputs(materiel.load(tiny(), name="tiny"))).any()


def test_read_only_and_kept_per_inputs() -> None:
    inp = compile_inputs(load("status-quo"))
    live = live_cells(inp)
    assert not live.flags.writeable
    assert live_cells(inp) is live


@pytest.fixture(scope="module")
def by_cell() -> tuple[Inputs, dict[str, np.ndarray], np.ndarray]:
    inp = compile_inputs(load("action-plan"))
    live = live_cells(inp)
    return inp, run_engine(inp, samples=1, cells=live), live


def test_invariants_hold_on_the_live_cells(by_cell: tuple) -> None:
    inp, raw, live = by_cell
    assert raw["stock"].shape == (1, inp.n_months, int(live.sum()))
    check_invariants(inp, raw, cells=live)
    munition = np.array([inp.product_kind[k] == "munition" for k in inp.line_product], bool)
    start = inp.stock_start[live][:, None]
    cells = {k: v.reshape(*v.shape, 1) if k in CELL_OUTPUTS else v for k, v in raw.items()}
    assert _holds_at_once(inp, cells, munition, start)  # the compiled pass, not the numpy laws


@pytest.mark.parametrize("name", [n for n in CELL_OUTPUTS if n != "shortfall"])  # (in no law)
def test_a_broken_law_on_a_live_cell_names_its_party_and_product(by_cell: tuple, name: str) -> None:
    """One recorded cell changed: the compiled pass and the numpy laws both find it, and the
    message names the cell's party and product (not its position among the recorded)."""
    inp, raw, live = by_cell
    values = raw[name]
    m = int(np.argwhere((values[0] != 0).any(axis=0))[-1][0]) if values.any() else 0
    t = inp.n_months - 1
    changed = dict(raw)
    changed[name] = values.copy()
    changed[name][0, t, m] += 5.0 if name != "stock" else -1e9
    p, k = np.argwhere(live)[m]
    where = f"month .*party {inp.parties[p]}, product {inp.products[k]}"
    with pytest.raises(InvariantError, match=where):
        check_invariants(inp, changed, cells=live)


CASES = [(sid, {}) for sid in sorted(embedded_ids())] + [
    ("action-plan", {"budget": "defer", "spending_target_pct_gdp": 3.0}),
    ("status-quo", {"budget": "flag", "consumption_scale": 2.0}),
]


@pytest.mark.parametrize(("sid", "knobs"), CASES)
def test_a_result_by_cell_is_the_whole_runs(sid: str, knobs: dict[str, Any]) -> None:
    """``simulate`` records the live cells only; its Dataset and plain arrays are those of
    a run recording every cell: same variables, dims, dtypes, coordinates, values (bits)."""
    s = apply_knobs(embedded_scenario(sid), Knobs.model_validate(knobs))
    inp = compile_inputs(s)
    whole = build_dataset(inp, run_engine(inp, samples=1), s)
    result = simulate(s, inputs=inp)
    assert result.dataset.stock.shape == whole.stock.shape  # (the Dataset built on demand)
    xr.testing.assert_identical(result.dataset, whole)
    for name, var in whole.variables.items():
        mine = result.dataset.variables[name]
        assert mine.dtype == var.dtype, name
        if var.dtype.kind == "f":  # +0.0 where the whole run wrote +0.0: bit for bit
            assert np.array_equal(np.signbit(mine.values), np.signbit(var.values)), name
    fresh = simulate(s, inputs=inp)  # the plain arrays, before any Dataset is built
    for name in CELL_OUTPUTS:
        dataset_name = OUTPUTS[name].dataset
        assert np.array_equal(
            fresh.arrays.variables[dataset_name].values, whole.variables[dataset_name].values
        ), name


@pytest.mark.parametrize(("sid", "knobs"), CASES)
def test_tables_read_by_cell_are_the_whole_runs(sid: str, knobs: dict[str, Any]) -> None:
    """The web summary and the plain-row tables read the cell outputs at their recorded
    columns (:func:`metrics.cells_at`, nothing expanded): the same answer, byte for byte,
    as from a whole run's Dataset."""
    s = apply_knobs(embedded_scenario(sid), Knobs.model_validate(knobs))
    inp = compile_inputs(s)
    whole = Result(build_dataset(inp, run_engine(inp, samples=1), s), s)
    by_cell = simulate(s, inputs=inp)
    assert json.dumps(clean(summary(by_cell))) == json.dumps(clean(summary(whole)))
    for table in ("targets", "fleets", "interoperability"):
        assert json.dumps(by_cell.rows(table)) == json.dumps(whole.rows(table)), table
    arrays = by_cell.arrays
    assert isinstance(arrays, metrics.Arrays)
    for name in CELL_OUTPUTS:  # none was expanded for them
        var = arrays.variables[OUTPUTS[name].dataset]
        assert isinstance(var, metrics.ByCell) and var._values is None, name


def test_cells_at_reads_recorded_and_unrecorded_cells() -> None:
    s = embedded_scenario("action-plan")
    inp = compile_inputs(s)
    full = build_dataset(inp, run_engine(inp, samples=1), s)
    arrays = simulate(s, inputs=inp).arrays
    live = live_cells(inp)
    (p0, k0), (p1, k1) = np.argwhere(live)[5], np.argwhere(~live)[0]  # one of each
    parties, products = [int(p0), int(p1), int(p0)], [int(k0), int(k1), int(k0)]
    got = metrics.cells_at(arrays, "stock", parties, products)
    want = full["stock"].values[0][:, parties, products]
    assert got.shape == (inp.n_months, 3) and np.array_equal(got, want)
    assert got[:, 0].any() and not got[:, 1].any()
    assert np.array_equal(metrics.cells_at(full, "stock", parties, products), want)


def test_cells_at_with_no_cell_recorded() -> None:
    """A target on a cell nothing ever touches, in a run that records no cell: zeros."""
    data = tiny(
        targets={
            "t": {
                "parties": ["BBB"],
                "product": "shell",
                "quantity": 10.0,
                "by": "2024-06",
                "source": "fx",
            }
        },
    )
    r = simulate(materiel.load(data, name="tiny"))
    assert r.arrays.variables["stock"].compact.shape == (1, 12, 0)
    rows = r.rows("targets")
    assert rows[0]["stock_at_by"] == 0.0 and rows[0]["met_by_date"] is False
    got = metrics.cells_at(r.arrays, "usable_stock", [0, 1], [0, 0])
    assert got.shape == (12, 2) and not got.any()


def test_a_read_only_mask_lays_out_once() -> None:
    """``run_engine`` keeps the layout of a read-only mask (live_cells') per mask and sizes:
    two runs share it and record the same values; a writeable mask is laid out each run."""
    from materiel.engine.core import _MASKED

    inp = compile_inputs(load("status-quo"))
    live = live_cells(inp)
    first = run_engine(inp, samples=1, cells=live)
    held = len(_MASKED._held)
    second = run_engine(inp, samples=1, cells=live)
    assert len(_MASKED._held) == held
    for name in CELL_OUTPUTS:
        assert np.array_equal(first[name], second[name]), name
    writeable = live.copy()
    again = run_engine(inp, samples=1, cells=writeable)
    assert len(_MASKED._held) == held and np.array_equal(again["stock"], first["stock"])
