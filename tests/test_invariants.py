"""check_invariants names a broken law and its place, and lets rounding pass.

Its first test (``max |err|`` against the smallest bound) must not hide an error
that only the cell-by-cell bound ``TOLERANCE * (1 + |scale|)`` catches, nor
flag one within it.
"""

from __future__ import annotations

import numpy as np
import pytest

from materiel._errors import InvariantError
from materiel.engine import check_invariants, compile_inputs, run_engine
from materiel.engine.invariants import _WHOLE_RUN, TOLERANCE, _holds_at_once, _numpy_laws
from materiel.web.catalogue import embedded_scenario


@pytest.fixture(scope="module")
def run() -> tuple[object, dict[str, np.ndarray]]:
    inp = compile_inputs(embedded_scenario("action-plan"))
    return inp, run_engine(inp, samples=1)


def _with(raw: dict[str, np.ndarray], name: str, at: tuple[int, ...], add: float) -> dict:
    changed = dict(raw)
    changed[name] = raw[name].copy()
    changed[name][at] += add
    return changed


def test_a_whole_run_passes(run: tuple) -> None:
    check_invariants(*run)


def test_a_broken_stock_balance_is_named(run: tuple) -> None:
    inp, raw = run
    stock = raw["stock"]
    at = tuple(int(i) for i in np.argwhere(stock[0, 1:] > 10.0)[0])
    at = (0, at[0] + 1, *at[1:])
    with pytest.raises(InvariantError, match=r"stock balance at month .*party .*product"):
        check_invariants(inp, _with(raw, "stock", at, 1e-3 * (1.0 + stock[at])))


def test_within_the_scaled_bound_passes_beyond_it_fails(run: tuple) -> None:
    inp, raw = run
    production = raw["production"]
    at = tuple(int(i) for i in np.argwhere(production > 1e4)[0])
    bound = TOLERANCE * (1.0 + production[at])
    assert bound > 10 * TOLERANCE  # past the first test's bound, within the cell's
    check_invariants(inp, _with(raw, "line_deliveries", at, 0.5 * bound))
    with pytest.raises(InvariantError, match="production differs from its deliveries"):
        check_invariants(inp, _with(raw, "line_deliveries", at, 3.0 * bound))


def test_a_negative_stock_fails(run: tuple) -> None:
    inp, raw = run
    changed = {k: v.copy() for k, v in raw.items()}
    changed["stock"][0, -1, 0, 0] = -1.0
    with pytest.raises(InvariantError):
        check_invariants(inp, changed)


def _numpy_says_holds(inp: object, raw: dict[str, np.ndarray]) -> bool:
    munition = np.array([inp.product_kind[k] == "munition" for k in inp.line_product], bool)
    try:
        _numpy_laws(inp, raw, munition)
    except InvariantError:
        return False
    return True


def _compiled_says_holds(inp: object, raw: dict[str, np.ndarray]) -> bool:
    munition = np.array([inp.product_kind[k] == "munition" for k in inp.line_product], bool)
    return bool(_holds_at_once(inp, raw, munition))


@pytest.mark.parametrize("name", sorted(_WHOLE_RUN))
@pytest.mark.parametrize("where", ["first", "last"])
def test_the_compiled_pass_agrees_with_the_numpy_laws(run: tuple, name: str, where: str) -> None:
    """Each output changed in one cell, within and well beyond its cell's bound: the
    compiled pass finds it broken exactly when the numpy laws do (and a clean run holds)."""
    inp, raw = run
    assert _compiled_says_holds(inp, raw) and _numpy_says_holds(inp, raw)
    values = raw[name]
    if values.size == 0:
        pytest.skip(f"{name} is empty in this run")
    flat = np.flatnonzero(values.reshape(-1) != 0)
    cell = (flat[0] if where == "first" else flat[-1]) if flat.size else 0
    at = np.unravel_index(cell, values.shape)
    for add in (0.1 * TOLERANCE, 1e-3 * (1.0 + abs(float(values[at]))), -7.0, 3):
        changed = dict(raw)
        changed[name] = values.copy()
        changed[name][at] += add if values.dtype.kind == "f" else int(np.ceil(abs(add)))
        assert _compiled_says_holds(inp, changed) == _numpy_says_holds(inp, changed), (name, add)


def test_partial_records_go_to_the_numpy_laws(run: tuple) -> None:
    """Outputs not recorded (an empty sample axis) or cells recorded as a list: the
    compiled pass declines and the numpy laws decide."""
    inp, raw = run
    changed = dict(raw)
    changed["aid_sent"] = raw["aid_sent"][:0]
    assert not _compiled_says_holds(inp, changed)
    del changed["aid_sent"]
    assert not _compiled_says_holds(inp, changed)
