"""The web's knobbed inputs (a template's, retuned) are exactly what compiling gives.

:func:`materiel.web.knobs.knobbed_inputs` recomputes the arrays that an extra
delay, a consumption scale, a multi-year share or a spending target change,
from the inputs compiled once per scenario (:func:`template_knobs`). Every
field must equal :func:`compile_inputs` of the knobbed scenario: same values,
dtypes and shapes.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from materiel._errors import ScenarioError
from materiel.engine import compile_inputs
from materiel.engine.inputs import Inputs, retune
from materiel.scenario.loading import embedded_ids
from materiel.web.catalogue import embedded_scenario
from materiel.web.knobs import Knobs, apply_knobs, knobbed_inputs, template_knobs

EMBEDDED = sorted(embedded_ids())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if dataclasses.is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return type(a) is type(b) and bool(a == b)


def _differences(got: Inputs, want: Inputs) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(Inputs)
        if not _same(getattr(got, f.name), getattr(want, f.name))
    ]


@cache
def _template(sid: str, knobs_json: str) -> Inputs:
    knobs = Knobs.model_validate_json(knobs_json)
    return compile_inputs(apply_knobs(embedded_scenario(sid), knobs))


def _check(sid: str, knobs: Knobs) -> bool:
    """Whether the knobs were served from a template; asserts the inputs are identical."""
    base = embedded_scenario(sid)
    s = apply_knobs(base, knobs)
    template = template_knobs(base, knobs)
    if template is None:
        return False
    got = knobbed_inputs(_template(sid, template.model_dump_json()), s)
    assert _differences(got, compile_inputs(s)) == []
    return True


KNOB_SETS = [
    {},
    {"extra_contracting_delay_months": 7},
    {"extra_contracting_delay_months": 120, "consumption_scale": 0.0},
    {"consumption_scale": 1.7, "multi_year_share": 0.4},
    {"multi_year_share": 0.0, "extra_contracting_delay_months": 3},
    {"multi_year_share": 0.999, "consumption_scale": 20.0},
    {"spending_target_pct_gdp": 3.5, "extra_contracting_delay_months": 24},
]


@pytest.mark.parametrize("sid", EMBEDDED)
@pytest.mark.parametrize("knobs", KNOB_SETS, ids=lambda k: ",".join(k) or "none")
def test_embedded_scenarios(sid: str, knobs: dict[str, Any]) -> None:
    served = _check(sid, Knobs.model_validate(knobs))
    assert served == (embedded_scenario(sid).policy.budget == "none")


@pytest.mark.parametrize(
    "knobs",
    [
        {"multi_year_share": 1.0},
        {"budget": "defer"},
        {"industry_invests": False},
        {"contracting_delay_months": 2},
    ],
)
def test_other_knobs_compile(knobs: dict[str, Any]) -> None:
    """A share of 1 (drops annual contracts) and knobs that change more: no template."""
    assert template_knobs(embedded_scenario("action-plan"), Knobs.model_validate(knobs)) is None


def test_budgets_on_are_refused() -> None:
    """With budgets on, signature months depend on the budget check: retune refuses."""
    s = embedded_scenario("hague-pledge")
    assert s.policy.budget != "none"
    with pytest.raises(ScenarioError, match=r"policy\.budget"):
        retune(compile_inputs(s), s, compile_inputs(s).contract_quantity)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sid=st.sampled_from([x for x in EMBEDDED if embedded_scenario(x).policy.budget == "none"]),
    extra=st.none() | st.integers(0, 120),
    scale=st.none() | st.floats(0.0, 20.0),
    share=st.none() | st.just(0.0) | st.floats(0.0, 1.0, exclude_max=True),
    target=st.none() | st.floats(0.0, 20.0),
)
def test_any_knob_values(
    sid: str, extra: int | None, scale: float | None, share: float | None, target: float | None
) -> None:
    knobs = Knobs(
        extra_contracting_delay_months=extra,
        consumption_scale=scale,
        multi_year_share=share,
        spending_target_pct_gdp=target,
    )
    assert _check(sid, knobs)
