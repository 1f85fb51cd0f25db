"""What a run will cost, estimated before it starts: one estimate for the command line
and the web server.

The cost of a run is counted in *cells*, the engine state updated each month for
each sample::

    cells = samples * months * (lines + contracts + parties * products)

Work (time) grows with it, and so does memory. Measured on the embedded
``action-plan`` scenario (132 months, 62 lines, 7 contracts, 34 parties x 16
products: 80,916 cells a sample) with ``materiel.analysis.montecarlo.sample`` and
its metrics, as the growth of peak resident memory: 359 MB at 200 samples and 568
MB at 1,000, so 3.4 bytes a cell at the margin plus about 300 MB for the engine,
its libraries and one chunk of samples (2026-11, this repository's CI machine).
:func:`estimate_bytes` rounds both up.

A caller with a limit (the server's configured limits, the machine's free memory on
the command line) refuses work over it with :class:`OverBudgetError`, which says the
estimate and the limit.
"""

from __future__ import annotations

from materiel._errors import Problem, ScenarioError
from materiel.scenario.schema import Scenario

__all__ = [
    "BASE_BYTES",
    "BYTES_PER_CELL",
    "OverBudgetError",
    "cells_formula",
    "estimate_bytes",
    "estimate_cells",
]

BYTES_PER_CELL = 4
"""Memory a Monte Carlo run keeps per cell (3.4 measured, rounded up; see above)."""

BASE_BYTES = 400 * 2**20
"""Memory a run needs whatever its size (about 300 MB measured, rounded up)."""


def estimate_cells(s: Scenario, samples: int = 1) -> int:
    """``samples * months * (lines + contracts + parties * products)`` of scenario ``s``."""
    return samples * s.months * (len(s.lines) + len(s.contracts) + len(s.parties) * len(s.products))


def estimate_bytes(s: Scenario, samples: int = 1) -> int:
    """Peak memory of ``samples`` samples of ``s``: ``BASE_BYTES + BYTES_PER_CELL * cells``."""
    return BASE_BYTES + BYTES_PER_CELL * estimate_cells(s, samples)


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
