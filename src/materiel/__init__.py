"""materiel: model an alliance's munitions supply system and plan how to refill it.

>>> import materiel
>>> result = materiel.simulate("action-plan")
>>> result.targets()  # doctest: +SKIP
"""

from materiel._errors import InvariantError, Problem, ScenarioError
from materiel.loading import DATASET_ID, embedded_ids, load, scenario_summaries
from materiel.montecarlo import MonteCarloResult, sample
from materiel.plan import Plan, plan
from materiel.result import Result, tidy_tables
from materiel.schema import Scenario
from materiel.simulate import simulate

__all__ = [
    "DATASET_ID",
    "InvariantError",
    "MonteCarloResult",
    "Plan",
    "Problem",
    "Result",
    "Scenario",
    "ScenarioError",
    "embedded_ids",
    "load",
    "plan",
    "sample",
    "scenario_summaries",
    "simulate",
    "tidy_tables",
]
__version__ = "0.1.0"
