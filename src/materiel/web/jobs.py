"""Background jobs (Monte Carlo, planning): one thread each, state kept in the store.

At most ``Limits.max_active_jobs`` run at once, and the estimated cells of
the running jobs together stay within ``Limits.max_jobs_cells_total`` (their
memory); each stops at its next progress step when cancelled or past
``Limits.job_timeout_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException

from materiel._errors import ScenarioError
from materiel.web.limits import Limits
from materiel.web.schemas import JobOut, JobStarted, clean
from materiel.web.store import JobRecord, Store

__all__ = ["JobRunner", "Progress", "job_out"]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: report progress; raises to stop a cancelled or late job."""


class _CancelledError(Exception):
    pass


def job_out(rec: JobRecord) -> JobOut:
    """The API view of a stored job."""
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


class JobRunner:
    """Starts jobs in threads, bounded in number and time."""

    def __init__(self, store: Store, limits: Limits) -> None:
        self.store = store
        self.max_active = limits.max_active_jobs
        self.timeout_s = limits.job_timeout_s
        self.max_cells_total = limits.max_jobs_cells_total
        self._active = threading.BoundedSemaphore(self.max_active)
        self._lock = threading.Lock()
        self._cells_running = 0

    def _reserve(self, cells: int) -> None:
        with self._lock:
            if self._cells_running + cells > self.max_cells_total:
                busy = self._cells_running
                raise HTTPException(
                    429,
                    f"running jobs hold an estimated {busy:,} cells; this one needs {cells:,} "
                    f"and all jobs together may hold {self.max_cells_total:,}: try later",
                )
            self._cells_running += cells

    def _release(self, cells: int) -> None:
        with self._lock:
            self._cells_running -= cells
        self._active.release()

    def start(
        self,
        kind: str,
        scenario_id: str,
        request: dict[str, Any],
        total: int,
        work: Callable[[Progress, float], Any],
        cells: int = 0,
    ) -> JobStarted:
        """Record a job and run ``work(progress, deadline)`` in a thread.

        429 when ``max_active_jobs`` run already or the job's estimated
        ``cells`` do not fit beside the running ones.
        """
        if not self._active.acquire(blocking=False):
            raise HTTPException(429, f"at most {self.max_active} jobs at a time")
        db = self.store
        try:
            self._reserve(cells)
        except BaseException:
            self._active.release()
            raise
        try:
            jid = db.create_job(kind, scenario_id, request, total)
        except BaseException:
            self._release(cells)
            raise
        deadline = time.monotonic() + self.timeout_s
        last = [0.0]

        def progress(done: int, total_: int) -> None:
            now = time.monotonic()
            if now > deadline:
                raise _CancelledError(f"timed out after {self.timeout_s:g} s")
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
                self._release(cells)

        threading.Thread(target=body, name=f"materiel-job-{jid}", daemon=True).start()
        return JobStarted(id=jid, status="queued")
