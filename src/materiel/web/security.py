"""Access and size guards: the API token and the request-body limit."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["BodyLimit", "document_guards", "require_token"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_bearer = HTTPBearer(auto_error=False, description="the API token given to materiel serve")


async def require_token(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check ``Authorization: Bearer <token>`` when the app has a token (else 401).

    Every ``/api`` route but the health check depends on this. With
    ``public_read`` set on the app, reads (GET and HEAD) pass without it;
    writes and runs never do.
    """
    token: str | None = request.app.state.token
    if token is None:
        return
    if request.app.state.public_read and request.method in ("GET", "HEAD"):
        return
    given = creds.credentials if creds is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"}
        )


_DETAIL = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string"},
        "problems": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemOut"}},
    },
}
"""What a 401, 404 or 413 answer carries: ``detail``, and for an over-budget run the
located ``problems`` (the estimate and the limit)."""


def document_guards(schema: dict[str, Any], *, token: bool, public_read: bool) -> dict[str, Any]:
    """The OpenAPI ``schema`` made to say what the guards above answer, on every route.

    FastAPI documents each route's own answers; the guards answer too: 413 to any body
    over the size limit (and a run over its cost budget), 400 to a body that is not
    JSON, 404 for an id (in the path, the query or the body) that names nothing, and
    with a token 401 without it. Security is declared only when the server has a
    token, and not on reads when ``public_read`` opens them, so that a client (or
    schemathesis) sees the rules the server applies.
    """
    schemes = schema.get("components", {}).get("securitySchemes", {})
    for operations in schema.get("paths", {}).values():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            body = {"content": {"application/json": {"schema": _DETAIL}}}
            if "requestBody" in op:
                responses.setdefault("413", {"description": "body or run too large", **body})
                responses.setdefault("400", {"description": "body is not JSON", **body})
            if op.get("parameters") or "requestBody" in op:
                responses.setdefault("404", {"description": "an id names nothing", **body})
            secured = token and not (public_read and method in ("get", "head"))
            if "security" in op and not secured:
                del op["security"]
            if "security" in op:
                responses.setdefault("401", {"description": "missing or wrong token", **body})
    if not token and schemes:
        del schema["components"]["securitySchemes"]
    return schema


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """ASGI middleware: answer 413 to a request body larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.limit + 1
                if declared > self.limit:
                    await self._too_large(scope, receive, send)
                    return
        seen = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                over = True
                raise _TooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # A body found too large while the app parsed it (a chunked upload
            # has no Content-Length) may have become the app's own 400: answer 413.
            nonlocal started
            if over:
                return
            started = True
            await send(message)

        with contextlib.suppress(_TooLargeError):
            await self.app(scope, counted, guarded_send)
        if over and not started:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.limit} bytes"},
            status_code=413,
            headers={"Connection": "close"},  # the rest of the body is never read
        )
        await response(scope, receive, send)
