"""``/api/download``: result tables as CSV or Parquet, one variable or a zip of all."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import Response

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import tidy_tables
from materiel.web.deps import CatalogueDep, api_router
from materiel.web.schemas import ScenarioRef, clean

__all__ = ["router"]

router = api_router(tag="downloads")


def _table_bytes(df: Any, fmt: str) -> bytes:
    if fmt == "csv":
        return str(df.to_csv(index=False)).encode("utf-8")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a zip of every table, or one table as CSV or Parquet",
        "content": {
            "application/zip": _BINARY,
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": _BINARY,
        },
    }
}


@router.post("/api/download", response_class=Response, responses=_FILES)
def download(
    req: ScenarioRef,
    catalogue: CatalogueDep,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    variable: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    """Result tables: a zip of every tidy table (plus metrics.json), or one variable."""
    r = catalogue.run(req)
    tables = tidy_tables(r)
    if variable is not None:
        if variable not in tables:
            message = f"no such variable {variable!r}; expected one of {sorted(tables)}"
            raise ScenarioError(Problem("<request>", "variable", message))
        data = _table_bytes(tables[variable], format)
        media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
        name = f"{r.scenario.id}-{variable}.{format}"
        return Response(data, media_type=media, headers=_attachment(name))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, df in tables.items():
            zf.writestr(f"{name}.{format}", _table_bytes(df, format))
        zf.writestr("metrics.json", json.dumps(clean(r.metrics()), indent=2, default=str))
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers=_attachment(f"{r.scenario.id}-{format}.zip"),
    )
