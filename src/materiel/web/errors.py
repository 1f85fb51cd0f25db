"""Exception handlers, in one place: library errors become located 4xx answers.

- :class:`~materiel.ScenarioError` (bad input) -> 422 listing every problem;
  an :class:`~materiel.engine.cost.OverBudgetError` -> 413 with the estimate
  and the limit;
- the store's refusals -> 404 (not found) or 409 (exists, stale version);
- :class:`~materiel.PlanError` -> 422;
- a pydantic ``ValidationError`` or an arithmetic overflow raised while
  building or running a scenario from accepted input -> 422;
- anything else is a bug: 500 with ``Connection: close``, so that a client
  does not reuse a connection the server is about to drop.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.routing import Match

from materiel._errors import MaterielError, PlanError, Problem, ScenarioError, StoreError
from materiel.engine.cost import OverBudgetError
from materiel.web.store import NotFound

__all__ = ["install_handlers", "problems_response"]

_log = logging.getLogger("materiel.web")


def problems_response(exc: ScenarioError, status: int = 422) -> JSONResponse:
    """A 4xx JSON answer listing a :class:`ScenarioError`'s problems."""
    return JSONResponse(
        {"detail": str(exc).splitlines()[0], "problems": [p.as_dict() for p in exc.problems]},
        status_code=status,
    )


def _one(where: str, message: str, status: int = 422) -> JSONResponse:
    return problems_response(ScenarioError(Problem("<request>", where, message)), status)


async def _materiel_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, OverBudgetError):
        return problems_response(exc, 413)
    if isinstance(exc, ScenarioError):
        return problems_response(exc)
    if isinstance(exc, NotFound):
        return JSONResponse({"detail": str(exc)}, status_code=404)
    if isinstance(exc, PlanError):
        return _one("", f"no plan: {exc}")
    if isinstance(exc, StoreError):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return await _server_error(_request, exc)  # InvariantError and the like are bugs


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    problems = [
        Problem("<request>", ".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "")))
        for e in exc.errors()
    ]
    return problems_response(ScenarioError(problems or "invalid request"))


async def _arithmetic_error(_request: Request, exc: Exception) -> JSONResponse:
    return _one(
        "",
        f"the inputs are beyond what the model can compute ({type(exc).__name__}: "
        f"{exc}); use smaller or nearer values",
    )


async def _server_error(_request: Request, exc: Exception) -> JSONResponse:
    _log.error("internal error", exc_info=exc)
    return JSONResponse(
        {"detail": f"internal error ({type(exc).__name__}); this is a bug in materiel"},
        status_code=500,
        headers={"Connection": "close"},
    )


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the request's path (a literal path before a
    template: ``/api/jobs/plan`` is not ``/api/jobs/{jid}``); for a path outside the API,
    those of any route that matches it."""
    path = request.url.path
    paths: dict[str, dict[str, object]] = request.app.openapi().get("paths", {})
    templates = (
        [path]
        if path in paths
        else [
            t for t in paths if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(t)), path)
        ]
    )
    if templates:
        return sorted({m.upper() for t in templates for m in paths[t]})
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _method_not_allowed(request: Request, _exc: Exception) -> JSONResponse:
    """405 with ``Allow`` listing every method of the path (Starlette lists only those of
    the first route matching it)."""
    allowed = {"Allow": ", ".join(_allowed_methods(request))}
    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers=allowed)


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(MaterielError, _materiel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(ArithmeticError, _arithmetic_error)
    app.add_exception_handler(Exception, _server_error)
