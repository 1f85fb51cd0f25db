"""``/api/simulate``, ``/api/compare`` and saved runs (``/api/runs/{id}``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import HTTPException, Query
from fastapi.responses import JSONResponse

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import Result, records
from materiel.web.deps import CatalogueDep, StoreDep, api_router
from materiel.web.schemas import CompareRequest, SimulateRequest, clean
from materiel.web.store import NotFound

__all__ = ["router", "summary"]

router = api_router(tag="runs")

_SUMMARY_COLUMNS = [
    "target", "product", "required", "by", "stock_at_by", "met_by_date",
    "first_met", "months_early", "stock_at_horizon",
]  # fmt: skip


def summary(r: Result) -> dict[str, Any]:
    """The headline of a run: each target (from :func:`metrics.target_table`) and the cost."""
    ds = r.dataset
    s = r.scenario
    targets = records(r.targets()[_SUMMARY_COLUMNS]) if s.targets else []
    for row in targets:
        if row["months_early"] is not None:
            row["months_early"] = int(row["months_early"])
    return {
        "scenario": s.id,
        "start": s.start,
        "months": s.months,
        "targets": targets,
        "cost": {
            "payments_usd": float(ds.payments_usd.sum()),
            "capex_usd": float(ds.capex_usd.sum()),
        },
    }


def chart_json(results: list[Result], product: str | None = None) -> dict[str, Any]:
    """Plotly figures as JSON: stocks, time to target and the first run's capacity.

    ``product`` picks the capacity chart's munition (default: the first one
    with production lines); one the scenario lacks, or that no line makes, is
    a 422 at path ``capacity``.
    """
    from materiel.present import charts

    figs = {"stocks": charts.stocks(results), "time_to_target": charts.time_to_target(results)}
    if product is not None and product not in results[0].scenario.munitions:
        raise ScenarioError(
            Problem("<request>", "capacity", f"no munition {product!r} in the scenario")
        )
    try:
        figs["capacity"] = charts.capacity(results[0], product)
    except KeyError as exc:
        raise ScenarioError(Problem("<request>", "capacity", str(exc.args[0]))) from None
    return {k: json.loads(f.to_json()) for k, f in figs.items()}


@router.post("/api/simulate")
def simulate_endpoint(
    req: SimulateRequest,
    catalogue: CatalogueDep,
    db: StoreDep,
    charts: Annotated[bool, Query(description="add Plotly chart JSON")] = False,
    full: Annotated[bool, Query(description="all metrics, not just the summary")] = False,
    capacity: Annotated[
        str | None, Query(max_length=80, description="munition of the capacity chart")
    ] = None,
) -> JSONResponse:
    """Run one scenario (with knobs); the summary, optionally full metrics and charts."""
    r = catalogue.run(req)
    out: dict[str, Any] = {"knobs": req.knobs.model_dump(exclude_none=True)}
    out["summary"] = summary(r)
    if full or req.save:
        out["metrics"] = r.metrics()
    if charts:
        out["charts"] = chart_json([r], capacity)
    if req.save:
        out["run_id"] = db.save_run(r.scenario.id, req.model_dump(), clean(out["metrics"]))
    return JSONResponse(clean(out))


@router.post("/api/compare")
def compare_endpoint(
    req: CompareRequest,
    catalogue: CatalogueDep,
    charts: Annotated[bool, Query(description="add Plotly chart JSON")] = True,
    capacity: Annotated[
        str | None, Query(max_length=80, description="munition of A's capacity chart")
    ] = None,
) -> JSONResponse:
    """Two runs side by side: both summaries, shared charts and A's capacity chart."""
    a, b = catalogue.run(req.a), catalogue.run(req.b)
    out: dict[str, Any] = {"a": summary(a), "b": summary(b)}
    if charts:
        if a.scenario.id == b.scenario.id:
            b = Result(b.dataset, b.scenario.model_copy(update={"id": b.scenario.id + "-b"}))
        out["charts"] = chart_json([a, b], capacity)
    return JSONResponse(clean(out))


@router.get("/api/runs/{rid}")
def get_run(rid: str, db: StoreDep) -> JSONResponse:
    """A saved simulation run."""
    try:
        return JSONResponse(clean(db.get_run(rid)))
    except NotFound:
        raise HTTPException(404, f"no run {rid!r}") from None
