"""``/api/jobs``: start Monte Carlo and planning jobs, poll them, cancel them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import HTTPException

from materiel._errors import Problem, ScenarioError
from materiel.months import label_of
from materiel.web.catalogue import embedded_set
from materiel.web.deps import CatalogueDep, JobsDep, LimitsDep, StoreDep, api_router
from materiel.web.jobs import Progress, job_out
from materiel.web.schemas import JobOut, JobStarted, MonteCarloRequest, PlanRequest
from materiel.web.store import NotFound

if TYPE_CHECKING:
    from materiel.analysis.montecarlo import MonteCarloResult

__all__ = ["router", "stock_fans"]

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
        result = sample(s, req.samples, req.seed, chunk=50, progress=progress)
        return {**result.metrics(), "fans": stock_fans(result)}

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

    # the plan as a scenario a variant can store: extending the embedded scenario it was
    # made from when no knob changed it, else complete (the knobs' effects written out)
    extends = req.scenario if req.inline is None and req.knobs.is_empty() else None
    extends = extends if extends in embedded_set() else None

    def work(_progress: Progress, deadline: float) -> Any:
        left = max(deadline - time.monotonic(), 1.0)
        p = plan(s, req.objective, req.budget_scale, time_limit_s=left)
        return {**p.summary(), "scenario_mapping": p.to_scenario(extends)}

    return jobs.start("plan", s.id, req.model_dump(), 1, work, cells)


def stock_fans(result: MonteCarloResult) -> dict[str, Any]:
    """Percentile bands of stock over the months, JSON-ready (units, rounded).

    ``groups``: each target's group of parties and munition (their stocks
    together, as the target counts them); ``cells``: each party and munition
    the run records. Each has ``p5 .. p95`` lists, one value per month.
    """
    from materiel.analysis.montecarlo import QUANTILES
    from materiel.present.charts import target_groups

    s = result.scenario
    quantiles = QUANTILES
    names = [f"p{round(q * 100)}" for q in quantiles]

    def bands(da: Any) -> dict[str, list[float]]:
        fan = result.fan(da, quantiles).transpose("quantile", "month").values
        return {n: np.round(fan[i]).tolist() for i, n in enumerate(names)}

    groups = [
        {
            "label": f"{g.product}: {g.label}",
            "parties": list(g.parties),
            "product": g.product,
            "targets": [
                {
                    "target": tid,
                    "required": s.targets[tid].required_quantity,
                    "by": s.targets[tid].by,
                }
                for tid in g.targets
            ],
            **bands(result.stock_of(list(g.parties), g.product)),
        }
        for g in target_groups(s)
    ]
    ds = result.dataset
    stock = result.fan(ds.stock, quantiles).transpose("party", "product", "quantile", "month")
    cells = [
        {
            "label": f"{k}: {p}",
            "parties": [str(p)],
            "product": str(k),
            **{n: np.round(stock.values[a, b, i]).tolist() for i, n in enumerate(names)},
        }
        for a, p in enumerate(ds.party.values)
        for b, k in enumerate(ds["product"].values)
        if s.products[str(k)].kind == "munition" and stock.values[a, b].max() > 0
    ]
    months = [label_of(m) for m in ds.month.values]
    return {"months": months, "groups": groups, "cells": cells}


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
