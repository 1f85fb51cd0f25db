"""The public record as data, and the model against it, row by row.

``data/record.csv`` holds one row per public figure of what was produced,
built or delivered: what is counted (projectiles, charge sets, shells,
missiles), the measure (``production``, ``capacity`` or ``delivered``), the
model product it corresponds to, its scope (which lines), its date (a month
``YYYY-MM`` or a calendar year ``YYYY``), value and unit (``per_month`` or
``per_year``), its source, and whether the same figure also went into the
dataset (``in_dataset = yes``: then agreeing with it is calibration, not
evidence).

The model's value for a row, with ``L`` the lines of the row's product in
its scope:

- ``capacity`` in month ``m``: ``sum_L capacity_per_month(m)``, times 12 for
  ``per_year``;
- ``production`` in month ``m``: ``sum_L production(m)`` (times 12 for
  ``per_year``); in calendar year ``y``: ``sum_{m in y} sum_L production(m)``
  (``per_year``) or that over 12 (``per_month``);
- ``delivered``: deliveries to the scope's parties (``party:XXX``), summed
  likewise over receipts.

Count like the record: a row's ``counted`` says what the figure counts and
its ``product`` is what the model measures for it. 155mm is separate-loading
ammunition, so figures of *projectiles* are the output of the projectile-body
lines (``shell-body-155mm``), figures of *charge sets* that of the charge
lines (``propellant-charge``), and *rounds* or *shells* complete rounds
(``shell-155mm``); :func:`check_counted` refuses a row whose count and
product disagree (:data:`COUNTED`).

Scopes: ``country:XXX`` (lines in that country), ``eu`` (lines in EU member
states), ``owner:TEXT`` (lines whose owner contains TEXT), ``line:ID``
(named lines); several joined with ``;`` add up.

Validation discipline: rows dated up to ``until`` (2023-12 by default) are
**in-sample** (a calibration may use them); later rows are
**out-of-sample** checks, reported apart, never used to choose a parameter.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from materiel._errors import Problem, ScenarioError
from materiel._xarray import lazy_dask
from materiel.analysis.result import Result
from materiel.months import parse_month
from materiel.scenario.schema import Scenario

lazy_dask()  # xarray answers 'not a dask array' without importing dask.array

__all__ = [
    "COUNTED",
    "FIT_UNTIL",
    "RecordRow",
    "RowMap",
    "check_counted",
    "compare_record",
    "load_record",
    "measured",
    "model_value",
    "record_errors",
    "row_map",
    "scope_lines",
]

FIT_UNTIL = "2023-12"  # rows dated up to here may be fitted; later rows are checks

Measure = Literal["production", "capacity", "delivered"]
_MEASURES = ("production", "capacity", "delivered")
_UNITS = ("per_month", "per_year")
_COLUMNS = (
    "id",
    "item",
    "counted",
    "measure",
    "product",
    "scope",
    "date",
    "value",
    "unit",
    "source",
    "url",
    "in_dataset",
    "note",
)


@dataclass(frozen=True)
class RecordRow:
    """One public figure (see the module docstring for the fields' meaning)."""

    id: str
    item: str
    counted: str
    measure: Measure
    product: str
    scope: str
    date: str
    value: float
    unit: str
    source: str
    url: str = ""
    in_dataset: bool = False
    note: str = ""

    @property
    def is_year(self) -> bool:
        """Whether the row covers a calendar year rather than one month."""
        return len(self.date) == 4

    @property
    def last_month(self) -> str:
        """The last month the figure covers (December for a year)."""
        return f"{self.date}-12" if self.is_year else self.date


def _check_row(raw: dict[str, str], where: str) -> list[Problem]:
    problems = []
    for column in ("id", "item", "product", "scope", "date", "source"):
        if not raw.get(column, "").strip():
            problems.append(Problem(where, column, "expected a value, got an empty cell"))
    if raw.get("measure") not in _MEASURES:
        problems.append(
            Problem(
                where,
                "measure",
                f"got {raw.get('measure')!r}; expected one of {', '.join(_MEASURES)}",
            )
        )
    if raw.get("unit") not in _UNITS:
        problems.append(
            Problem(where, "unit", f"got {raw.get('unit')!r}; expected per_month or per_year")
        )
    date = raw.get("date", "")
    try:
        if len(date) == 4:
            int(date)
        else:
            parse_month(date)
    except ValueError:
        problems.append(Problem(where, "date", f"got {date!r}; expected YYYY-MM or YYYY"))
    try:
        float(raw.get("value", ""))
    except ValueError:
        problems.append(Problem(where, "value", f"got {raw.get('value')!r}; expected a number"))
    return problems


def load_record(path: str | Path | None = None) -> list[RecordRow]:
    """The rows of a record CSV (the embedded ``data/record.csv`` by default).

    Raises :class:`~materiel.ScenarioError` listing every bad cell with its row.
    """
    if path is None:
        source = resources.files("materiel") / "data" / "record.csv"
        name, text = "<embedded:record.csv>", source.read_text(encoding="utf-8")
    else:
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(Problem(name, "", f"cannot read the file: {exc.strerror}")) from exc
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in _COLUMNS[:10] if c not in (reader.fieldnames or [])]
    if missing:
        raise ScenarioError(Problem(name, "", f"missing columns: {', '.join(missing)}", 1))
    rows, problems = [], []
    for i, raw in enumerate(reader, start=2):
        found = _check_row(raw, f"{name}:{i}")
        if found:
            problems += found
            continue
        rows.append(
            RecordRow(
                id=raw["id"],
                item=raw["item"],
                counted=raw.get("counted", ""),
                measure=raw["measure"],  # type: ignore[arg-type]
                product=raw["product"],
                scope=raw["scope"],
                date=raw["date"],
                value=float(raw["value"]),
                unit=raw["unit"],
                source=raw["source"],
                url=raw.get("url") or "",
                in_dataset=(raw.get("in_dataset") or "") == "yes",
                note=raw.get("note") or "",
            )
        )
    if problems:
        raise ScenarioError(problems)
    return rows


# What a row may count, by the kind of product the model measures for it:
# components (projectile bodies, charge sets) or complete munitions.
COUNTED: dict[str, str] = {
    "projectiles": "component",
    "charge sets": "component",
    "rounds": "munition",
    "shells": "munition",
    "missiles": "munition",
    "rockets": "munition",
}


@dataclass(frozen=True)
class RowMap:
    """How the model's value for one row is read off its outputs.

    ``value = sum(weights * output)`` with ``output`` the engine output
    ``variable`` (``production`` or ``capacity`` per (month, line), or
    ``receipts`` per (month, party, product)) and ``weights`` of the same
    shape. Every row of the record is linear in one output, so a batch of
    samples is one ``einsum`` (:mod:`materiel.analysis.calibrate`).
    """

    variable: Literal["production", "capacity", "receipts"]
    weights: np.ndarray
    lines: tuple[str, ...]


def scope_lines(scenario: Scenario, lines: list[str], row: RecordRow) -> list[str]:
    """Those of ``lines`` that make the row's product within its scope (module docstring)."""
    s = scenario
    chosen = []
    for part in row.scope.split(";"):
        kind, _, arg = part.strip().partition(":")
        if kind == "country":
            chosen += [x for x in lines if s.lines[x].country == arg]
        elif kind == "eu":
            chosen += [x for x in lines if s.parties[s.lines[x].country].eu_member]
        elif kind == "owner":
            chosen += [x for x in lines if arg.lower() in s.lines[x].owner.lower()]
        elif kind == "line":
            chosen += [x for x in lines if x in arg.split(",")]
        elif kind != "party":
            expected = "country:XXX, eu, owner:TEXT, line:ID or party:XXX"
            raise ScenarioError(
                Problem(f"record:{row.id}", "scope", f"got {part!r}; expected {expected}")
            )
    return [x for x in lines if x in set(chosen) and s.lines[x].product == row.product]


def check_counted(scenario: Scenario, rows: list[RecordRow]) -> None:
    """Every row counts what the model measures for it (:data:`COUNTED`).

    A row counting projectiles or charge sets must name a component product
    (the model's output of shell bodies or charge sets); one counting rounds,
    shells, missiles or rockets a munition (complete rounds). Raises
    :class:`~materiel.ScenarioError` naming each row that does not.
    """
    problems = []
    for row in rows:
        where = f"record:{row.id}"
        if row.product not in scenario.products:
            problems.append(
                Problem(
                    where,
                    "product",
                    f"got {row.product!r}; expected a product of scenario {scenario.id}",
                )
            )
            continue
        kind = scenario.products[row.product].kind
        wanted = COUNTED.get(row.counted)
        if wanted is None:
            problems.append(
                Problem(
                    where, "counted", f"got {row.counted!r}; expected one of {', '.join(COUNTED)}"
                )
            )
        elif wanted != kind:
            problems.append(
                Problem(
                    where,
                    "counted",
                    f"counts {row.counted} but product {row.product!r} is a "
                    f"{kind}; expected a {wanted} product (the model measures what the product's "
                    "lines make)",
                )
            )
    if problems:
        raise ScenarioError(problems)


def row_map(
    scenario: Scenario,
    row: RecordRow,
    months: list[str],
    lines: list[str],
    cells: list[tuple[str, str]] | None = None,
) -> RowMap | None:
    """The weights that turn one output into the row's model value; None outside ``months``.

    ``months`` are the run's months (``YYYY-MM``), ``lines`` its line ids and
    ``cells`` the (party, product) cells its ``receipts`` come in (all cells
    by default). Weights (module docstring): a month row weighs its month 1
    (``per_month``) or 12 (``per_year``); a year row weighs each of its 12
    months 1 (``per_year``) or 1/12 (``per_month``) — for ``capacity`` that
    is 12 times or once the year's mean monthly capacity. A year the run
    covers only in part has no value.
    """
    wanted = [m for m in months if m.startswith(row.date)] if row.is_year else [row.date]
    if not wanted or any(m not in months for m in wanted) or (row.is_year and len(wanted) < 12):
        return None
    if row.is_year:
        per_month = 1.0 if row.unit == "per_year" else 1.0 / 12
    else:
        per_month = 12.0 if row.unit == "per_year" else 1.0
    at = [months.index(m) for m in wanted]
    if row.measure == "delivered":
        parties = [p.partition(":")[2] for p in row.scope.split(";") if p.startswith("party:")]
        cells = cells or [(p, k) for p in scenario.parties for k in scenario.products]
        mine = [i for i, (p, k) in enumerate(cells) if p in parties and k == row.product]
        w = np.zeros((len(months), len(cells)))
        w[np.ix_(at, mine)] = per_month
        return RowMap("receipts", w, ())
    chosen = scope_lines(scenario, lines, row)
    w = np.zeros((len(months), len(lines)))
    w[np.ix_(at, [lines.index(x) for x in chosen])] = per_month
    variable: Literal["production", "capacity"] = (
        "capacity" if row.measure == "capacity" else "production"
    )
    return RowMap(variable, w, tuple(chosen))


def model_value(result: Result, row: RecordRow) -> float | None:
    """The model's counterpart of ``row`` (module docstring); None outside the run's months."""
    ds = result.dataset.isel(sample=0)
    months = list(pd.DatetimeIndex(ds.month.values).strftime("%Y-%m"))
    cells = [(str(p), str(k)) for p in ds.party.values for k in ds.product.values]
    found = row_map(result.scenario, row, months, [str(x) for x in ds.line.values], cells)
    if found is None:
        return None
    name = {"capacity": "capacity_per_month"}.get(found.variable, found.variable)
    values = ds[name].values.reshape(len(months), -1)
    return float((found.weights * values).sum())


def measured(row: RecordRow, found: RowMap | None) -> str:
    """What the model measures for ``row``, in words (for the comparison table)."""
    if found is None:
        return ""
    if found.variable == "receipts":
        return f"receipts of {row.product} by {row.scope}"
    what = "capacity" if found.variable == "capacity" else "output"
    return f"{what} of {row.product} on {', '.join(found.lines) or 'no line'}"


def compare_record(
    result: Result, rows: list[RecordRow] | None = None, *, until: str = FIT_UNTIL
) -> pd.DataFrame:
    """Model against record, one row per figure.

    Columns: ``id``, ``item``, ``counted``, ``measured`` (what the model
    side measures: output or capacity of which product on which lines),
    ``date``, ``record``, ``model``,
    ``difference`` (model − record), ``difference_pct``, ``sample``
    (``in-sample`` up to ``until``, ``out-of-sample`` after, ``outside run``
    where the run does not cover the date), ``in_dataset``, ``unit``,
    ``source``, ``note``.
    """
    rows = load_record() if rows is None else rows
    check_counted(result.scenario, rows)
    ds = result.dataset
    months = list(pd.DatetimeIndex(ds.month.values).strftime("%Y-%m"))
    lines = [str(x) for x in ds.line.values]
    out = []
    for row in rows:
        value = model_value(result, row)
        what = measured(row, row_map(result.scenario, row, months, lines))
        if value is None:
            which = "outside run"
        else:
            which = (
                "in-sample"
                if parse_month(row.last_month) <= parse_month(until)
                else ("out-of-sample")
            )
        diff = None if value is None else value - row.value
        out.append(
            {
                "id": row.id,
                "item": row.item,
                "counted": row.counted,
                "measured": what,
                "date": row.date,
                "record": row.value,
                "model": value,
                "difference": diff,
                "difference_pct": None
                if diff is None or row.value == 0
                else 100 * diff / row.value,
                "sample": which,
                "in_dataset": row.in_dataset,
                "unit": row.unit,
                "source": row.source,
                "note": row.note,
            }
        )
    return pd.DataFrame(out)


def record_errors(table: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Mean absolute % error and the worst row, in-sample and out-of-sample apart."""
    summary: dict[str, dict[str, float | int | None]] = {}
    for which in ("in-sample", "out-of-sample"):
        part = table[table["sample"] == which].dropna(subset=["difference_pct"])
        pct = part["difference_pct"].abs()
        summary[which] = {
            "rows": len(part),
            "mean_abs_pct": float(pct.mean()) if len(part) else None,
            "worst_abs_pct": float(pct.max()) if len(part) else None,
        }
    return summary
