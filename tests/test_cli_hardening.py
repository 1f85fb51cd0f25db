"""Issue 19 on the command line: bad arguments and unwritable outputs exit 2 with the
option named, never a traceback; JSON output is strict JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from materiel.cli import app
from materiel.web.store import Store

runner = CliRunner()


def strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def bad(args: list[str], option: str, message: str) -> None:
    out = runner.invoke(app, args)
    assert out.exit_code == 2, (out.exit_code, out.output, out.exception)
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert option in out.output and message in out.output, out.output


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("x")
    return path


def test_out_at_a_file_under_a_file_or_unwritable(a_file: Path) -> None:
    bad(["run", "status-quo", "--out", str(a_file)], "--out", "is a file; expected a directory")
    bad(["run", "status-quo", "--out", str(a_file / "sub")], "--out", "is under a file")
    bad(["mc", "status-quo", "-n", "2", "--out", str(a_file)], "--out", "is a file")
    bad(["run", "status-quo", "--out", "/proc/materiel-out"], "--out", "cannot write into")


def test_report_and_plan_outputs(a_file: Path, tmp_path: Path) -> None:
    bad(["report", "status-quo", "-o", str(a_file / "r.html")], "--output", "is under a file")
    bad(["report", "status-quo", "-o", str(tmp_path)], "--output", "is a directory")
    bad(["plan", "status-quo", "--write", str(a_file / "p.toml")], "--write", "is under a file")
    bad(["plan", "status-quo", "--write", "/proc/p.toml"], "--write", "cannot write into /proc")


def test_mc_seed_must_not_be_negative() -> None:
    bad(["mc", "status-quo", "-n", "2", "--seed", "-1"], "--seed", "greater than or equal to 0")


def test_mc_refuses_samples_beyond_memory_with_the_estimate() -> None:
    # streamed runs hold about 270 bytes per sample: a billion needs about 250 GiB
    bad(["mc", "status-quo", "--samples", "1000000000"], "--samples", "need an estimated")
    out = runner.invoke(app, ["mc", "status-quo", "--samples", "1000000000"])
    assert "GiB" in out.output and "expected at most" in out.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--pledge", "nan", "--by", "2030"], "--pledge"),
        (["--pledge", "3.5", "--by", "99999"], "--by"),
        (["--pledge", "3.5", "--by", "2013"], "--by"),
        (["--threshold", "inf"], "--threshold"),
    ],
)
def test_spending_arguments(args: list[str], option: str) -> None:
    bad(["spending", *args], option, "got ")


def test_json_output_is_strict(tmp_path: Path) -> None:
    out = runner.invoke(app, ["spending", "--json", "--pledge", "3.5", "--by", "2035"])
    assert out.exit_code == 0, out.output
    strict(out.stdout)
    out = runner.invoke(app, ["run", "status-quo", "--json", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    strict(out.stdout)
    strict((tmp_path / "metrics.json").read_text())


def test_validate_reports_what_run_would_crash_on(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    bad(["validate", str(empty)], "lines", "at least one production line")


def test_mc_memory_refusal_names_the_cost_estimate() -> None:
    from materiel.engine.cost import estimate_cells
    from materiel.scenario.loading import load

    s = load("status-quo")
    cells = s.months * (len(s.lines) + len(s.contracts) + len(s.parties) * len(s.products))
    assert estimate_cells(s, 3) == 3 * cells  # the one estimate, shared with the server
    out = runner.invoke(app, ["mc", "status-quo", "--samples", "100000000"])
    assert "100,000,000 samples x 132 months x (" in out.output and "a sample +" in out.output


def test_outputs_never_replace_the_scenario_files_read(tmp_path: Path) -> None:
    """--write and --output over the scenario file, or a file it extends, exit 2 untouched."""
    base = tmp_path / "base.toml"
    base.write_text('extends = "hindcast-2022"\n')
    top = tmp_path / "top.toml"
    top.write_text('extends = "base.toml"\n')
    fit = "contracts.europe-national-155-2022.contracting_delay_months=0..12"
    for args, option in (
        (["plan", str(top), "--write", str(top)], "--write"),
        (["plan", str(top), "--write", str(base)], "--write"),
        (["calibrate", str(top), "--fit", fit, "-n", "64", "--write", str(top)], "--write"),
        (["report", "status-quo", str(top), "-o", str(base)], "--output"),
    ):
        bad(args, option, "is an input (scenario")
    assert base.read_text() == 'extends = "hindcast-2022"\n'
    assert top.read_text() == 'extends = "base.toml"\n'


def test_plan_and_calibrate_name_the_option_and_the_value() -> None:
    bad(["plan", "status-quo", "--budget-scale", "-1"], "--budget-scale", "got -1.0; expected")
    bad(
        ["plan", "status-quo", "--samples", "2", "--alternatives", "1"],
        "<command line>: --alternatives",
        "got 1; expected none with samples",
    )
    fit = "contracts.europe-national-155-2022.contracting_delay_months=0..12"
    bad(
        ["calibrate", "hindcast-2022", "--fit", fit, "-n", "2"],
        "<command line>: --samples",
        "got 2; expected at least 20",
    )


def test_calibrate_counts_its_engine_runs_by_part() -> None:
    fit = "contracts.europe-national-155-2022.contracting_delay_months=0..12"
    out = runner.invoke(app, ["calibrate", "hindcast-2022", "--fit", fit, "-n", "64"])
    assert out.exit_code == 0, out.output
    # 64 // 4 = 16 scan the prior box; 6 walkers x 8 steps; 1 run at the scenario's values
    assert "65 engine runs, 16 scanning the prior box, 6 walkers x 8 steps and 1 at" in out.output


def test_sweep_out_and_workers(a_file: Path, tmp_path: Path) -> None:
    """--out at a file exits 2 before any work; --workers below 1 is refused, not hung."""
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('scenario = "status-quo"\nsamples = 2\n')
    bad(["sweep", str(sweep), "--local", "--out", str(a_file)], "--out", "is a file")
    bad(["sweep", str(sweep), "--local", "--out", str(a_file / "x")], "--out", "is under a file")
    for workers in ("0", "-1"):
        bad(["sweep", str(sweep), "--workers", workers], "--workers", "greater than or equal to 1")


def test_data_import_refuses_to_overwrite_its_inputs_or_an_empty_year_range(
    tmp_path: Path,
) -> None:
    table = tmp_path / "nato.csv"
    text = "country,year,nato_pct_gdp_estimate\nPoland,2024,4.12\n"
    table.write_text(text)
    scenario = tmp_path / "mine.toml"
    scenario.write_text('extends = "action-plan"\n')
    base = ["data", "import", "--format", "nato-csv", str(table)]
    bad([*base, "-o", str(table)], "--output", "is the table being imported")
    bad([*base, "-o", str(scenario), "--scenario", str(scenario)], "--output", "is an input")
    bad(
        [*base, "-o", str(tmp_path / "o.toml"), "--first-year", "2025", "--last-year", "2020"],
        "--first-year/--last-year",
        "got 2025 > 2020",
    )
    assert table.read_text() == text and scenario.read_text() == 'extends = "action-plan"\n'
    assert not (tmp_path / "o.toml").exists()


def test_serve_names_host_and_store_and_hides_a_password(tmp_path: Path) -> None:
    bad(["serve", "--host", "0.0.0.0"], "<command line>: --host", "expected 127.0.0.1")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 20)
    bad(["serve", "--store", str(text)], "<command line>: --store", "is not a SQLite database")
    short = tmp_path / "short.txt"  # SQLite would take a file under 100 bytes for a new
    short.write_text("my notes\n")  # database and write over it
    bad(["serve", "--store", str(short)], "<command line>: --store", "is not a SQLite database")
    assert short.read_text() == "my notes\n"
    (tmp_path / "empty.db").touch()  # an empty file is a new store
    Store(tmp_path / "empty.db").close()
    url = "postgresql://someone:s3cret@127.0.0.1:1/none"
    out = runner.invoke(app, ["serve", "--store", url])
    assert out.exit_code == 2 and "--store" in out.output and "s3cret" not in out.output


def test_a_directory_or_a_binary_file_where_a_file_is_expected(tmp_path: Path) -> None:
    bad(["run", str(tmp_path)], str(tmp_path), "is a directory; expected a scenario TOML file")
    bad(["validate", str(tmp_path)], str(tmp_path), "is a directory")
    binary = tmp_path / "sweep.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    bad(["sweep", str(binary), "--local"], str(binary), "expected a UTF-8 text file")
    bad(["sweep", str(tmp_path / "none.toml"), "--local"], "none.toml", "no such file; expected")


def test_a_binary_record_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "record.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    bad(["record", "--record", str(binary)], "--record", "is not text; expected a UTF-8 CSV")
    fit = "contracts.europe-national-155-2022.contracting_delay_months=0..12"
    args = ["calibrate", "hindcast-2022", "--fit", fit, "--record", str(binary)]
    bad(args, "--record", "expected a UTF-8 CSV file")
