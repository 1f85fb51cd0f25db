"""The live cells (:func:`materiel.engine.cells.live_cells`): a full run's cell outputs are
zero, bit for bit, everywhere else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from builders import contract, tiny
from hypothesis import HealthCheck, given, settings

import materiel
from materiel.engine import compile_inputs, run_engine
from materiel.engine.cells import live_cells
from materiel.engine.inputs import Inputs
from materiel.engine.variables import CELL_DIMS, OUTPUTS
from materiel.scenario.loading import embedded_ids, load
from materiel.testing import scenarios

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
        ["stock", "usable_stock", "unusable_stock", "receipts", "aid_sent", "aid_received",
         "consumed", "shortfall"]
    )  # fmt: skip


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
