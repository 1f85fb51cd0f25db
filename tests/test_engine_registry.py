"""The engine's variable registry agrees with the kernel; the binding vocabulary round-trips."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from builders import contract, tiny

import materiel
from materiel.engine import binding, compile_inputs, kernel, run_engine
from materiel.engine.binding import Binding
from materiel.engine.core import kernel_args
from materiel.engine.inputs import Inputs, capacity_arrival
from materiel.engine.variables import CELL_DIMS, GROUPS, INPUTS, OUTPUTS, Outputs


def _tiny_with_everything() -> dict:
    """The tiny scenario with a component, a pool inventory, consumption, aid from stock, a
    procurement policy capped by a munitions budget and a weapon-system fleet."""
    s = tiny(contracts={"c1": contract()})
    s["products"]["fuze"] = {"name": "Fuze", "kind": "component", "source": "fx"}
    s["products"]["shell"]["bom"] = {"fuze": 1.0}
    s["lines"]["f1"] = dict(s["lines"]["l1"], name="Fuze line", product="fuze")
    s["inventories"] = {"default": {"fuze": {"quantity": 50.0, "source": "fx"}}}
    s["stocks"] = {"AAA": {"shell": {"quantity": 500.0, "floor": 100.0, "source": "fx"}}}
    s["consumption"] = {
        "u1": {"party": "AAA", "product": "shell", "rate_per_month": 10.0, "source": "fx"}
    }
    s["aid"] = {
        "g1": {
            "donor": "AAA",
            "recipient": "REC",
            "product": "shell",
            "quantity": 60.0,
            "start": "2024-02",
            "end": "2024-04",
            "supply": "stock",
            "source": "fx",
        }
    }
    s["targets"] = {
        "t": {
            "parties": ["AAA"],
            "product": "shell",
            "quantity": 600.0,
            "by": "2024-12",
            "source": "fx",
        }
    }
    s["procurement"] = {
        "p": {
            "product": "shell",
            "buyers": {"AAA": 1.0},
            "review": "monthly",
            "adjustment_months": 4.0,
            "source": "fx",
        }
    }
    s["economics"] = {
        "AAA": {"2024": {"gdp_usd_m": 1.0, "defence_pct_gdp_nato": 100.0, "source": "fx"}}
    }
    s["policy"]["budget"] = "defer"
    s["systems"] = {"gun": {"name": "Gun", "product": "shell", "source": "fx"}}
    s["fleets"] = {"a": {"party": "AAA", "system": "gun", "share": 1.0, "source": "fx"}}
    return s


@pytest.fixture(scope="module", params=["action-plan", "tiny"])
def inp(request: pytest.FixtureRequest) -> Inputs:
    scenario = request.param if request.param != "tiny" else _tiny_with_everything()
    return compile_inputs(materiel.load(scenario))


def _sizes(inp: Inputs) -> dict[str, int]:
    return inp.shape | {
        "sample": 1,
        "assignment": len(inp.assign_contract),
        "receipt": len(inp.receive_contract),
        "payment": len(inp.pay_contract),
        "use": len(inp.use_party),
        "depth_bound": int(inp.line_depth.max(initial=0)) + 2,
    }


def test_tiny_scenario_has_every_dimension() -> None:
    inp = compile_inputs(materiel.load(_tiny_with_everything()))
    assert all(n > 0 for n in _sizes(inp).values()), _sizes(inp)


def test_kernel_args_supply_every_declared_input(inp: Inputs) -> None:
    args = kernel_args(inp)
    assert list(args) == list(INPUTS)
    sizes = _sizes(inp)
    for name, var in INPUTS.items():
        assert args[name].dtype == var.dtype, name
        assert args[name].shape == tuple(sizes[d] for d in var.dims), name
        assert args[name].flags.c_contiguous, name


def test_run_engine_produces_every_declared_output(inp: Inputs) -> None:
    raw = run_engine(inp)
    assert list(raw) == list(OUTPUTS)
    sizes = _sizes(inp)
    for name, var in OUTPUTS.items():
        assert raw[name].dtype == var.dtype, name
        assert raw[name].shape == tuple(sizes[d] for d in var.dims), name


def test_labelled_dataset_uses_declared_names_dims_and_units() -> None:
    ds = materiel.simulate(_tiny_with_everything()).dataset
    for var in OUTPUTS.values():
        assert ds[var.dataset].dims == var.dims
        assert ds[var.dataset].attrs.get("units", "") == var.units
        assert ds[var.dataset].attrs["description"] == var.description


def test_cell_outputs_follow_the_mask(inp: Inputs) -> None:
    cells = np.zeros((len(inp.parties), len(inp.products)), dtype=bool)
    cells[0, 0] = True
    raw = run_engine(inp, cells=cells)
    for name, var in OUTPUTS.items():
        if var.dims[-2:] == CELL_DIMS:
            assert raw[name].shape == (1, inp.n_months, 1), name


def test_lean_runs_keep_declared_outputs_and_partners() -> None:
    inp = compile_inputs(materiel.load(_tiny_with_everything()))
    lean = run_engine(inp, record=())
    assert {n for n, a in lean.items() if a.shape[0]} == {n for n, v in OUTPUTS.items() if v.lean}
    aid = run_engine(inp, record=("aid_received",))
    partners = {n for n, v in OUTPUTS.items() if v.record_with == "aid_sent"}
    assert partners == {"aid_sent", "aid_received", "pledge_deliveries"}
    assert partners <= {n for n, a in aid.items() if a.shape[0]}
    assert float(aid["pledge_deliveries"].sum()) == 60.0


def test_reused_buffers_and_strict_records_change_no_output() -> None:
    # buffers from an earlier, smaller run, filled with garbage: the kernel writes every
    # element of its samples' rows, so each output equals a fresh run's, bit for bit
    inp = compile_inputs(materiel.load(_tiny_with_everything()))
    rates = np.array([[10.0], [30.0], [0.0]])  # (sample, consumption entry)
    fresh = run_engine(inp, 3, overrides={"use_rate": rates})
    buffers: dict[str, np.ndarray] = {}
    run_engine(inp, 1, overrides={"use_rate": rates[:1]}, buffers=buffers)
    for a in buffers.values():
        a[...] = np.nan if a.dtype.kind == "f" else -7
    again = run_engine(inp, 3, overrides={"use_rate": rates}, buffers=buffers)
    for name, a in fresh.items():
        np.testing.assert_array_equal(again[name], a, err_msg=name)
    # lean=False: only what is asked (and what is recorded with it), the same values
    strict = run_engine(inp, 3, overrides={"use_rate": rates}, record=("stock",), lean=False)
    assert {n for n, a in strict.items() if a.shape[0]} == {"stock"}
    np.testing.assert_array_equal(strict["stock"], fresh["stock"])


def test_kernel_parameters_are_the_declared_groups() -> None:
    params = list(inspect.signature(kernel.step.py_func).parameters.values())
    assert [p.name for p in params] == ["first", "last", *GROUPS, "cell_slot", "out"]
    for p in params[2 : 2 + len(GROUPS)]:
        assert p.annotation == GROUPS[p.name].__name__
    assert params[-1].annotation == Outputs.__name__
    declared = [f for group in GROUPS.values() for f in group._fields]
    assert declared == list(INPUTS)  # each input in exactly one group


def test_overrides_replace_inputs_per_sample() -> None:
    s = tiny(contracts={"c1": contract(quantity=1200.0, delivery_months=12)})
    inp = compile_inputs(materiel.load(s))
    cap = np.array([[100.0], [50.0]])  # (sample, line)
    raw = run_engine(inp, 2, overrides={"capacity_start": cap, "committed_start": cap})
    assert raw["production"][:, 0, 0].tolist() == [100.0, 50.0]


@pytest.mark.parametrize("kind", [Binding.CAPACITY, Binding.ORDERS])
def test_binding_labels_round_trip(kind: Binding) -> None:
    assert binding.parse(binding.label(kind)) == (kind, None)


def test_binding_input_labels_round_trip() -> None:
    products = ["shell", "charge", "input:odd"]
    labels = binding.labels(products)
    assert labels.tolist() == [
        "capacity",
        "orders",
        "input:shell",
        "input:charge",
        "input:input:odd",
    ]
    for code, text in enumerate(labels):
        kind, product = binding.parse(str(text))
        plain = code < Binding.INPUT
        expected = (Binding(code), None) if plain else (Binding.INPUT, products[code - 2])
        assert (kind, product) == expected
        assert binding.label(kind, product) == text
        assert binding.is_label(str(text))
    assert binding.is_input(labels).tolist() == [False, False, True, True, True]
    assert binding.input_product("input:charge") == "charge"
    assert binding.input_product("orders") is None


@pytest.mark.parametrize("text", ["", "input:", "Capacity", "order", "line"])
def test_binding_parser_rejects_other_text(text: str) -> None:
    assert not binding.is_label(text)
    with pytest.raises(ValueError, match="not a binding label"):
        binding.parse(text)


def test_binding_label_needs_a_product_for_inputs_only() -> None:
    with pytest.raises(ValueError):
        binding.label(Binding.INPUT)
    with pytest.raises(ValueError):
        binding.label(Binding.CAPACITY, "shell")


def test_capacity_arrival_exact() -> None:
    # 6/month decided in month 2, lead 1, ramp 3: +2 in months 3, 4 and 5
    before, arriving = capacity_arrival(6.0, 2, 1, 3, 8)
    assert before == 0.0
    assert arriving.tolist() == [0, 0, 0, 2, 2, 2, 0, 0]
    # decided 3 months before the start: 2/3 arrived by then, the rest in month 0
    before, arriving = capacity_arrival(6.0, -3, 1, 3, 4)
    assert before == 4.0
    assert arriving.tolist() == [2, 0, 0, 0]
    # vectorised over samples: one row each
    before, arriving = capacity_arrival(np.array([6.0, 4.0]), 0, np.array([0, 1]), 2, 3)
    assert arriving.tolist() == [[3, 3, 0], [0, 2, 2]]
