"""The ``materiel`` command line: the edge that parses, prints and writes files.

Exit codes: 0 success; 1 a run that completed but failed a requested check;
2 bad input, with every problem named with its file, field and line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from materiel import __version__
from materiel._errors import ScenarioError
from materiel.export import write_result
from materiel.loading import load, scenario_summaries
from materiel.result import Result
from materiel.schema import Scenario
from materiel.simulate import simulate
from materiel.summary import compare_table, summarize

__all__ = ["app", "main"]

app = typer.Typer(
    help="Model an alliance's munitions supply system and plan how to refill it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_SCENARIO = "action-plan"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


class OutFormat(StrEnum):
    """File formats for ``--out``."""

    csv = "csv"
    parquet = "parquet"
    netcdf = "netcdf"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _bad_input(exc: ScenarioError, as_json: bool) -> typer.Exit:
    if as_json:
        _echo_json({"ok": False, "problems": [p.as_dict() for p in exc.problems]})
    else:
        typer.echo(str(exc), err=True)
    return typer.Exit(code=2)


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on an interactive terminal; nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda t: bar.update(task, completed=t + 1)


def _simulate(scenario: Scenario, show_progress: bool) -> Result:
    with _progress(show_progress, scenario.months, f"simulating {scenario.id}") as cb:
        return simulate(scenario, progress=cb)


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="Embedded scenario id or a scenario TOML file.")
    ] = DEFAULT_SCENARIO,
    as_json: JsonOpt = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write result tables to this directory.")
    ] = None,
    fmt: Annotated[OutFormat, typer.Option("--format", help="File format for --out.")] = (
        OutFormat.csv
    ),
    compare: Annotated[
        list[str] | None,
        typer.Option("--compare", help="Also run this scenario and compare (repeatable)."),
    ] = None,
    check_targets: Annotated[
        bool,
        typer.Option("--check-targets", help="Exit 1 if any target is not met by its date."),
    ] = False,
) -> None:
    """Simulate a scenario month by month and report targets, bottlenecks and cost."""
    try:
        scenarios = [load(scenario)] + [load(other) for other in compare or []]
    except ScenarioError as exc:
        raise _bad_input(exc, as_json) from exc
    results = [_simulate(s, not as_json) for s in scenarios]
    if out is not None:
        for r in results:
            target = out if len(results) == 1 else out / r.scenario.id
            write_result(r, target, fmt.value)
    if as_json:
        payload: Any = [r.metrics() for r in results] if compare else results[0].metrics()
        _echo_json(payload)
    else:
        for r in results:
            typer.echo(summarize(r))
            typer.echo("")
        if compare:
            typer.echo("Comparison: month each target is first met")
            typer.echo(compare_table(results).to_string())
        if out is not None:
            typer.echo(f"wrote {fmt.value} results to {out}")
    if check_targets:
        unmet = [
            f"{r.scenario.id}:{row.target}"
            for r in results
            for row in r.targets().itertuples()
            if not row.met_by_date
        ]
        if unmet:
            typer.echo("targets not met by their date: " + ", ".join(unmet), err=True)
            raise typer.Exit(code=1)


@app.command()
def scenarios(as_json: JsonOpt = False) -> None:
    """List the embedded scenarios."""
    rows = scenario_summaries()
    if as_json:
        _echo_json(rows)
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        typer.echo(f"{r['id']:<{width}}  {r['description'] or r['title']}")


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="Scenario TOML file (or embedded id).")],
    as_json: JsonOpt = False,
) -> None:
    """Check a scenario file; list every problem with its location (exit 2 if any)."""
    try:
        s = load(file)
    except ScenarioError as exc:
        raise _bad_input(exc, as_json) from exc
    if as_json:
        _echo_json({"ok": True, "id": s.id, "problems": []})
    else:
        typer.echo(f"{file}: ok ({s.id}: {len(s.lines)} lines, {len(s.contracts)} contracts)")


def describe(s: Scenario) -> dict[str, Any]:
    """What a scenario contains: counts and key parameters."""
    assumed = sorted(k for k, src in s.sources.items() if src.is_assumption)
    return {
        "id": s.id,
        "title": s.title,
        "description": s.description.strip(),
        "extends": s.extends,
        "start": s.start,
        "months": s.months,
        "policy": s.policy.model_dump(),
        "counts": {
            name: len(getattr(s, name))
            for name in (
                "parties",
                "products",
                "lines",
                "investments",
                "contracts",
                "consumption",
                "aid",
                "targets",
                "sources",
                "spending_paths",
            )
        },
        "allies": len(s.allies),
        "munitions": s.munitions,
        "capacity_per_month_at_dataset_baseline": {
            k: sum(x.capacity_per_month for x in s.lines.values() if x.product == k)
            for k in s.munitions
        },
        "contracted_quantity": {
            k: sum(c.quantity for c in s.contracts.values() if c.product == k) for k in s.munitions
        },
        "targets": {
            tid: {
                "product": t.product,
                "parties": t.parties,
                "quantity": t.required_quantity,
                "by": t.by,
            }
            for tid, t in s.targets.items()
        },
        "assumptions": s.assumptions,
        "sources_cited": len(s.sources) - len(assumed),
        "sources_assumed": len(assumed),
    }


@app.command()
def show(
    scenario: Annotated[str, typer.Argument(help="Embedded scenario id or a TOML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show what a scenario contains: counts, key parameters, targets and assumptions."""
    try:
        s = load(scenario)
    except ScenarioError as exc:
        raise _bad_input(exc, as_json) from exc
    info = describe(s)
    if as_json:
        _echo_json(info)
        return
    typer.echo(f"{info['id']}: {info['title']}")
    if info["description"]:
        typer.echo(info["description"])
    typer.echo(f"extends {info['extends'] or '-'}; horizon {s.start} + {s.months} months")
    typer.echo("counts: " + ", ".join(f"{k} {v}" for k, v in info["counts"].items()))
    typer.echo("policy: " + ", ".join(f"{k}={v}" for k, v in info["policy"].items()))
    for k in s.munitions:
        typer.echo(
            f"  {k}: baseline capacity {info['capacity_per_month_at_dataset_baseline'][k]:,.0f}"
            f"/month, contracted {info['contracted_quantity'][k]:,.0f}"
        )
    for tid, t in info["targets"].items():
        typer.echo(f"  target {tid}: {','.join(t['parties'])} {t['product']} "
                   f">= {t['quantity']:,.0f} by {t['by']}")  # fmt: skip
    typer.echo(
        f"sources: {info['sources_cited']} cited, {info['sources_assumed']} labelled assumptions"
    )
    for line in info["assumptions"]:
        typer.echo(f"  - {line}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"materiel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """materiel: munitions supply, capacity, stocks and budgets, month by month."""


def main() -> None:
    """Console-script entry point."""
    app()
