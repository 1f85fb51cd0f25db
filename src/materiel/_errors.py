"""The exception family: every error materiel raises derives from :class:`MaterielError`.

- :class:`ScenarioError` — bad input (a scenario, a file, an argument), with
  every problem located;
- :class:`PlanError` — the optimiser could not produce a plan;
- :class:`InvariantError` — a finished run broke a conservation law (a bug);
- :class:`StoreError` — the web store refused an operation (not found,
  already exists, stale version).

A :class:`ScenarioError` carries a list of :class:`Problem` records so that a
loader can report *every* problem in a file at once, each with the file, the
field path, the line where it can be found, and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "InvariantError",
    "MaterielError",
    "PlanError",
    "Problem",
    "ScenarioError",
    "StoreError",
    "bad_argument",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what was expected."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"

    def as_dict(self) -> dict[str, object]:
        """The problem as plain JSON-ready data."""
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class MaterielError(Exception):
    """Base of every error materiel raises; catch it to catch them all."""


class ScenarioError(MaterielError, ValueError):
    """Raised when a scenario, dataset or other input is invalid.

    ``problems`` lists every problem found, not only the first.
    """

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="<input>", path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


class InvariantError(MaterielError, RuntimeError):
    """Raised when a finished run breaks a conservation law (a bug, not bad input)."""


class PlanError(MaterielError, RuntimeError):
    """Raised when the optimiser finds no plan (infeasible model or solver failure)."""


class StoreError(MaterielError):
    """Base of the web store's refusals (not found, already exists, stale version)."""


def bad_argument(function: str, argument: str, value: object, expected: str) -> ScenarioError:
    """A located error for a bad argument to a public function.

    >>> str(bad_argument("sample", "n", 0, "a whole number >= 1"))
    '1 problem found:\n  - sample(): n: got 0; expected a whole number >= 1'
    """
    return ScenarioError(
        Problem(file=f"{function}()", path=argument, message=f"got {value!r}; expected {expected}")
    )
