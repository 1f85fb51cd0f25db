"""One exception type for every problem with user input.

A :class:`ScenarioError` carries a list of :class:`Problem` records so that a
loader can report *every* problem in a file at once, each with the file, the
field path, the line where it can be found, and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InvariantError", "Problem", "ScenarioError"]


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


class ScenarioError(ValueError):
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


class InvariantError(RuntimeError):
    """Raised when a finished run breaks a conservation law (a bug, not bad input)."""
