"""Importers: turn published defence-spending tables into scenario overlays.

Each importer reads one file shape and returns an overlay mapping — ready to
write as TOML — with a ``[sources.*]`` entry (publisher, title, file, date)
and, for every value, the source id. A file of the wrong shape raises
:class:`~materiel.ScenarioError` naming the file and what was expected.

Formats:

- ``sipri-xlsx``: the SIPRI Military Expenditure Database workbook (sheets
  "Share of GDP" and "Current US$"; header row starting with "Country").
- ``nato-csv``: a table with columns ``country`` (name or ISO3), ``year`` and
  a %GDP column (``nato_pct_gdp_estimate``, ``pct_gdp`` or ``defence_pct_gdp``).
- ``owid-csv``: Our World in Data's "military spending as a share of GDP"
  (``Entity, Code, Year, Military expenditure (% of GDP)``).
- ``nato-xlsx``: NATO's "Defence Expenditure of NATO Countries" Excel tables
  (sheets ``TABLE2``, ``TABLE3``, ``TABLE5``, ``TABLE8a``; a header row of
  years such as ``2014 ... 2023e 2024e``, block labels in column B, ally names
  in column C). ``TABLE3`` (% of real GDP) is required; the others are read
  when present: ``TABLE2`` current US$ m (block "Current prices and exchange
  rates"), ``TABLE5`` GDP in current US$ m (same block), ``TABLE8a`` the
  equipment share of defence expenditure (block "Equipment"). A year NATO
  labels ``e`` sets ``estimate_nato`` on that ally-year.
- ``kiel-csv``: the Kiel Institute's Ukraine Support Tracker ``data_explorer``
  CSV (military aid by donor and month), turned into munitions pledges by
  :func:`import_kiel`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from materiel._errors import Problem, ScenarioError
from materiel.scenario.schema import Scenario

__all__ = [
    "FORMATS",
    "KIEL_SHARES",
    "NATO_TABLES",
    "import_kiel",
    "import_table",
    "nato_workbook",
    "publication_date",
]

Format = Literal["sipri-xlsx", "nato-csv", "owid-csv", "nato-xlsx"]
FORMATS: tuple[Format, ...] = ("sipri-xlsx", "nato-csv", "owid-csv", "nato-xlsx")
ALIASES = {
    "united states of america": "USA",
    "usa": "USA",
    "us": "USA",
    "turkey": "TUR",
    "türkiye": "TUR",
    "turkiye": "TUR",
    "czech republic": "CZE",
    "czechia": "CZE",
    "north macedonia": "MKD",
    "macedonia": "MKD",
    "uk": "GBR",
    "great britain": "GBR",
    "slovak republic": "SVK",
}
_PUBLISHER = {
    "sipri-xlsx": (
        "Stockholm International Peace Research Institute (SIPRI)",
        "https://www.sipri.org/databases/milex",
    ),
    "nato-csv": ("NATO", "https://www.nato.int/cps/en/natohq/topics_49198.htm"),
    "owid-csv": (
        "Our World in Data (SIPRI data)",
        "https://ourworldindata.org/grapher/military-spending-as-a-share-of-gdp-sipri",
    ),
    "nato-xlsx": ("NATO", "https://www.nato.int/cps/en/natohq/topics_49198.htm"),
}


def _party_lookup(s: Scenario) -> Callable[[str], str | None]:
    names = {p.name.lower(): k for k, p in s.parties.items()}
    codes = {k.lower(): k for k in s.parties}

    def find(text: str) -> str | None:
        key = str(text).strip().lower()
        return codes.get(key) or names.get(key) or ALIASES.get(key)

    return find


def _fail(path: Path, message: str, field: str = "") -> ScenarioError:
    return ScenarioError(Problem(str(path), field, message))


_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")


def publication_date(path: Path, published: str | None = None) -> tuple[str, str]:
    """(date, how it was found) for the source of figures imported from ``path``.

    In order: ``published`` as given (``YYYY-MM`` or ``YYYY-MM-DD``, from
    the publication's page); for an Excel workbook the date its publisher
    last saved it (the workbook's own properties, which a download keeps);
    otherwise the file's modification date, said to be that, since it may
    be the day of the download rather than of the publication.
    """
    if published is not None:
        if not _DATE.match(published):
            raise _fail(
                path,
                f"got {published!r}; expected a date written YYYY-MM or YYYY-MM-DD",
                "--published",
            )
        return published, "publication date as given"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            from openpyxl import load_workbook  # type: ignore[import-untyped]

            book = load_workbook(path, read_only=True)
            saved = book.properties.modified or book.properties.created
            book.close()
        except Exception:  # the reader has read it already; a date is not worth failing for
            saved = None
        if saved is not None:
            return saved.date().isoformat(), "date the publisher saved the workbook"
    stamp = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
    return stamp, (
        "date the file was last modified (perhaps the download, not the "
        "publication: give the publication date with --published)"
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _fail(path, f"cannot read as CSV: {exc}") from exc


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None  # SIPRI writes ". ." or "xxx" for missing
    return None if pd.isna(x) else x


def _sipri(path: Path, find: Callable[[str], str | None]) -> list[tuple[str, int, str, float]]:
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a non-workbook
        raise _fail(path, f"cannot read as an Excel workbook: {exc}") from exc
    with book:
        return _sipri_sheets(path, book, find)


def _sipri_sheets(
    path: Path, book: pd.ExcelFile, find: Callable[[str], str | None]
) -> list[tuple[str, int, str, float]]:
    needed = {"Share of GDP": "defence_pct_gdp_sipri", "Current US$": "defence_usd_m_sipri"}
    missing = [sheet for sheet in needed if sheet not in book.sheet_names]
    if missing:
        raise _fail(path, f"expected SIPRI sheets {list(needed)}; missing {missing}", "sheet")
    out = []
    for sheet, field in needed.items():
        raw = pd.read_excel(book, sheet, header=None)
        header_rows = raw.index[raw.iloc[:, 0].astype(str).str.strip() == "Country"]
        if len(header_rows) == 0:
            raise _fail(path, "expected a header row starting with 'Country'", sheet)
        header = raw.iloc[int(header_rows[0])]
        body = raw.iloc[int(header_rows[0]) + 1 :]
        years = {j: int(v) for j, v in enumerate(header) if _number(v) is not None}
        scale = 100.0 if field == "defence_pct_gdp_sipri" else 1.0  # SIPRI gives a share
        for _, row in body.iterrows():
            party = find(str(row.iloc[0]))
            if party is None:
                continue
            for j, year in years.items():
                value = _number(row.iloc[j])
                if value is not None:
                    out.append((party, year, field, value * scale))
    return out


def _nato(path: Path, find: Callable[[str], str | None]) -> list[tuple[str, int, str, float]]:
    df = _read_csv(path)
    value_col = next(
        (c for c in ("nato_pct_gdp_estimate", "pct_gdp", "defence_pct_gdp") if c in df.columns),
        None,
    )
    if "country" not in df.columns or "year" not in df.columns or value_col is None:
        raise _fail(
            path,
            "expected columns country, year and one of nato_pct_gdp_estimate, pct_gdp, "
            f"defence_pct_gdp; found {list(df.columns)}",
            "columns",
        )
    out = []
    for _, row in df.iterrows():
        party, year, value = find(row["country"]), _number(row["year"]), _number(row[value_col])
        if party is None or year is None or value is None:
            continue
        out.append((party, int(year), "defence_pct_gdp_nato", value))
    return out


def _owid(path: Path, find: Callable[[str], str | None]) -> list[tuple[str, int, str, float]]:
    df = _read_csv(path)
    value_cols = [c for c in df.columns if "% of GDP" in str(c)]
    if not {"Entity", "Code", "Year"} <= set(df.columns) or len(value_cols) != 1:
        raise _fail(
            path,
            "expected columns Entity, Code, Year and one '... (% of GDP)' column; "
            f"found {list(df.columns)}",
            "columns",
        )
    out = []
    for _, row in df.iterrows():
        party = find(str(row["Code"])) or find(str(row["Entity"]))
        year, value = _number(row["Year"]), _number(row[value_cols[0]])
        if party is None or year is None or value is None:
            continue
        out.append((party, int(year), "defence_pct_gdp_sipri", value))
    return out


# NATO tables: sheet -> (label of the block to read in column B, field, required)
NATO_TABLES: dict[str, tuple[str, str, bool]] = {
    "TABLE3": ("Share of real GDP", "defence_pct_gdp_nato", True),
    "TABLE2": ("Current prices and exchange rates", "defence_usd_m_nato", False),
    "TABLE5": ("Current prices and exchange rates", "gdp_usd_m", False),
    "TABLE8a": ("Equipment", "equipment_share_pct", False),
}
_NATO_YEAR = re.compile(r"^(\d{4})(e?)$")


def _nato_year(cell: Any) -> tuple[int, bool] | None:
    """``2019``, ``'2019'`` or ``'2023e'`` -> (year, is_estimate); anything else None."""
    if isinstance(cell, bool) or cell is None:
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    found = _NATO_YEAR.match(str(cell).strip())
    return None if found is None else (int(found.group(1)), found.group(2) == "e")


def nato_workbook(path: Path) -> list[tuple[str, int, str, float, bool]]:
    """Every ally figure of NATO's defence-expenditure workbook at ``path``.

    Returns ``(name as printed, year, field, value, is_estimate)`` for the
    blocks in :data:`NATO_TABLES`; names keep NATO's spelling without the
    ``*`` footnote mark; aggregate rows (label in column B) are left out.
    Raises :class:`~materiel.ScenarioError` naming the file and sheet when
    the workbook does not have that shape.
    """
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a non-workbook
        raise _fail(path, f"cannot read as an Excel workbook: {exc}") from exc
    with book:
        sheets = [str(name) for name in book.sheet_names]
        missing = [s for s, (_, _, required) in NATO_TABLES.items() if required and s not in sheets]
        if missing:
            raise _fail(
                path,
                f"expected NATO's defence-expenditure tables (sheets {list(NATO_TABLES)}); "
                f"missing {missing}; found {sheets[:12]}",
                "sheet",
            )
        out: list[tuple[str, int, str, float, bool]] = []
        for sheet, (label, field, _) in NATO_TABLES.items():
            if sheet in sheets:
                raw = pd.read_excel(book, sheet, header=None)
                rows = [
                    tuple(None if pd.isna(c) else c for c in r) for r in raw.itertuples(index=False)
                ]
                out += _nato_block(path, sheet, rows, label, field)
        return out


def _nato_block(
    path: Path, sheet: str, rows: list[tuple[Any, ...]], label: str, field: str
) -> list[tuple[str, int, str, float, bool]]:
    header = next((r for r in rows if sum(_nato_year(c) is not None for c in r) >= 2), None)
    if header is None:
        raise _fail(path, "expected a header row of years (2014 ... 2024e)", sheet)
    years = {j: y for j, c in enumerate(header) if (y := _nato_year(c)) is not None}
    start = next(
        (
            i
            for i, r in enumerate(rows)
            if len(r) > 1 and isinstance(r[1], str) and r[1].strip().startswith(label)
        ),
        None,
    )
    if start is None:
        raise _fail(path, f"expected a block labelled {label!r} in column B", sheet)
    out = []
    for r in rows[start + 1 :]:
        if len(r) > 1 and r[1] is not None and str(r[1]).strip():
            break  # the next block, or an aggregate (NATO Europe and Canada, NATO Total)
        name = str(r[2]).strip().rstrip("*").strip() if len(r) > 2 and r[2] else ""
        if not name or name.lower().startswith(("notes", "*")):
            continue
        for j, (year, estimate) in years.items():
            value = _number(r[j]) if j < len(r) else None
            if value is not None:
                out.append((name, year, field, value, estimate))
    if not out:
        raise _fail(path, f"no figures under the block {label!r}", sheet)
    return out


def _nato_xlsx(path: Path, find: Callable[[str], str | None]) -> list[tuple[str, int, str, float]]:
    out = []
    estimates = set()
    for name, year, field, value, estimate in nato_workbook(path):
        party = find(name)
        if party is None:
            continue
        out.append((party, year, field, value))
        if estimate:
            estimates.add((party, year))
    out += [(party, year, "estimate_nato", 1.0) for party, year in estimates]
    return out


_READERS = {"sipri-xlsx": _sipri, "nato-csv": _nato, "owid-csv": _owid, "nato-xlsx": _nato_xlsx}


def import_table(
    path: Path,
    fmt: Format,
    scenario: Scenario,
    *,
    years: range | None = None,
    published: str | None = None,
) -> dict[str, Any]:
    """Read ``path`` as ``fmt`` and return an overlay for ``scenario``'s allies.

    Only parties of the scenario are kept (matched by ISO3 code or name);
    ``years`` limits the years imported. The overlay ``extends`` nothing: a
    user adds ``extends = "..."`` or merges it into a scenario. The source's
    ``date`` is the publication's (:func:`publication_date`; ``published``
    gives it explicitly).
    """
    if not path.is_file():
        raise _fail(path, "no such file")
    rows = _READERS[fmt](path, _party_lookup(scenario))
    if years is not None:
        rows = [r for r in rows if r[1] in years]
    if not rows:
        raise _fail(path, f"no figures for the scenario's parties were found in this {fmt} file")
    publisher, url = _PUBLISHER[fmt]
    stamp, dated = publication_date(path, published)
    source_id = f"import-{fmt}-{path.stem}".replace(" ", "-").replace("_", "-")[:80]
    economics: dict[str, dict[str, dict[str, Any]]] = {}
    for party, year, field, value in sorted(rows):
        record = economics.setdefault(party, {}).setdefault(str(year), {"source": source_id})
        record[field] = True if field == "estimate_nato" else round(value, 6)
    return {
        "sources": {
            source_id: {
                "publisher": publisher,
                "title": f"{path.name} (imported with materiel data import --format {fmt})",
                "date": stamp,
                "url": url,
                "note": f"file {path.name}; date: {dated}; values as published",
            }
        },
        "economics": economics,
    }


# --------------------------------------------------------------------------
# Kiel Institute Ukraine Support Tracker: military aid -> munitions pledges
# --------------------------------------------------------------------------

KIEL_SHARES: dict[str, float] = {
    "shell-155mm": 0.10,
    "pac-3-mse": 0.03,
    "iris-t-slm": 0.004,
    "amraam": 0.01,
    "stinger": 0.005,
    "javelin": 0.005,
    "gmlrs": 0.01,
}
"""Default share of a donor's yearly military aid value spent on each munition (assumption)."""
KIEL_USD_PER_EUR = 1.08
KIEL_COLUMNS = ("iso", "year", "month", "military")


def kiel_rule_text(shares: dict[str, float], usd_per_eur: float) -> str:
    """The conversion rule, in words, for the overlay's assumption source."""
    listed = ", ".join(f"{p} {100 * v:g} %" for p, v in shares.items())
    return (
        "Munitions pledged = share of the donor's military aid allocated in the year (Kiel "
        f"Ukraine Support Tracker, EUR, at {usd_per_eur:g} US$/EUR) / the munition's unit "
        f"price in that year (materiel.scenario.prices.unit_price_usd). Shares: {listed}. "
        "The shares are assumptions (the tracker has no ammunition items); donors that are "
        "not parties of the scenario (the EU institutions, non-allies) are left out."
    )


def import_kiel(
    path: Path,
    scenario: Scenario,
    *,
    shares: dict[str, float] | None = None,
    years: range | None = None,
    recipient: str = "UKR",
    combine: bool = False,
    min_eur_bn: float = 0.0,
    usd_per_eur: float = KIEL_USD_PER_EUR,
    published: str | None = None,
) -> dict[str, Any]:
    """Turn the Kiel tracker's military aid by donor and month into munitions pledges.

    ``path`` is the tracker's ``data_explorer`` CSV (columns ``iso``, ``year``,
    ``month``, ``military`` in EUR bn). For every donor ``d`` that is a party of
    ``scenario`` and every year ``y``::

        aid[d, y]      = sum over months of military (EUR bn)
        quantity[d,y,p] = shares[p] * aid[d, y] * 1e9 * usd_per_eur / unit_price_usd(p, y)

    Default: one ``[aid.*]`` pledge per donor, year and munition, supplied from
    production and due evenly over the months the file covers in that year
    (whole units; pledges under one unit or donors under ``min_eur_bn`` in the
    year are left out). ``combine=True`` writes instead one joint contract per
    munition and year, bought by the donors in proportion to their aid and
    delivered to ``recipient`` over those months.
    """
    from materiel.scenario.prices import unit_price_usd

    if not path.is_file():
        raise _fail(path, "no such file")
    shares = dict(KIEL_SHARES if shares is None else shares)
    for product, share in shares.items():
        if product not in scenario.products or scenario.products[product].kind != "munition":
            raise _fail(path, f"unknown munition {product!r} in shares", "shares")
        if not 0 <= share <= 1:
            raise _fail(path, f"share of {product!r} is {share}; expected 0..1", "shares")
    if recipient not in scenario.parties:
        raise _fail(path, f"unknown recipient {recipient!r}", "recipient")
    df = _read_csv(path)
    missing = [c for c in KIEL_COLUMNS if c not in df.columns]
    if missing:
        raise _fail(
            path,
            f"expected Kiel tracker columns {list(KIEL_COLUMNS)}; missing {missing} "
            f"(found {list(df.columns)})",
            "columns",
        )
    find = _party_lookup(scenario)
    aid: dict[tuple[str, int], float] = {}
    months: dict[int, set[int]] = {}
    for _, row in df.iterrows():
        year, month, value = _number(row["year"]), _number(row["month"]), _number(row["military"])
        if year is None or month is None or value is None:
            continue
        if years is not None and int(year) not in years:
            continue
        months.setdefault(int(year), set()).add(int(month))
        donor = find(str(row["iso"]))
        if donor is None or donor == recipient or scenario.parties[donor].kind != "ally":
            continue
        aid[(donor, int(year))] = aid.get((donor, int(year)), 0.0) + value
    aid = {k: v for k, v in aid.items() if v > 0 and v >= min_eur_bn}
    if not aid:
        raise _fail(path, "no military aid from the scenario's parties was found in this file")
    file_id = f"import-kiel-{path.stem}".replace(" ", "-").replace("_", "-")[:80]
    rule_id = "assumption-kiel-munition-shares"
    stamp, dated = publication_date(path, published)
    sources = {
        file_id: {
            "publisher": "Kiel Institute for the World Economy (Ukraine Support Tracker)",
            "title": f"{path.name}: military aid by donor and month, EUR bn "
            "(imported with materiel data import --format kiel-csv)",
            "date": stamp,
            "url": "https://www.ifw-kiel.de/topics/war-against-ukraine/ukraine-support-tracker/",
            "note": f"military allocations; the tracker lists no ammunition items; date: {dated}",
        },
        rule_id: {"assumption": kiel_rule_text(shares, usd_per_eur)},
    }
    overlay: dict[str, Any] = {"sources": sources}
    pledges: dict[str, dict[str, Any]] = {}
    for year in sorted({y for _, y in aid}):
        first, last = min(months[year]), max(months[year])
        start, end = f"{year}-{first:02d}", f"{year}-{last:02d}"
        donors = sorted(d for d, y in aid if y == year)
        total = sum(aid[(d, year)] for d in donors)
        for product, share in shares.items():
            usd = unit_price_usd(scenario, product, year)
            if share == 0 or usd <= 0:
                continue
            if combine:
                qty = round(share * total * 1e9 * usd_per_eur / usd)
                if qty < 1:
                    continue
                buyers = {d: round(aid[(d, year)] / total, 6) for d in donors}
                largest = max(donors, key=lambda d: aid[(d, year)])
                buyers[largest] = round(buyers[largest] + 1 - sum(buyers.values()), 6)
                buyers = {d: v for d, v in buyers.items() if v > 0}
                pledges[f"kiel-{product}-{year}"] = {
                    "buyers": buyers,
                    "recipient": recipient,
                    "product": product,
                    "quantity": qty,
                    "decision": start,
                    "contracting_delay_months": 0,
                    "delivery_months": last - first + 1,
                    "priority": 3,
                    "source": rule_id,
                    "field_sources": {"buyers": file_id},
                }
                continue
            for donor in donors:
                qty = round(share * aid[(donor, year)] * 1e9 * usd_per_eur / usd)
                if qty < 1:
                    continue
                pledges[f"kiel-{donor}-{product}-{year}"] = {
                    "donor": donor,
                    "recipient": recipient,
                    "product": product,
                    "quantity": qty,
                    "start": start,
                    "end": end,
                    "supply": "production",
                    "source": rule_id,
                }
    overlay["contracts" if combine else "aid"] = pledges
    return overlay
