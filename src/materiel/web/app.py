"""The FastAPI app behind ``materiel serve``: JSON API, background jobs and the dashboard.

This module only wires the pieces together: request/response models in
:mod:`~materiel.web.schemas`, the token and body limit in
:mod:`~materiel.web.security`, scenario resolution in
:mod:`~materiel.web.catalogue`, background jobs in :mod:`~materiel.web.jobs`,
error handlers in :mod:`~materiel.web.errors`, the offline API docs in
:mod:`~materiel.web.docs`, and one router per resource in
:mod:`materiel.web.routes`. Answers over 1 kB are gzipped when the client
accepts it.

Nothing from a request is evaluated as code: scenarios are plain mappings
validated by :func:`materiel.load`, and ``extends`` may only name an embedded
scenario (never a file path). Writes and runs need the API token when one is
set; request bodies and run sizes are capped.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from materiel import __version__
from materiel.web.catalogue import GZIP_MINIMUM_BYTES, Catalogue
from materiel.web.docs import add_offline_docs
from materiel.web.errors import install_handlers
from materiel.web.jobs import JobRunner
from materiel.web.limits import Limits
from materiel.web.routes import ROUTERS
from materiel.web.security import BodyLimit, document_guards
from materiel.web.store import Store

__all__ = ["Limits", "create_app", "create_app_from_env"]


def create_app(
    store: Store | str | Path | None = None,
    *,
    token: str | None = None,
    public_read: bool = False,
    limits: Limits | None = None,
) -> FastAPI:
    """The web app: JSON API under ``/api``, the dashboard at ``/``.

    ``store`` is a :class:`Store` or its URL / SQLite path (default
    ``materiel.db`` in the working directory); ``token`` protects every
    ``/api`` route but ``/api/health`` (``Authorization: Bearer <token>``);
    ``public_read`` opens the reads (GET, HEAD) while writes and runs keep
    needing it. ``limits`` bound what one request may cost.
    """
    db = store if isinstance(store, Store) else Store(store)
    lim = limits or Limits()
    db.fail_interrupted_jobs(before=time.time() - 1)

    app = FastAPI(
        title="materiel",
        version=__version__,
        description="Munitions supply what-ifs: scenarios, runs, jobs, spending, downloads.",
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(app)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    app.state.store = db
    app.state.limits = lim
    app.state.token = token
    app.state.public_read = public_read
    app.state.catalogue = Catalogue(db, lim)
    app.state.jobs = JobRunner(db, lim)
    app.add_middleware(BodyLimit, limit=lim.max_body_bytes)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_guards(
                generate(), token=token is not None, public_read=public_read
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn workers.

    Reads ``MATERIEL_STORE``, ``MATERIEL_TOKEN``, ``MATERIEL_PUBLIC_READ``
    (``1`` to open reads) and ``MATERIEL_LIMITS`` (a JSON object of
    :class:`Limits` fields), as ``materiel serve`` sets them.
    """
    limits = json.loads(os.environ.get("MATERIEL_LIMITS") or "{}")
    return create_app(
        os.environ.get("MATERIEL_STORE") or None,
        token=os.environ.get("MATERIEL_TOKEN") or None,
        public_read=os.environ.get("MATERIEL_PUBLIC_READ") == "1",
        limits=Limits.from_mapping(limits),
    )
