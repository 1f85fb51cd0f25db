"""Caps on what one request may ask of the server (configurable on ``materiel serve``).

The cost of a run is estimated before it starts, in *cells*: the engine state
updated each month for each sample,

    cells = samples * months * (lines + contracts + parties * products)

Measured on the embedded ``action-plan`` scenario (132 months, 52 lines, 14
contracts, 33 parties x 15 products = 561 cells a month): a deterministic run
keeps about 65 bytes of labelled output per cell (4.9 MB for 74,052 cells);
a Monte Carlo job keeps much less per sample (issue 19's probe added 2.7 GB
for 2,000 samples x 600 months; on a scenario the size of action-plan that is
about 4 bytes per cell, an assumption: the probe did not name the scenario).
The defaults allow every embedded scenario with the default sample cap
(action-plan: 2,000 x 74,052 = 148 million cells) and refuse the probe's job
(673 million cells), keeping the running jobs together near 1.6 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from materiel._errors import Problem, ScenarioError
from materiel.scenario.schema import Scenario

__all__ = ["Limits", "OverBudgetError", "estimate_cells"]


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
            raise OverBudgetError(s, samples, cells, limit)
        return cells


def estimate_cells(s: Scenario, samples: int = 1) -> int:
    """``samples * months * (lines + contracts + parties * products)``: the engine state a run
    updates, a proxy for its memory and time (see the module docstring)."""
    per_month = len(s.lines) + len(s.contracts) + len(s.parties) * len(s.products)
    return samples * s.months * per_month


class OverBudgetError(ScenarioError):
    """A run estimated larger than the server's limit (answered with 413)."""

    def __init__(self, s: Scenario, samples: int, cells: int, limit: int) -> None:
        self.cells = cells
        self.limit = limit
        super().__init__(
            Problem(
                "<request>",
                "samples" if samples > 1 else "months",
                f"estimated cost {cells:,} cells ({samples} samples x {s.months} months x "
                f"({len(s.lines)} lines + {len(s.contracts)} contracts + {len(s.parties)} "
                f"parties x {len(s.products)} products)) exceeds the server's limit of "
                f"{limit:,} cells",
            )
        )
