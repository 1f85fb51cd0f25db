"""A durable store for user scenarios, run results and background jobs.

SQLite by default (a file created on first use, WAL journal), PostgreSQL when
given a ``postgresql://`` URL. Built on SQLAlchemy Core. The schema is
versioned: a ``schema_version`` table records the migrations applied, and the
ordered steps in :data:`MIGRATIONS` run at start-up inside one transaction each.

Every write is one transaction, so a crash mid-write never leaves a
half-saved scenario. Scenarios carry a ``version``: an update or delete must
name the version it read, and a stale one raises :class:`StaleVersion`
instead of overwriting someone else's change.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from materiel._errors import StoreError

__all__ = [
    "MIGRATIONS",
    "AlreadyExists",
    "JobRecord",
    "NotFound",
    "StaleVersion",
    "Store",
    "StoredScenario",
    "store_url",
]


class NotFound(StoreError, KeyError):  # noqa: N818
    """No stored record with that id."""


class AlreadyExists(StoreError, ValueError):  # noqa: N818
    """A record with that id exists already."""


class StaleVersion(StoreError, ValueError):  # noqa: N818
    """An update named a version that is no longer the current one."""

    def __init__(self, current: int) -> None:
        super().__init__(f"stale version: the current version is {current}")
        self.current = current


metadata = sa.MetaData()
schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.Float, nullable=False),
)
scenarios = sa.Table(
    "scenarios",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("scenario", sa.String(80), nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("scenario", sa.String(80), nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


def _create(*tables: sa.Table) -> Callable[[Connection], None]:
    def step(conn: Connection) -> None:
        for table in tables:
            table.create(conn)

    return step


def _index_jobs(conn: Connection) -> None:
    conn.exec_driver_sql("CREATE INDEX ix_jobs_created_at ON jobs (created_at)")


MIGRATIONS: Sequence[Callable[[Connection], None]] = (
    _create(scenarios),
    _create(jobs, runs),
    _index_jobs,
)
"""Ordered schema steps; step ``i`` brings the schema to version ``i + 1``."""


@dataclass(frozen=True)
class StoredScenario:
    """A user scenario as stored: the TOML-like mapping and its version."""

    id: str
    title: str
    body: dict[str, Any]
    version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class JobRecord:
    """A background job's state as stored."""

    id: str
    kind: str
    scenario: str
    request: dict[str, Any]
    status: str
    done: int
    total: int
    cancel_requested: bool
    result: Any
    error: str | None
    created_at: float
    updated_at: float


def store_url(value: str | Path | None) -> str:
    """A SQLAlchemy URL: a URL as given, or a SQLite file path (default ``materiel.db``)."""
    if value is None:
        value = "materiel.db"
    text = str(value)
    if "://" in text:
        if text.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


_SQLITE_HEADER = b"SQLite format 3\x00"


def _refuse_other_files(url: str) -> None:
    """Refuse a SQLite path that holds something other than a SQLite database.

    SQLite opens any file shorter than its 100-byte header as an empty database
    and writes its own pages over it, so a short text file named by mistake
    would be lost; a longer one would fail later with "file is not a database".
    An empty or missing file becomes a new store.
    """
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb") as fh:
        head = fh.read(len(_SQLITE_HEADER))
    if head != _SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database (its first bytes are {head[:16]!r}); expected "
            "a materiel store, an empty file or a new file name"
        )


class Store:
    """Scenarios, runs and jobs in SQLite or PostgreSQL, migrated on open."""

    def __init__(self, url: str | Path | None = None) -> None:
        self.url = store_url(url)
        _refuse_other_files(self.url)
        self.engine: Engine = sa.create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    # --- schema ---
    def schema_version(self) -> int:
        """The number of migration steps applied."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
            return int(found or 0)

    def migrate(self) -> int:
        """Apply the pending migration steps, each in its own transaction."""
        with self.engine.begin() as conn:
            if not sa.inspect(conn).has_table("schema_version"):
                with contextlib.suppress(sa.exc.DBAPIError):  # another worker made it
                    schema_version.create(conn)
        for target, step in enumerate(MIGRATIONS, start=1):
            try:
                with self.engine.begin() as conn:
                    if self.dialect == "postgresql":
                        conn.execute(sa.text("LOCK TABLE schema_version IN EXCLUSIVE MODE"))
                    current = conn.execute(
                        sa.select(sa.func.max(schema_version.c.version))
                    ).scalar()
                    if int(current or 0) >= target:
                        continue
                    step(conn)
                    conn.execute(schema_version.insert().values(version=target, applied_at=_now()))
            except sa.exc.IntegrityError:  # another process applied it first
                continue
            except sa.exc.OperationalError as exc:
                if "already exists" not in str(exc):
                    raise
        return self.schema_version()

    # --- scenarios ---
    def list_scenarios(self) -> list[StoredScenario]:
        """Every stored scenario, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(scenarios).order_by(scenarios.c.id)).all()
        return [_scenario(r) for r in rows]

    def get_scenario(self, sid: str) -> StoredScenario:
        """One stored scenario; raises :class:`NotFound`."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(scenarios).where(scenarios.c.id == sid)).first()
        if row is None:
            raise NotFound(sid)
        return _scenario(row)

    def create_scenario(self, sid: str, title: str, body: dict[str, Any]) -> StoredScenario:
        """Store a new scenario at version 1; raises :class:`AlreadyExists`."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    scenarios.insert().values(
                        id=sid,
                        title=title,
                        body=_dump(body),
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(sid) from exc
        return StoredScenario(sid, title, body, 1, now, now)

    def update_scenario(
        self, sid: str, title: str, body: dict[str, Any], version: int
    ) -> StoredScenario:
        """Replace a scenario if ``version`` is current; the stored version goes up by one."""
        now = _now()
        with self.engine.begin() as conn:
            updated = conn.execute(
                scenarios.update()
                .where(scenarios.c.id == sid, scenarios.c.version == version)
                .values(title=title, body=_dump(body), version=version + 1, updated_at=now)
            )
            if updated.rowcount != 1:
                self._raise_missing_or_stale(conn, sid)
            row = conn.execute(sa.select(scenarios).where(scenarios.c.id == sid)).one()
        return _scenario(row)

    def delete_scenario(self, sid: str, version: int | None = None) -> None:
        """Delete a scenario (only at ``version`` when given)."""
        with self.engine.begin() as conn:
            cond = scenarios.c.id == sid
            if version is not None:
                cond = sa.and_(cond, scenarios.c.version == version)
            deleted = conn.execute(scenarios.delete().where(cond))
            if deleted.rowcount != 1:
                self._raise_missing_or_stale(conn, sid)

    @staticmethod
    def _raise_missing_or_stale(conn: Connection, sid: str) -> None:
        current = conn.execute(sa.select(scenarios.c.version).where(scenarios.c.id == sid)).scalar()
        if current is None:
            raise NotFound(sid)
        raise StaleVersion(int(current))

    # --- runs ---
    def save_run(self, scenario: str, request: dict[str, Any], metrics: Any) -> str:
        """Keep a simulation's request and metrics; return the run id."""
        rid = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(
                runs.insert().values(
                    id=rid,
                    scenario=scenario,
                    request=_dump(request),
                    metrics=_dump(metrics),
                    created_at=_now(),
                )
            )
        return rid

    def get_run(self, rid: str) -> dict[str, Any]:
        """A saved run: id, scenario, request, metrics, created_at."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == rid)).first()
        if row is None:
            raise NotFound(rid)
        return {
            "id": row.id,
            "scenario": row.scenario,
            "request": json.loads(row.request),
            "metrics": json.loads(row.metrics),
            "created_at": row.created_at,
        }

    # --- jobs ---
    def create_job(self, kind: str, scenario: str, request: dict[str, Any], total: int) -> str:
        """Record a queued job; return its id."""
        jid = uuid.uuid4().hex
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=jid,
                    kind=kind,
                    scenario=scenario,
                    request=_dump(request),
                    status="queued",
                    done=0,
                    total=total,
                    cancel_requested=False,
                    result=None,
                    error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return jid

    def update_job(self, jid: str, **values: Any) -> None:
        """Set a job's status, progress, result or error."""
        if "result" in values and values["result"] is not None:
            values["result"] = _dump(values["result"])
        values["updated_at"] = _now()
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == jid).values(**values))

    def request_cancel(self, jid: str) -> JobRecord:
        """Ask a job to stop; a finished job is left as it is."""
        with self.engine.begin() as conn:
            found = conn.execute(
                jobs.update().where(jobs.c.id == jid).values(cancel_requested=True)
            )
            if found.rowcount != 1:
                raise NotFound(jid)
        return self.get_job(jid)

    def cancel_requested(self, jid: str) -> bool:
        """Whether a cancel was asked for."""
        with self.engine.connect() as conn:
            flag = conn.execute(sa.select(jobs.c.cancel_requested).where(jobs.c.id == jid)).scalar()
        return bool(flag)

    def get_job(self, jid: str) -> JobRecord:
        """One job; raises :class:`NotFound`."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == jid)).first()
        if row is None:
            raise NotFound(jid)
        return _job(row)

    def list_jobs(self, limit: int = 50) -> list[JobRecord]:
        """The latest jobs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
            ).all()
        return [_job(r) for r in rows]

    def fail_interrupted_jobs(self, before: float) -> int:
        """Mark jobs left queued or running by a server that stopped as failed."""
        with self.engine.begin() as conn:
            done = conn.execute(
                jobs.update()
                .where(jobs.c.status.in_(["queued", "running"]), jobs.c.updated_at < before)
                .values(status="failed", error="the server stopped during the job")
            )
        return int(done.rowcount)


def _now() -> float:
    return time.time()


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _scenario(row: Any) -> StoredScenario:
    return StoredScenario(
        id=row.id,
        title=row.title,
        body=json.loads(row.body),
        version=int(row.version),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
    )


def _job(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        scenario=row.scenario,
        request=json.loads(row.request),
        status=row.status,
        done=int(row.done),
        total=int(row.total),
        cancel_requested=bool(row.cancel_requested),
        result=None if row.result is None else json.loads(row.result),
        error=row.error,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
    )
