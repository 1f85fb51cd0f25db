"""What a run will cost, estimated before it starts: one estimate for the command line
and the web server.

The cost of a run is counted in *cells*, the engine state updated each month for
each sample::

    cells = samples * months * (lines + contracts + parties * products)

Work (time) grows with it. Memory does not grow with it: the Monte Carlo
sampler streams its reductions, so its memory is estimated by
:func:`materiel.analysis.montecarlo.estimate_bytes` from what it keeps (per-sample
outcomes, fixed-size fan sketches, the chunks in flight).

A caller with a limit (the server's configured limits, the machine's free memory on
the command line) refuses work over it with :class:`OverBudgetError`, which says the
estimate and the limit.
"""

from __future__ import annotations

from materiel._errors import Problem, ScenarioError
from materiel.scenario.schema import Scenario

__all__ = [
    "OverBudgetError",
    "cells_formula",
    "estimate_cells",
]


def estimate_cells(s: Scenario, samples: int = 1) -> int:
    """``samples * months * (lines + contracts + parties * products)`` of scenario ``s``."""
    return samples * s.months * (len(s.lines) + len(s.contracts) + len(s.parties) * len(s.products))


def cells_formula(s: Scenario, samples: int = 1) -> str:
    """The estimate written out, e.g. ``10 samples x 132 months x (62 lines + ...)``."""
    return (
        f"{samples:,} sample{'s' if samples != 1 else ''} x {s.months} months x "
        f"({len(s.lines)} lines + {len(s.contracts)} contracts + {len(s.parties)} parties x "
        f"{len(s.products)} products)"
    )


class OverBudgetError(ScenarioError):
    """Work estimated larger than a limit; the message says the estimate and the limit.

    ``field`` names what to change (``samples``, ``months`` or a command-line
    option); ``file`` where the request came from.
    """

    def __init__(
        self,
        s: Scenario,
        samples: int,
        limit_cells: int,
        *,
        file: str = "<request>",
        field: str | None = None,
        limit_what: str = "the server's limit",
    ) -> None:
        self.cells = estimate_cells(s, samples)
        self.limit = limit_cells
        where = field or ("samples" if samples > 1 else "months")
        super().__init__(
            Problem(
                file,
                where,
                f"estimated cost {self.cells:,} cells ({cells_formula(s, samples)}) exceeds "
                f"{limit_what} of {limit_cells:,} cells",
            )
        )
