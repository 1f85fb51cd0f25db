"""``/api/download``: result tables as CSV or Parquet, one variable or a zip of all."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query
from fastapi.responses import Response

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


@router.post("/api/download")
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
            raise HTTPException(404, f"no variable {variable!r}; have {sorted(tables)}")
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
