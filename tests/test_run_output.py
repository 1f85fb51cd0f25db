"""What the command line prints: regression tests for friction found by users (issue 17)."""

from __future__ import annotations

import re

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
