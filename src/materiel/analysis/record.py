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
import xarray as xr

from materiel._errors import Problem, ScenarioError
from materiel.analysis.result import Result
from materiel.months import parse_month

__all__ = [
    "FIT_UNTIL",
    "RecordRow",
    "compare_record",
    "load_record",
    "model_value",
    "record_errors",
]

FIT_UNTIL = "2023-12"  # rows dated up to here may be fitted; later rows are checks

Measure = Literal["production", "capacity", "delivered"]
_MEASURES = ("production", "capacity", "delivered")
_UNITS = ("per_month", "per_year")
_COLUMNS = ("id", "item", "counted", "measure", "product", "scope", "date", "value", "unit",
            "source", "url", "in_dataset", "note")  # fmt: skip


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
        problems.append(Problem(where, "measure", f"got {raw.get('measure')!r}; expected one of "
                                                  f"{', '.join(_MEASURES)}"))  # fmt: skip
    if raw.get("unit") not in _UNITS:
        problems.append(Problem(where, "unit", f"got {raw.get('unit')!r}; expected per_month "
                                               "or per_year"))  # fmt: skip
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
                id=raw["id"], item=raw["item"], counted=raw.get("counted", ""),
                measure=raw["measure"],  # type: ignore[arg-type]
                product=raw["product"], scope=raw["scope"], date=raw["date"],
                value=float(raw["value"]), unit=raw["unit"], source=raw["source"],
                url=raw.get("url") or "", in_dataset=(raw.get("in_dataset") or "") == "yes",
                note=raw.get("note") or "",
            )
        )  # fmt: skip
    if problems:
        raise ScenarioError(problems)
    return rows


def _scope_lines(ds: xr.Dataset, result: Result, row: RecordRow) -> list[str]:
    """Lines of the row's product within its scope."""
    s = result.scenario
    lines = ds.line.values
    product = ds.line_product.values == row.product
    chosen = np.zeros(len(lines), dtype=bool)
    for part in row.scope.split(";"):
        kind, _, arg = part.strip().partition(":")
        if kind == "country":
            chosen |= ds.line_country.values == arg
        elif kind == "eu":
            chosen |= np.array([s.parties[str(c)].eu_member for c in ds.line_country.values])
        elif kind == "owner":
            chosen |= np.array([arg.lower() in str(o).lower() for o in ds.line_owner.values])
        elif kind == "line":
            chosen |= np.isin(lines, arg.split(","))
        elif kind != "party":
            expected = "country:XXX, eu, owner:TEXT, line:ID or party:XXX"
            raise ScenarioError(
                Problem(f"record:{row.id}", "scope", f"got {part!r}; expected {expected}")
            )
    return [str(x) for x in lines[chosen & product]]


def model_value(result: Result, row: RecordRow) -> float | None:
    """The model's counterpart of ``row`` (module docstring); None outside the run's months."""
    ds = result.dataset.isel(sample=0)
    months = pd.DatetimeIndex(ds.month.values).strftime("%Y-%m")
    wanted = [m for m in months if m.startswith(row.date)] if row.is_year else [row.date]
    if not wanted or any(m not in set(months) for m in wanted):
        return None
    if row.is_year and len(wanted) < 12:
        return None  # the run covers part of the year only
    sel = ds.sel(month=[f"{m}-01" for m in wanted])
    if row.measure == "delivered":
        parties = [p.partition(":")[2] for p in row.scope.split(";") if p.startswith("party:")]
        monthly = sel.receipts.sel(party=parties, product=row.product).sum("party")
    else:
        var = "capacity_per_month" if row.measure == "capacity" else "production"
        monthly = sel[var].sel(line=_scope_lines(ds, result, row)).sum("line")
    values = monthly.values
    if row.is_year:
        total = float(values.sum()) if row.measure != "capacity" else float(values.mean() * 12)
        return total if row.unit == "per_year" else total / 12
    month_value = float(values[0])
    return month_value * 12 if row.unit == "per_year" else month_value


def compare_record(
    result: Result, rows: list[RecordRow] | None = None, *, until: str = FIT_UNTIL
) -> pd.DataFrame:
    """Model against record, one row per figure.

    Columns: ``id``, ``item``, ``counted``, ``date``, ``record``, ``model``,
    ``difference`` (model − record), ``difference_pct``, ``sample``
    (``in-sample`` up to ``until``, ``out-of-sample`` after, ``outside run``
    where the run does not cover the date), ``in_dataset``, ``unit``,
    ``source``, ``note``.
    """
    rows = load_record() if rows is None else rows
    out = []
    for row in rows:
        value = model_value(result, row)
        if value is None:
            which = "outside run"
        else:
            which = "in-sample" if parse_month(row.last_month) <= parse_month(until) else (
                "out-of-sample")  # fmt: skip
        diff = None if value is None else value - row.value
        out.append({
            "id": row.id, "item": row.item, "counted": row.counted, "date": row.date,
            "record": row.value, "model": value, "difference": diff,
            "difference_pct": None if diff is None or row.value == 0 else 100 * diff / row.value,
            "sample": which, "in_dataset": row.in_dataset, "unit": row.unit,
            "source": row.source, "note": row.note,
        })  # fmt: skip
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
