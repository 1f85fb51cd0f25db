"""Issue 19 on the web edge: no 5xx from accepted input, reads behind the token, costs
bounded, the API contract kept (413 for chunked bodies, 422 bodies as documented, HEAD)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from fastapi import FastAPI  # noqa: E402
from test_web_api import Server, free_port  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from materiel.cli import app as cli_app  # noqa: E402
from materiel.engine.cost import estimate_cells  # noqa: E402
from materiel.web import Limits, Store, create_app  # noqa: E402
from materiel.web.jobs import JobRunner  # noqa: E402

AFTER_2100 = {"extends": "status-quo", "start": "2101-01", "months": 12, "drop": ["targets"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("hard") / "store.db", extra=["--max-run-cells", "200000"])
    yield s.start()
    s.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[Any]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def _problem(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    assert isinstance(body["detail"], str) and body["problems"], body
    first: dict[str, Any] = body["problems"][0]
    return first


# --- 1. no 500 from accepted input; a 500 closes the connection ------------------------


def test_pledge_year_before_the_paths_is_a_located_422(client: Any) -> None:
    r = client.get("/api/spending", params={"pledge": 3.5, "by": 2013})
    assert r.status_code == 422
    problem = _problem(r)
    assert problem["path"] == "by_year" and "2013" in problem["message"]
    result = CliRunner().invoke(cli_app, ["spending", "--pledge", "3.5", "--by", "2013"])
    assert result.exit_code == 2 and "--by" in result.output and "2013" in result.output


def test_spending_knob_on_a_scenario_after_2100_is_a_422(client: Any) -> None:
    r = client.post(
        "/api/simulate", json={"inline": AFTER_2100, "knobs": {"spending_target_pct_gdp": 3.0}}
    )
    assert r.status_code == 422, r.text
    assert _problem(r)["message"]


def test_an_internal_error_answers_500_with_connection_close(tmp_path: Path) -> None:
    app = create_app(Store(tmp_path / "s.db"))
    boom = FastAPI()

    @boom.get("/boom")
    def _boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.extend(r for r in boom.router.routes if getattr(r, "path", "") == "/boom")
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            r = c.get("/boom")
            assert r.status_code == 500
            assert r.headers.get("connection", "").lower() == "close"
            assert "bug" in r.json()["detail"]
            assert c.get("/api/health").status_code == 200  # the client's next request works
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- 2. the token guards every /api route but health -----------------------------------


def _reads(c: Any) -> list[int]:
    return [
        c.get("/api/scenarios").status_code,
        c.get("/api/scenarios/status-quo").status_code,
        c.get("/api/jobs").status_code,
        c.get("/api/jobs/nope").status_code,
        c.get("/api/runs/nope").status_code,
        c.get("/api/spending").status_code,
    ]


def test_token_guards_reads_unless_public_read(tmp_path: Path) -> None:
    good = {"Authorization": "Bearer s3cret"}
    closed = Server(tmp_path / "closed.db", token="s3cret").start()
    try:
        with httpx.Client(base_url=closed.url, timeout=60) as c:
            assert c.get("/api/health").status_code == 200
            assert c.head("/api/health").status_code == 200
            assert set(_reads(c)) == {401}
            c.headers.update(good)
            assert set(_reads(c)) <= {200, 404}
            del c.headers["Authorization"]
            assert c.post("/api/simulate", json={}).status_code == 401
    finally:
        closed.stop()
    opened = Server(tmp_path / "open.db", token="s3cret", extra=["--public-read"]).start()
    try:
        with httpx.Client(base_url=opened.url, timeout=60) as c:
            assert 401 not in _reads(c)
            assert c.post("/api/simulate", json={}).status_code == 401
            assert c.delete("/api/scenarios/x").status_code == 401
    finally:
        opened.stop()


def test_public_bind_with_the_token_from_the_environment_requires_it(tmp_path: Path) -> None:
    s = Server(
        tmp_path / "env.db", extra=["--host", "0.0.0.0"], env={"MATERIEL_TOKEN": "from-env"}
    ).start()
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            assert c.get("/api/scenarios").status_code == 401
            assert c.post("/api/simulate", json={}).status_code == 401
            ok = c.get("/api/scenarios", headers={"Authorization": "Bearer from-env"})
            assert ok.status_code == 200
    finally:
        s.stop()
    empty = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--port", "1"], env={"MATERIEL_TOKEN": ""}
    )
    assert empty.exit_code == 2


# --- 3. resource budgets ----------------------------------------------------------------


def test_over_budget_runs_are_refused_with_the_estimate_and_the_limit(client: Any) -> None:
    big = {"extends": "status-quo", "months": 600}
    r = client.post("/api/simulate", json={"inline": big})
    assert r.status_code == 413
    message = _problem(r)["message"]
    assert "estimated cost" in message and "200,000 cells" in message
    job = client.post("/api/jobs/montecarlo", json={"inline": big, "samples": 2000})
    assert job.status_code == 413  # the default job limit (300,000,000 cells)
    assert "300,000,000" in _problem(job)["message"]
    assert client.post("/api/simulate", json={"scenario": "status-quo"}).status_code == 200


def test_synchronous_runs_have_a_wall_clock_limit(tmp_path: Path) -> None:
    from materiel import ScenarioError
    from materiel.web.catalogue import Catalogue
    from materiel.web.schemas import ScenarioRef

    store = Store(tmp_path / "t.db")
    slow = Catalogue(store, Limits(simulate_timeout_s=1e-4))
    with pytest.raises(ScenarioError, match=r"longer than the server.s limit of 0\.0001 s"):
        slow.run(ScenarioRef(scenario="status-quo"))
    assert Catalogue(store).run(ScenarioRef(scenario="status-quo")).scenario.id == "status-quo"
    store.close()


def test_the_kernels_first_compile_is_not_counted_against_a_runs_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run in a process compiles the kernel (a minute with no numba cache on
    a loaded machine): here the first ``simulate`` takes 0.5 s, later ones no time, and
    the limit is 0.3 s. The request must not pay for the compile (a 422 before)."""
    from materiel.web import catalogue as cat
    from materiel.web.schemas import ScenarioRef

    real = cat.simulate
    calls: list[str] = []

    def first_call_slow(s: Any, **kwargs: Any) -> Any:
        calls.append(s.id)
        if len(calls) == 1:
            time.sleep(0.5)  # the compile
        return real(s, **kwargs)

    monkeypatch.setattr(cat, "simulate", first_call_slow)
    monkeypatch.setattr(cat, "_warm_done", False)
    store = Store(tmp_path / "w.db")
    quick = cat.Catalogue(store, Limits(simulate_timeout_s=0.3))
    assert quick.run(ScenarioRef(scenario="status-quo")).scenario.id == "status-quo"
    assert calls == ["action-plan", "hague-pledge", "status-quo"]
    assert quick.run(ScenarioRef(scenario="action-plan")).scenario.id == "action-plan"
    assert calls[3:] == ["action-plan"]  # warmed once per process
    store.close()


def test_running_jobs_share_one_memory_budget(tmp_path: Path) -> None:
    from materiel.scenario.loading import load

    store = Store(tmp_path / "jobs.db")
    cells = estimate_cells(load("status-quo"), 10)
    runner = JobRunner(store, Limits(max_active_jobs=4, max_jobs_cells_total=cells + cells // 2))
    release = threading.Event()

    def work(_progress: Any, _deadline: float) -> Any:
        release.wait(30)
        return {"ok": True}

    first = runner.start("test", "status-quo", {}, 1, work, cells)
    with pytest.raises(Exception) as refused:
        runner.start("test", "status-quo", {}, 1, work, cells)
    assert getattr(refused.value, "status_code", None) == 429
    assert f"{cells:,}" in str(getattr(refused.value, "detail", ""))
    release.set()
    deadline = time.monotonic() + 30
    while store.get_job(first.id).status != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.get_job(first.id).status == "done"
    time.sleep(0.1)
    again = runner.start("test", "status-quo", {}, 1, work, cells)  # the budget was returned
    assert again.status == "queued"
    store.close()


# --- 9. API contract --------------------------------------------------------------------


def test_chunked_body_over_the_limit_is_413(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"inline": {"extends": "status-quo", "description": "'
        for _ in range(1200):
            yield b"x" * 1000
        yield b'"}}'

    r = client.post("/api/simulate", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_every_422_is_documented_as_the_body_sent(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    ref = "#/components/schemas/ProblemsOut"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if op.get("parameters") or op.get("requestBody"):
                documented = op["responses"].get("422", {})
                schema = documented.get("content", {}).get("application/json", {}).get("schema")
                assert schema == {"$ref": ref}, f"{method.upper()} {path}: {documented}"
    r = client.delete("/api/scenarios/x", params={"version": 0})
    assert r.status_code == 422
    assert set(_problem(r)) == {"file", "line", "path", "message"}


def test_head_health(client: Any) -> None:
    assert client.head("/api/health").status_code == 200


# --- found by schemathesis with all checks (tests/test_schemathesis.py) -----------------


def test_openapi_declares_the_token_only_when_the_server_has_one(tmp_path: Path) -> None:
    def security(app: FastAPI) -> dict[str, Any]:
        spec = app.openapi()
        ops = {f"{m.upper()} {p}": o for p, v in spec["paths"].items() for m, o in v.items()}
        return {k: ("security" in o, "401" in o["responses"]) for k, o in ops.items()}

    store = Store(tmp_path / "s.db")
    assert set(security(create_app(store)).values()) == {(False, False)}
    closed = security(create_app(store, token="t"))
    assert closed["GET /api/scenarios"] == closed["POST /api/simulate"] == (True, True)
    assert closed["GET /api/health"] == (False, False)
    opened = security(create_app(store, token="t", public_read=True))
    assert opened["GET /api/scenarios"] == (False, False)
    assert opened["POST /api/simulate"] == (True, True)
    responses = create_app(store).openapi()["paths"]["/api/compare"]["post"]["responses"]
    assert {"400", "404", "413", "422"} <= set(responses)
    store.close()


def test_405_lists_every_method_of_the_path(client: Any) -> None:
    r = client.request("OPTIONS", "/api/scenarios/x")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, PUT"
    assert client.request("PATCH", "/api/scenarios").headers["allow"] == "GET, POST"
    # a literal path is not the template it also matches (/api/jobs/{jid})
    assert client.request("OPTIONS", "/api/jobs/plan").headers["allow"] == "POST"
    head = client.head("/api/health")
    assert head.headers["content-type"] == "application/json"  # as GET says


def test_request_numbers_are_strict(client: Any) -> None:
    r = client.post("/api/jobs/plan", json={"budget_scale": False})
    assert r.status_code == 422 and _problem(r)["path"] == "body.budget_scale"
    r = client.post("/api/simulate", json={"knobs": {"contracting_delay_months": "3"}})
    assert r.status_code == 422


def test_unknown_download_variable_is_a_located_422(client: Any) -> None:
    r = client.post("/api/download", params={"variable": "nope"}, json={"scenario": "status-quo"})
    assert r.status_code == 422 and _problem(r)["path"] == "variable"
