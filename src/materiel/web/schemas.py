"""Request and response models of the HTTP API, and the JSON clean-up of answers."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from materiel.scenario.schema import Scenario
from materiel.web.knobs import Knobs

__all__ = [
    "BAD_INPUT",
    "ID_PATTERN",
    "CompareRequest",
    "JobOut",
    "JobStarted",
    "MonteCarloRequest",
    "PlanRequest",
    "ProblemOut",
    "ProblemsOut",
    "ResolvedOut",
    "ScenarioCreate",
    "ScenarioDetail",
    "ScenarioOut",
    "ScenarioRef",
    "ScenarioUpdate",
    "SimulateRequest",
    "clean",
]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class ProblemOut(BaseModel):
    """One problem with an input: file, line, field path, message."""

    file: str
    line: int | None
    path: str
    message: str


class ProblemsOut(BaseModel):
    """A 4xx answer listing every problem."""

    detail: str
    problems: list[ProblemOut]


BAD_INPUT: dict[int | str, dict[str, Any]] = {
    422: {"model": ProblemsOut, "description": "invalid input"}
}
"""The ``responses`` entry of every route that validates input."""


class ScenarioRef(BaseModel):
    """Which scenario to run: a stored or embedded id, or an inline mapping."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no true for 1, no "1" for 1

    scenario: Annotated[str, Field(max_length=80, pattern=ID_PATTERN)] | None = Field(
        "action-plan", description="embedded or stored scenario id (ignored with `inline`)"
    )
    inline: dict[str, Any] | None = Field(
        None, description="a scenario mapping like a TOML file; may extend an embedded id"
    )
    knobs: Knobs = Field(default_factory=Knobs)


class SimulateRequest(ScenarioRef):
    """A deterministic run."""

    save: bool = Field(False, description="keep the metrics in the store as a run")


class CompareRequest(BaseModel):
    """Two runs side by side."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no true for 1, no "1" for 1

    a: ScenarioRef
    b: ScenarioRef


class MonteCarloRequest(ScenarioRef):
    """A Monte Carlo job."""

    samples: Annotated[int, Field(ge=1, le=100_000)] = 200
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class PlanRequest(ScenarioRef):
    """A planning job."""

    objective: Literal["cost", "coverage", "time"] = "cost"
    budget_scale: Annotated[float, Field(ge=0, le=100)] = 1.0


class ScenarioCreate(BaseModel):
    """A new stored scenario."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no true for 1, no "1" for 1

    id: Annotated[str, Field(min_length=1, max_length=80, pattern=ID_PATTERN)]
    body: dict[str, Any] = Field(description="the scenario mapping (like a TOML file)")


class ScenarioUpdate(BaseModel):
    """A new body for a stored scenario, with the version it was read at."""

    model_config = ConfigDict(extra="forbid", strict=True)  # no true for 1, no "1" for 1

    body: dict[str, Any]
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


class ScenarioOut(BaseModel):
    """A scenario in the catalogue."""

    id: str
    title: str
    description: str = ""
    extends: str | None = None
    source: Literal["embedded", "stored"]
    version: int | None = None


class ResolvedOut(BaseModel):
    """What a scenario resolves to once loaded (its ``extends`` chain applied)."""

    start: str
    months: int
    policy: dict[str, Any] = Field(description="every policy value, defaults included")
    assumptions: list[str]
    munitions: list[str] = Field(description="munitions that some production line makes")
    parties: list[str]

    @classmethod
    def of(cls, s: Scenario) -> ResolvedOut:
        """The resolved values the dashboard shows (knob placeholders, cards, selectors)."""
        made = {line.product for line in s.lines.values()}
        return cls(
            start=s.start,
            months=s.months,
            policy=s.policy.model_dump(),
            assumptions=list(s.assumptions),
            munitions=[k for k in s.munitions if k in made],
            parties=list(s.parties),
        )


class ScenarioDetail(ScenarioOut):
    """A scenario with its mapping and what it resolves to."""

    body: dict[str, Any]
    resolved: ResolvedOut | None = None


class JobOut(BaseModel):
    """A background job's state."""

    id: str
    kind: str
    scenario: str
    status: str
    done: int
    total: int
    cancel_requested: bool
    error: str | None
    result: Any = None
    created_at: float
    updated_at: float


class JobStarted(BaseModel):
    """A job accepted."""

    id: str
    status: str


def clean(value: Any) -> Any:
    """JSON-ready data: numpy scalars unwrapped, NaN and infinities as ``None``."""
    kind = type(value)  # the plain types an answer is made of, answered first
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {k if type(k) is str else str(k): clean(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
