"""The FastAPI app behind ``materiel serve``: JSON API, background jobs and the dashboard.

Nothing from a request is evaluated as code: scenarios are plain mappings
validated by :func:`materiel.load`, and ``extends`` may only name an embedded
scenario (never a file path). Writes and runs need the API token when one is
set; request bodies and run sizes are capped.
"""

from __future__ import annotations

import hmac
import io
import json
import math
import os
import threading
import time
import tomllib
import zipfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import Result, records, tidy_tables
from materiel.analysis.simulate import simulate
from materiel.scenario.loading import (
    DATASET_ID,
    _embedded_path,
    embedded_ids,
    load,
    scenario_summaries,
)
from materiel.scenario.schema import Scenario
from materiel.web.docs import add_offline_docs
from materiel.web.knobs import Knobs, apply_knobs
from materiel.web.store import AlreadyExists, JobRecord, NotFound, StaleVersion, Store

__all__ = ["Limits", "create_app", "create_app_from_env"]

STATIC = Path(__file__).parent / "static"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Caps on what one request may ask for."""

    max_body_bytes: int = 1_000_000
    max_mc_samples: int = 2000
    job_timeout_s: float = 300.0
    max_active_jobs: int = 2


# --- request and response models -------------------------------------------------


class ProblemOut(BaseModel):
    """One problem with an input: file, line, field path, message."""

    file: str
    line: int | None
    path: str
    message: str


class ProblemsOut(BaseModel):
    """A 4xx answer listing every problem."""

    detail: str
    problems: list[ProblemOut]


class ScenarioRef(BaseModel):
    """Which scenario to run: a stored or embedded id, or an inline mapping."""

    model_config = ConfigDict(extra="forbid")

    scenario: Annotated[str, Field(max_length=80, pattern=ID_PATTERN)] | None = Field(
        "action-plan", description="embedded or stored scenario id (ignored with `inline`)"
    )
    inline: dict[str, Any] | None = Field(
        None, description="a scenario mapping like a TOML file; may extend an embedded id"
    )
    knobs: Knobs = Field(default_factory=Knobs)


class SimulateRequest(ScenarioRef):
    """A deterministic run."""

    save: bool = Field(False, description="keep the metrics in the store as a run")


class CompareRequest(BaseModel):
    """Two runs side by side."""

    model_config = ConfigDict(extra="forbid")

    a: ScenarioRef
    b: ScenarioRef


class MonteCarloRequest(ScenarioRef):
    """A Monte Carlo job."""

    samples: Annotated[int, Field(ge=1, le=100_000)] = 200
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class PlanRequest(ScenarioRef):
    """A planning job."""

    objective: Literal["cost", "coverage", "time"] = "cost"
    budget_scale: Annotated[float, Field(ge=0, le=100)] = 1.0


class ScenarioCreate(BaseModel):
    """A new stored scenario."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=80, pattern=ID_PATTERN)]
    body: dict[str, Any] = Field(description="the scenario mapping (like a TOML file)")


class ScenarioUpdate(BaseModel):
    """A new body for a stored scenario, with the version it was read at."""

    model_config = ConfigDict(extra="forbid")

    body: dict[str, Any]
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


class ScenarioOut(BaseModel):
    """A scenario in the catalogue."""

    id: str
    title: str
    description: str = ""
    extends: str | None = None
    source: Literal["embedded", "stored"]
    version: int | None = None


class ResolvedOut(BaseModel):
    """What a scenario resolves to once loaded (its ``extends`` chain applied)."""

    start: str
    months: int
    policy: dict[str, Any] = Field(description="every policy value, defaults included")
    assumptions: list[str]
    munitions: list[str] = Field(description="munitions that some production line makes")
    parties: list[str]


class ScenarioDetail(ScenarioOut):
    """A scenario with its mapping and what it resolves to."""

    body: dict[str, Any]
    resolved: ResolvedOut | None = None


def resolved_out(s: Scenario) -> ResolvedOut:
    """The resolved values the dashboard shows (knob placeholders, cards, selectors)."""
    made = {line.product for line in s.lines.values()}
    return ResolvedOut(
        start=s.start,
        months=s.months,
        policy=s.policy.model_dump(),
        assumptions=list(s.assumptions),
        munitions=[k for k in s.munitions if k in made],
        parties=list(s.parties),
    )


class JobOut(BaseModel):
    """A background job's state."""

    id: str
    kind: str
    scenario: str
    status: str
    done: int
    total: int
    cancel_requested: bool
    error: str | None
    result: Any = None
    created_at: float
    updated_at: float


class JobStarted(BaseModel):
    """A job accepted."""

    id: str
    status: str


# --- helpers -----------------------------------------------------------------------


def clean(value: Any) -> Any:
    """JSON-ready data: numpy scalars unwrapped, NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def problems_response(exc: ScenarioError, status: int = 422) -> JSONResponse:
    """A 4xx JSON answer listing a :class:`ScenarioError`'s problems."""
    return JSONResponse(
        {"detail": str(exc).splitlines()[0], "problems": [p.as_dict() for p in exc.problems]},
        status_code=status,
    )


class _CancelledError(Exception):
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

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLargeError
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLargeError:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.limit} bytes"}, status_code=413
        )
        await response(scope, receive, send)


class _TooLargeError(Exception):
    pass


@lru_cache(maxsize=16)
def _embedded(sid: str) -> Scenario:
    """Embedded scenarios, loaded once per process (the frozen model is never changed)."""
    return load(sid)


PLOTLY_JS = "plotly-cartesian.min.js"
"""The dashboard's plotly.js, served as ``/static/plotly.min.js``: the cartesian partial
bundle (scatter, bar, heatmap ...; 1.5 MB against 4.8 MB for the full bundle that
plotly.py ships), vendored from the npm package ``plotly.js-cartesian-dist-min`` at the
plotly.js version plotly.py bundles (MIT licence in ``static/LICENSE-plotly.js.txt``).
Parsing the full bundle was most of the dashboard's cold load."""


@lru_cache(maxsize=1)
def _plotly_js_gzip() -> bytes:
    """The bundle gzipped once per process (compressing on every request costs ~0.5 s)."""
    import gzip

    return gzip.compress((STATIC / PLOTLY_JS).read_bytes(), compresslevel=6, mtime=0)


def _embedded_set() -> set[str]:
    return {*embedded_ids(), DATASET_ID}


_bearer = HTTPBearer(auto_error=False, description="the API token given to materiel serve")


def require_token(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check ``Authorization: Bearer <token>`` when the app has a token (else 401)."""
    token: str | None = request.app.state.token
    if token is None:
        return
    given = creds.credentials if creds is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(
            401, "missing or wrong API token", headers={"WWW-Authenticate": "Bearer"}
        )


# --- the app -------------------------------------------------------------------------


def create_app(
    store: Store | str | Path | None = None,
    *,
    token: str | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The web app: JSON API under ``/api``, the dashboard at ``/``.

    ``store`` is a :class:`Store` or its URL / SQLite path (default
    ``materiel.db`` in the working directory); ``token`` protects every
    write and run (``Authorization: Bearer <token>``).
    """
    db = store if isinstance(store, Store) else Store(store)
    lim = limits or Limits()
    started = time.time()
    db.fail_interrupted_jobs(before=started - 1)
    active = threading.BoundedSemaphore(lim.max_active_jobs)
    stored_cache: OrderedDict[tuple[str, int], Scenario] = OrderedDict()
    cache_lock = threading.Lock()

    app = FastAPI(
        title="materiel",
        version="0.1.0",
        description="Munitions supply what-ifs: scenarios, runs, jobs, spending, downloads.",
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(app)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    app.state.store = db
    app.state.limits = lim
    app.add_middleware(BodyLimit, limit=lim.max_body_bytes)
    app.state.token = token
    write = [Depends(require_token)]
    bad: dict[int | str, dict[str, Any]] = {
        422: {"model": ProblemsOut, "description": "invalid input"}
    }

    @app.exception_handler(ScenarioError)
    async def _scenario_error(_request: Request, exc: ScenarioError) -> JSONResponse:
        return problems_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            Problem("<request>", ".".join(str(x) for x in e.get("loc", ())), str(e.get("msg", "")))
            for e in exc.errors()
        ]
        return problems_response(ScenarioError(problems or "invalid request"))

    # --- scenario resolution ---
    def check_mapping(body: dict[str, Any], display: str) -> None:
        base = body.get("extends")
        if base is not None and (not isinstance(base, str) or base not in _embedded_set()):
            raise ScenarioError(
                Problem(display, "extends", f"must name an embedded scenario, got {base!r}")
            )

    def load_mapping(body: dict[str, Any], name: str) -> Scenario:
        check_mapping(body, name)
        try:
            s = load(body, name=name)
        except ScenarioError:
            raise
        except Exception as exc:  # odd shapes the loader did not anticipate: still bad input
            raise ScenarioError(Problem(name, "", f"invalid scenario: {exc}")) from exc
        empty = [k for k in ("parties", "products", "lines") if not getattr(s, k)]
        if empty:
            raise ScenarioError(
                Problem(name, empty[0], f"no {empty[0]}: extend an embedded scenario (`extends`)")
            )
        return s

    def stored_scenario(sid: str) -> Scenario:
        rec = db.get_scenario(sid)
        key = (sid, rec.version)
        with cache_lock:
            if key in stored_cache:
                stored_cache.move_to_end(key)
                return stored_cache[key]
        s = load_mapping({**rec.body, "id": sid}, sid)
        with cache_lock:
            stored_cache[key] = s
            while len(stored_cache) > 32:
                stored_cache.popitem(last=False)
        return s

    def resolve(ref: ScenarioRef) -> Scenario:
        if ref.inline is not None:
            s = load_mapping(ref.inline, "<inline>")
        elif ref.scenario is None:
            raise ScenarioError(Problem("<request>", "scenario", "give `scenario` or `inline`"))
        elif ref.scenario in _embedded_set():
            s = _embedded(ref.scenario)
        else:
            try:
                s = stored_scenario(ref.scenario)
            except NotFound:
                raise HTTPException(404, f"no scenario {ref.scenario!r}") from None
        return apply_knobs(s, ref.knobs)

    def run(ref: ScenarioRef) -> Result:
        return simulate(resolve(ref))

    # --- pages ---
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            data = _plotly_js_gzip()
        else:
            data = (STATIC / PLOTLY_JS).read_bytes()
        return Response(data, media_type="application/javascript", headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        files = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
        if name not in files:
            raise HTTPException(404, "not found")
        return FileResponse(STATIC / name, media_type=files[name])

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        """Liveness, store dialect and schema version."""
        return {"ok": True, "store": db.dialect, "schema_version": db.schema_version()}

    # --- scenarios ---
    @app.get("/api/scenarios", response_model=list[ScenarioOut])
    def list_scenarios() -> list[ScenarioOut]:
        """Embedded scenarios, then stored ones."""
        out = [
            ScenarioOut(
                id=r["id"],
                title=r["title"],
                description=r["description"],
                extends=r["extends"] or None,
                source="embedded",
            )
            for r in scenario_summaries()
        ]
        for rec in db.list_scenarios():
            extends = rec.body.get("extends")
            out.append(
                ScenarioOut(
                    id=rec.id,
                    title=rec.title,
                    description=str(rec.body.get("description", "")),
                    extends=extends if isinstance(extends, str) else None,
                    source="stored",
                    version=rec.version,
                )
            )
        return out

    @app.get("/api/scenarios/{sid}", response_model=ScenarioDetail)
    def get_scenario(sid: str) -> ScenarioDetail:
        """One scenario with its mapping (for a stored one, its ``version``)."""
        if sid in _embedded_set():
            path = _embedded_path(sid)
            assert path is not None
            body = tomllib.loads(path.read_text(encoding="utf-8"))
            if sid == DATASET_ID:
                body = {k: v for k, v in body.items() if k in ("id", "title", "description")}
            return ScenarioDetail(
                id=sid,
                title=str(body.get("title", "")),
                description=str(body.get("description", "")),
                extends=body.get("extends") if isinstance(body.get("extends"), str) else None,
                source="embedded",
                body=body,
                resolved=resolved_out(_embedded(sid)),
            )
        try:
            rec = db.get_scenario(sid)
        except NotFound:
            raise HTTPException(404, f"no scenario {sid!r}") from None
        extends = rec.body.get("extends")
        return ScenarioDetail(
            id=rec.id,
            title=rec.title,
            description=str(rec.body.get("description", "")),
            extends=extends if isinstance(extends, str) else None,
            source="stored",
            version=rec.version,
            body=rec.body,
            resolved=resolved_out(stored_scenario(sid)),
        )

    def validated(sid: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = clean(body)
        s = load_mapping({**body, "id": sid}, sid)
        return s.title, body

    @app.post(
        "/api/scenarios",
        status_code=201,
        response_model=ScenarioOut,
        dependencies=write,
        responses={**bad, 409: {"description": "the id is taken"}},
    )
    def create_scenario(req: ScenarioCreate) -> ScenarioOut:
        """Validate and store a new scenario at version 1."""
        if req.id in _embedded_set():
            raise HTTPException(409, f"{req.id!r} is an embedded scenario")
        title, body = validated(req.id, req.body)
        try:
            rec = db.create_scenario(req.id, title, body)
        except AlreadyExists:
            raise HTTPException(409, f"scenario {req.id!r} exists") from None
        return ScenarioOut(id=rec.id, title=rec.title, source="stored", version=rec.version)

    @app.put(
        "/api/scenarios/{sid}",
        response_model=ScenarioOut,
        dependencies=write,
        responses={**bad, 404: {"description": "no such"}, 409: {"description": "stale"}},
    )
    def update_scenario(sid: str, req: ScenarioUpdate) -> ScenarioOut:
        """Replace a stored scenario; ``version`` must be the one read (else 409)."""
        if sid in _embedded_set():
            raise HTTPException(409, f"{sid!r} is an embedded scenario (read-only)")
        title, body = validated(sid, req.body)
        try:
            rec = db.update_scenario(sid, title, body, req.version)
        except NotFound:
            raise HTTPException(404, f"no scenario {sid!r}") from None
        except StaleVersion as exc:
            raise HTTPException(409, str(exc)) from None
        return ScenarioOut(id=rec.id, title=rec.title, source="stored", version=rec.version)

    @app.delete(
        "/api/scenarios/{sid}",
        status_code=204,
        dependencies=write,
        responses={404: {"description": "no such"}, 409: {"description": "stale"}},
    )
    def delete_scenario(
        sid: str, version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
    ) -> Response:
        """Delete a stored scenario (only at ``version`` when given)."""
        try:
            db.delete_scenario(sid, version)
        except NotFound:
            raise HTTPException(404, f"no scenario {sid!r}") from None
        except StaleVersion as exc:
            raise HTTPException(409, str(exc)) from None
        return Response(status_code=204)

    # --- runs ---
    def summary(r: Result) -> dict[str, Any]:
        ds = r.dataset
        s = r.scenario
        stock = ds.stock.isel(sample=0).transpose("month", "party", "product").values
        parties = {str(p): i for i, p in enumerate(ds.party.values)}
        products = {str(p): i for i, p in enumerate(ds.product.values)}
        labels = [str(m)[:7] for m in ds.month.values]
        start_year, start_month = int(s.start[:4]), int(s.start[5:7])
        targets = []
        for tid, t in s.targets.items():
            series = stock[:, [parties[p] for p in t.parties], products[t.product]].sum(axis=1)
            required = t.required_quantity
            by = (int(t.by[:4]) - start_year) * 12 + int(t.by[5:7]) - start_month
            by = min(max(by, 0), len(labels) - 1)
            hit = np.flatnonzero(series >= required - 1e-9)
            first = int(hit[0]) if hit.size else None
            targets.append(
                {
                    "target": tid,
                    "product": t.product,
                    "required": required,
                    "by": t.by,
                    "stock_at_by": float(series[by]),
                    "met_by_date": bool(series[by] >= required - 1e-9),
                    "first_met": labels[first] if first is not None else None,
                    "months_early": by - first if first is not None else None,
                    "stock_at_horizon": float(series[-1]),
                }
            )
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

    @app.post("/api/simulate", dependencies=write, responses=bad)
    def simulate_endpoint(
        req: SimulateRequest,
        charts: Annotated[bool, Query(description="add Plotly chart JSON")] = False,
        full: Annotated[bool, Query(description="all metrics, not just the summary")] = False,
        capacity: Annotated[
            str | None, Query(max_length=80, description="munition of the capacity chart")
        ] = None,
    ) -> JSONResponse:
        """Run one scenario (with knobs); the summary, optionally full metrics and charts."""
        r = run(req)
        out: dict[str, Any] = {"knobs": req.knobs.model_dump(exclude_none=True)}
        out["summary"] = summary(r)
        if full or req.save:
            out["metrics"] = r.metrics()
        if charts:
            out["charts"] = chart_json([r], capacity)
        if req.save:
            out["run_id"] = db.save_run(r.scenario.id, req.model_dump(), clean(out["metrics"]))
        return JSONResponse(clean(out))

    @app.post("/api/compare", dependencies=write, responses=bad)
    def compare_endpoint(
        req: CompareRequest,
        charts: Annotated[bool, Query(description="add Plotly chart JSON")] = True,
        capacity: Annotated[
            str | None, Query(max_length=80, description="munition of A's capacity chart")
        ] = None,
    ) -> JSONResponse:
        """Two runs side by side: both summaries, shared charts and A's capacity chart."""
        a, b = run(req.a), run(req.b)
        out: dict[str, Any] = {"a": summary(a), "b": summary(b)}
        if charts:
            if a.scenario.id == b.scenario.id:
                b = Result(b.dataset, b.scenario.model_copy(update={"id": b.scenario.id + "-b"}))
            out["charts"] = chart_json([a, b], capacity)
        return JSONResponse(clean(out))

    @app.get("/api/runs/{rid}")
    def get_run(rid: str) -> JSONResponse:
        """A saved simulation run."""
        try:
            return JSONResponse(clean(db.get_run(rid)))
        except NotFound:
            raise HTTPException(404, f"no run {rid!r}") from None

    @app.post("/api/download", dependencies=write, responses=bad)
    def download(
        req: ScenarioRef,
        format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
        variable: Annotated[str | None, Query(max_length=80)] = None,
    ) -> Response:
        """Result tables: a zip of every tidy table (plus metrics.json), or one variable."""
        r = run(req)
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

    @app.get("/api/spending", responses=bad)
    def spending(
        scenario: Annotated[str, Query(max_length=80, pattern=ID_PATTERN)] = "action-plan",
        year: Annotated[int, Query(ge=1990, le=2100)] = 2024,
        threshold: Annotated[float, Query(ge=0, le=100)] = 2.0,
        basis: Literal["nato", "sipri"] = "nato",
        pledge: Annotated[float | None, Query(ge=0, le=100)] = None,
        by: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    ) -> JSONResponse:
        """%GDP per ally in a year, who meets a threshold, and what a pledge costs."""
        from materiel.analysis.spending import pledge_table, spending_table

        if (pledge is None) != (by is None):
            raise ScenarioError(Problem("<request>", "pledge/by", "give both or neither"))
        s = resolve(ScenarioRef(scenario=scenario))
        table = spending_table(s, year, threshold, basis)
        known = table.meets.notna()
        out: dict[str, Any] = {
            "scenario": s.id,
            "year": year,
            "threshold_pct": threshold,
            "basis": basis,
            "allies": records(table),
            "count_meeting": int(table.meets[known].sum()),
            "count_with_data": int(known.sum()),
        }
        if pledge is not None and by is not None:
            pledged = pledge_table(s, pledge, by, basis)
            out["pledge"] = {"pct_gdp": pledge, "by": by, "allies": records(pledged)}
        return JSONResponse(clean(out))

    # --- jobs ---
    def job_out(rec: JobRecord) -> JobOut:
        return JobOut(
            id=rec.id,
            kind=rec.kind,
            scenario=rec.scenario,
            status=rec.status,
            done=rec.done,
            total=rec.total,
            cancel_requested=rec.cancel_requested,
            error=rec.error,
            result=rec.result,
            created_at=rec.created_at,
            updated_at=rec.updated_at,
        )

    def start_job(
        kind: str, s: Scenario, request: dict[str, Any], total: int, work: Callable[..., Any]
    ) -> JobStarted:
        if not active.acquire(blocking=False):
            raise HTTPException(429, f"at most {lim.max_active_jobs} jobs at a time")
        jid = db.create_job(kind, s.id, request, total)
        deadline = time.monotonic() + lim.job_timeout_s
        last = [0.0]

        def progress(done: int, total_: int) -> None:
            now = time.monotonic()
            if now > deadline:
                raise _CancelledError(f"timed out after {lim.job_timeout_s:g} s")
            if now - last[0] > 0.25 or done >= total_:
                last[0] = now
                db.update_job(jid, done=done, total=total_)
                if db.cancel_requested(jid):
                    raise _CancelledError("cancelled")

        def body() -> None:
            try:
                db.update_job(jid, status="running")
                result = work(progress, deadline)
                if db.cancel_requested(jid):
                    db.update_job(jid, status="cancelled", error="cancelled")
                else:
                    db.update_job(jid, status="done", done=total, result=clean(result))
            except _CancelledError as exc:
                status = "cancelled" if str(exc) == "cancelled" else "failed"
                db.update_job(jid, status=status, error=str(exc))
            except ScenarioError as exc:
                db.update_job(jid, status="failed", error=str(exc))
            except Exception as exc:
                db.update_job(jid, status="failed", error=f"{type(exc).__name__}: {exc}")
            finally:
                active.release()

        threading.Thread(target=body, name=f"materiel-job-{jid}", daemon=True).start()
        return JobStarted(id=jid, status="queued")

    @app.post(
        "/api/jobs/montecarlo",
        status_code=202,
        response_model=JobStarted,
        dependencies=write,
        responses={**bad, 429: {"description": "too many jobs"}},
    )
    def start_montecarlo(req: MonteCarloRequest) -> JobStarted:
        """Start a Monte Carlo run (samples capped by the server); poll ``/api/jobs/{id}``."""
        from materiel.analysis.montecarlo import sample

        if req.samples > lim.max_mc_samples:
            raise ScenarioError(
                Problem("<request>", "samples", f"at most {lim.max_mc_samples} samples")
            )
        s = resolve(req)

        def work(progress: Callable[[int, int], None], _deadline: float) -> Any:
            return sample(s, req.samples, req.seed, chunk=50, progress=progress).metrics()

        return start_job("montecarlo", s, req.model_dump(), req.samples, work)

    @app.post(
        "/api/jobs/plan",
        status_code=202,
        response_model=JobStarted,
        dependencies=write,
        responses={**bad, 429: {"description": "too many jobs"}},
    )
    def start_plan(req: PlanRequest) -> JobStarted:
        """Start a planning run (LP/MILP, time-limited); poll ``/api/jobs/{id}``."""
        from materiel.plan import plan

        s = resolve(req)

        def work(_progress: Callable[[int, int], None], deadline: float) -> Any:
            left = max(deadline - time.monotonic(), 1.0)
            return plan(s, req.objective, req.budget_scale, time_limit_s=left).summary()

        return start_job("plan", s, req.model_dump(), 1, work)

    @app.get("/api/jobs", response_model=list[JobOut])
    def list_jobs() -> list[JobOut]:
        """The latest jobs (without their results)."""
        return [job_out(j).model_copy(update={"result": None}) for j in db.list_jobs()]

    @app.get("/api/jobs/{jid}", response_model=JobOut, responses={404: {"description": "no"}})
    def get_job(jid: str) -> JobOut:
        """A job's status and progress, and its result once done."""
        try:
            return job_out(db.get_job(jid))
        except NotFound:
            raise HTTPException(404, f"no job {jid!r}") from None

    @app.post(
        "/api/jobs/{jid}/cancel",
        response_model=JobOut,
        dependencies=write,
        responses={404: {"description": "no"}},
    )
    def cancel_job(jid: str) -> JobOut:
        """Ask a job to stop; it stops at its next progress step."""
        try:
            return job_out(db.request_cancel(jid))
        except NotFound:
            raise HTTPException(404, f"no job {jid!r}") from None

    return app


def _table_bytes(df: Any, fmt: str) -> bytes:
    if fmt == "csv":
        return str(df.to_csv(index=False)).encode("utf-8")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def create_app_from_env() -> FastAPI:
    """App factory for uvicorn workers: ``MATERIEL_STORE``, ``MATERIEL_TOKEN``."""
    return create_app(
        os.environ.get("MATERIEL_STORE") or None,
        token=os.environ.get("MATERIEL_TOKEN") or None,
    )
