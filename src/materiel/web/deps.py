"""FastAPI dependencies: the app's shared services, read from ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from materiel.web.catalogue import Catalogue
from materiel.web.jobs import JobRunner
from materiel.web.limits import Limits
from materiel.web.security import require_token
from materiel.web.store import Store

__all__ = ["WRITE", "CatalogueDep", "JobsDep", "LimitsDep", "StoreDep"]


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _catalogue(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


def _jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


def _limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


StoreDep = Annotated[Store, Depends(_store)]
CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]
JobsDep = Annotated[JobRunner, Depends(_jobs)]
LimitsDep = Annotated[Limits, Depends(_limits)]
WRITE = [Depends(require_token)]
"""Route dependencies of every write and run: the API token when one is set."""
