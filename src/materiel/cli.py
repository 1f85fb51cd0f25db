"""The ``materiel`` command line: the edge that parses, prints and writes files.

Exit codes: 0 success; 1 a run that completed but failed a requested check;
2 bad input, with every problem named with its file, field and line.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from materiel import __version__
from materiel._errors import Problem, ScenarioError
from materiel._json import dumps

if TYPE_CHECKING:
    from materiel.analysis.record import RecordRow
    from materiel.analysis.result import Result
    from materiel.scenario.schema import Scenario

# Only typer and the standard library are imported here, so that ``materiel
# --help`` answers at once; each command imports the library it needs.
__all__ = ["app", "main"]

app = typer.Typer(
    help="Model an alliance's munitions supply system and plan how to refill it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_SCENARIO = "action-plan"
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ScenarioArg = Annotated[str, typer.Argument(help="Embedded scenario id or a scenario TOML file.")]


class OutFormat(StrEnum):
    """File formats for ``--out``."""

    csv = "csv"
    parquet = "parquet"
    netcdf = "netcdf"


def _echo_json(data: Any) -> None:
    typer.echo(dumps(data))  # strict JSON: NaN and infinities print as null


def _argument(option: str, message: str) -> ScenarioError:
    return ScenarioError(Problem("<command line>", option, message))


def _as_options(exc: ScenarioError, options: dict[str, str]) -> ScenarioError:
    """``exc`` with each problem of a library function's argument (``headroom(): donors``)
    named as the command-line option that gave it (``<command line>: --donor``)."""
    return ScenarioError(
        [
            Problem("<command line>", options[p.path], p.message)
            if p.file.endswith("()") and p.path in options
            else p
            for p in exc.problems
        ]
    )


def _out_dir(path: Path, option: str) -> None:
    """Make sure results can be written into directory ``path`` (created if missing)."""
    try:
        if path.exists() and not path.is_dir():
            raise _argument(option, f"{path} is a file; expected a directory")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except NotADirectoryError as exc:
        raise _argument(option, f"{path} is under a file; expected a directory") from exc
    except OSError as exc:
        raise _argument(option, f"cannot write into {path}: {exc.strerror or exc}") from exc


def _out_file(path: Path, option: str) -> None:
    """Make sure file ``path`` can be written (its directory exists and takes new files)."""
    parent = path.parent
    if path.is_dir():
        raise _argument(option, f"{path} is a directory; expected a file name")
    if not parent.exists():
        if any(p.exists() and not p.is_dir() for p in parent.parents):
            raise _argument(option, f"{path} is under a file; expected a file in a directory")
        raise _argument(option, f"no such directory: {parent}")
    if not parent.is_dir():
        raise _argument(option, f"{path} is under a file; expected a file in a directory")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise _argument(option, f"cannot write into {parent}: {exc.strerror or exc}") from exc


def _not_an_input(path: Path, refs: list[str], option: str) -> None:
    """Refuse to write ``path`` over a scenario file the command reads (or one it extends).

    The written file would replace the input, and a plan or a calibrated
    scenario that ``extends`` the file it replaced extends itself.
    """
    from materiel.scenario.loading import files_read

    target = path.resolve()
    for ref in refs:
        if target in files_read(ref):
            raise _argument(
                option,
                f"{path} is an input (scenario {ref} is read from it); expected another "
                "file name, since writing there would replace the input",
            )


@contextmanager
def _writing(option: str, as_json: bool) -> Iterator[None]:
    """Turn a failure to write (disk full, a file removed meanwhile) into exit 2."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        problem = _argument(option, f"cannot write{where}: {exc.strerror or exc}")
        raise _bad_input(problem, as_json) from exc


@contextmanager
def _input_errors(as_json: bool, options: dict[str, str] | None = None) -> Iterator[None]:
    """Turn a :class:`~materiel.ScenarioError` raised in the block into exit 2, its problems
    listed on stderr (or as JSON); with ``options``, a library function's argument
    (``headroom(): donors``) is named as the option that gave it (:func:`_as_options`)."""
    try:
        yield
    except ScenarioError as exc:
        raise _bad_input(exc if options is None else _as_options(exc, options), as_json) from exc


def _bad_input(exc: ScenarioError, as_json: bool) -> typer.Exit:
    if as_json:
        _echo_json({"ok": False, "problems": [p.as_dict() for p in exc.problems]})
    else:
        typer.echo(str(exc), err=True)
    return typer.Exit(code=2)


def _interactive() -> bool:
    """Progress is drawn only for a person at a terminal: stderr a TTY, not ``TERM=dumb``.

    Piped or redirected output, ``--json`` and CI logs get none (no control characters).
    """
    import os

    return sys.stderr.isatty() and os.environ.get("TERM", "") != "dumb"


class _Steps:
    """Advance a progress bar through named steps: ``steps.next("simulating x")``."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar, self._task, self._started = bar, task, False

    def next(self, label: str) -> None:
        """Count the step before as done and show ``label`` as the one under way."""
        if self._bar is None:
            return
        if self._started:
            self._bar.advance(self._task)
        self._started = True
        self._bar.update(self._task, description=label)

    def tick(self, done: int, total: int) -> None:
        """Set the count directly (a loop in the library reports ``done`` of ``total``)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)


@contextmanager
def _progress_bar(enabled: bool, total: int | None, label: str) -> Iterator[_Steps]:
    """A Rich progress bar on stderr at an interactive terminal (see :func:`_interactive`);
    ``total=None`` for work of unknown length (a pulsing bar). It disappears when done."""
    if not enabled or not _interactive():
        yield _Steps()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        *([MofNCompleteColumn()] if total else []),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _Steps(bar, bar.add_task(label, total=total))


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[None]:
    """One step of unknown length (a solve, a write) with a progress bar at a terminal."""
    with _progress_bar(enabled, None, label):
        yield


def _simulate(scenario: Scenario, show_progress: bool) -> Result:
    from materiel.analysis.simulate import simulate

    with _progress(show_progress, f"simulating {scenario.id}"):
        return simulate(scenario)


def _sample_all(scenarios: list[Scenario], n: int, seed: int, show: bool) -> list[Any]:
    """A Monte Carlo run of each scenario (``n`` samples, ``seed``), with a bar each."""
    from materiel.analysis.montecarlo import sample

    out = []
    for s in scenarios:
        with _progress_bar(show, n, f"sampling {s.id}") as bar:
            out.append(sample(s, n, seed, progress=bar.tick))
    return out


_ENDS_AFTER_COMMAND = {"main": False}
"""``True`` under :func:`main`, which ends the process as soon as the command returns."""


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a command of bounded size runs (``run``).

    Its imports and the unpickled scenario are a few hundred thousand
    long-lived objects that the collector would traverse again and again
    (0.15 to 0.3 s of CPU on a ``run``, a tenth of it) and never free; the
    garbage cycles one run makes are few. The collector is back on when the
    command returns, unless :func:`main` ends the process then (turning it
    on would first collect every object the run made, about 0.1 s for
    nothing).
    """
    import gc

    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused and not _ENDS_AFTER_COMMAND["main"]:
            gc.enable()


def _simulate_all(scenarios: list[Scenario], steps: _Steps) -> list[Result]:
    """Simulate each scenario in turn, one step of ``steps`` each."""
    from materiel.analysis.simulate import simulate

    results = []
    for s in scenarios:
        steps.next(f"simulating {s.id}")
        results.append(simulate(s))
    return results


@app.command()
def run(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
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
    with _collector_paused():
        from materiel.present.summary import summarize
        from materiel.scenario.loading import load_many

        with _input_errors(as_json):
            scenarios = load_many([scenario, *(compare or [])])
            if out is not None:
                _out_dir(out, "--out")
        steps_total = len(scenarios) + 1 + (out is not None)
        with _progress_bar(not as_json, steps_total, "simulating") as steps:
            results = _simulate_all(scenarios, steps)
            if out is not None:
                from materiel.present.export import write_result  # only where files are written

                steps.next(f"writing {fmt.value} results to {out}")
                with _writing("--out", as_json):
                    for r in results:
                        target = out if len(results) == 1 else out / r.scenario.id
                        write_result(r, target, fmt.value)
            steps.next("summarising" + (" and comparing" if compare else ""))
            if as_json:
                payload: Any = results[0].metrics()
                if compare:  # each compared run also carries its differences B - A from the first
                    from materiel.analysis.compare import difference

                    payload = [payload] + [
                        {**r.metrics(), "difference": difference(results[0], r).to_dict()}
                        for r in results[1:]
                    ]
            else:
                text = [summarize(r) + "\n" for r in results]
                if compare:
                    from materiel.present.summary import compare_table

                    text.append(
                        f"Comparison: month each target is first met, production and cost; "
                        f"differences against {results[0].scenario.id}\n"
                        + compare_table(results).to_string()
                    )
        if as_json:
            _echo_json(payload)
        else:
            for block in text:
                typer.echo(block)
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
    from materiel.scenario.loading import scenario_summaries

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
    """Check a scenario file; list every problem with its location (exit 2 if any), and note
    every figure without a source (file, line, field; not a problem: exit 0)."""
    from materiel.scenario.loading import load, unsourced

    with _input_errors(as_json):
        s = load(file)
        notes = unsourced(file)
    if as_json:
        _echo_json(
            {"ok": True, "id": s.id, "problems": [], "unsourced": [n.as_dict() for n in notes]}
        )
        return
    typer.echo(f"{file}: ok ({s.id}: {len(s.lines)} lines, {len(s.contracts)} contracts)")
    if notes:
        typer.echo(f"note: {len(notes)} figure{'s' if len(notes) != 1 else ''} without a source:")
        for note in notes:
            typer.echo(f"  - {note}")


@app.command()
def show(
    scenario: Annotated[str, typer.Argument(help="Embedded scenario id or a TOML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Show what a scenario contains: counts, key parameters, targets and assumptions."""
    from materiel.scenario.describe import describe
    from materiel.scenario.loading import load

    with _input_errors(as_json):
        s = load(scenario)
    info = describe(s)
    if as_json:
        _echo_json(info)
        return
    typer.echo(f"{info['id']}: {info['title']}")
    if info["description"]:
        typer.echo(info["description"])
    typer.echo(f"extends {info['extends'] or '-'}; horizon {s.start} + {s.months} months")
    typer.echo("counts: " + ", ".join(f"{k} {v}" for k, v in info["counts"].items()))
    unsourced = info["figures_unsourced"]
    sourced = (
        f"{unsourced} without a source: see materiel validate"
        if unsourced
        else "each with a source or an assumption"
    )
    typer.echo(
        f"figures {info['figures']} ({sourced}); contracts delivering aid {info['aid_contracts']}"
    )
    typer.echo("lines by product:")
    for product, ids in info["lines_by_product"].items():
        typer.echo(f"  {product} ({len(ids)}): {', '.join(ids)}")
    if info["aid_by_donor"]:
        typer.echo(
            "aid pledged, units by donor: "
            + ", ".join(f"{d} {q:,.0f}" for d, q in info["aid_by_donor"].items())
        )
    typer.echo("policy: " + ", ".join(f"{k}={v}" for k, v in info["policy"].items()))
    for k in s.munitions:
        typer.echo(
            f"  {k}: baseline capacity {info['capacity_per_month_at_dataset_baseline'][k]:,.0f}"
            f"/month, contracted {info['contracted_quantity'][k]:,.0f}"
        )
    for tid, t in info["targets"].items():
        typer.echo(
            f"  target {tid}: {','.join(t['parties'])} {t['product']} "
            f">= {t['quantity']:,.0f} by {t['by']}"
        )
    typer.echo(
        f"sources: {info['sources_cited']} cited, {info['sources_assumed']} labelled assumptions"
    )
    for line in info["assumptions"]:
        typer.echo(f"  - {line}")


@app.command()
def report(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="Embedded scenario ids or TOML files; the first is the reference for comparisons.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="HTML file to write (atomically).")
    ] = Path("report.html"),
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Also write each chart as a PNG into this directory."),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            "--samples",
            "-n",
            min=2,
            help="Also run this many Monte Carlo samples of each scenario: fans, probabilities "
            "and what matters most in the report.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed of --samples (same seed, same result).")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Write one self-contained, offline HTML report: findings, charts, tables, sources."""
    from materiel.present.charts import png_problem, write_png
    from materiel.present.report import write_report
    from materiel.scenario.loading import load

    ids = scenarios or [DEFAULT_SCENARIO]
    with _input_errors(as_json):
        _out_file(output, "--output")
        _not_an_input(output, ids, "--output")
        if png is not None:
            _out_dir(png, "--png")
        if png is not None and (why := png_problem()) is not None:
            raise ScenarioError(Problem("<command line>", "--png", why))
        loaded = [load(s) for s in ids]
        if samples is not None:
            for s in loaded:
                _check_memory(s, samples)
    with _progress_bar(not as_json, len(loaded), "simulating") as steps:
        results = _simulate_all(loaded, steps)
    sampled = [] if samples is None else _sample_all(loaded, samples, seed, not as_json)
    with _progress_bar(not as_json, 1 + (png is not None), f"writing {output}") as steps:
        steps.next(f"writing {output}")
        with _writing("--output", as_json):
            built = write_report(results, output, samples=sampled)
        pngs: list[str] = []
        if png is not None:
            steps.next(f"rendering PNGs into {png}")
            try:
                pngs = [str(p) for p in write_png(built.figures, png)]
            except Exception as exc:  # kaleido or the browser failed: say what and why
                problem = Problem("<command line>", "--png", f"PNG export failed: {exc}")
                raise _bad_input(ScenarioError(problem), as_json) from exc
    size = output.stat().st_size
    if as_json:
        _echo_json(
            {
                "ok": True,
                "output": str(output),
                "bytes": size,
                "scenarios": [r.scenario.id for r in results],
                "charts": list(built.figures),
                "png": pngs,
                "headlines": [h.text for h in built.headlines],
                "samples": samples,
                "seed": seed if samples is not None else None,
            }
        )
        return
    for h in built.headlines:
        typer.echo(f"- {h.text}")
    typer.echo(f"wrote {output} ({size / 1e6:.1f} MB, {len(built.figures)} charts)")
    if pngs:
        typer.echo(f"wrote {len(pngs)} PNG files to {png}")


class BasisOpt(StrEnum):
    """Which definition of defence spending."""

    nato = "nato"
    sipri = "sipri"


@app.command()
def spending(
    scenario: Annotated[str, typer.Argument(help="Scenario id or file.")] = DEFAULT_SCENARIO,
    year: Annotated[int, typer.Option(help="Year of the table.")] = 2024,
    threshold: Annotated[float, typer.Option(help="%GDP threshold to meet.")] = 2.0,
    basis: Annotated[BasisOpt, typer.Option(help="nato or sipri definition.")] = BasisOpt.nato,
    pledge: Annotated[
        float | None, typer.Option(help="Pledge in %GDP: add each ally's path to it.")
    ] = None,
    by: Annotated[int | None, typer.Option(help="Year by which the pledge is met.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Defence spending per ally: US$ and %GDP, who meets a threshold, what a pledge costs."""
    from materiel.analysis.spending import spending_payload
    from materiel.scenario.loading import load

    options = {  # spending_payload's arguments, named as the options that gave them
        "year": "--year",
        "threshold_pct": "--threshold",
        "pledge_pct": "--pledge",
        "by_year": "--by",
    }
    with _input_errors(as_json, options):
        s = load(scenario)
        if (pledge is None) != (by is None):
            raise ScenarioError(Problem("<command line>", "--pledge/--by", "give both or neither"))
        _spending_arguments(s, year, threshold, pledge, by)
        payload = spending_payload(s, year, threshold, basis.value, pledge, by)
    projected = payload["projected"]
    if as_json:
        _echo_json(payload)
        return
    kind = "PROJECTED: latest actual share carried forward, then the scenario's spending paths"
    typer.echo(
        f"Defence spending {year} ({basis.value.upper()} definition; threshold {threshold}% of GDP"
        + (f"; {kind})" if projected else ")")
    )
    typer.echo(f"{'ally':<5} {'US$ bn':>9} {'% NATO':>7} {'% SIPRI':>8}  meets  figure")
    for row in payload["allies"]:
        usd = row[f"defence_usd_m_{basis.value}"]
        meets = "-" if row["meets"] is None else ("yes" if row["meets"] else "no")
        typer.echo(
            f"{row['party']:<5} {_fmt(usd, 1e3, 1):>9} {_fmt(row['pct_gdp_nato']):>7} "
            f"{_fmt(row['pct_gdp_sipri']):>8}  {meets:<5}  {row['status']}"
        )
    n, total = payload["count_with_data"], payload["count_allies"]
    what = "projected" if projected else "with data"
    note = f" ({payload['count_estimates']} NATO estimates)" if payload["count_estimates"] else ""
    typer.echo(
        f"{payload['count_meeting']} of {n} allies {what} meet {threshold}% of GDP in {year}; "
        f"{n} of {total} allies have {'a projection' if projected else 'data'}{note}"
    )
    if "pledge" in payload:
        _print_pledge(payload["pledge"])


def _spending_arguments(
    s: Scenario, year: int, threshold: float, pledge: float | None, by: int | None
) -> None:
    """Refuse arguments the spending tables cannot answer, naming the option."""
    from materiel.scenario.schema import LAST_YEAR

    problems = []
    for option, value in (("--threshold", threshold), ("--pledge", pledge)):
        if value is not None and not (math.isfinite(value) and 0 <= value <= 100):
            expected = "expected a % of GDP from 0 to 100"
            problems.append(Problem("<command line>", option, f"got {value}; {expected}"))
    years = [int(y) for per_party in s.economics.values() for y in per_party]
    first = min(years, default=LAST_YEAR)
    for option, whole in (("--year", year), ("--by", by)):
        if whole is not None and not first <= whole <= LAST_YEAR:
            expected = f"expected a year from {first} (the first year of data) to {LAST_YEAR}"
            problems.append(Problem("<command line>", option, f"got {whole}; {expected}"))
    if problems:
        raise ScenarioError(problems)


def _print_pledge(pledge: dict[str, Any]) -> None:
    by = pledge["by"]
    typer.echo("")
    typer.echo(
        f"Pledge {pledge['pct_gdp']}% of GDP by {by}: linear in %GDP from each ally's latest "
        f"actual year unless the scenario sets a path, a floor (no ally's share falls); GDP grows "
        f"{pledge['gdp_growth_pct_per_year']}%/yr after the data"
    )
    typer.echo(
        f"{'ally':<5} {'from':>6} {'%GDP':>6} {'path':>9} {'extra in ' + str(by):>16} "
        f"{'cumulative':>12} {'equip.':>6}  buys a year, any one of"
    )
    for row in pledge["allies"]:
        if row.get("base_year") is None:
            typer.echo(f"{row['party']:<5} no spending data")
            continue
        buys = " or ".join(  # alternatives: the money buys one munition or another
            f"{_fmt(v, 1, 0)} {k[5:]}"
            for k, v in row.items()
            if k.startswith("buys_") and v is not None and v >= 0.5  # a whole unit at least
        )
        if not row["extra_usd_m_by_year"]:
            buys = "nothing more: already at or above the pledge"
        typer.echo(
            f"{row['party']:<5} {int(row['base_year']):>6} {row['base_pct_gdp']:>6.2f} "
            f"{row['path']:>9} {_fmt(row['extra_usd_m_by_year'], 1e3, 1):>12} bn$ "
            f"{_fmt(row['extra_usd_m_cumulative'], 1e3, 1):>8} bn$ "
            f"{row['equipment_share_pct']:>5.1f}%  {buys}"
        )
    typer.echo(f"all allies: ${pledge['extra_usd_m_by_year_total'] / 1e3:,.1f}bn more in {by}")
    source = (
        "policy.equipment_share for every ally (override)"
        if pledge["equipment_share_from"] == "policy"
        else "NATO's per-ally share (Table 8a, latest actual carried forward; "
        "policy.equipment_share where there is none)"
    )
    typer.echo(
        f"munitions = extra x equipment share ({source}) x {pledge['munitions_share']:.0%} "
        "munitions share of equipment (assumption)"
    )


def _fmt(value: float | None, divide: float = 1.0, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{float(value) / divide:,.{digits}f}"


class PlanObjective(StrEnum):
    """Objectives of ``materiel plan``."""

    cost = "cost"
    coverage = "coverage"
    time = "time"


@app.command()
def plan(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
    objective: Annotated[
        PlanObjective,
        typer.Option("--objective", help="Least cost, most target coverage, or earliest time."),
    ] = PlanObjective.cost,
    budget_scale: Annotated[
        float, typer.Option("--budget-scale", help="Multiply munitions budgets (when applied).")
    ] = 1.0,
    as_json: JsonOpt = False,
    write: Annotated[
        Path | None, typer.Option("--write", help="Write the plan as a scenario TOML file.")
    ] = None,
    commitment_penalty: Annotated[
        str | None,
        typer.Option(
            "--commitment-penalty",
            help="US$ per unit of a commitment (aid contract, pledge, backlog) not kept by its "
            "date, or 'hard'; default: what a unit is worth to a target.",
        ),
    ] = None,
    alternatives: Annotated[
        int,
        typer.Option(
            "--alternatives",
            min=0,
            max=20,
            help="Also find up to K near-optimal plans that build and buy elsewhere.",
        ),
    ] = 0,
    slack: Annotated[
        str, typer.Option("--slack", help="How much dearer an alternative may be: 5% or 0.05.")
    ] = "5%",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare-policy",
            help="Show the plan beside the scenario's own procurement policies (both simulated).",
        ),
    ] = False,
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            min=0,
            max=1000,
            help="Plan over N samples of the scenario's distributions (two-stage: contracts and "
            "investments shared) and report how often each target is met.",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the samples drawn.")] = 0,
    fresh: Annotated[
        int,
        typer.Option(
            "--fresh", min=1, max=100_000, help="Fresh samples the plans are simulated over."
        ),
    ] = 200,
) -> None:
    """Optimise contracts, capacity investments and allocation (LP/MILP, HiGHS).

    Prints the plan (deliveries and capacity added by line and year), its cost
    and what binds. Exit 1 when targets cannot be met (after the diagnosis).
    """
    import os

    from materiel.plan import compare_policy, write_toml
    from materiel.plan import plan as make_plan
    from materiel.plan.diagnostics import worth
    from materiel.plan.write import fleets_note

    options = {
        "objective": "--objective",
        "budget_scale": "--budget-scale",
        "alternatives": "--alternatives",
        "samples": "--samples",
        "fresh": "--fresh",
    }
    with _input_errors(as_json, options):
        if write is not None:
            _out_file(write, "--write")
            _not_an_input(write, [scenario], "--write")
        penalty = _commitment_penalty(commitment_penalty)
        share = _share(slack, "--slack")
        with _progress(not as_json, f"planning {scenario}"):
            result = make_plan(
                scenario,
                objective=objective.value,
                budget_scale=budget_scale,
                commitment_penalty_usd=penalty,
                alternatives=alternatives,
                slack=share,
                samples=samples,
                seed=seed,
                fresh=fresh,
            )
    if write is not None:
        ref = result.source_ref
        if ref is not None and Path(ref).is_file():
            ref = os.path.relpath(ref, write.resolve().parent)
        with _writing("--write", as_json):
            write_toml(result.to_scenario(extends=ref), write)
    versus = compare_policy(result) if compare else None
    if as_json:
        extra = {"written": str(write) if write else None, "compare_policy": versus}
        _echo_json({**result.summary(), **extra})
    else:
        typer.echo(f"{result.scenario.id}: plan ({result.objective}, budget x{budget_scale:g})")
        typer.echo(
            f"cost ${result.cost_usd / 1e9:,.2f}bn: new contracts "
            f"${result.contract_spend_usd / 1e9:,.2f}bn, capex ${result.capex_usd / 1e9:,.2f}bn"
            f" (backlog delivered ${result.backlog_spend_usd / 1e9:,.2f}bn); "
            f"{len(result.contracts)} contracts, {len(result.investments)} investments"
        )
        tables = result.by_year()
        for title, key, unit in (
            ("Deliveries by line and year", "delivered", ""),
            ("Capacity added by line and decision year", "capacity_added_per_month", "/month"),
        ):
            typer.echo(f"\n{title}")
            rows = tables[key]
            if not rows:
                typer.echo("  none")
            for line, years in sorted(rows.items()):
                cells = ", ".join(f"{y}: {q:,.0f}{unit}" for y, q in sorted(years.items()))
                typer.echo(f"  {line}: {cells}")
        typer.echo("\nTargets")
        for t in result.targets:
            typer.echo(f"  {t.sentence()}")
        typer.echo("\nRecipients (commitments kept, and demand unmet when the plan is run)")
        for r in result.recipients or []:
            typer.echo(f"  {r.sentence()}")
        if not result.recipients:
            typer.echo("  none")
        b = result.breakdown
        in_usd = result.objective == "cost"
        typer.echo(
            f"\nObjective: payments ${(b['new_contracts_usd'] + b['commitments_usd']) / 1e9:,.2f}bn"
            f" (new ${b['new_contracts_usd'] / 1e9:,.2f}bn, committed "
            f"${b['commitments_usd'] / 1e9:,.2f}bn), capex ${b['capex_usd'] / 1e9:,.2f}bn; "
            f"penalties apart: targets missed {worth(b['target_penalty'], in_usd)}, "
            f"commitments short {worth(b['commitment_penalty'], in_usd)}"
        )
        if alternatives:
            typer.echo(
                f"\nAlternatives within {share:.1%} of the cost, outcomes held (cost here: "
                f"payments, new and committed, and capex: "
                f"${result.breakdown_cost_usd / 1e9:,.3f}bn for this plan)"
            )
            for alt in result.alternatives:
                typer.echo(f"  {alt.sentence(result.breakdown_cost_usd)}")
            if not result.alternatives:
                typer.echo("  none: no other plan builds or buys differently within the slack")
        if result.samples is not None:
            u = result.samples
            typer.echo(
                f"\nUnder uncertainty: sample-average plan over {u.samples} samples (seed "
                f"{u.seed}) vs the deterministic plan; P(met by date) over {u.fresh} fresh samples"
            )
            typer.echo(f"  cost: ${u.cost_usd[0] / 1e9:,.2f}bn vs ${u.cost_usd[1] / 1e9:,.2f}bn")
            for tid, (mine_p, det_p) in u.p_met.items():
                typer.echo(f"  {tid}: {mine_p:.0%} vs {det_p:.0%}")
        if versus is not None:
            mine, own = versus["plan"], versus["policy"]
            typer.echo("\nPlan vs policy (both simulated)")
            for key, label in (("payments_usd", "payments"), ("capex_usd", "capex")):
                typer.echo(
                    f"  {label}: plan ${mine[key] / 1e9:,.2f}bn, policy ${own[key] / 1e9:,.2f}bn"
                )
            for tid, first in mine["first_met"].items():
                typer.echo(
                    f"  {tid}: plan {first or 'never'}, "
                    f"policy {own['first_met'].get(tid) or 'never'}"
                )
        typer.echo("\nDiagnosis")
        for sentence in result.diagnosis() or ["nothing binds"]:
            typer.echo(f"  {sentence}")
        if (fleets := fleets_note(result.scenario)) is not None:
            typer.echo(f"  {fleets}")
        if write is not None:
            typer.echo(f"\nwrote the plan as a scenario to {write} (run it: materiel run {write})")
    if not result.feasible:
        unmet = ", ".join(t.id for t in result.unmet())
        typer.echo(f"targets that cannot be met by their date: {unmet}", err=True)
        raise typer.Exit(code=1)


def _share(text: str, option: str) -> float:
    """A share written ``5%`` or ``0.05``, between 0 and 1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise _argument(option, f"got {text!r}; expected a share such as 5% or 0.05")
    return value


def _commitment_penalty(text: str | None) -> float | None:
    """``--commitment-penalty``: a number of US$ >= 0, or ``hard``."""
    if text is None:
        return None
    if text.strip().lower() == "hard":
        return float("inf")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and value != float("inf")):
        raise _argument(
            "--commitment-penalty", f"got {text!r}; expected a number of US$ >= 0 or 'hard'"
        )
    return value


data_app = typer.Typer(help="Import and manage data.", no_args_is_help=True)
app.add_typer(data_app, name="data")


class ImportFormat(StrEnum):
    """Published table formats the importer reads."""

    sipri_xlsx = "sipri-xlsx"
    nato_csv = "nato-csv"
    owid_csv = "owid-csv"
    nato_xlsx = "nato-xlsx"
    kiel_csv = "kiel-csv"


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="The published table.")],
    fmt: Annotated[ImportFormat, typer.Option("--format", help="Shape of the file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Overlay TOML to write.")],
    scenario: Annotated[str, typer.Option(help="Scenario whose parties are kept.")] = "dataset",
    first_year: Annotated[int | None, typer.Option(help="First year to import.")] = None,
    last_year: Annotated[int | None, typer.Option(help="Last year to import.")] = None,
    combine: Annotated[
        bool, typer.Option(help="kiel-csv: one joint contract per munition and year.")
    ] = False,
    published: Annotated[
        str | None,
        typer.Option(
            help="Publication date (YYYY-MM or YYYY-MM-DD) for the source; default: the "
            "workbook's saved date, else the file's date, said to be that."
        ),
    ] = None,
) -> None:
    """Turn a published spending table (or the Kiel aid tracker) into a scenario overlay."""
    import tomli_w

    from materiel._io import atomic_write_text
    from materiel.scenario.importers import Format, import_kiel, import_table
    from materiel.scenario.loading import load

    with _input_errors(False):
        _out_file(output, "--output")
        if output.resolve() == file.resolve():
            raise _argument(
                "--output", f"{output} is the table being imported; expected another file"
            )
        _not_an_input(output, [scenario], "--output")
        if first_year is not None and last_year is not None and first_year > last_year:
            raise _argument(
                "--first-year/--last-year",
                f"got {first_year} > {last_year}; expected the first year <= the last",
            )
        s = load(scenario)
        years = range(first_year or 1900, (last_year or 2100) + 1)
        if fmt is ImportFormat.kiel_csv:
            overlay = import_kiel(file, s, years=years, combine=combine, published=published)
        else:
            overlay = import_table(
                file, cast(Format, fmt.value), s, years=years, published=published
            )
    header = (
        f"# Imported from {file.name} ({fmt.value}) by materiel data import.\n"
        f'# Add `extends = "<scenario>"` to use it as a scenario.\n\n'
    )
    with _writing("--output", False):
        atomic_write_text(output, header + tomli_w.dumps(overlay))
    if fmt is ImportFormat.kiel_csv:
        table = "contracts" if combine else "aid"
        typer.echo(f"wrote {output}: {len(overlay[table])} munitions pledges ({table})")
        return
    n = sum(len(v) for v in overlay["economics"].values())
    typer.echo(f"wrote {output}: {n} ally-years for {len(overlay['economics'])} parties")


@app.command()
def mc(
    scenario: Annotated[str, typer.Argument(help="Scenario id or file.")] = DEFAULT_SCENARIO,
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, help="How many.")] = 1000,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed, >= 0 (same seed, same result).")
    ] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write fans, probabilities, draws here.")
    ] = None,
    sobol: Annotated[
        bool,
        typer.Option("--sobol", help="Also first-order Sobol indices per target (SALib)."),
    ] = False,
    trajectories: Annotated[
        bool,
        typer.Option(
            "--trajectories",
            help="Also write every sample's stocks and line outputs to OUT/trajectories "
            "(Parquet, chunk by chunk).",
        ),
    ] = False,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Threads (default: every core).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Monte Carlo: the probability of meeting each target, percentile fans, what matters most.

    Memory stays flat in the number of samples: outcomes are kept per sample,
    fans are streamed (within 1%), trajectories go to disk only if asked.
    """
    from materiel.analysis.montecarlo import sample
    from materiel.present.export import write_monte_carlo
    from materiel.scenario.loading import load

    with _input_errors(as_json):
        s = load(scenario)
        if out is not None:
            _out_dir(out, "--out")
        elif trajectories:
            raise _argument("--trajectories", "needs --out DIR to write them to")
        if sobol:
            from materiel.analysis.sensitivity import SOBOL_MIN_SAMPLES

            if samples < SOBOL_MIN_SAMPLES:
                raise _argument(
                    "--sobol",
                    f"got --samples {samples}; expected at least {SOBOL_MIN_SAMPLES} samples "
                    "for Sobol indices (RBD-FAST with M = 10 harmonics needs more than 2M)",
                )
        _check_memory(s, samples, threads=threads)
    kept = out / "trajectories" if trajectories and out is not None else False
    with _progress_bar(not as_json, samples, f"sampling {s.id}") as bar:
        result = sample(s, samples, seed, progress=bar.tick, threads=threads, trajectories=kept)
    metrics = result.metrics()
    significant = _significance(result, sobol, metrics, as_json)
    if out is not None:
        with _writing("--out", as_json):
            write_monte_carlo(result, out, metrics)
    if as_json:
        _echo_json(metrics)
        return
    typer.echo(
        f"{s.id}: {samples} samples (seed {seed}); uncertain inputs: "
        f"{len(s.uncertain) or 'none (all samples identical)'}"
    )
    typer.echo("")
    typer.echo(
        f"{'target':<28} {'by':>8} {'P(by date)':>11} {'P(ever)':>8}  "
        f"{'median met':>10}  stock at date p5 / p50 / p95"
    )
    for row in metrics["targets"]:
        typer.echo(
            f"{row['target']:<28} {row['by']:>8} {row['p_met_by_date']:>11.0%} "
            f"{row['p_met_by_horizon']:>8.0%}  {row['median_first_met'] or '-':>10}  "
            f"{_fmt(row['stock_at_by_p5'], 1, 0)} / {_fmt(row['stock_at_by_p50'], 1, 0)} / "
            f"{_fmt(row['stock_at_by_p95'], 1, 0)} (needs {_fmt(row['required'], 1, 0)})"
        )
    cost = metrics["cost_usd"]
    typer.echo("")
    typer.echo(
        f"cost (payments + capex) p5 / p50 / p95: ${cost['p5'] / 1e9:,.1f}bn / "
        f"${cost['p50'] / 1e9:,.1f}bn / ${cost['p95'] / 1e9:,.1f}bn"
    )
    _print_significance(s, significant, metrics)
    if out is not None:
        typer.echo(f"wrote fans, probabilities and draws to {out}")


def _significance(result: Any, sobol: bool, metrics: dict[str, Any], as_json: bool) -> Any:
    """Add the significance-cut sensitivity (and Sobol indices when asked) to ``metrics``."""
    from materiel.analysis.result import records
    from materiel.analysis.sensitivity import ALPHA, CUT_RULE, sensitivity_table, sobol_table

    table = sensitivity_table(result)
    metrics["sensitivity_cut"] = CUT_RULE.format(alpha=ALPHA)
    metrics["significant"] = {
        tid: records(table[(table.target == tid) & table.significant].drop(columns="target"))
        for tid in result.scenario.targets
    }
    if sobol:
        try:
            indices = sobol_table(result)
        except ScenarioError as exc:
            problem = Problem("<command line>", "--sobol", exc.problems[0].message)
            raise _bad_input(ScenarioError(problem), as_json) from exc
        metrics["sobol_first_order"] = {
            tid: records(indices[indices.target == tid].drop(columns="target"))
            for tid in result.scenario.targets
        }
    return table


def _print_significance(s: Scenario, table: Any, metrics: dict[str, Any]) -> None:
    if not s.uncertain:
        return
    typer.echo("")
    typer.echo(f"What matters most, per target ({metrics['sensitivity_cut']}):")
    for tid in s.targets:
        rows = table[(table.target == tid) & table.significant].head(5)
        listed = ", ".join(f"{r.input} ({r.spearman:+.2f})" for r in rows.itertuples())
        typer.echo(f"  {tid}: {listed or 'no input passes the cut'}")
        for r in metrics.get("sobol_first_order", {}).get(tid, [])[:3]:
            typer.echo(  # "-": not estimable from these samples (NaN in the JSON's null)
                f"      Sobol S1 {r['input']}: {_fmt(r['S1'])} (+/- {_fmt(r['S1_conf'])})"
            )


@app.command()
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep TOML file (scenario, samples, grid).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for results.")] = Path("sweep-out"),
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Workers of the LocalCluster.")] = 2,
    local: Annotated[bool, typer.Option("--local", help="Run in this process, no Dask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run scenario variants x samples on a Dask cluster; results streamed to Parquet."""
    from materiel.analysis.result import records
    from materiel.analysis.sweep import load_sweep, run_sweep, sweep_table

    with _input_errors(as_json):
        spec, variants = load_sweep(file)
        _out_dir(out, "--out")
    with (
        _progress_bar(not as_json, None, f"sweeping {len(variants)} variants") as bar,
        _writing("--out", as_json),
    ):
        summary = run_sweep(
            spec,
            variants,
            out,
            scheduler=scheduler,
            workers=workers,
            local=local,
            progress=bar.tick,
        )
    if as_json:
        _echo_json(
            {"out": str(out), "variants": [v for v, _ in variants], "summary": records(summary)}
        )
        return
    typer.echo(f"{len(variants)} variants x {spec.samples} samples -> {out}")
    typer.echo("P(target met by its date):")
    typer.echo(sweep_table(summary).map(lambda p: f"{p:.0%}").to_string())


def _available_memory_bytes() -> int | None:
    """Memory the system can give now (``MemAvailable``), else its total, else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(s: Scenario, samples: int, *, threads: int | None = None) -> None:
    """Refuse a Monte Carlo run estimated to need more memory than the system has.

    The estimate is :func:`materiel.analysis.montecarlo.estimate_bytes` (streamed
    outcomes and fans, chunks in flight); the work it stands for is counted in
    cells by :mod:`materiel.engine.cost`, the estimate the server shares.
    """
    from materiel.analysis.montecarlo import estimate_bytes
    from materiel.engine.cost import cells_formula

    available = _available_memory_bytes()
    needed = estimate_bytes(s, samples, threads=threads, trajectories=False)
    if available is not None and needed > available:
        fixed = estimate_bytes(s, 1, threads=threads, trajectories=False)
        per_sample = max(1.0, (needed - fixed) / max(1, samples - 1))
        fit = max(0, int((available - fixed) // per_sample) + 1)
        raise _argument(
            "--samples",
            f"{samples:,} samples ({cells_formula(s, samples)} cells of work) need an "
            f"estimated {_bytes(needed)} of memory ({_bytes(per_sample)} a sample + "
            f"{_bytes(fixed)}); {_bytes(available)} is available: expected at most {fit:,} "
            "samples",
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    store: Annotated[
        str | None,
        typer.Option(help="Store: a SQLite file (default materiel.db) or a postgresql:// URL."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="API token required on every /api route but health (Bearer).",
            envvar="MATERIEL_TOKEN",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=32, help="Worker processes (on Linux each has its own socket, SO_REUSEPORT)."
        ),
    ] = 1,
    public_read: Annotated[
        bool, typer.Option("--public-read", help="With --token: let reads (GET) pass without it.")
    ] = False,
    max_body_bytes: Annotated[int | None, typer.Option(min=1, help="Largest request body.")] = None,
    max_mc_samples: Annotated[int | None, typer.Option(min=1, help="Most MC samples.")] = None,
    max_run_cells: Annotated[
        int | None, typer.Option(min=1, help="Largest synchronous run (cells, see README).")
    ] = None,
    max_job_cells: Annotated[int | None, typer.Option(min=1, help="Largest job (cells).")] = None,
    max_jobs_cells_total: Annotated[
        int | None, typer.Option(min=1, help="All running jobs together (cells).")
    ] = None,
    max_active_jobs: Annotated[int | None, typer.Option(min=1, help="Jobs at a time.")] = None,
    simulate_timeout_s: Annotated[
        float | None, typer.Option(min=0.001, help="Wall clock of a synchronous run (s).")
    ] = None,
    job_timeout_s: Annotated[float | None, typer.Option(min=1, help="Wall clock of a job (s).")] = (
        None
    ),
) -> None:
    """Serve the web dashboard and the JSON API (OpenAPI at /docs) with uvicorn."""
    import ipaddress
    import os

    try:
        from materiel.web import serving
        from materiel.web.store import Store
    except ImportError as exc:
        typer.echo(f"serve needs the web extra (pip install 'materiel[web]'): {exc}", err=True)
        raise typer.Exit(code=2) from exc
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not token:
        problem = _argument(
            "--host",
            f"got {host}, not a loopback address; expected 127.0.0.1 (or localhost, ::1) "
            "unless a token is given (--token or MATERIEL_TOKEN)",
        )
        raise _bad_input(problem, False)
    try:
        Store(store).close()  # create the file and apply migrations once, up front
    except Exception as exc:
        import re

        reason = str(getattr(exc, "orig", None) or exc).strip()  # the database's own words
        where = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", str(store))  # no password shown
        problem = _argument(
            "--store",
            f"cannot open {where}: {reason}; expected a SQLite file that can be created or "
            "opened, or a postgresql:// URL",
        )
        raise _bad_input(problem, False) from exc
    limits = {  # unset ones keep the defaults of materiel.web.Limits (README, Security)
        k: v
        for k, v in {
            "max_body_bytes": max_body_bytes,
            "max_mc_samples": max_mc_samples,
            "job_timeout_s": job_timeout_s,
            "max_active_jobs": max_active_jobs,
            "max_run_cells": max_run_cells,
            "max_job_cells": max_job_cells,
            "max_jobs_cells_total": max_jobs_cells_total,
            "simulate_timeout_s": simulate_timeout_s,
        }.items()
        if v is not None
    }
    os.environ["MATERIEL_STORE"] = store or ""
    os.environ["MATERIEL_TOKEN"] = token or ""
    os.environ["MATERIEL_PUBLIC_READ"] = "1" if public_read else ""
    os.environ["MATERIEL_LIMITS"] = dumps(limits)

    def announce(bound: int) -> None:
        where = f"http://{host}:{bound}/"
        typer.echo(f"materiel serving on {where} (store {store or 'materiel.db'})")

    try:
        code = serving.serve(host, port, workers, announce)
    except OSError as exc:
        typer.echo(f"--port {port}: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    raise typer.Exit(code=code)


@app.command()
def headroom(
    scenario: ScenarioArg = DEFAULT_SCENARIO,
    donor: Annotated[
        list[str] | None, typer.Option("--donor", help="Only this donor (repeatable).")
    ] = None,
    product: Annotated[
        list[str] | None, typer.Option("--product", help="Only this munition (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per donor, munition and year: the most aid a month it can give above its stock floor.

    Each row also says what limits it: the donor's stock in the year, or a later draw.
    """
    from materiel.analysis.headroom import ASSUMPTION
    from materiel.analysis.headroom import headroom as compute
    from materiel.analysis.result import records
    from materiel.scenario.loading import load

    with _input_errors(as_json, {"donors": "--donor", "products": "--product"}):
        s = load(scenario)
        table = compute(_simulate(s, not as_json), donors=donor, products=product)
    if as_json:
        _echo_json({"scenario": s.id, "assumption": ASSUMPTION, "rows": records(table)})
        return
    typer.echo(f"Aid headroom in {s.id}: most extra aid a month over each year, above the floor")
    typer.echo(f"(assumes {ASSUMPTION})")
    if table.empty:
        what = ", ".join(product) if product else "any munition"
        holds = f"{', '.join(donor)} holds no stock" if donor else "no ally holds a stock"
        typer.echo(f"none: {holds} of {what} in {s.id}, so has none to give")
    for (d, k), rows in table.groupby(["donor", "product"], sort=False):
        typer.echo(f"{d} {k} (floor {rows.floor.iloc[0]:,.0f})")
        for row in rows.itertuples():
            typer.echo(
                f"  {row.period}: {row.max_monthly_aid:>12,.0f}/month  "
                f"(stock at start {row.stock_at_period_start:,.0f}; "
                f"receives {row.receipts_per_month:,.0f}/month; limited by {row.limited_by})"
            )


def _record_rows(path: Path | None) -> list[RecordRow]:
    """The record's rows (the embedded table, or ``--record`` CSV), a binary file refused."""
    from materiel.analysis.record import load_record

    try:
        return load_record(path)
    except UnicodeDecodeError as exc:
        raise _argument("--record", f"{path} is not text; expected a UTF-8 CSV file") from exc


@app.command()
def record(
    scenario: ScenarioArg = "hindcast-2022",
    record_file: Annotated[
        Path | None, typer.Option("--record", help="A record CSV instead of the embedded one.")
    ] = None,
    until: Annotated[
        str, typer.Option(help="Rows dated up to this month are in-sample (YYYY-MM).")
    ] = "2023-12",
    as_json: JsonOpt = False,
) -> None:
    """The model against the public record, row by row, in-sample and out-of-sample apart."""
    from materiel.analysis.record import compare_record, record_errors
    from materiel.analysis.result import records
    from materiel.months import parse_month
    from materiel.scenario.loading import load

    with _input_errors(as_json):
        try:
            parse_month(until)
        except ValueError as exc:
            raise ScenarioError(
                Problem("<command line>", "--until", f"got {until!r}; expected YYYY-MM")
            ) from exc
        rows = _record_rows(record_file)
        s = load(scenario)
        table = compare_record(_simulate(s, not as_json), rows, until=until)
    errors = record_errors(table)
    if as_json:
        _echo_json({"scenario": s.id, "until": until, "errors": errors, "rows": records(table)})
        return
    typer.echo(f"{s.id} against the public record (in-sample up to {until})")
    for row in records(table):  # missing values are None here
        unit = "/month" if row["unit"] == "per_month" else "/year"
        model = "n/a" if row["model"] is None else f"{row['model']:,.0f}"
        pct = "" if row["difference_pct"] is None else f" ({row['difference_pct']:+.0f}%)"
        flag = " [also in the dataset: calibration, not evidence]" if row["in_dataset"] else ""
        typer.echo(
            f"  {row['date']:<7} {row['item']} ({row['counted']}{unit}): "
            f"record {row['record']:,.0f}, model {model}{pct} — {row['sample']}{flag}"
        )
    for which, e in errors.items():
        if e["rows"]:
            typer.echo(
                f"{which}: {e['rows']} rows, mean |error| {e['mean_abs_pct']:.0f}%, "
                f"worst {e['worst_abs_pct']:.0f}%"
            )


@app.command()
def calibrate(
    scenario: ScenarioArg,
    fit: Annotated[
        list[str],
        typer.Option(
            "--fit", help="PATH=LOW..HIGH: a field to fit and its prior range (repeat for several)."
        ),
    ],
    until: Annotated[
        str, typer.Option(help="Fit rows dated up to this month (YYYY-MM); later rows are checks.")
    ] = "2023-12",
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            "-n",
            min=1,
            help="Engine runs for the fit: a quarter scan the prior box, the rest are walkers x "
            "steps (about this many; one more runs the scenario's own values).",
        ),
    ] = 4000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same result).")] = 0,
    sigma: Annotated[
        float, typer.Option(help="Relative error of a public figure (the likelihood's sd).")
    ] = 0.10,
    record_file: Annotated[
        Path | None, typer.Option("--record", help="A record CSV instead of the embedded one.")
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write", help="Write the calibrated scenario (TOML) here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit behavioural parameters to the public record: posterior, in- and out-of-sample errors."""
    from materiel._io import atomic_write_text
    from materiel.analysis.calibrate import calibrate as run_calibration
    from materiel.analysis.calibrate import fitted_toml, outside_prior, parse_fit
    from materiel.analysis.result import records
    from materiel.scenario.loading import load

    with _input_errors(as_json, {"samples": "--samples", "sigma": "--sigma", "fits": "--fit"}):
        fits = [parse_fit(text) for text in fit]
        if write is not None:
            _out_file(write, "--write")
            _not_an_input(write, [scenario], "--write")
        rows = _record_rows(record_file)
        if not 0 < sigma < math.inf:
            raise _argument("--sigma", f"got {sigma}; expected a relative error > 0")
        with _progress_bar(not as_json, samples, f"calibrating {scenario}") as bar:
            result = run_calibration(
                scenario,
                fits,
                rows=rows,
                until=until,
                samples=samples,
                seed=seed,
                sigma=sigma,
                progress=bar.tick,
            )
    if write is not None:
        with _writing("--write", as_json):
            atomic_write_text(write, fitted_toml(result))
        load(write)  # the written scenario must validate
    if as_json:
        _echo_json({**result.metrics(), "wrote": None if write is None else str(write)})
        return
    table, errors = result.table(), result.errors()
    scan = result.evaluations - result.walkers * result.steps - 1
    typer.echo(
        f"{result.scenario.id} calibrated on {errors['in-sample']['rows']} record rows dated up "
        f"to {until} (emcee, seed {seed}: {result.evaluations:,} engine runs, {scan:,} scanning "
        f"the prior box, {result.walkers} walkers x {result.steps} steps and 1 at the "
        f"scenario's values; relative error sd {sigma:.0%}; acceptance {result.acceptance:.2f})"
    )
    for note in outside_prior(result.scenario, result.fits):
        typer.echo(
            f"note: {note['path']}: the scenario's value {_g(note['scenario_value'])} lies "
            f"outside the prior {note['low']:g}..{note['high']:g} (accepted: the posterior "
            "stays inside the prior)"
        )
    typer.echo("fitted: posterior median [5% - 95%] (scenario value; prior range)")
    for p in result.parameter_rows():
        spread = f"{_g(p['median'])} [{_g(p['p5'])} - {_g(p['p95'])}]"
        own = "differs by field" if p["scenario_value"] is None else _g(p["scenario_value"])
        typer.echo(f"  {p['path']}: {spread} (scenario {own}; prior {p['low']:g}..{p['high']:g})")
    typer.echo("rows: before = the scenario's values, after = posterior median [5% - 95%]")
    for which, label in (("in-sample", "fitted"), ("out-of-sample", "checks, never fitted")):
        typer.echo(f"  {which} ({label}):")
        for r in records(table[table["sample"] == which]):
            unit = "/month" if r["unit"] == "per_month" else "/year"
            flag = " [also in the dataset]" if r["in_dataset"] else ""
            typer.echo(
                f"    {r['date']:<7} {r['id']} ({r['counted']}{unit}): record {r['record']:,.0f}; "
                f"before {r['before']:,.0f}{_pct(r['before_pct'])}; after {r['after']:,.0f}"
                f"{_pct(r['after_pct'])} [{r['after_p5']:,.0f} - {r['after_p95']:,.0f}]{flag}"
            )
    for which, e in errors.items():
        if e["rows"]:
            typer.echo(
                f"{which}: {e['rows']} rows, mean |error| {e['before_mean_abs_pct']:.0f}% -> "
                f"{e['after_mean_abs_pct']:.0f}%, worst {e['before_worst_abs_pct']:.0f}% -> "
                f"{e['after_worst_abs_pct']:.0f}%"
            )
    if write is not None:
        typer.echo(f"wrote {write} (validated): run it with materiel mc {write}")


def _g(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _pct(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f" ({value:+.0f}%)"


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
    """Console-script entry point.

    Once the command has finished, its output is flushed and the process ends
    at once (``os._exit``, after the ``atexit`` handlers): tearing the
    interpreter down module by module (numba's compiled modules, pandas,
    xarray, pydantic) costs about 1 s of CPU after a ``run`` and changes
    nothing, since the commands write and close their files themselves. With
    a thread still running, or an exit status that is not a number, the
    process exits the usual way.
    """
    _ENDS_AFTER_COMMAND["main"] = True
    try:
        app()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: Any) -> None:
    """End the process with ``code``: at once where nothing is left running."""
    import atexit
    import os
    import threading

    if (code is not None and not isinstance(code, int)) or threading.active_count() > 1:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: let Python report it as usual
        raise SystemExit(code) from None
    atexit._run_exitfuncs()
    os._exit(code or 0)
