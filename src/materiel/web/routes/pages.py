"""The dashboard page, its static files (Plotly served locally) and the health check."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from materiel.web.deps import StoreDep

__all__ = ["router"]

STATIC = Path(__file__).resolve().parent.parent / "static"
_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}

router = APIRouter()


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    return str(get_plotlyjs()).encode("utf-8")


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The dashboard."""
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js() -> Response:
    """Plotly, from the installed package (no CDN)."""
    return Response(
        _plotly_js(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


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


@router.head("/api/health", include_in_schema=False)
def health_head(db: StoreDep) -> Response:
    """``HEAD /api/health``: 200 while the app and its store answer."""
    db.schema_version()
    return Response(status_code=200)
