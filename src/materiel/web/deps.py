"""FastAPI dependencies: the app's shared services, read from ``app.state``.

They are ``async`` because they only read attributes: FastAPI runs a sync
dependency in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from materiel.web.catalogue import Catalogue
from materiel.web.jobs import JobRunner
from materiel.web.limits import Limits
from materiel.web.schemas import BAD_INPUT
from materiel.web.security import require_token
from materiel.web.store import Store

__all__ = ["CatalogueDep", "JobsDep", "LimitsDep", "StoreDep", "api_router"]


async def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _catalogue(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


async def _jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


async def _limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


StoreDep = Annotated[Store, Depends(_store)]
CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]
JobsDep = Annotated[JobRunner, Depends(_jobs)]
LimitsDep = Annotated[Limits, Depends(_limits)]


def api_router(prefix: str = "", *, tag: str) -> APIRouter:
    """The router of one ``/api`` resource (health aside): every route needs the API token
    when one is set (reads open with ``public_read``), and documents its 422 answer as
    :class:`~materiel.web.schemas.ProblemsOut`."""
    return APIRouter(
        prefix=prefix, tags=[tag], dependencies=[Depends(require_token)], responses=BAD_INPUT
    )
