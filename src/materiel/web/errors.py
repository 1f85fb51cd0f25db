"""Exception handlers: bad input becomes a 4xx listing every located problem."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from materiel._errors import Problem, ScenarioError

__all__ = ["install_handlers", "problems_response"]


def problems_response(exc: ScenarioError, status: int = 422) -> JSONResponse:
    """A 4xx JSON answer listing a :class:`ScenarioError`'s problems."""
    return JSONResponse(
        {"detail": str(exc).splitlines()[0], "problems": [p.as_dict() for p in exc.problems]},
        status_code=status,
    )


async def _scenario_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScenarioError)
    return problems_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem("<request>", ".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "")))
        for e in exc.errors()
    ]
    return problems_response(ScenarioError(problems or "invalid request"))


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ScenarioError, _scenario_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
