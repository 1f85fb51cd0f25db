"""``/api/spending``: %GDP per ally in a year, who meets a threshold, what a pledge costs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import JSONResponse

from materiel._errors import Problem, ScenarioError
from materiel.web.deps import CatalogueDep, api_router
from materiel.web.schemas import ID_PATTERN, ScenarioRef, clean

__all__ = ["router"]

router = api_router(tag="spending")


@router.get("/api/spending")
def spending(
    catalogue: CatalogueDep,
    scenario: Annotated[str, Query(max_length=80, pattern=ID_PATTERN)] = "action-plan",
    year: Annotated[int, Query(ge=1990, le=2100)] = 2024,
    threshold: Annotated[float, Query(ge=0, le=100)] = 2.0,
    basis: Literal["nato", "sipri"] = "nato",
    pledge: Annotated[float | None, Query(ge=0, le=100)] = None,
    by: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> JSONResponse:
    """%GDP per ally in a year, who meets a threshold, and what a pledge costs."""
    from materiel.analysis.spending import spending_payload

    if (pledge is None) != (by is None):
        raise ScenarioError(Problem("<request>", "pledge/by", "give both or neither"))
    s = catalogue.resolve(ScenarioRef(scenario=scenario))
    return JSONResponse(clean(spending_payload(s, year, threshold, basis, pledge, by)))
