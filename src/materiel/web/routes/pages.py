"""The dashboard page, its static files (Plotly served locally) and the health check."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from materiel.web.deps import StoreDep

__all__ = ["PLOTLY_JS", "STATIC", "router"]

STATIC = Path(__file__).resolve().parent.parent / "static"
_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}

router = APIRouter()


PLOTLY_JS = "plotly-cartesian.min.js"
"""The dashboard's plotly.js, served as ``/static/plotly.min.js``: the cartesian partial
bundle (scatter, bar, heatmap ...; 1.5 MB against 4.8 MB for the full bundle that
plotly.py ships), vendored from the npm package ``plotly.js-cartesian-dist-min`` at the
plotly.js version plotly.py bundles (MIT licence in ``static/LICENSE-plotly.js.txt``).
Parsing the full bundle was most of the dashboard's cold load."""


COMPILE_HINT = b"//# allFunctionsCalledOnLoad\n"
"""V8's explicit compile hint (Chrome 136+; https://v8.dev/blog/explicit-compile-hints),
prepended to the bundle as served: every function is compiled while the script streams
in, off the main thread, rather than lazily as plotly.js starts and draws. Measured in
headless Chromium, the page's main-thread CPU to its first charts fell from ~1.18 s to
~1.0 s (ScriptDuration 455 -> 277 ms). Other browsers read it as a comment."""


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    """The bundle as served (the compile hint, then the vendored file)."""
    return COMPILE_HINT + (STATIC / PLOTLY_JS).read_bytes()


@lru_cache(maxsize=1)
def _plotly_js_gzip() -> bytes:
    """The bundle gzipped once per process (compressing on every request costs ~0.5 s)."""
    return gzip.compress(_plotly_js(), compresslevel=6, mtime=0)


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The dashboard."""
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js(request: Request) -> Response:
    """The vendored plotly.js (no CDN), gzipped when the client accepts it."""
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        data = _plotly_js_gzip()
    else:
        data = _plotly_js()
    return Response(data, media_type="application/javascript", headers=headers)


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    """The dashboard's script and style sheet (nothing else)."""
    if name not in _FILES:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=_FILES[name])


@router.get("/api/health")
def health(db: StoreDep) -> dict[str, Any]:
    """Liveness, store dialect and schema version."""
    return {"ok": True, "store": db.dialect, "schema_version": db.schema_version()}


@router.head("/api/health")
def health_head(db: StoreDep) -> Response:
    """``HEAD /api/health``: 200 while the app and its store answer."""
    db.schema_version()
    return Response(status_code=200, media_type="application/json")  # GET's headers, no body
