"""Planning under uncertainty: a sample-average (two-stage) plan, and how often plans meet targets.

With ``N`` scenarios ``s_1 .. s_N`` drawn from the scenario's distributions
(:func:`~materiel.analysis.montecarlo.drawn_scenarios`), the programme is

``min (1/N) sum_i f_i(x, y_i)``  subject to  ``(x, y_i)`` feasible in ``s_i`` for every ``i``,

with ``f_i`` the deterministic objective of :mod:`materiel.plan.model` in
scenario ``i``. The first stage ``x`` is shared by every sample: the contracts
(``Line-delivery``, ``Stock-receipts``) and the capacity decided
(``Line-capacity_decided``, ``Line-modules``). The second stage ``y_i`` is
one copy per sample of everything else: commitments' deliveries, components,
aid, consumption, stocks, target slack; capacity comes online in each
sample along that sample's lead time and ramp. Payments and capex depend on
``x`` only, so the objective is the plan's cost plus the mean penalty over
the samples. Contracts must fit
every sample's capacity (their bounds are intersected), so the first stage
is feasible in each sample, and in the nominal scenario (a copy of its
second stage with no weight in the objective).

The plan that comes back (:func:`sample_average_plan`) is the first stage
read in the nominal scenario: ``x`` fixed, the second stage re-optimised
there, so that it is written, simulated and diagnosed as any plan.
:func:`met_probabilities` simulates a plan over fresh samples of the same
distributions and gives each target's probability of being met by its date.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import linopy
import numpy as np
import xarray as xr

from materiel._errors import PlanError
from materiel.analysis.montecarlo import drawn_scenarios, sample, with_values
from materiel.plan.data import PlanData, plan_data
from materiel.plan.model import Objective, PlanModel, build_model, weights_for
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario

if TYPE_CHECKING:
    from materiel.plan.solve import Plan

__all__ = [
    "FIRST_STAGE_CONSTRAINTS",
    "FIRST_STAGE_VARIABLES",
    "SampleReport",
    "build_sample_average",
    "first_stage",
    "fix_first_stage",
    "met_probabilities",
    "sample_data",
]

FIRST_STAGE_VARIABLES = frozenset(
    {"Line-capacity_decided", "Line-modules", "Line-delivery", "Stock-receipts"}
)
"""Decisions shared by every sample: contracts and the capacity decided."""
FIRST_STAGE_CONSTRAINTS = frozenset({"Line-modules", "Product-balance"})
"""Constraints on first-stage decisions alone: written once, for the first sample."""


class _Names:
    def __init__(self, stage: _Stage) -> None:
        self.stage = stage

    def __getitem__(self, name: str) -> linopy.Variable:
        return self.stage.base.variables[self.stage.variable(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.stage.variable(name) in self.stage.base.variables


class _Stage:
    """One sample's view of the two-stage model: its own second-stage names, shared first stage.

    The ``define_*`` builders of :mod:`materiel.plan.model` call it as they call
    a linopy model (``add_variables``, ``add_constraints``, ``variables``,
    ``add_objective``).
    """

    def __init__(
        self,
        base: linopy.Model,
        sample_no: int,
        shared: frozenset[str] = FIRST_STAGE_VARIABLES,
        once: frozenset[str] = FIRST_STAGE_CONSTRAINTS,
    ) -> None:
        self.base = base
        self.suffix = "" if sample_no == 0 else f"@sample{sample_no}"
        self.shared, self.once = shared, once
        self.objective: linopy.LinearExpression | None = None

    def variable(self, name: str) -> str:
        return name if name in self.shared else name + self.suffix

    @property
    def variables(self) -> _Names:
        return _Names(self)

    def add_variables(self, *, name: str, **kw: Any) -> linopy.Variable:
        full = self.variable(name)
        if full not in self.base.variables:
            return self.base.add_variables(name=full, **kw)
        var = self.base.variables[full]  # shared: feasible in every sample
        for bound, tighter in (("upper", np.minimum), ("lower", np.maximum)):
            if isinstance(kw.get(bound), xr.DataArray):
                values = var.data[bound].values
                values[...] = tighter(values, kw[bound].values)
        return var

    def add_constraints(
        self, lhs: linopy.LinearExpression, sign: str, rhs: Any, *, name: str, mask: Any = None
    ) -> None:
        if self.suffix and name in self.once:
            return
        self.base.add_constraints(lhs, sign, rhs, name=name + self.suffix, mask=mask)

    def add_objective(self, expr: linopy.LinearExpression) -> None:
        self.objective = expr


def build_sample_average(
    datas: Sequence[PlanData],
    objective: Objective,
    commitment_penalty_usd: float | None,
    feasible_in: Sequence[PlanData] = (),
    weights: Sequence[float] | None = None,
) -> PlanModel:
    """The two-stage programme over the samples' data (see the module docstring).

    ``weights``: each sample's probability (default ``1/N`` each; identical
    draws are one sample weighted by their count, :func:`sample_data`). The
    first stage must also be feasible in each of ``feasible_in`` (with no
    weight in the objective): the nominal scenario the plan is read in. The
    returned model reads as the first sample's under the usual names.
    """
    share = [1.0 / len(datas)] * len(datas) if weights is None else list(weights)
    base = linopy.Model(force_dim_names=True)
    shared, once = FIRST_STAGE_VARIABLES, FIRST_STAGE_CONSTRAINTS
    total: linopy.LinearExpression | None = None
    integer = False
    shape = None
    for i, d in enumerate([*datas, *feasible_in]):
        here = (len(d.mlines), len(d.cells), len(d.xlines), d.n_months)
        if shape is not None and here != shape:
            raise PlanError(
                f"sample {i + 1} has a different structure (lines, stock cells, expandable "
                "lines, months) from the first; drawn values must not change it"
            )
        shape = here
        stage = _Stage(base, i, shared, once)
        pm = build_model(d, objective, commitment_penalty_usd, model=cast(linopy.Model, stage))
        integer = integer or pm.integer
        assert stage.objective is not None
        if i >= len(datas):
            continue
        part = stage.objective * share[i]
        total = part if total is None else total + part
    assert total is not None
    base.add_objective(total)
    return PlanModel(
        model=base,
        data=datas[0],
        objective=objective,
        weights=weights_for(datas[0], objective, commitment_penalty_usd),
        integer=integer,
    )


def sample_data(
    s: Scenario, n: int, seed: int, budget_scale: float
) -> tuple[list[PlanData], list[float], bool]:
    """The programme's data for ``n`` scenarios drawn from ``s``'s distributions.

    Returns the data of each distinct draw, its weight (its count / ``n``:
    identical draws, as when ``s`` has no distributions, are solved once),
    and whether the nominal scenario is one of them.
    """
    counts: dict[str, int] = {}
    drawn: dict[str, dict[str, Any]] = {}
    for mapping in drawn_scenarios(s, n, seed):
        key = json.dumps(mapping, sort_keys=True, default=str)
        counts[key] = counts.get(key, 0) + 1
        drawn.setdefault(key, mapping)
    nominal = json.dumps(with_values(s, {}), sort_keys=True, default=str)
    datas = [plan_data(load(m), budget_scale) for m in drawn.values()]
    return datas, [counts[k] / n for k in drawn], nominal in drawn


def first_stage(pm: PlanModel) -> dict[str, np.ndarray]:
    """The solved first-stage decisions by variable name."""
    m = pm.model
    return {
        name: np.nan_to_num(m.variables[name].solution.values)
        for name in FIRST_STAGE_VARIABLES
        if name in m.variables
    }


def fix_first_stage(pm: PlanModel, values: dict[str, np.ndarray]) -> None:
    """Fix ``pm``'s first-stage decisions at ``values`` (within its own bounds)."""
    for name, value in values.items():
        var = pm.model.variables[name]
        lower, upper = var.data["lower"].values, var.data["upper"].values
        var.fix(xr.DataArray(np.clip(value, lower, upper), coords=var.data["lower"].coords))


@dataclass(frozen=True)
class SampleReport:
    """A sample-average plan beside the deterministic one, simulated over fresh samples.

    ``p_met``: target -> (P(met by its date) with the sample-average plan,
    the same with the deterministic plan), over ``fresh`` samples drawn with
    ``seed + 1`` (the programme's ``samples`` were drawn with ``seed``).
    """

    samples: int
    seed: int
    fresh: int
    p_met: dict[str, tuple[float, float]]
    cost_usd: tuple[
        float, float
    ]  # plan's cost (new contracts + capex), sample-average vs deterministic
    uncertain: int  # number of distributions drawn


def met_probabilities(p: Plan, n: int, seed: int) -> dict[str, float]:
    """P(met by its date) per target when plan ``p`` is simulated over ``n`` samples.

    The plan is written as a standalone scenario (:meth:`Plan.to_scenario`)
    carrying the planned scenario's distributions (those on entities the plan
    still holds: the scenario's own contracts are replaced by the plan's).
    """
    s = p.scenario
    mapping = p.to_scenario(extends=None)
    kept = {}
    for path, dist in s.uncertain.items():
        node: Any = mapping
        for key in path.split(".")[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            kept[path] = dist.model_dump(exclude_none=True)
    mapping["uncertain"] = kept
    mapping["correlations"] = dict(s.correlations)
    table = sample(mapping, n, seed).target_probabilities()
    met = table["p_met_by_date"].to_numpy(dtype=float)
    return {str(tid): float(x) for tid, x in zip(table["target"], met, strict=True)}
