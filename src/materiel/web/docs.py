"""``/docs`` (Swagger UI) and ``/redoc`` served with no request leaving the server.

FastAPI's default pages load Swagger UI and ReDoc from a CDN and ReDoc's fonts
from Google Fonts, so they are blank offline. The same pages are built here
with FastAPI's own helpers, pointing at copies of the assets that the
``fastapi-offline`` package ships (Swagger UI and ReDoc, MIT licensed), served
from ``/static-docs/``; ReDoc is told not to fetch Google Fonts, and its one
remote URL (the attribution logo) is pointed at the local favicon.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

__all__ = ["DOCS_ASSETS", "REDOC_LOGO", "add_offline_docs"]

DOCS_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "application/javascript",
    "favicon.png": "image/png",
}
"""The asset files served under ``/static-docs/`` and their media types."""


def _asset_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


PREFIX = "/static-docs"
"""Where the assets are served."""
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one remote URL in ``redoc.standalone.js``: its attribution logo."""


@lru_cache(maxsize=len(DOCS_ASSETS))
def _asset(name: str) -> bytes:
    """An asset's bytes; ReDoc's attribution logo points at the local favicon instead."""
    data = (_asset_dir() / name).read_bytes()
    if name == "redoc.standalone.js":
        data = data.replace(REDOC_LOGO, f"{PREFIX}/favicon.png".encode())
    return data


def add_offline_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` with local assets.

    Create ``app`` with ``docs_url=None, redoc_url=None`` so that FastAPI's
    CDN-backed pages are not registered as well.
    """
    prefix = PREFIX
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    @app.get(prefix + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, "not found")
        return Response(
            _asset(name),
            media_type=DOCS_ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{prefix}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}/favicon.png",
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}/favicon.png",
            with_google_fonts=False,
        )
