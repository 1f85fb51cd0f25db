"""Per-sample inputs equal one-at-a-time compiled inputs when the extra contracting delay is drawn.

``policy.extra_contracting_delay_months`` slows contracting from the start on: a contract
signed before the start keeps its date, aid pledged from production and procurement
policies' decisions always take it (:func:`materiel.engine.inputs.extra_delay`). A Monte Carlo
sample whose draw is X must get exactly the kernel inputs of the scenario with X set.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from builders import check_samples_equal_single_runs, contract, tiny

import materiel
from materiel.analysis.montecarlo import with_values
from materiel.engine.batch import sample_overrides
from materiel.engine.core import kernel_args
from materiel.engine.inputs import compile_inputs
from materiel.engine.variables import INPUTS
from materiel.scenario.loading import embedded_ids, load
from materiel.scenario.schema import Scenario

PATH = "policy.extra_contracting_delay_months"
VALUES = [0.0, 3.0, 7.0]

# a backlog contract signed before the start (partly delivered by then), a later one on the
# same line, and aid from production pledged before the start (it always takes the extra
# delay, so with 7 months it signs after the backlog contract: the assignment order changes)
BACKLOG = tiny(
    months=24,
    contracts={
        "old": contract(decision="2023-06", delivery_months=12, quantity=1200.0),
        "new": contract(decision="2024-02", quantity=300.0),
    },
    aid={
        "prod": {
            "donor": "AAA",
            "recipient": "REC",
            "product": "shell",
            "quantity": 600.0,
            "start": "2023-11",
            "end": "2024-04",
            "supply": "production",
            "source": "fx",
        },
    },
)


# aid from production pledged before a backlog contract was signed, on the same line and at
# the same priority: any extra delay moves the aid (always) past the contract (kept), so the
# line serves them in the other order
REORDERED = copy.deepcopy(BACKLOG)
REORDERED["contracts"]["old"] |= {"decision": "2023-10", "priority": 3}
REORDERED["aid"]["prod"] |= {"start": "2023-08"}


def _backlog_scenarios() -> list[str]:
    """Embedded scenarios with a contract signed before their start."""
    return [sid for sid in embedded_ids() if (compile_inputs(load(sid)).contract_sign < 0).any()]


def _check_inputs_equal(s: Scenario, values: list[float] = VALUES) -> None:
    inp = compile_inputs(s)
    base = kernel_args(inp)
    draws = {PATH: np.array(values)}
    over = sample_overrides(s, inp, draws, base)
    for i, x in enumerate(values):
        one = kernel_args(compile_inputs(load(with_values(s, {PATH: x}))))
        for name, single in one.items():  # per-sample inputs have a sample axis of length 1
            per = INPUTS[name].per_sample
            got = over.get(name, base[name])
            got, want = (got[i if name in over else 0], single[0]) if per else (got, single)
            np.testing.assert_array_equal(got, want, err_msg=f"{name}, extra delay {x}")


def test_tiny_backlog_sample_inputs_equal_single_runs() -> None:
    _check_inputs_equal(load(BACKLOG))


@pytest.mark.parametrize("sid", _backlog_scenarios())
def test_embedded_sample_inputs_equal_single_runs(sid: str) -> None:
    _check_inputs_equal(load(sid))


def test_tiny_backlog_samples_equal_single_runs() -> None:
    """Engine outputs too: each sample equals ``simulate`` with its drawn value."""
    mc = materiel.sample(
        BACKLOG | {"uncertain": {PATH: {"dist": "choice", "values": VALUES}}}, 12, seed=5
    )
    assert set(mc.inputs[PATH].values.tolist()) == set(VALUES)
    check_samples_equal_single_runs(mc, 12, payments=True)


def test_a_reordering_draw_keeps_the_nominal_order_whatever_the_chunk() -> None:
    """The assignments have no sample axis: every sample keeps the nominal order (documented
    approximation, engine/batch.py), so a sample does not depend on the chunk size."""
    s = load(REORDERED)
    nominal = compile_inputs(s)
    moved = compile_inputs(load(with_values(s, {PATH: 3})))
    assert not np.array_equal(nominal.assign_contract, moved.assign_contract)
    for values in ([3.0, 7.0], [0.0, 3.0]):
        assert "assign_contract" not in sample_overrides(s, nominal, {PATH: np.array(values)})
    body = REORDERED | {"uncertain": {PATH: {"dist": "choice", "values": VALUES}}}
    one, many = materiel.sample(body, 6, seed=5, chunk=1), materiel.sample(body, 6, seed=5)
    assert len(set(one.inputs[PATH].values.tolist())) > 1
    np.testing.assert_array_equal(one.dataset["stock"].values, many.dataset["stock"].values)
