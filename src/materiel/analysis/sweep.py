"""Sweeps: scenario variants x Monte Carlo samples, run on a Dask cluster, streamed to disk.

A sweep file (TOML)::

    scenario = "action-plan"      # embedded id, or a file relative to the sweep file
    samples = 1000                # per variant
    seed = 1
    chunk = 250                   # samples per task (optional: by default sized to the cluster)

    [grid]                        # every combination of these values
    "policy.extra_contracting_delay_months" = [0, 6, 12]
    "policy.consumption_scale" = [0.8, 1.0, 1.2]

    [[variants]]                  # and/or a list of named variants
    id = "no-investment"
    "policy.industry_invests" = false

Each (variant, block of samples) is one task. A task draws all the
variant's samples from the variant's seed (``SeedSequence(seed)`` spawned
per variant, so a variant's draws do not depend on the others), runs its
block (streamed: no trajectories are kept) and writes one Parquet file of
per-sample outcomes (stock at each target's date, met or not, first month
met, cost). Workers keep the loaded variants and their compiled inputs
between tasks (:func:`prepared`), and the compiled kernel stays loaded in
each worker process. Without ``chunk`` the task size adapts to the work:
about four tasks per worker thread in all (:func:`task_size`), so that
workers stay busy to the end without paying per-task costs thousands of
times. A multi-machine cluster: start ``dask scheduler`` and ``dask worker
ADDRESS`` on each machine (with materiel installed), then ``materiel sweep
FILE --scheduler ADDRESS``. Tasks run on a Dask
cluster — a ``LocalCluster`` by default, or an existing scheduler — or, for
tests and small sweeps, in this process; the files are identical either way.
The summary is read back from the files, so a sweep larger than memory
completes.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from materiel._errors import Problem, ScenarioError
from materiel._io import atomic_path, atomic_write_text
from materiel.scenario.loading import load

if TYPE_CHECKING:
    from materiel.engine.inputs import Inputs
    from materiel.scenario.schema import Scenario

__all__ = [
    "SweepSpec",
    "load_sweep",
    "preferred_workers",
    "prepared",
    "run_sweep",
    "run_task",
    "summarize_sweep",
    "sweep_table",
    "task_size",
]


class SweepSpec(BaseModel):
    """A sweep: a base scenario, variants (grid and/or list), samples per variant."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    samples: int = Field(100, ge=1, le=10_000_000)
    seed: int = Field(0, ge=0)
    chunk: int | None = Field(None, ge=1, le=1_000_000)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    variants: list[dict[str, Any]] = Field(default_factory=list)


def _nest(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    *head, last = path.split(".")
    for key in head:
        node = node.setdefault(key, {})
    node[last] = value
    return out


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def _as_id(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", label).strip("-.")[:80] or "variant"


def expand(spec: SweepSpec, base: str) -> list[tuple[str, dict[str, Any]]]:
    """The sweep's variants as ``(id, scenario mapping)``, grid first then the list."""
    out: list[tuple[str, dict[str, Any]]] = []
    paths = sorted(spec.grid)
    for combo in itertools.product(*(spec.grid[p] for p in paths)) if paths else []:
        overlay: dict[str, Any] = {"extends": base}
        for path, value in zip(paths, combo, strict=True):
            _merge(overlay, _nest(path, value))
        label = ",".join(f"{p.split('.')[-1]}={v}" for p, v in zip(paths, combo, strict=True))
        out.append((label, {**overlay, "id": _as_id(label)}))
    for n, variant in enumerate(spec.variants):
        overlay = {"extends": base}
        for path, value in variant.items():
            if path != "id":
                _merge(overlay, _nest(path, value))
        label = str(variant.get("id", f"variant-{n + 1}"))
        out.append((label, {**overlay, "id": _as_id(label)}))
    return out or [("base", {"extends": base})]


def load_sweep(path: Path) -> tuple[SweepSpec, list[tuple[str, dict[str, Any]]]]:
    """Read and validate a sweep file and every variant it defines (all problems at once)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = SweepSpec.model_validate(data)
    except OSError as exc:
        why = "no such file" if isinstance(exc, FileNotFoundError) else f"cannot read: {exc}"
        message = f"{why}; expected a sweep TOML file"
        raise ScenarioError(Problem(str(path), "", message)) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(Problem(str(path), "", "expected a UTF-8 text file")) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(Problem(str(path), "", f"invalid TOML: {exc}")) from exc
    except ValidationError as exc:
        raise ScenarioError(
            [Problem(str(path), ".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()]
        ) from exc
    base = spec.scenario
    if (path.parent / base).is_file():
        base = str((path.parent / base).resolve())
    variants = expand(spec, base)
    problems = []
    for label, overlay in variants:
        try:
            load(overlay, name=f"{path}[{label}]")
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return spec, variants


def variant_seed(seed: int, index: int) -> int:
    """The seed of variant ``index``: independent streams spawned from the sweep's seed."""
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    return int(child.generate_state(1)[0])


@functools.lru_cache(maxsize=16)
def prepared(overlay_json: str) -> tuple[Scenario, Inputs]:
    """A variant loaded and compiled once per worker process (kept between its tasks)."""
    from materiel.engine import compile_inputs

    s = load(json.loads(overlay_json))
    return s, compile_inputs(s)


def task_size(spec: SweepSpec, variants: int, workers: int) -> int:
    """Samples per task: ``spec.chunk`` when given, else sized to the cluster.

    ``ceil(samples / ceil(4 * workers / variants))``: about four tasks per
    worker thread over the whole sweep (load balance at the end), at least
    250 samples (or all of them) so that per-task costs stay small, at most
    100,000 so that progress shows and a lost task costs little; then evened
    out over that many tasks (400 samples: two tasks of 200, not 250 and 150).
    """
    if spec.chunk is not None:
        return spec.chunk
    per_variant = max(1, math.ceil(4 * max(1, workers) / max(1, variants)))
    size = math.ceil(spec.samples / per_variant)
    size = max(min(size, 100_000), min(250, spec.samples))
    return math.ceil(spec.samples / math.ceil(spec.samples / size))


def run_task(
    label: str,
    index: int,
    overlay: dict[str, Any],
    samples: int,
    seed: int,
    first: int,
    last: int,
    out_dir: str,
    threads: int | None = 1,
) -> str:
    """Run samples ``first..last-1`` of one variant; write and return a Parquet file."""
    from materiel.analysis.montecarlo import sample

    s, inp = prepared(json.dumps(overlay, sort_keys=True))
    mc = sample(
        s,
        samples,
        variant_seed(seed, index),
        subset=range(first, last),
        inputs=inp,
        threads=threads,
        trajectories=False,
        fans=False,
    )
    df = mc.outcomes()
    df.insert(0, "variant", label)
    path = Path(out_dir) / f"part-{index:04d}-{first:09d}.parquet"
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return str(path)


def run_sweep(
    spec: SweepSpec,
    variants: list[tuple[str, dict[str, Any]]],
    out_dir: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    local: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run every (variant, block of samples) task and return the summary (also written to
    ``out_dir``).

    ``local`` runs the tasks in this process (no Dask, every core); otherwise
    they go to the scheduler at ``scheduler`` or to a new ``LocalCluster``
    of ``workers`` single-threaded processes. The files and the summary are
    the same either way, whatever the task size.
    """
    parts = out_dir / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for old in parts.glob("*.parquet"):
        old.unlink()

    def tasks(workers: int, threads: int | None = 1) -> list[tuple[Any, ...]]:
        size = task_size(spec, len(variants), workers)
        return [
            (
                label,
                i,
                overlay,
                spec.samples,
                spec.seed,
                first,
                min(first + size, spec.samples),
                str(parts.resolve()),
                threads,
            )
            for i, (label, overlay) in enumerate(variants)
            for first in range(0, spec.samples, size)
        ]

    if local:
        todo = tasks(1, None)  # in this process: every core
        for done, task in enumerate(todo, 1):
            run_task(*task)
            if progress is not None:
                progress(done, len(todo))
    else:
        _run_on_dask(tasks, scheduler, workers, progress)
    summary = summarize_sweep(out_dir)
    atomic_write_text(
        out_dir / "sweep.json",
        json.dumps({"spec": spec.model_dump(), "variants": [v for v, _ in variants]}, indent=2),
    )
    return summary


def _run_on_dask(
    tasks: Callable[[int], list[tuple[Any, ...]]],  # given the cluster's threads
    scheduler: str | None,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # The scheduler's HTTP server on a free loopback port: ``dashboard_address=None``
        # still binds 8787 on every interface, and warns and moves when 8787 is taken
        # (another cluster, a second sweep), which a caller running warnings as errors
        # sees as a failure to start.
        cluster = LocalCluster(
            n_workers=workers or 2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
        )
    try:
        with Client(scheduler or cluster) as client:
            threads = client.nthreads()
            todo = tasks(sum(threads.values()) or 1)
            home = preferred_workers(len(todo), threads)
            futures = [
                client.submit(
                    run_task,
                    *task,
                    pure=False,
                    workers=where,
                    allow_other_workers=where is not None,
                )
                for task, where in zip(todo, home, strict=True)
            ]
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                if progress is not None:
                    progress(done, len(todo))
    finally:
        if cluster is not None:
            cluster.close()


def preferred_workers(tasks: int, threads: dict[str, int]) -> list[list[str] | None]:
    """Where each task (variant-major order) should run: contiguous blocks, one per worker.

    Task ``j`` prefers the worker holding thread ``floor(j * W / tasks)`` of
    the ``W`` threads (workers in address order, each as many times as it
    has threads): each worker gets a run of consecutive tasks, so of few
    variants, and loads each variant once (:func:`prepared`) instead of every
    worker loading every variant (0.2 s of CPU each, a fifth of a 250-sample
    task). A preference only: idle workers still take (steal) queued tasks.
    """
    slots = [w for w in sorted(threads) for _ in range(max(1, threads[w]))]
    if len(slots) < 2:
        return [None] * tasks
    return [[slots[j * len(slots) // tasks]] for j in range(tasks)]


def summarize_sweep(out_dir: Path) -> pd.DataFrame:
    """Per variant and target: P(met by date), P(met by horizon), stock-at-date percentiles.

    Reads one variant's files at a time, so memory is bounded by one variant.
    """
    files = sorted((out_dir / "parts").glob("part-*.parquet"))
    by_variant: dict[str, list[Path]] = {}
    for f in files:
        by_variant.setdefault(f.name.split("-")[1], []).append(f)
    frames = []
    for _, group in sorted(by_variant.items()):
        df = pd.concat([pd.read_parquet(f) for f in group], ignore_index=True)
        if df.empty:
            continue
        frames.append(
            df.groupby(["variant", "target"], sort=False)
            .agg(
                samples=("sample", "size"),
                p_met_by_date=("met_by_date", "mean"),
                p_met_by_horizon=("first_met_month", lambda x: float((x >= 0).mean())),
                stock_at_by_p5=("stock_at_by", lambda x: float(np.quantile(x, 0.05))),
                stock_at_by_p50=("stock_at_by", "median"),
                stock_at_by_p95=("stock_at_by", lambda x: float(np.quantile(x, 0.95))),
                cost_usd_p50=("cost_usd", "median"),
            )
            .reset_index()
        )
    summary = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with atomic_path(out_dir / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    return summary


def sweep_table(summary: pd.DataFrame) -> pd.DataFrame:
    """P(met by date), target x variant, in the sweep's own order (not sorted as text:
    ``delay=0, delay=6, delay=12`` stays in that order)."""
    table = summary.pivot(index="target", columns="variant", values="p_met_by_date")
    return table.reindex(
        index=list(dict.fromkeys(summary.target)), columns=list(dict.fromkeys(summary.variant))
    )
