"""``/api/simulate``, ``/api/compare`` and saved runs (``/api/runs/{id}``)."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Hashable
from typing import Annotated, Any

import numpy as np
from fastapi import HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from materiel._errors import Problem, ScenarioError
from materiel.analysis import metrics
from materiel.analysis.record import FIT_UNTIL, compare_record, record_errors
from materiel.analysis.result import Result, records
from materiel.months import parse_month
from materiel.web.catalogue import Answer, Catalogue
from materiel.web.deps import CatalogueDep, StoreDep, api_router
from materiel.web.schemas import CompareRequest, ScenarioRef, SimulateRequest, clean
from materiel.web.store import NotFound

__all__ = ["router", "summary"]

router = api_router(tag="runs")

_SUMMARY_COLUMNS = [
    "target",
    "product",
    "required",
    "by",
    "stock_at_by",
    "met_by_date",
    "first_met",
    "months_early",
    "stock_at_horizon",
]


def summary(r: Result) -> dict[str, Any]:
    """The headline of a run: each target (from :func:`metrics.target_rows`), the cost,
    how many contracts were written and how many procurement policies decided (with
    what each policy decided), which rule the stock floors follow, and per party with
    weapon-system fleets usable against nominal stock and the systems that went short
    (:meth:`Result.interoperability`).

    Read from the run's plain arrays and :meth:`Result.rows` (no DataFrame): the same
    answer as the tables give (``tests/test_web_summary.py``), several times faster.
    """
    ds, plain = r.arrays, metrics.plain
    s = r.scenario
    targets = (
        [{k: row[k] for k in _SUMMARY_COLUMNS} for row in r.rows("targets")] if s.targets else []
    )
    for row in targets:
        if row["months_early"] is not None:
            row["months_early"] = int(row["months_early"])
    decided_by = plain(ds, "contract_decided_by")
    return {
        "scenario": s.id,
        "start": s.start,
        "months": s.months,
        "targets": targets,
        "cost": {"payments_usd": _total(ds, "payments_usd"), "capex_usd": _total(ds, "capex_usd")},
        "contracts": {
            "scenario": int((decided_by == "scenario").sum()),
            "policy": int((decided_by == "policy").sum()),
        },
        "decisions": r.rows("decisions"),
        "floors": r.floors(),
        "interoperability": s.policy.interoperability,
        "weapon_systems": r.rows("interoperability"),
    }


def _total(ds: metrics.Source, name: str) -> float:
    """``float(ds[name].sum())`` over every sample, as xarray sums (NaN as 0), without the
    DataArray."""
    values = metrics.plain(ds, name, sample=None)
    return float(np.where(np.isnan(values), 0.0, values).sum())


def chart_json(
    results: list[Result],
    product: str | None = None,
    *,
    party: str | None = None,
    stocks_product: str | None = None,
) -> dict[str, Any]:
    """Plotly figures as JSON: stocks, time to target and the first run's capacity.

    ``product`` picks the capacity chart's munition (default: the first one
    with production lines); one the scenario lacks, or that no line makes, is
    a 422 at path ``capacity``. ``party`` shows that party's own stocks and
    the capacity of the lines located in it; ``stocks_product`` keeps the
    stock panels of one munition (422 at ``party`` / ``product`` when the
    scenario lacks them). A scenario without targets shows its allies' stocks.
    """
    from materiel.present import charts

    s = results[0].scenario
    if party is not None and party not in s.parties:
        raise ScenarioError(Problem("<request>", "party", f"no party {party!r} in {s.id}"))
    if stocks_product is not None and stocks_product not in s.munitions:
        raise ScenarioError(
            Problem("<request>", "product", f"no munition {stocks_product!r} in {s.id}")
        )
    only = [stocks_product] if stocks_product is not None else None
    if party is not None:
        stock_fig = charts.party_stocks(results, party, only)
    elif not s.targets:  # nothing to measure against: the allies' stocks together
        stock_fig = charts.party_stocks(results, s.allies, only)
    else:
        stock_fig = charts.stocks(results, product=stocks_product)
    figs = {"stocks": stock_fig, "time_to_target": charts.time_to_target(results)}
    if product is not None and product not in s.munitions:
        raise ScenarioError(
            Problem("<request>", "capacity", f"no munition {product!r} in the scenario")
        )
    try:
        figs["capacity"] = charts.capacity(results[0], product, party)
    except KeyError as exc:
        raise ScenarioError(Problem("<request>", "capacity", str(exc.args[0]))) from None
    return {k: json.loads(f.to_json()) for k, f in figs.items()}


_Munition = Annotated[
    str | None, Query(max_length=80, description="munition of the capacity chart")
]
_Party = Annotated[
    str | None,
    Query(max_length=80, description="a party's own stocks and the lines located in it"),
]
_StocksProduct = Annotated[
    str | None, Query(max_length=80, description="the stock panels of one munition")
]


def _respond(found: Answer, request: Request) -> Response:
    """An encoded answer, its gzip when the client accepts it (the middleware then leaves
    it alone: compressing the same answer again on every request cost more than the rest
    of a cached request)."""
    if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(found.gzipped, media_type="application/json", headers=headers)
    return Response(found.body, media_type="application/json")


def _cached(
    catalogue: Catalogue,
    key: Hashable | None,
    answer: Callable[[], dict[str, Any]],
    request: Request,
) -> Response:
    """The JSON answer, encoded (and gzipped) once per ``key`` (a run key and the route's
    options).

    Answers depend only on the runs (deterministic in scenario, stored version
    and knobs) and the options, so a repeated request (a shared link, a
    re-run, the page's first view) skips the run, the charts and the encoding.
    """
    found = catalogue.answers.get_or(
        key, lambda: Answer.encode(bytes(JSONResponse(clean(answer())).body))
    )
    return _respond(found, request)


@router.post("/api/simulate")
async def simulate_endpoint(
    req: SimulateRequest,
    request: Request,
    catalogue: CatalogueDep,
    db: StoreDep,
    charts: Annotated[bool, Query(description="add Plotly chart JSON")] = False,
    full: Annotated[bool, Query(description="all metrics, not just the summary")] = False,
    capacity: _Munition = None,
    party: _Party = None,
    product: _StocksProduct = None,
) -> Response:
    """Run one scenario (with knobs); the summary, optionally full metrics and charts."""
    options = (charts, full, capacity, party, product)
    embedded = None if req.save else catalogue.embedded_key(req)
    found = None if embedded is None else catalogue.answers.get(("simulate", embedded, *options))
    if found is not None:  # answered before: no thread, no store
        return _respond(found, request)

    def answer() -> dict[str, Any]:
        r = catalogue.run(req)
        out: dict[str, Any] = {"knobs": req.knobs.model_dump(exclude_none=True)}
        out["summary"] = summary(r)
        if full or req.save:
            out["metrics"] = r.metrics()
        if charts:
            out["charts"] = chart_json([r], capacity, party=party, stocks_product=product)
        if req.save:
            out["run_id"] = db.save_run(r.scenario.id, req.model_dump(), clean(out["metrics"]))
        return out

    def respond() -> Response:
        if req.save:
            return JSONResponse(clean(answer()))
        run = catalogue.run_key(req)
        return _cached(
            catalogue, None if run is None else ("simulate", run, *options), answer, request
        )

    # in the catalogue's answering thread (one per worker: a worker simulates one request
    # at a time; starlette's pool of 40 ran them all at once, under the GIL, for more CPU
    # a request), with the request's context as run_in_threadpool passes it
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(catalogue.answering, contextvars.copy_context().run, respond)


@router.post("/api/compare")
def compare_endpoint(
    req: CompareRequest,
    request: Request,
    catalogue: CatalogueDep,
    charts: Annotated[bool, Query(description="add Plotly chart JSON")] = True,
    capacity: _Munition = None,
    party: _Party = None,
    product: _StocksProduct = None,
) -> Response:
    """Two runs side by side: both summaries, shared charts and A's capacity chart."""

    def answer() -> dict[str, Any]:
        a, b = catalogue.run(req.a), catalogue.run(req.b)
        out: dict[str, Any] = {"a": summary(a), "b": summary(b)}
        if charts:
            if a.scenario.id == b.scenario.id:
                b = Result(b.dataset, b.scenario.model_copy(update={"id": b.scenario.id + "-b"}))
            out["charts"] = chart_json([a, b], capacity, party=party, stocks_product=product)
        return out

    a_key, b_key = catalogue.run_key(req.a), catalogue.run_key(req.b)
    key = None
    if a_key is not None and b_key is not None:
        key = ("compare", a_key, b_key, charts, capacity, party, product)
    return _cached(catalogue, key, answer, request)


@router.post("/api/record")
def record_endpoint(
    req: ScenarioRef,
    request: Request,
    catalogue: CatalogueDep,
    until: Annotated[
        str, Query(pattern=r"^\d{4}-\d{2}$", description="last in-sample month (YYYY-MM)")
    ] = FIT_UNTIL,
) -> Response:
    """The run against the public record (``data/record.csv``), row by row.

    ``rows`` as :func:`materiel.analysis.record.compare_record` gives them
    (``sample``: in-sample up to ``until``, out-of-sample after, ``outside
    run`` where the run does not cover the date); ``errors``: mean and worst
    absolute % error, in-sample and out-of-sample apart.
    """
    try:
        parse_month(until)
    except ValueError:
        raise ScenarioError(
            Problem("<request>", "until", f"got {until!r}; expected a month YYYY-MM")
        ) from None

    def answer() -> dict[str, Any]:
        r = catalogue.run(req)
        table = compare_record(r, until=until)
        rows = records(table)
        return {
            "scenario": r.scenario.id,
            "until": until,
            "errors": record_errors(table),
            "rows": rows,
        }

    run = catalogue.run_key(req)
    return _cached(catalogue, None if run is None else ("record", run, until), answer, request)


@router.get("/api/runs/{rid}")
def get_run(rid: str, db: StoreDep) -> JSONResponse:
    """A saved simulation run."""
    try:
        return JSONResponse(clean(db.get_run(rid)))
    except NotFound:
        raise HTTPException(404, f"no run {rid!r}") from None
