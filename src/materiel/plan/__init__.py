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
"""

from materiel.plan.model import build_model
from materiel.plan.solve import OBJECTIVES, Plan, PlanError, plan
from materiel.plan.write import write_toml

__all__ = ["OBJECTIVES", "Plan", "PlanError", "build_model", "plan", "write_toml"]
