"""What the command line prints: regression tests for friction found by users (issue 17)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import materiel
from materiel.cli import app

runner = CliRunner()
NAN = re.compile(r"\bnan\b|\bNaN\b|<NA>")


@pytest.mark.parametrize("sid", materiel.embedded_ids())
def test_no_nan_in_run_output(sid: str) -> None:
    out = runner.invoke(app, ["run", sid])
    assert out.exit_code == 0, out.output
    assert not NAN.search(out.stdout), [ln for ln in out.stdout.splitlines() if NAN.search(ln)]
    assert "inputs binding:" in out.stdout


def test_no_nan_in_compare_output() -> None:
    ids = materiel.embedded_ids()
    out = runner.invoke(app, ["run", ids[0], *(x for i in ids[1:] for x in ("--compare", i))])
    assert out.exit_code == 0, out.output
    assert not NAN.search(out.stdout), [ln for ln in out.stdout.splitlines() if NAN.search(ln)]


def test_what_a_pledge_buys_reads_as_alternatives() -> None:
    out = runner.invoke(app, ["spending", "--pledge", "3.5", "--by", "2035"])
    assert out.exit_code == 0, out.output
    *_, deu = (ln for ln in out.stdout.splitlines() if ln.startswith("DEU "))
    assert re.search(r"[\d,]+ shell-155mm or [\d,]+ pac-3-mse$", deu), deu
    assert "any one of" in out.stdout


def test_policy_made_contracts_in_text_json_and_tables(tmp_path: Path) -> None:
    out = runner.invoke(app, ["run", "action-plan", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert re.search(
        r"Contracts: \d+ written in the scenario, \d+ decided by procurement", out.stdout
    )
    assert "policy usa-155mm (shell-155mm):" in out.stdout
    # quantities in the product's own unit (rounds, missiles), not "units"
    assert re.search(r"policy usa-155mm \(shell-155mm\): .* [\d.,]+[MK]? rounds", out.stdout)
    assert re.search(r"policy usa-pac-3-mse \(pac-3-mse\): .* [\d.,]+[MK]? missiles", out.stdout)
    assert "policy.floor_applies_to = 'all'" in out.stdout
    table = pd.read_csv(tmp_path / "contracts.csv")
    assert set(table.decided_by) == {"scenario", "policy"}
    made = table[table.decided_by == "policy"]
    assert made.origin.str.startswith("policy:").all() and (made.quantity > 0).all()
    assert {"contract", "buyers", "decided", "signed", "quantity", "firm", "multi_year"} <= set(
        table.columns
    )
    js = runner.invoke(app, ["run", "action-plan", "--json"])
    assert js.exit_code == 0, js.output
    metrics = json.loads(js.stdout)
    rows = metrics["contracts"]
    assert len(rows) == len(table)
    assert {r["decided_by"] for r in rows} == {"scenario", "policy"}
    assert metrics["floors"]["applies_to"] == "all"
