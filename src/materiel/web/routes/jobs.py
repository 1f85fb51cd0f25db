"""``/api/jobs``: start Monte Carlo and planning jobs, poll them, cancel them."""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException

from materiel._errors import Problem, ScenarioError
from materiel.web.deps import CatalogueDep, JobsDep, LimitsDep, StoreDep, api_router
from materiel.web.jobs import Progress, job_out
from materiel.web.schemas import JobOut, JobStarted, MonteCarloRequest, PlanRequest
from materiel.web.store import NotFound

__all__ = ["router"]

router = api_router("/api/jobs", tag="jobs")

_BUSY: dict[int | str, dict[str, Any]] = {429: {"description": "too many jobs"}}


@router.post(
    "/montecarlo",
    status_code=202,
    response_model=JobStarted,
    responses={**_BUSY},
)
def start_montecarlo(
    req: MonteCarloRequest, catalogue: CatalogueDep, jobs: JobsDep, lim: LimitsDep
) -> JobStarted:
    """Start a Monte Carlo run (samples capped by the server); poll ``/api/jobs/{id}``."""
    from materiel.analysis.montecarlo import sample

    if req.samples > lim.max_mc_samples:
        raise ScenarioError(
            Problem("<request>", "samples", f"at most {lim.max_mc_samples} samples")
        )
    s = catalogue.resolve(req)
    cells = lim.check_run(s, req.samples, job=True)

    def work(progress: Progress, _deadline: float) -> Any:
        return sample(s, req.samples, req.seed, chunk=50, progress=progress).metrics()

    return jobs.start("montecarlo", s.id, req.model_dump(), req.samples, work, cells)


@router.post(
    "/plan",
    status_code=202,
    response_model=JobStarted,
    responses={**_BUSY},
)
def start_plan(
    req: PlanRequest, catalogue: CatalogueDep, jobs: JobsDep, lim: LimitsDep
) -> JobStarted:
    """Start a planning run (LP/MILP, time-limited); poll ``/api/jobs/{id}``."""
    from materiel.plan import plan

    s = catalogue.resolve(req)
    cells = lim.check_run(s, 1, job=True)

    def work(_progress: Progress, deadline: float) -> Any:
        left = max(deadline - time.monotonic(), 1.0)
        return plan(s, req.objective, req.budget_scale, time_limit_s=left).summary()

    return jobs.start("plan", s.id, req.model_dump(), 1, work, cells)


@router.get("", response_model=list[JobOut])
def list_jobs(db: StoreDep) -> list[JobOut]:
    """The latest jobs (without their results)."""
    return [job_out(j).model_copy(update={"result": None}) for j in db.list_jobs()]


@router.get("/{jid}", response_model=JobOut, responses={404: {"description": "no"}})
def get_job(jid: str, db: StoreDep) -> JobOut:
    """A job's status and progress, and its result once done."""
    try:
        return job_out(db.get_job(jid))
    except NotFound:
        raise HTTPException(404, f"no job {jid!r}") from None


@router.post(
    "/{jid}/cancel",
    response_model=JobOut,
    responses={404: {"description": "no"}},
)
def cancel_job(jid: str, db: StoreDep) -> JobOut:
    """Ask a job to stop; it stops at its next progress step."""
    try:
        return job_out(db.request_cancel(jid))
    except NotFound:
        raise HTTPException(404, f"no job {jid!r}") from None
