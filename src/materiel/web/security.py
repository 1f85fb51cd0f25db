"""Access and size guards: the API token and the request-body limit."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["BodyLimit", "require_token"]

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
