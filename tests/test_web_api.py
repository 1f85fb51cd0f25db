"""The HTTP API against a real uvicorn server on loopback, and kill -9."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from typer.testing import CliRunner  # noqa: E402

from materiel.cli import app as cli_app  # noqa: E402
from materiel.scenario.loading import load  # noqa: E402

SERVE = [sys.executable, "-c", "import sys; from materiel.cli import main; main()", "serve"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``materiel serve`` in a subprocess on a free loopback port."""

    def __init__(
        self,
        store: Path | str,
        token: str | None = None,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.store = str(store)
        self.token = token
        self.extra = extra or []
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        args = [*SERVE, "--port", str(self.port), "--store", self.store]
        if self.token:
            args += ["--token", self.token]
        args += self.extra
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MATERIEL_TOKEN", None)
        env.update(self.env)
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + 180  # a loaded machine may take a while to import
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("web") / "store.db").start()
    yield s
    s.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[Any]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def _target(summary: dict[str, Any], tid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in summary["targets"] if t["target"] == tid)
    return found


def test_lists_and_gets_embedded_scenarios(client: Any) -> None:
    listed = client.get("/api/scenarios").json()
    ids = {s["id"] for s in listed if s["source"] == "embedded"}
    assert {"status-quo", "action-plan"} <= ids
    one = client.get("/api/scenarios/action-plan").json()
    assert one["source"] == "embedded" and one["body"]["extends"] == "dataset"
    assert client.get("/api/scenarios/no-such").status_code == 404


def test_scenario_crud_with_validation_and_optimistic_concurrency(client: Any) -> None:
    bad = client.post(
        "/api/scenarios",
        json={"id": "bad-one", "body": {"extends": "action-plan", "policy": {"nope": 1}}},
    )
    assert bad.status_code == 422
    problem = bad.json()["problems"][0]
    assert set(problem) == {"file", "line", "path", "message"}
    assert problem["path"] == "policy.nope"
    assert client.get("/api/scenarios/bad-one").status_code == 404

    body = {"extends": "action-plan", "title": "Slow", "policy": {"contracting_delay_months": 18}}
    created = client.post("/api/scenarios", json={"id": "slow", "body": body})
    assert created.status_code == 201 and created.json()["version"] == 1
    assert client.post("/api/scenarios", json={"id": "slow", "body": body}).status_code == 409
    assert client.post("/api/scenarios", json={"id": "dataset", "body": body}).status_code == 409

    got = client.get("/api/scenarios/slow").json()
    assert got["version"] == 1 and got["body"]["policy"]["contracting_delay_months"] == 18
    body2 = {**body, "policy": {"contracting_delay_months": 6}}
    ok = client.put("/api/scenarios/slow", json={"body": body2, "version": 1})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.put("/api/scenarios/slow", json={"body": body, "version": 1})
    assert stale.status_code == 409
    assert client.get("/api/scenarios/slow").json()["body"]["policy"] == body2["policy"]

    listed = {s["id"]: s for s in client.get("/api/scenarios").json()}
    assert listed["slow"]["source"] == "stored" and listed["slow"]["version"] == 2
    sim = client.post("/api/simulate", json={"scenario": "slow"})
    assert sim.status_code == 200 and sim.json()["summary"]["scenario"] == "slow"

    assert client.delete("/api/scenarios/slow", params={"version": 1}).status_code == 409
    assert client.delete("/api/scenarios/slow", params={"version": 2}).status_code == 204
    assert client.get("/api/scenarios/slow").status_code == 404
    assert client.put("/api/scenarios/slow", json={"body": body, "version": 2}).status_code == 404


def test_extends_may_not_name_a_file(client: Any) -> None:
    for base in ("/etc/passwd", "../dataset.toml", 7):
        r = client.post("/api/scenarios", json={"id": "evil", "body": {"extends": base}})
        assert r.status_code == 422
        assert r.json()["problems"][0]["path"] == "extends"
    r = client.post("/api/simulate", json={"inline": {"extends": "/etc/hostname"}})
    assert r.status_code == 422


def test_simulate_knobs_change_the_result(client: Any) -> None:
    base = client.post("/api/simulate", json={"scenario": "action-plan"}).json()["summary"]
    late = client.post(
        "/api/simulate",
        json={"scenario": "action-plan", "knobs": {"extra_contracting_delay_months": 24}},
    ).json()["summary"]
    tid = "usa-155mm-2028"
    assert _target(late, tid)["stock_at_by"] < _target(base, tid)["stock_at_by"]
    heavy = client.post(
        "/api/simulate", json={"scenario": "status-quo", "knobs": {"consumption_scale": 3}}
    ).json()["summary"]
    light = client.post("/api/simulate", json={"scenario": "status-quo"}).json()["summary"]
    # procurement policies answer the heavier use: the stock path changes (buyers order more)
    assert _target(heavy, tid)["stock_at_horizon"] != _target(light, tid)["stock_at_horizon"]
    multi = client.post(
        "/api/simulate", json={"scenario": "status-quo", "knobs": {"multi_year_share": 1.0}}
    )
    assert multi.status_code == 200
    budget = client.post(
        "/api/simulate",
        json={
            "scenario": "status-quo",
            "knobs": {"spending_target_pct_gdp": 3.5, "budget": "defer"},
        },
    )
    assert budget.status_code == 200
    assert "charts" not in budget.json() and "metrics" not in budget.json()


def test_simulate_with_charts_full_metrics_inline_and_saved_run(client: Any) -> None:
    r = client.post(
        "/api/simulate",
        params={"charts": True, "full": True},
        json={"inline": {"extends": "status-quo", "policy": {"consumption_scale": 1.5}}},
    )
    assert r.status_code == 200
    data = r.json()
    assert data["summary"]["scenario"] == "inline"
    assert {"stocks", "time_to_target", "capacity"} <= set(data["charts"])
    assert data["charts"]["stocks"]["data"]
    assert data["metrics"]["targets"]
    saved = client.post("/api/simulate", json={"scenario": "action-plan", "save": True}).json()
    run = client.get(f"/api/runs/{saved['run_id']}").json()
    assert run["scenario"] == "action-plan" and run["metrics"]["targets"]
    bad = client.post("/api/simulate", json={"inline": {"extends": "status-quo", "months": -1}})
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "months"


def test_scenario_detail_resolved_and_the_capacity_munition(client: Any) -> None:
    detail = client.get("/api/scenarios/action-plan").json()
    resolved = detail["resolved"]
    assert resolved["months"] > 0 and resolved["parties"] and resolved["assumptions"]
    assert "consumption_scale" in resolved["policy"]
    munition = resolved["munitions"][-1]
    pair = {"a": {"scenario": "action-plan"}, "b": {"scenario": "status-quo"}}
    r = client.post("/api/compare", params={"capacity": munition}, json=pair)
    assert r.status_code == 200
    assert munition in r.json()["charts"]["capacity"]["layout"]["title"]["text"]
    bad = client.post(
        "/api/simulate",
        params={"charts": True, "capacity": "no-such-munition"},
        json={"scenario": "action-plan"},
    )
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["path"] == "capacity"


def test_party_and_munition_views_and_their_bad_input(client: Any) -> None:
    r = client.post(
        "/api/simulate",
        params={"charts": True, "party": "DEU", "product": "amraam"},
        json={"scenario": "action-plan"},
    )
    assert r.status_code == 200, r.text
    charts = r.json()["charts"]
    assert charts["stocks"]["layout"]["title"]["text"] == "Stocks held by Germany (DEU), units"
    assert charts["capacity"]["layout"]["title"]["text"].split(":")[0].endswith(" in DEU")
    for param, value in (("party", "XXX"), ("product", "no-such-munition")):
        bad = client.post(
            "/api/simulate", params={"charts": True, param: value}, json={"scenario": "action-plan"}
        )
        assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == param


def test_record_in_and_out_of_sample(client: Any) -> None:
    r = client.post("/api/record", json={"scenario": "hindcast-2022"})
    assert r.status_code == 200, r.text
    data = r.json()
    samples = {row["sample"] for row in data["rows"]}
    assert {"in-sample", "out-of-sample"} <= samples and data["until"] == "2023-12"
    for which, e in data["errors"].items():
        rows = [x for x in data["rows"] if x["sample"] == which and x["difference_pct"] is not None]
        assert e["rows"] == len(rows)
        mean = sum(abs(x["difference_pct"]) for x in rows) / len(rows)
        assert e["mean_abs_pct"] == pytest.approx(mean)
    for row in data["rows"]:
        if row["model"] is not None:
            assert row["difference"] == pytest.approx(row["model"] - row["record"])
    later = client.post(
        "/api/record", params={"until": "2022-06"}, json={"scenario": "hindcast-2022"}
    ).json()
    assert later["errors"]["in-sample"]["rows"] < data["errors"]["in-sample"]["rows"]
    bad = client.post(
        "/api/record", params={"until": "2023-13"}, json={"scenario": "hindcast-2022"}
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "until"


def test_cached_answers_follow_a_stored_scenarios_version(client: Any) -> None:
    """Answers are cached per scenario, stored version and knobs: an update is never stale."""
    body = {"extends": "status-quo", "policy": {"consumption_scale": 2.0}}
    assert client.post("/api/scenarios", json={"id": "cache-v", "body": body}).status_code == 201
    first = client.post("/api/simulate", json={"scenario": "cache-v"})
    again = client.post("/api/simulate", json={"scenario": "cache-v"})
    assert first.content == again.content
    body["policy"]["consumption_scale"] = 0.0
    put = client.put("/api/scenarios/cache-v", json={"body": body, "version": 1})
    assert put.status_code == 200
    after = client.post("/api/simulate", json={"scenario": "cache-v"})
    fresh = client.post("/api/simulate", json={"inline": {**body, "id": "cache-v"}})  # uncached
    assert after.json()["summary"]["targets"] == fresh.json()["summary"]["targets"]
    assert after.json() != first.json()


def test_compare_two_scenarios(client: Any) -> None:
    r = client.post(
        "/api/compare", json={"a": {"scenario": "status-quo"}, "b": {"scenario": "action-plan"}}
    )
    assert r.status_code == 200
    data = r.json()
    assert data["a"]["scenario"] == "status-quo" and data["b"]["scenario"] == "action-plan"
    assert "stocks" in data["charts"]


def test_download_zip_and_one_variable(client: Any) -> None:
    r = client.post("/api/download", params={"format": "csv"}, json={"scenario": "status-quo"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "stock.csv" in names and "metrics.json" in names
    one = client.post(
        "/api/download",
        params={"format": "parquet", "variable": "production"},
        json={"scenario": "status-quo"},
    )
    assert one.status_code == 200 and one.content[:4] == b"PAR1"
    missing = client.post(
        "/api/download", params={"variable": "nope"}, json={"scenario": "status-quo"}
    )
    assert missing.status_code == 422  # a bad query value, located


def test_spending(client: Any) -> None:
    r = client.get("/api/spending", params={"year": 2024, "pledge": 3.5, "by": 2035})
    assert r.status_code == 200
    data = r.json()
    assert data["count_with_data"] > 20 and data["pledge"]["allies"]
    assert client.get("/api/spending", params={"pledge": 3.5}).status_code == 422


def _wait(client: Any, jid: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/jobs/{jid}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {jid} did not finish")


def test_montecarlo_and_plan_jobs(client: Any) -> None:
    mc = client.post("/api/jobs/montecarlo", json={"scenario": "action-plan", "samples": 60})
    assert mc.status_code == 202
    job = _wait(client, mc.json()["id"])
    assert job["status"] == "done" and job["done"] == 60
    assert job["result"]["targets"][0]["p_met_by_date"] is not None
    too_many = client.post("/api/jobs/montecarlo", json={"samples": 100_000})
    assert too_many.status_code == 422
    p = client.post("/api/jobs/plan", json={"scenario": "action-plan", "objective": "cost"})
    assert p.status_code == 202
    planned = _wait(client, p.json()["id"])
    assert planned["status"] == "done", planned["error"]
    assert "cost_usd" in planned["result"]
    assert any(j["id"] == planned["id"] for j in client.get("/api/jobs").json())


def test_cancel_a_job(client: Any) -> None:
    started = client.post("/api/jobs/montecarlo", json={"scenario": "action-plan", "samples": 2000})
    jid = started.json()["id"]
    assert client.post(f"/api/jobs/{jid}/cancel").status_code == 200
    job = _wait(client, jid)
    assert job["cancel_requested"] and job["status"] == "cancelled"
    assert client.post("/api/jobs/nope/cancel").status_code == 404


def test_body_size_limit(client: Any) -> None:
    big = {"inline": {"extends": "status-quo", "description": "x" * 1_100_000}}
    assert client.post("/api/simulate", json=big).status_code == 413


def test_token_is_required_on_writes_and_runs(tmp_path: Path) -> None:
    s = Server(tmp_path / "t.db", token="s3cret", extra=["--public-read"]).start()
    try:
        with httpx.Client(base_url=s.url, timeout=60) as c:
            assert c.get("/api/scenarios").status_code == 200  # reads opened by --public-read
            assert c.post("/api/simulate", json={}).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert c.post("/api/simulate", json={}, headers=wrong).status_code == 401
            good = {"Authorization": "Bearer s3cret"}
            assert c.post("/api/simulate", json={}, headers=good).status_code == 200
            body = {"id": "x1", "body": {"extends": "status-quo"}}
            assert c.post("/api/scenarios", json=body).status_code == 401
            assert c.post("/api/scenarios", json=body, headers=good).status_code == 201
            assert c.delete("/api/scenarios/x1").status_code == 401
    finally:
        s.stop()


def test_refuses_public_bind_without_token() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "--token" in result.output


def test_dashboard_and_plotly_are_served_locally(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/plotly.min.js" in page.text
    assert "cdn" not in page.text.lower()
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/../store.py").status_code == 404
    assert client.get("/openapi.json").json()["paths"]["/api/simulate"]


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    s = Server(db).start()
    acked: dict[str, int] = {}
    stop = threading.Event()

    def burst() -> None:
        with httpx.Client(base_url=s.url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                sid = f"burst-{i}"
                body = {
                    "extends": "status-quo",
                    "title": f"burst {i}",
                    "policy": {"contracting_delay_months": i % 100},
                }
                try:
                    r = c.post("/api/scenarios", json={"id": sid, "body": body})
                    if r.status_code == 201:
                        acked[sid] = i % 100
                        u = c.put(
                            f"/api/scenarios/{sid}",
                            json={"body": {**body, "title": f"burst {i} v2"}, "version": 1},
                        )
                        if u.status_code == 200:
                            acked[sid] = -1 - (i % 100)
                except httpx.HTTPError:
                    return
                i += 1

    worker = threading.Thread(target=burst)
    worker.start()
    deadline = time.monotonic() + 30
    while len(acked) < 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.kill()
    stop.set()
    worker.join(timeout=30)
    assert len(acked) >= 5

    s2 = Server(db).start()
    try:
        with httpx.Client(base_url=s2.url, timeout=30) as c:
            stored = {x["id"]: x for x in c.get("/api/scenarios").json() if x["source"] == "stored"}
            for sid, mark in acked.items():
                assert sid in stored, f"acknowledged {sid} lost"
                got = c.get(f"/api/scenarios/{sid}").json()
                delay = mark if mark >= 0 else -1 - mark
                assert got["body"]["policy"]["contracting_delay_months"] == delay
                if mark < 0:
                    assert got["version"] == 2 and got["title"].endswith("v2")
            for sid in stored:  # nothing half-written: every stored one loads and runs
                assert c.post("/api/simulate", json={"scenario": sid}).status_code == 200
    finally:
        s2.stop()


def test_policy_made_contracts_over_the_api(client: Any) -> None:
    data = client.post(
        "/api/simulate", params={"full": True}, json={"scenario": "status-quo"}
    ).json()
    summary, metrics = data["summary"], data["metrics"]
    assert summary["contracts"]["policy"] > 0 and summary["contracts"]["scenario"] > 0
    assert summary["floors"]["applies_to"] == "all"
    assert {d["policy"] for d in summary["decisions"]} == set(load("status-quo").procurement)
    made = [c for c in metrics["contracts"] if c["decided_by"] == "policy"]
    assert len(made) == summary["contracts"]["policy"]
    assert all(c["origin"].startswith("policy:") and c["signed"] >= c["decided"] for c in made)
    r = client.post("/api/download", params={"format": "csv"}, json={"scenario": "status-quo"})
    assert "contracts.csv" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()


def test_weapon_systems_over_the_api(client: Any) -> None:
    summary = client.post("/api/simulate", json={"scenario": "status-quo"}).json()["summary"]
    assert summary["interoperability"] == "national"
    (ukr,) = summary["weapon_systems"]
    assert (ukr["party"], ukr["product"]) == ("UKR", "shell-155mm")
    assert ukr["usable_end"] + ukr["unusable_end"] == pytest.approx(ukr["stock_end"])
    assert ukr["effective_capacity_start_per_month"] < ukr["capacity_start_per_month"]
    assert ukr["short_systems"]


def test_cached_answers_are_gzipped_once_and_match_the_plain_bytes(client: Any) -> None:
    """A repeated answer is sent from the gzip kept with it (Content-Encoding, Vary) to a
    client that accepts gzip, and plain to one that does not: the same JSON either way,
    and the same as the first (uncached) answer."""
    import gzip

    req = {"scenario": "status-quo", "knobs": {"consumption_scale": 1.25}}
    first = client.post("/api/simulate?charts=true", json=req)  # computed (and kept)
    assert first.status_code == 200
    with client.stream(
        "POST", "/api/simulate?charts=true", json=req, headers={"Accept-Encoding": "gzip"}
    ) as zipped:
        raw = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
    plain = client.post(
        "/api/simulate?charts=true", json=req, headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(raw) == plain.content == first.content
    assert len(raw) < len(plain.content) / 4
    small = client.post(
        "/api/simulate", json={"scenario": "status-quo"}, headers={"Accept-Encoding": "gzip"}
    )
    assert small.status_code == 200 and small.json()["summary"]["scenario"] == "status-quo"
