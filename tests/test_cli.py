"""The command line: output, JSON, exit codes (real console script for the exit codes)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from materiel.cli import app

runner = CliRunner()


def materiel_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("materiel") or str(Path(sys.executable).parent / "materiel")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_scenarios_json_lists_the_four() -> None:
    out = runner.invoke(app, ["scenarios", "--json"])
    assert out.exit_code == 0
    ids = [row["id"] for row in json.loads(out.stdout)]
    assert ids[:4] == ["status-quo", "action-plan", "hague-pledge", "hindcast-2022"]


def test_run_default_prints_targets_and_binding() -> None:
    out = runner.invoke(app, ["run"])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("action-plan")
    assert "Targets" in out.stdout and "usa-155mm-2028" in out.stdout
    assert "shell-155mm: capacity" in out.stdout and "binds:" in out.stdout


def test_run_json_and_out(tmp_path: Path) -> None:
    out = runner.invoke(app, ["run", "status-quo", "--json", "--out", str(tmp_path)])
    assert out.exit_code == 0
    metrics = json.loads(out.stdout)
    assert metrics["scenario"] == "status-quo"
    assert {t["target"] for t in metrics["targets"]} >= {"usa-155mm-2028"}
    assert (tmp_path / "production.csv").is_file() and (tmp_path / "stock.csv").is_file()


def test_run_compare_side_by_side() -> None:
    out = runner.invoke(app, ["run", "action-plan", "--compare", "status-quo"])
    assert out.exit_code == 0
    assert "Comparison" in out.stdout and "status-quo" in out.stdout.split("Comparison")[1]


def test_check_targets_exit_one_when_unmet() -> None:
    out = runner.invoke(app, ["run", "status-quo", "--check-targets"])
    assert out.exit_code == 1
    assert "targets not met" in out.output


def test_show_json() -> None:
    out = runner.invoke(app, ["show", "action-plan", "--json"])
    info = json.loads(out.stdout)
    assert info["allies"] == 32 and info["policy"]["contracting_delay_months"] == 3


def test_validate_broken_file_lists_every_problem_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'extends = "action-plan"\n\n[lines.rheinmetall-unterluess]\ncapacity_per_month = -1\n\n'
        '[contracts.x]\nbuyers = { DEU = 0.5 }\nproduct = "shell-155mm"\nquantity = 10\n'
        'decision = "2025-01"\nline = "nope"\n'
    )
    proc = materiel_cmd("validate", str(bad))
    assert proc.returncode == 2
    assert "3 problems found" in proc.stderr
    assert f"{bad}:4: lines.rheinmetall-unterluess.capacity_per_month" in proc.stderr
    assert "contracts.x.buyers: buyer shares must sum to 1, got 0.5" in proc.stderr
    assert "contracts.x.line: unknown line 'nope'" in proc.stderr
    proc = materiel_cmd("validate", str(bad), "--json")
    assert proc.returncode == 2 and len(json.loads(proc.stdout)["problems"]) == 3


def test_run_missing_file_exit_2() -> None:
    proc = materiel_cmd("run", "no/such/file.toml")
    assert proc.returncode == 2 and "no such scenario or file" in proc.stderr


def test_python_dash_m_is_the_same_command_line() -> None:
    """``python -m materiel`` runs the commands and keeps their exit codes."""
    run = [sys.executable, "-m", "materiel"]
    ok = subprocess.run([*run, "scenarios"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "action-plan" in ok.stdout
    bad = subprocess.run([*run, "show", "no-such"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such scenario or file" in bad.stderr


def test_validate_ok() -> None:
    out = runner.invoke(app, ["validate", "hague-pledge"])
    assert out.exit_code == 0 and "ok" in out.stdout


HEAVY = ("scipy", "pandas", "xarray", "plotly", "linopy", "numba", "sqlalchemy", "fastapi", "dask")


def _modules_after(*args: str, top_level: bool = True) -> set[str]:
    """Packages (top-level, else every module) imported by one command, in a fresh interpreter."""
    names = "{m.split('.')[0] for m in sys.modules}" if top_level else "set(sys.modules)"
    code = (
        "import sys\nfrom materiel.cli import app\n"
        "try:\n    app(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(sorted({names})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    return set(proc.stdout.splitlines()[-1].split())


def test_help_imports_no_heavy_library() -> None:
    loaded = _modules_after("--help")
    assert not loaded & {*HEAVY, "numpy", "pydantic"}, loaded & {*HEAVY, "numpy", "pydantic"}


def test_validate_imports_no_heavy_library() -> None:
    loaded = _modules_after("validate", "action-plan")
    assert "pydantic" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_spending_imports_no_heavy_library() -> None:
    """The spending tables are numpy only (issue 11: ``spending`` answers within a second)."""
    loaded = _modules_after("spending", "--year", "2024")
    assert "numpy" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_run_does_not_import_dask_array() -> None:
    """xarray is told 'not a dask array' without importing dask.array (materiel._xarray)."""
    loaded = _modules_after("run", "status-quo", top_level=False)
    assert "xarray" in loaded and "materiel.analysis.result" in loaded
    assert "dask.array" not in loaded


def test_mc_out_writes_fans_probabilities_draws(tmp_path: Path) -> None:
    out = runner.invoke(app, ["mc", "status-quo", "-n", "8", "--out", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "inputs.parquet",
        "line_production_fans.csv",
        "metrics.json",
        "p_met_by_month.csv",
        "target_stock_fans.csv",
    ]
    fans = (tmp_path / "target_stock_fans.csv").read_text().splitlines()
    assert fans[0] == "month,target,p5,p25,p50,p75,p95"
    assert fans[1].startswith("2025-01,")  # status-quo's first month
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(out.stdout)


def test_readme_examples_are_what_the_commands_print() -> None:
    """README's `materiel run` output block and its `spending --year 2024` count."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("`materiel run` prints", 1)[1].split("```\n", 2)[1]
    printed = runner.invoke(app, ["run"]).output
    shown = [line.removesuffix("; ...").strip() for line in block.splitlines()]
    missing = [line for line in shown if line not in ("", "...") and line not in printed]
    assert not missing, missing
    meets, count = re.search(r"spending --year 2024 +# (\d+) of (\d+) allies", readme).groups()
    spent = runner.invoke(app, ["spending", "--year", "2024"]).output
    assert f"{meets} of {count} allies with data meet 2.0% of GDP in 2024" in spent


def test_readme_scenario_files_validate(tmp_path: Path) -> None:
    """Every TOML block of README.md is a scenario file that validates as pasted."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```toml\n")[1:]]
    assert len(blocks) >= 3
    for i, text in enumerate(blocks):
        path = tmp_path / f"readme-{i}.toml"
        path.write_text(text)
        out = runner.invoke(app, ["validate", str(path)])
        assert out.exit_code == 0, (i, out.output)
