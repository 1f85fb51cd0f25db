"""Build ``src/materiel/data/economics.csv`` from the public tables in ``../shared/data``.

Usage::

    python tools/build_economics.py [DATA_DIR] [OUT_CSV]

``DATA_DIR`` defaults to ``../shared/data`` (relative to the repository root) and
``OUT_CSV`` to ``src/materiel/data/economics.csv``. The output is deterministic:
rows are sorted by party then year, numbers are written with fixed rounding.

What goes in (one row per party-year, 2014-2025, the 32 allies and UKR):

* ``defence_pct_gdp_sipri`` and ``defence_usd_m_sipri`` (2014-2024): SIPRI
  Military Expenditure Database (April 2025), "Share of GDP" x 100 and
  "Current US$" (US$ m), as extracted in
  ``sipri/sipri_milex_nato_allies_2014_2024.csv``.
* ``gdp_usd_m`` (2014-2024): GDP implied by SIPRI (current US$ / share of GDP),
  a DERIVED figure, not a published GDP series.
* ``defence_pct_gdp_nato`` 2024: NATO's June 2024 estimates
  (``nato/nato_pct_gdp_2024e_june2024_release.csv``, transcribed from a press
  reprint); 2025: the selected NATO estimates of August 2025 quoted in
  ``FACTS.md`` (Poland, Lithuania, Latvia, Estonia, Norway, United States).
* ``gdp_usd_m`` 2025: an assumption, 2024 x 1.03 (about 3 % nominal growth).
* Iceland has no armed forces and no SIPRI figure: its GDP is an assumption
  (rounded current-US$ GDP of the order published by the IMF and World Bank).

Every non-empty figure carries a source id that exists in ``dataset.toml``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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

# NATO estimates for 2025 (% of GDP), NATO release of 28 Aug 2025 as quoted in FACTS.md.
NATO_2025 = {"POL": 4.48, "LTU": 4.00, "LVA": 3.73, "EST": 3.38, "NOR": 3.35, "USA": 3.22}

# Iceland GDP, current US$ m: assumption (see source `assumption-isl-gdp`).
ISL_GDP = {
    2014: 17_600,
    2015: 17_400,
    2016: 21_000,
    2017: 24_500,
    2018: 26_300,
    2019: 24_800,
    2020: 21_600,
    2021: 25_700,
    2022: 28_100,
    2023: 31_300,
    2024: 33_000,
}

SRC_SIPRI = "sipri-milex-2025"
SRC_SIPRI_GDP = "sipri-implied-gdp"
SRC_NATO_2024 = "nato-def-exp-2024"
SRC_NATO_2025 = "nato-def-exp-2025"
SRC_GDP_2025 = "assumption-gdp-2025"
SRC_ISL_GDP = "assumption-isl-gdp"

COLUMNS = [
    "party",
    "year",
    "gdp_usd_m",
    "defence_pct_gdp_nato",
    "defence_pct_gdp_sipri",
    "defence_usd_m_sipri",
    "source",
    "gdp_usd_m_source",
    "defence_pct_gdp_nato_source",
    "defence_pct_gdp_sipri_source",
    "defence_usd_m_sipri_source",
]


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


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

    nato: dict[tuple[str, int], float] = {}
    with open(data_dir / "nato" / "nato_pct_gdp_2024e_june2024_release.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            nato[(PARTY_OF[r["country"]], int(r["year"]))] = float(r["nato_pct_gdp_estimate"])
    for party, pct in NATO_2025.items():
        nato[(party, 2025)] = pct

    rows: list[dict[str, str]] = []
    for party in PARTIES:
        for year in YEARS:
            s = sipri.get((party, year), {})
            gdp = s.get("gdp")
            gdp_src = SRC_SIPRI_GDP if gdp is not None else ""
            if party == "ISL" and year in ISL_GDP:
                gdp, gdp_src = float(ISL_GDP[year]), SRC_ISL_GDP
            if year == 2025:
                base = sipri.get((party, 2024), {}).get("gdp")
                if party == "ISL":
                    base = float(ISL_GDP[2024])
                gdp = None if base is None else base * GDP_GROWTH_2025
                gdp_src = SRC_GDP_2025 if gdp is not None else ""
            pct_nato = nato.get((party, year))
            pct_sipri = s.get("pct")
            usd_sipri = s.get("usd")
            rows.append(
                {
                    "party": party,
                    "year": str(year),
                    "gdp_usd_m": _fmt(gdp, 1),
                    "defence_pct_gdp_nato": _fmt(pct_nato, 2),
                    "defence_pct_gdp_sipri": _fmt(pct_sipri, 4),
                    "defence_usd_m_sipri": _fmt(usd_sipri, 1),
                    "source": SRC_SIPRI if pct_sipri is not None else "",
                    "gdp_usd_m_source": gdp_src,
                    "defence_pct_gdp_nato_source": (
                        ""
                        if pct_nato is None
                        else (SRC_NATO_2025 if year == 2025 else SRC_NATO_2024)
                    ),
                    "defence_pct_gdp_sipri_source": SRC_SIPRI if pct_sipri is not None else "",
                    "defence_usd_m_sipri_source": SRC_SIPRI if usd_sipri is not None else "",
                }
            )
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
