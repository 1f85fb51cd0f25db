"""materiel: model an alliance's munitions supply system and plan how to refill it.

>>> import materiel
>>> result = materiel.simulate("action-plan")
>>> result.targets()  # doctest: +SKIP

The public names below are imported on first use (PEP 562), so that
``import materiel`` and the command line start without loading pandas,
xarray, scipy, linopy or plotly until a command needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from materiel._errors import (
    InvariantError,
    MaterielError,
    PlanError,
    Problem,
    ScenarioError,
    StoreError,
)
from materiel._lazy import lazy_getattr

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult, sample
    from materiel.analysis.result import Result, tidy_tables
    from materiel.analysis.simulate import simulate
    from materiel.plan import Plan, plan
    from materiel.scenario.loading import DATASET_ID, embedded_ids, load, scenario_summaries
    from materiel.scenario.schema import Scenario

__all__ = [
    "DATASET_ID",
    "InvariantError",
    "MaterielError",
    "MonteCarloResult",
    "Plan",
    "PlanError",
    "Problem",
    "Result",
    "Scenario",
    "ScenarioError",
    "StoreError",
    "embedded_ids",
    "load",
    "plan",
    "sample",
    "scenario_summaries",
    "simulate",
    "tidy_tables",
]
__version__ = "0.1.0"

_LAZY = {
    "DATASET_ID": "materiel.scenario.loading",
    "embedded_ids": "materiel.scenario.loading",
    "load": "materiel.scenario.loading",
    "scenario_summaries": "materiel.scenario.loading",
    "Scenario": "materiel.scenario.schema",
    "simulate": "materiel.analysis.simulate",
    "Result": "materiel.analysis.result",
    "tidy_tables": "materiel.analysis.result",
    "MonteCarloResult": "materiel.analysis.montecarlo",
    "sample": "materiel.analysis.montecarlo",
    "Plan": "materiel.plan",
    "plan": "materiel.plan",
}


__getattr__ = lazy_getattr(
    "materiel", _LAZY, globals(), first="materiel.present"
)  # registers result.plot and the notebook HTML


# ``materiel.plan`` is both a subpackage and the planning function. Importing the
# (light) subpackage now sets the package attribute once; dropping it lets
# ``__getattr__`` answer ``materiel.plan`` with the function, as documented.
importlib.import_module("materiel.plan")
del globals()["plan"]


def __dir__() -> list[str]:
    return sorted(__all__)
