"""Compare the ``hindcast-2022`` scenario with the public record.

Runs the embedded ``hindcast-2022`` scenario (2022-02..2025-12, pre-war
capacity, the aid and orders since, state-funded facilitation as announced
and the model's own order-driven investment) and prints
one row per public figure: the quantity, its date, the public figure with its
source, the model's value and the difference (absolute and relative to the
public figure).

Where the public figure is an *output* (rounds made or missiles delivered) the
model's ``production`` is used; where it is a *capacity* or a capacity plan,
the model's ``capacity_per_month``. Annual figures are compared with twelve
times the monthly capacity, or with the sum of a calendar year's production.

Usage::

    python tools/hindcast_compare.py            # markdown table (default)
    python tools/hindcast_compare.py --json     # machine-readable rows
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Literal

import xarray as xr

import materiel

SCENARIO = "hindcast-2022"

Measure = Literal["production", "capacity", "delivered"]


@dataclass(frozen=True)
class Figure:
    """One public figure and how to read the model's counterpart."""

    quantity: str
    date: str
    public: float
    unit: str
    source: str  # a source id of the scenario, or plain text
    measure: Measure
    note: str = ""


@dataclass(frozen=True)
class Row:
    """One line of the comparison table."""

    quantity: str
    date: str
    public: float | None
    unit: str
    source: str
    measure: str
    model: float
    difference: float | None
    difference_pct: float | None
    note: str


US_155 = ("us-iowa-aap-lap", "gdots-camden-lap")
PAC3 = ("lm-camden-pac3",)
UNTERLUESS = ("rheinmetall-unterluess",)
KNDS = ("knds-france",)
NAMMO = ("nammo-raufoss-155",)
EU_1M_CONTRACT = "eu-1m-track2-joint-procurement"
EU_1M_TRACK1_PREFIX = "eu-1m-track1-"
EU_1M_PLEDGED = 1_000_000.0
EU_1M_DEADLINE = "2024-03"


def _month(ds: xr.Dataset, month: str) -> xr.Dataset:
    return ds.sel(month=f"{month}-01")


def _year(ds: xr.Dataset, year: str) -> xr.Dataset:
    return ds.sel(month=slice(f"{year}-01-01", f"{year}-12-01"))


def _eu_155_lines(ds: xr.Dataset, scenario: materiel.Scenario) -> list[str]:
    """European 155mm lines in EU member states (GBR and NOR excluded)."""
    return [
        str(line)
        for line, product, country in zip(
            ds.line.values, ds.line_product.values, ds.line_country.values, strict=True
        )
        if product == "shell-155mm" and scenario.parties[str(country)].eu_member
    ]


def _eu_1m_delivered(ds: xr.Dataset, by: str) -> float:
    """Rounds delivered to Ukraine under both tracks of the EU plan up to ``by``."""
    upto = ds.sel(month=slice(None, f"{by}-01"))
    track1 = [str(g) for g in ds.pledge.values if str(g).startswith(EU_1M_TRACK1_PREFIX)]
    given = float(upto.pledge_deliveries.sel(pledge=track1).sum())
    given += float(ds.pledge_given_before_start.sel(pledge=track1).sum())
    made = float(upto.contract_deliveries.sel(contract=EU_1M_CONTRACT).sum())
    made += float(ds.contract_delivered_before_start.sel(contract=EU_1M_CONTRACT))
    return given + made


def figures() -> list[Figure]:
    """The public figures the hindcast is compared with (see docs/hindcast.md)."""
    plan = "usarmy-155-plan-2024"
    return [
        Figure(
            "US 155mm output, rounds/month",
            "2022-02",
            14_400,
            "rounds/month",
            "dod-laplante-2023",
            "production",
            "pre-war baseline",
        ),
        Figure(
            "US 155mm output, rounds/month",
            "2023-09",
            28_000,
            "rounds/month",
            "dod-laplante-2023",
            "production",
        ),
        Figure(
            "US 155mm output, rounds/month",
            "2024-09",
            40_000,
            "rounds/month",
            "defence-express-us-155-2025",
            "production",
            "reported actual",
        ),
        Figure(
            "US 155mm output, rounds/month",
            "2025-07",
            40_000,
            "rounds/month",
            "defence-express-us-155-2025",
            "production",
            "reported actual, mid-2025",
        ),
        Figure(
            "US 155mm capacity (Army plan), rounds/month",
            "2024-10",
            60_000,
            "rounds/month",
            plan,
            "capacity",
            "a plan, not achieved",
        ),
        Figure(
            "US 155mm capacity (Army plan), rounds/month",
            "2025-04",
            75_000,
            "rounds/month",
            plan,
            "capacity",
            "a plan, not achieved",
        ),
        Figure(
            "US 155mm capacity (Army plan), rounds/month",
            "2025-10",
            100_000,
            "rounds/month",
            plan,
            "capacity",
            "a plan, not achieved",
        ),
        Figure(
            "EU 155mm capacity, rounds/year",
            "2022-02",
            230_000,
            "rounds/year",
            "Politico (2022), quoted in FACTS.md and assumption-small-eu-producers",
            "capacity",
            "pre-war; EU member states' lines only",
        ),
        Figure(
            "EU 155mm capacity, rounds/year",
            "2025-12",
            2_000_000,
            "rounds/year",
            "ec-asap-2024",
            "capacity",
            "EU target, not measured capacity",
        ),
        Figure(
            "KNDS France 155mm capacity, rounds/year",
            "2022-02",
            60_000,
            "rounds/year",
            "knds-france-2024",
            "capacity",
            "pre-war",
        ),
        Figure(
            "KNDS France 155mm capacity, rounds/year",
            "2024-12",
            120_000,
            "rounds/year",
            "knds-france-2024",
            "capacity",
            "doubled in 2024",
        ),
        Figure(
            "Nammo 155mm capacity, rounds/year",
            "2022-02",
            7_000,
            "rounds/year",
            "regjeringen-nammo-2024",
            "capacity",
            "pre-war",
        ),
        Figure(
            "Rheinmetall Unterlüß 155mm output, rounds in the year",
            "2025",
            25_000,
            "rounds/year",
            "defensehere-unterluess-2025",
            "production",
            "new plant",
        ),
        Figure(
            "PAC-3 MSE capacity, missiles/year",
            "2022-02",
            350,
            "missiles/year",
            "lockheed-pac3",
            "capacity",
            "the 2018 rate, the last public pre-war figure",
        ),
        Figure(
            "PAC-3 MSE capacity, missiles/year",
            "2023-12",
            500,
            "missiles/year",
            "arkansasonline-pac3-2022",
            "capacity",
            "new Camden facility",
        ),
        Figure(
            "PAC-3 MSE output, missiles in the year",
            "2025",
            600,
            "missiles/year",
            "lockheed-pac3",
            "production",
            "'more than 600 delivered in 2025'",
        ),
    ]


def _model_value(fig: Figure, ds: xr.Dataset, scenario: materiel.Scenario) -> float:
    lines = {
        "US 155mm": US_155,
        "EU 155mm": tuple(_eu_155_lines(ds, scenario)),
        "KNDS": KNDS,
        "Nammo": NAMMO,
        "Rheinmetall Unterlüß": UNTERLUESS,
        "PAC-3 MSE": PAC3,
    }
    chosen = next(v for k, v in lines.items() if fig.quantity.startswith(k))
    per_year = fig.unit.endswith("/year")
    if len(fig.date) == 4:  # a calendar year's production
        return float(_year(ds, fig.date)[fig.measure].sel(line=list(chosen)).sum())
    var = "capacity_per_month" if fig.measure == "capacity" else "production"
    monthly = float(_month(ds, fig.date)[var].sel(line=list(chosen)).sum())
    return monthly * 12 if per_year else monthly


def _label(source: str, scenario: materiel.Scenario) -> str:
    src = scenario.sources.get(source)
    if src is None:
        return source
    if src.publisher:
        return f"{src.publisher}, {src.date} [{source}]"
    return f"assumption [{source}]"


def compare(result: materiel.Result | None = None) -> list[Row]:
    """Rows comparing the hindcast's output with each public figure."""
    result = result if result is not None else materiel.simulate(SCENARIO)
    ds = result.dataset.isel(sample=0)
    scenario = result.scenario
    rows = []
    for fig in figures():
        model = _model_value(fig, ds, scenario)
        diff = model - fig.public
        rows.append(
            Row(
                fig.quantity,
                fig.date,
                fig.public,
                fig.unit,
                _label(fig.source, scenario),
                fig.measure,
                model,
                diff,
                100.0 * diff / fig.public,
                fig.note,
            )
        )
    delivered = _eu_1m_delivered(ds, EU_1M_DEADLINE)
    rows.append(
        Row(
            "EU '1 million shells' plan: rounds delivered to Ukraine (tracks 1 + 2)",
            EU_1M_DEADLINE,
            None,
            "rounds",
            _label("council-eu-1m-shells-2023", scenario),
            "delivered",
            delivered,
            None,
            None,
            f"pledged {EU_1M_PLEDGED:,.0f} by {EU_1M_DEADLINE}; no delivered figure in the "
            f"shared record (model: {100 * delivered / EU_1M_PLEDGED:.0f}% of the pledge)",
        )
    )
    return rows


def _signed(value: float | None, fmt: str = ",.0f", suffix: str = "") -> str:
    """``+1,234`` / ``-5%``; values that round to zero print as ``0``."""
    if value is None:
        return "n/a"
    text = f"{value:+{fmt}}"
    return ("0" if text.lstrip("+-").strip("0.,") == "" else text) + suffix


def markdown(rows: list[Row]) -> str:
    """The comparison as a markdown table."""
    out = [
        "| quantity | date | public figure (source) | model | difference | difference % |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        public = "none" if r.public is None else f"{r.public:,.0f}"
        note = f"; {r.note}" if r.note else ""
        diff, pct = _signed(r.difference), _signed(r.difference_pct, ".0f", "%")
        out.append(
            f"| {r.quantity} | {r.date} | {public} ({r.source}{note}) "
            f"| {r.model:,.0f} ({r.measure}) | {diff} | {pct} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="print a markdown table (default)")
    fmt.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = compare()
    if args.json:
        json.dump([asdict(r) for r in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
