"""``/api/scenarios``: the catalogue (embedded and stored) and CRUD on stored scenarios."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query
from fastapi.responses import Response

from materiel.scenario.loading import DATASET_ID, embedded_mapping, scenario_summaries
from materiel.web.catalogue import embedded_scenario, embedded_set
from materiel.web.deps import CatalogueDep, StoreDep, api_router
from materiel.web.schemas import (
    ResolvedOut,
    ScenarioCreate,
    ScenarioDetail,
    ScenarioOut,
    ScenarioUpdate,
)
from materiel.web.store import AlreadyExists, NotFound, StaleVersion, StoredScenario

__all__ = ["router"]

router = api_router("/api/scenarios", tag="scenarios")


def _extends(body: dict[str, Any]) -> str | None:
    extends = body.get("extends")
    return extends if isinstance(extends, str) else None


def _stored_out(rec: StoredScenario) -> ScenarioOut:
    return ScenarioOut(
        id=rec.id,
        title=rec.title,
        description=str(rec.body.get("description", "")),
        extends=_extends(rec.body),
        source="stored",
        version=rec.version,
    )


@router.get("", response_model=list[ScenarioOut])
def list_scenarios(db: StoreDep) -> list[ScenarioOut]:
    """Embedded scenarios, then stored ones."""
    out = [
        ScenarioOut(
            id=r["id"],
            title=r["title"],
            description=r["description"],
            extends=r["extends"] or None,
            source="embedded",
        )
        for r in scenario_summaries()
    ]
    out.extend(_stored_out(rec) for rec in db.list_scenarios())
    return out


@router.get("/{sid}", response_model=ScenarioDetail)
def get_scenario(sid: str, db: StoreDep, catalogue: CatalogueDep) -> ScenarioDetail:
    """One scenario with its mapping and what it resolves to (for a stored one, its ``version``).

    ``resolved`` (start, months, every policy value, assumptions, munitions
    with production lines, parties) is what the dashboard shows as knob
    placeholders, cards and the capacity chart's munition menu.
    """
    if sid in embedded_set():
        body = embedded_mapping(sid)
        if sid == DATASET_ID:
            body = {k: v for k, v in body.items() if k in ("id", "title", "description")}
        return ScenarioDetail(
            id=sid,
            title=str(body.get("title", "")),
            description=str(body.get("description", "")),
            extends=_extends(body),
            source="embedded",
            body=body,
            resolved=ResolvedOut.of(embedded_scenario(sid)),
        )
    try:
        rec = db.get_scenario(sid)
    except NotFound:
        raise HTTPException(404, f"no scenario {sid!r}") from None
    return ScenarioDetail(
        **_stored_out(rec).model_dump(),
        body=rec.body,
        resolved=ResolvedOut.of(catalogue.stored(sid)),
    )


@router.post(
    "",
    status_code=201,
    response_model=ScenarioOut,
    responses={409: {"description": "the id is taken"}},
)
def create_scenario(req: ScenarioCreate, db: StoreDep, catalogue: CatalogueDep) -> ScenarioOut:
    """Validate and store a new scenario at version 1."""
    if req.id in embedded_set():
        raise HTTPException(409, f"{req.id!r} is an embedded scenario")
    title, body = catalogue.validated(req.id, req.body)
    try:
        rec = db.create_scenario(req.id, title, body)
    except AlreadyExists:
        raise HTTPException(409, f"scenario {req.id!r} exists") from None
    return ScenarioOut(id=rec.id, title=rec.title, source="stored", version=rec.version)


@router.put(
    "/{sid}",
    response_model=ScenarioOut,
    responses={404: {"description": "no such"}, 409: {"description": "stale"}},
)
def update_scenario(
    sid: str, req: ScenarioUpdate, db: StoreDep, catalogue: CatalogueDep
) -> ScenarioOut:
    """Replace a stored scenario; ``version`` must be the one read (else 409)."""
    if sid in embedded_set():
        raise HTTPException(409, f"{sid!r} is an embedded scenario (read-only)")
    title, body = catalogue.validated(sid, req.body)
    try:
        rec = db.update_scenario(sid, title, body, req.version)
    except NotFound:
        raise HTTPException(404, f"no scenario {sid!r}") from None
    except StaleVersion as exc:
        raise HTTPException(409, str(exc)) from None
    return ScenarioOut(id=rec.id, title=rec.title, source="stored", version=rec.version)


@router.delete(
    "/{sid}",
    status_code=204,
    responses={404: {"description": "no such"}, 409: {"description": "stale"}},
)
def delete_scenario(
    sid: str, db: StoreDep, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> Response:
    """Delete a stored scenario (only at ``version`` when given)."""
    try:
        db.delete_scenario(sid, version)
    except NotFound:
        raise HTTPException(404, f"no scenario {sid!r}") from None
    except StaleVersion as exc:
        raise HTTPException(409, str(exc)) from None
    return Response(status_code=204)
