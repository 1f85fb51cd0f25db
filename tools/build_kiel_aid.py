"""Write the hindcast's Kiel-derived missile aid into hindcast-2022.toml.

Runs :func:`materiel.scenario.importers.import_kiel` (the rule behind
``materiel data import --format kiel-csv --combine``) on the shared copy of the
Kiel Ukraine Support Tracker (release 29) for 2022-2025, missiles only: the
hindcast's 155mm aid is already given by the US drawdowns and the EU's one
million shells. The block between the markers in the scenario is replaced.

    python tools/build_kiel_aid.py [PATH/kiel_ust_r29_data_explorer.csv]
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomli_w

import materiel
from materiel.scenario.importers import KIEL_SHARES, import_kiel

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "src" / "materiel" / "data" / "scenarios" / "hindcast-2022.toml"
DEFAULT = ROOT.parent / "shared" / "data" / "ukraine_aid" / "kiel_ust_r29_data_explorer.csv"
BEGIN = "# >>> Kiel-derived missile aid (tools/build_kiel_aid.py) >>>\n"
END = "# <<< Kiel-derived missile aid <<<\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    shares = {p: v for p, v in KIEL_SHARES.items() if p != "shell-155mm"}
    overlay = import_kiel(
        path, materiel.load("dataset"), shares=shares, years=range(2022, 2026), combine=True
    )
    # a stable source id and date for the embedded copy
    (file_src,) = [k for k in overlay["sources"] if k.startswith("import-kiel")]
    cited = overlay["sources"].pop(file_src)
    cited.update(
        date="2026-08-04",
        title="Ukraine Support Tracker, Release 29 (04/2026): "
        "military aid by donor and month (data_explorer), EUR bn",
    )
    overlay["sources"]["kiel-ust-r29"] = cited
    for c in overlay["contracts"].values():
        c["field_sources"]["buyers"] = "kiel-ust-r29"
    text = SCENARIO.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    SCENARIO.write_text(head + BEGIN + tomli_w.dumps(overlay) + END + tail, encoding="utf-8")
    print(f"wrote {len(overlay['contracts'])} contracts into {SCENARIO.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
