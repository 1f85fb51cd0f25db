"""Planning: optimise contracts, capacity investment and allocation (linopy + HiGHS).

>>> import materiel
>>> p = materiel.plan("action-plan", objective="cost")  # doctest: +SKIP
>>> p.cost_usd, p.feasible, p.diagnosis()  # doctest: +SKIP
>>> p.to_scenario()  # a scenario the simulator reproduces  # doctest: +SKIP

Modules: :mod:`~materiel.plan.data` (the problem's arrays),
:mod:`~materiel.plan.model` (the ``define_*`` builders),
:mod:`~materiel.plan.solve` (solve and read back),
:mod:`~materiel.plan.diagnostics` (what binds, what cannot be met),
:mod:`~materiel.plan.write` (the plan as a scenario).

The names below load on first use (linopy is heavy), as in :mod:`materiel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from materiel._errors import PlanError
from materiel._lazy import lazy_getattr

if TYPE_CHECKING:
    from materiel.plan.model import build_model
    from materiel.plan.solve import OBJECTIVES, Alternative, Plan, compare_policy, plan
    from materiel.plan.write import write_toml

__all__ = [
    "OBJECTIVES",
    "Alternative",
    "Plan",
    "PlanError",
    "build_model",
    "compare_policy",
    "plan",
    "write_toml",
]

_LAZY = {
    "build_model": "materiel.plan.model",
    "OBJECTIVES": "materiel.plan.solve",
    "Plan": "materiel.plan.solve",
    "Alternative": "materiel.plan.solve",
    "compare_policy": "materiel.plan.solve",
    "plan": "materiel.plan.solve",
    "write_toml": "materiel.plan.write",
}


__getattr__ = lazy_getattr("materiel.plan", _LAZY, globals())
