"""Caps on what one request may ask of the server (configurable on ``materiel serve``).

The cost of a run is estimated before it starts by :mod:`materiel.engine.cost` (the
same estimate the command line uses), in cells: ``samples * months * (lines +
contracts + parties * products)``: a measure of work (time). The embedded
``action-plan`` is 80,916 cells a run. The defaults allow every embedded scenario
with the default sample cap (action-plan: 2,000 x 80,916 = 162 million cells) and
refuse issue 19's probe (2,000 samples x 600 months, 736 million cells on
action-plan), and bound the running jobs together at 400 million cells. Memory
follows the Monte Carlo sampler's streamed estimate
(:func:`materiel.analysis.montecarlo.estimate_bytes`), well under 1 GB a job.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from materiel._errors import Problem, ScenarioError
from materiel.engine.cost import OverBudgetError, estimate_cells
from materiel.scenario.schema import Scenario

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may ask for.

    ``max_run_cells`` bounds one synchronous run (simulate, compare, download,
    spending), ``max_job_cells`` one background job, ``max_jobs_cells_total``
    all running jobs together (their memory); ``simulate_timeout_s`` is the
    wall-clock limit of a synchronous run, ``job_timeout_s`` of a job.
    """

    max_body_bytes: int = 1_000_000
    max_mc_samples: int = 2000
    job_timeout_s: float = 300.0
    max_active_jobs: int = 2
    max_run_cells: int = 20_000_000
    max_job_cells: int = 300_000_000
    max_jobs_cells_total: int = 400_000_000
    simulate_timeout_s: float = 60.0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Limits:
        """Limits from a mapping of field names (unknown names are refused)."""
        names = sorted(f.name for f in fields(cls))
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ScenarioError(Problem("<limits>", unknown[0], f"no such limit; have {names}"))
        return cls(**values)

    def check_run(self, s: Scenario, samples: int = 1, *, job: bool = False) -> int:
        """The estimated cells of a run of ``s``; raise :class:`OverBudgetError` when over."""
        cells = estimate_cells(s, samples)
        limit = self.max_job_cells if job else self.max_run_cells
        if cells > limit:
            raise OverBudgetError(s, samples, limit)
        return cells
