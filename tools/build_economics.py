"""Build ``src/materiel/data/economics.csv`` from the public tables in ``../shared/data``.

Usage::

    python tools/build_economics.py [DATA_DIR] [OUT_CSV]

``DATA_DIR`` defaults to ``../shared/data`` (relative to the repository root) and
``OUT_CSV`` to ``src/materiel/data/economics.csv``. The output is deterministic:
rows are sorted by party then year, numbers are written with fixed rounding.

What goes in (one row per party-year, 2014-2025, the 32 allies and UKR; one
source id per figure, each defined in ``dataset.toml``):

* NATO definition, 2014-2024, from NATO's own workbook
  ``nato/240617-def-exp-2024-TABLES-en.xlsx`` (June 2024 edition; read with
  :func:`materiel.scenario.importers.nato_workbook`, the parser behind
  ``materiel data import --format nato-xlsx``) and checked figure by figure
  against its tidy copy ``nato/nato_defexp_2024edition_tidy.csv``:
  ``defence_pct_gdp_nato`` (Table 3, % of real GDP at 2015 prices),
  ``defence_usd_m_nato`` (Table 2, current US$ m), ``equipment_share_pct``
  (Table 8a, % on major equipment incl. R&D) and ``gdp_usd_m`` (Table 5,
  current US$ m; Iceland included). NATO's 2023e and 2024e columns are
  estimates: ``estimate_nato = 1`` on those rows.
* NATO definition, 2025: the estimates of the August 2025 edition where one
  was published (``nato/nato_defexp_2025edition_pct_gdp_partial.csv``, one
  source per row, mapped to a source id below); the rest is left empty
  (missing), not invented. The 2025 edition's 2014-2024 values (2021 prices)
  are not used: the series stays on one edition.
* SIPRI definition, 2014-2024 (kept as before): ``defence_pct_gdp_sipri`` and
  ``defence_usd_m_sipri`` from ``sipri/sipri_milex_nato_allies_2014_2024.csv``
  (SIPRI Milex, April 2025).
* ``gdp_usd_m`` for Ukraine (not in NATO's tables): implied by SIPRI (current
  US$ / share of GDP), a DERIVED figure.
* ``gdp_usd_m`` 2025: an assumption, 2024 x 1.03 (about 3 % nominal growth).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from materiel.scenario.importers import nato_workbook  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "materiel" / "data" / "economics.csv"

YEARS = range(2014, 2026)
GDP_GROWTH_2025 = 1.03

# SIPRI / NATO country names -> ISO 3166 alpha-3 party ids.
PARTY_OF = {
    "Albania": "ALB",
    "Belgium": "BEL",
    "Bulgaria": "BGR",
    "Canada": "CAN",
    "Croatia": "HRV",
    "Czechia": "CZE",
    "Denmark": "DNK",
    "Estonia": "EST",
    "Finland": "FIN",
    "France": "FRA",
    "Germany": "DEU",
    "Greece": "GRC",
    "Hungary": "HUN",
    "Iceland": "ISL",
    "Italy": "ITA",
    "Latvia": "LVA",
    "Lithuania": "LTU",
    "Luxembourg": "LUX",
    "Montenegro": "MNE",
    "Netherlands": "NLD",
    "North Macedonia": "MKD",
    "Norway": "NOR",
    "Poland": "POL",
    "Portugal": "PRT",
    "Romania": "ROU",
    "Slovakia": "SVK",
    "Slovak Republic": "SVK",
    "Slovenia": "SVN",
    "Spain": "ESP",
    "Sweden": "SWE",
    "Türkiye": "TUR",
    "United Kingdom": "GBR",
    "United States of America": "USA",
    "United States": "USA",
    "Ukraine": "UKR",
}
PARTIES = sorted(set(PARTY_OF.values()))

SRC_SIPRI = "sipri-milex-2025"
SRC_SIPRI_GDP = "sipri-implied-gdp"
SRC_NATO_2024 = "nato-def-exp-2024"
SRC_GDP_2025 = "assumption-gdp-2025"
# Where the 2025 edition's figures were read: the `source` column's prefix -> source id.
SRC_NATO_2025 = {
    "github:Bradythebest27/": "nato-def-exp-2025",
    "page:https://en.defence-ua.com/": "nato-def-exp-2025-defence-ua",
    "page:https://redcensor.com/": "nato-def-exp-2025-redcensor",
}

NATO_FIELDS = ("defence_pct_gdp_nato", "defence_usd_m_nato", "equipment_share_pct", "gdp_usd_m")
# tidy CSV column -> field (the cross-check)
TIDY = {
    "pct_gdp_nato": "defence_pct_gdp_nato",
    "usd_m_current": "defence_usd_m_nato",
    "equipment_share_pct": "equipment_share_pct",
}
DIGITS = {
    "gdp_usd_m": 1,
    "defence_pct_gdp_nato": 6,
    "defence_usd_m_nato": 1,
    "equipment_share_pct": 4,
    "estimate_nato": 0,
    "defence_pct_gdp_sipri": 4,
    "defence_usd_m_sipri": 1,
}
FIGURES = list(DIGITS)
COLUMNS = ["party", "year", *FIGURES, "source", *(f"{f}_source" for f in FIGURES)]


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return ""
    return str(int(value)) if digits == 0 else f"{value:.{digits}f}"


def _nato_2024(data_dir: Path) -> dict[tuple[str, int], dict[str, float]]:
    """NATO's 2024-edition figures per (party, year), checked against the tidy copy."""
    book = data_dir / "nato" / "240617-def-exp-2024-TABLES-en.xlsx"
    out: dict[tuple[str, int], dict[str, float]] = {}
    for name, year, field, value, estimate in nato_workbook(book):
        cell = out.setdefault((PARTY_OF[name], year), {})
        cell[field] = value
        if estimate:
            cell["estimate_nato"] = 1.0
    with open(data_dir / "nato" / "nato_defexp_2024edition_tidy.csv", encoding="utf-8") as f:
        checked = 0
        for r in csv.DictReader(f):
            if r["party"] not in PARTIES:  # NATO_EUR_CAN, NATO_TOTAL
                continue
            cell = out[(r["party"], int(r["year"]))]
            for column, field in TIDY.items():
                theirs = _num(r[column])
                if theirs is None or abs(cell[field] - theirs) > 1e-9 * max(1.0, abs(theirs)):
                    raise SystemExit(f"tidy CSV disagrees with the workbook: {r} {field}")
                checked += 1
            if (r["is_estimate"] == "Y") != ("estimate_nato" in cell):
                raise SystemExit(f"tidy CSV disagrees on is_estimate: {r}")
    if checked != 31 * 11 * len(TIDY):
        raise SystemExit(f"expected 31 allies x 11 years x {len(TIDY)} figures; checked {checked}")
    return out


def _nato_2025(data_dir: Path) -> dict[str, tuple[float, str]]:
    """2025 estimates (% of GDP) per party with their source id; missing ones left out."""
    out: dict[str, tuple[float, str]] = {}
    path = data_dir / "nato" / "nato_defexp_2025edition_pct_gdp_partial.csv"
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            pct = _num(r["pct_gdp_nato"])
            if r["year"] != "2025" or r["party"] not in PARTIES or pct is None:
                continue
            sid = next((v for k, v in SRC_NATO_2025.items() if r["source"].startswith(k)), None)
            if sid is None or r["is_estimate"] != "Y":
                raise SystemExit(f"unknown source or not an estimate in {path}: {r}")
            out[r["party"]] = (pct, sid)
    return out


def build(data_dir: Path) -> list[dict[str, str]]:
    """Return the economics rows, sorted by party and year."""
    sipri: dict[tuple[str, int], dict[str, float | None]] = {}
    with open(data_dir / "sipri" / "sipri_milex_nato_allies_2014_2024.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            party = PARTY_OF.get(r["country"])
            if party is None:  # Russia: not a party of the model
                continue
            pct = _num(r["milex_pct_gdp"])
            usd = _num(r["milex_usd_current_m"])
            gdp = _num(r["gdp_usd_current_m_implied"])
            if pct is None:  # Iceland: SIPRI lists 0.0 US$ and no share; no data
                usd = None
            sipri[(party, int(r["year"]))] = {"pct": pct, "usd": usd, "gdp": gdp}
    nato = _nato_2024(data_dir)
    nato_2025 = _nato_2025(data_dir)

    rows: list[dict[str, str]] = []
    for party in PARTIES:
        for year in YEARS:
            values: dict[str, float | None] = dict.fromkeys(FIGURES)
            sources: dict[str, str] = {}
            s = sipri.get((party, year), {})
            values["defence_pct_gdp_sipri"] = s.get("pct")
            values["defence_usd_m_sipri"] = s.get("usd")
            for field in ("defence_pct_gdp_sipri", "defence_usd_m_sipri"):
                sources[field] = SRC_SIPRI
            n = nato.get((party, year), {})
            for field in (*NATO_FIELDS, "estimate_nato"):
                if field in n:
                    values[field], sources[field] = n[field], SRC_NATO_2024
            if values["gdp_usd_m"] is None and s.get("gdp") is not None:  # Ukraine
                values["gdp_usd_m"], sources["gdp_usd_m"] = s["gdp"], SRC_SIPRI_GDP
            if year == 2025:
                base = nato.get((party, 2024), {}).get(
                    "gdp_usd_m", sipri.get((party, 2024), {}).get("gdp")
                )
                if base is not None:
                    values["gdp_usd_m"], sources["gdp_usd_m"] = base * GDP_GROWTH_2025, SRC_GDP_2025
                if party in nato_2025:
                    pct, sid = nato_2025[party]
                    values["defence_pct_gdp_nato"], sources["defence_pct_gdp_nato"] = pct, sid
                    values["estimate_nato"], sources["estimate_nato"] = 1.0, sid
            row = {"party": party, "year": str(year)}
            for field in FIGURES:
                row[field] = _fmt(values[field], DIGITS[field])
                row[f"{field}_source"] = sources[field] if values[field] is not None else ""
            row["source"] = row["defence_pct_gdp_sipri_source"]
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    data_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    rows = build(data_dir)
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
