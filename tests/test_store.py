"""The durable store on SQLite and on a throwaway PostgreSQL server started by the test."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from materiel.web.store import (
    MIGRATIONS,
    AlreadyExists,
    NotFound,
    StaleVersion,
    Store,
    scenarios,
    store_url,
)

PG_BIN = next(
    (p.parent for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)),
    Path("/usr/lib/postgresql/15/bin"),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_user() -> list[str] | str:
    """How to run the PostgreSQL binaries: as is, or as an unprivileged user when root."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--"]
    return "running as root and no unprivileged user (postgres/nobody) to run initdb"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    pytest.importorskip("psycopg")
    prefix = _as_user()
    if isinstance(prefix, str):
        pytest.skip(prefix)
    tmp = Path(tempfile.mkdtemp(prefix="materiel-pg-"))
    data = tmp / "data"
    if prefix:
        user = prefix[2]
        shutil.chown(tmp, user=user)
        os.chmod(tmp, 0o700)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def pg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    init = pg(
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "materiel",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    if init.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    opts = f"-p {port} -k {tmp} -h 127.0.0.1 -c fsync=off"
    start = pg(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        opts,
        "-l",
        str(tmp / "log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    if start.returncode != 0:
        log = (tmp / "log").read_text() if (tmp / "log").exists() else start.stderr
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"pg_ctl start failed: {log.strip()[-300:]}")
    try:
        yield f"postgresql+psycopg://materiel@127.0.0.1:{port}/postgres"
    finally:
        pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(tmp_path / "store.db")
    else:
        url = request.getfixturevalue("postgres_url")
        s = Store(url)
        with s.engine.begin() as conn:  # a clean slate per test
            for table in ("runs", "jobs", "scenarios"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
    yield s
    s.close()


BODY = {"extends": "status-quo", "policy": {"contracting_delay_months": 6}}


def test_migrations_are_applied_once_and_recorded(store: Store) -> None:
    assert store.schema_version() == len(MIGRATIONS)
    again = Store(store.url)
    assert again.migrate() == len(MIGRATIONS)
    again.close()


def test_sqlite_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub.db"
    s = Store(path)
    assert path.exists()
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()
    assert store_url("x.db").startswith("sqlite:///")
    assert store_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_scenario_crud_and_versions(store: Store) -> None:
    created = store.create_scenario("a", "A", BODY)
    assert created.version == 1
    with pytest.raises(AlreadyExists):
        store.create_scenario("a", "A", BODY)
    assert store.get_scenario("a").body == BODY
    updated = store.update_scenario("a", "A2", {**BODY, "title": "A2"}, 1)
    assert updated.version == 2 and updated.title == "A2"
    with pytest.raises(StaleVersion) as stale:
        store.update_scenario("a", "A3", BODY, 1)
    assert stale.value.current == 2
    assert store.get_scenario("a").title == "A2"
    with pytest.raises(NotFound):
        store.update_scenario("zz", "Z", BODY, 1)
    assert [s.id for s in store.list_scenarios()] == ["a"]
    with pytest.raises(StaleVersion):
        store.delete_scenario("a", 1)
    store.delete_scenario("a", 2)
    with pytest.raises(NotFound):
        store.get_scenario("a")
    with pytest.raises(NotFound):
        store.delete_scenario("a")


def test_concurrent_updates_one_winner_per_version(store: Store) -> None:
    store.create_scenario("race", "R", BODY)
    wins: list[int] = []
    stale: list[int] = []
    barrier = threading.Barrier(6)

    def writer(i: int) -> None:
        barrier.wait()
        try:
            store.update_scenario("race", f"R{i}", {**BODY, "title": f"R{i}"}, 1)
            wins.append(i)
        except StaleVersion:
            stale.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(stale) == 5
    got = store.get_scenario("race")
    assert got.version == 2 and got.title == f"R{wins[0]}"


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    store.create_scenario("kept", "K", BODY)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:  # a crash mid-transaction
        conn.execute(
            scenarios.insert().values(
                id="half", title="H", body="{}", version=1, created_at=0.0, updated_at=0.0
            )
        )
        conn.execute(scenarios.update().where(scenarios.c.id == "kept").values(title="X"))
        raise RuntimeError("crash")
    with pytest.raises(NotFound):
        store.get_scenario("half")
    assert store.get_scenario("kept").title == "K"


def test_runs_and_jobs(store: Store) -> None:
    rid = store.save_run("status-quo", {"knobs": {}}, {"targets": [1, 2]})
    assert store.get_run(rid)["metrics"] == {"targets": [1, 2]}
    jid = store.create_job("montecarlo", "status-quo", {"samples": 10}, 10)
    store.update_job(jid, status="running", done=5)
    assert not store.cancel_requested(jid)
    assert store.request_cancel(jid).cancel_requested
    store.update_job(jid, status="done", done=10, result={"ok": True})
    job = store.get_job(jid)
    assert job.status == "done" and job.result == {"ok": True} and job.done == 10
    assert [j.id for j in store.list_jobs()] == [jid]
    other = store.create_job("plan", "status-quo", {}, 1)
    assert store.fail_interrupted_jobs(before=time.time() + 1) == 1
    assert store.get_job(other).status == "failed"
