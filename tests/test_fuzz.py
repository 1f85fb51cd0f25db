"""Property tests at scale (issue 19): thousands of generated scenarios, valid, nearly valid
and broken, as mappings and as TOML text, through the library and the command line.

What must hold for every case:

- never a traceback: bad input raises :class:`~materiel.ScenarioError` (exit 2 on the
  command line) and every problem names the file and the field (or, for a TOML syntax
  error, the line);
- input that is accepted runs, and the run keeps the engine's conservation laws
  (:func:`materiel.engine.check_invariants`);
- valid input writes strict JSON (no ``NaN``/``Infinity``).

The scenarios start from the embedded ones: each base is one munition of an embedded
scenario with its bill of materials, lines, contracts, policies, stocks, targets and
sources, on a short horizon (dates beyond it moved to its last month), plus small
standalone scenarios from :func:`materiel.testing.scenarios`. Mutations replace any
field with values of the wrong type or range, delete fields, add unknown ones, point
references at nothing, turn numbers into distributions (some broken), and cut, splice or
garble the TOML text. The number of generated cases is printed at the end of the run
(``tests/conftest.py``); ``MATERIEL_FUZZ_SCALE=0.1`` runs a tenth of them.
"""

from __future__ import annotations

import functools
import json
import math
import os
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import materiel
from materiel import ScenarioError
from materiel._json import dumps
from materiel.cli import app as cli_app
from materiel.engine import check_invariants, compile_inputs, run_engine
from materiel.months import month_label, parse_month
from materiel.scenario.loading import load
from materiel.scenario.schema import Scenario
from materiel.testing import scenarios

pytestmark = pytest.mark.slow

COUNTS: Counter[str] = Counter()  # generated cases per test, printed by conftest.py
NAME = "fuzzed"

EMBEDDED = ("action-plan", "hague-pledge", "hindcast-2022")
SLICE_MONTHS = 24


SCALE = float(os.environ.get("MATERIEL_FUZZ_SCALE", "1"))  # e.g. 0.1 for a quick local run


def _fuzz(n: int) -> settings:
    return settings(
        max_examples=max(1, round(n * SCALE)),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,  # a failure prints @reproduce_failure(...) to replay it exactly
    )


# --- bases: slices of the embedded scenarios and small generated ones ---------------------


def _closure(products: dict[str, Any], product: str) -> set[str]:
    """``product`` and every component in its bill of materials, recursively."""
    out: set[str] = set()
    todo = [product]
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(products[p].get("bom", {}))
    return out


def _slice(data: dict[str, Any], product: str, months: int) -> dict[str, Any]:
    """One munition of a loaded embedded scenario, standalone, on ``months`` months.

    Dates the validation finds beyond the horizon are moved to its last month; any
    other record it refuses (for instance a policy whose target went) is removed.
    """
    keep = _closure(data["products"], product)
    lines = {k: v for k, v in data["lines"].items() if v["product"] in keep}
    out: dict[str, Any] = {
        "id": f"{data['id']}-{product}",
        "start": data["start"],
        "months": months,
        "policy": data["policy"],
        "parties": data["parties"],
        "products": {k: v for k, v in data["products"].items() if k in keep},
        "lines": lines,
        "spending_paths": data.get("spending_paths", {}),
    }
    if data["policy"].get("budget", "none") != "none" or out["spending_paths"]:
        # budgets need the economic series: the years of the horizon and two before
        first = int(data["start"][:4]) - 2
        years = {str(y) for y in range(first, first + 3 + months // 12 + 1)}
        out["economics"] = {
            party: {y: v for y, v in per.items() if y in years}
            for party, per in data.get("economics", {}).items()
        }
    for table in ("contracts", "procurement", "consumption", "aid", "targets", "prices"):
        out[table] = {k: v for k, v in data.get(table, {}).items() if v["product"] in keep}
    out["investments"] = {
        k: v for k, v in data.get("investments", {}).items() if v["line"] in lines
    }
    for table in ("stocks", "inventories"):
        kept = {o: {k: v for k, v in per.items() if k in keep} for o, per in data[table].items()}
        out[table] = {o: per for o, per in kept.items() if per}
    used: set[str] = set()

    def cited(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "source" and isinstance(v, str):
                    used.add(v)
                elif k == "field_sources":
                    used.update(v.values())
                else:
                    cited(v)

    cited(out)
    out["sources"] = {k: v for k, v in data["sources"].items() if k in used}
    last = month_label(parse_month(out["start"]) + months - 1)
    for _ in range(8):
        try:
            load(out, name=NAME)
            return out
        except ScenarioError as exc:
            for p in exc.problems:
                parts = p.path.split(".")
                if "horizon" in p.message and len(parts) == 3 and parts[0] in out:
                    out[parts[0]][parts[1]][parts[2]] = last
                    continue
                depth = 3 if parts[0] in ("stocks", "inventories", "economics") else 2
                node = out
                for key in parts[: depth - 1]:
                    node = node.get(key, {})
                node.pop(parts[depth - 1], None)
    raise AssertionError(f"could not cut a valid slice of {data['id']} for {product}")


@functools.cache
def bases() -> tuple[dict[str, Any], ...]:
    """Valid standalone scenarios to start from (built once per session)."""
    out = []
    for sid in EMBEDDED:
        data = load(sid).model_dump(mode="json", exclude_none=True)
        munitions = [k for k, v in data["products"].items() if v["kind"] == "munition"]
        out.extend(_slice(data, m, SLICE_MONTHS) for m in munitions)
    generated: list[dict[str, Any]] = []

    @settings(
        max_examples=24,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(scenarios(max_policies=1))
    def collect(data: dict[str, Any]) -> None:
        generated.append(data)

    collect()
    out.extend(generated)
    return tuple(out)


@functools.cache
def small_bases() -> tuple[dict[str, Any], ...]:
    """The bases whose TOML text is short (all but the 155 mm slices): for the text cases,
    where writing and parsing the text is most of the cost."""
    return tuple(b for b in bases() if len(tomli_w.dumps(b)) < 50_000)


def test_every_base_is_valid() -> None:
    """Guard for the suite itself: the bases load and cover every embedded scenario."""
    found = bases()
    assert len(found) >= 3 * 7 + 10
    for data in found:
        assert load(data, name=NAME).months >= 3
    assert {d["id"].split("-")[0] for d in found} >= {"action", "hague", "hindcast"}


# --- mutations ------------------------------------------------------------------------------

BAD_VALUES: list[Any] = [
    -1,
    -1.5,
    0,
    0.0,
    1e308,
    -1e308,
    math.nan,
    math.inf,
    -math.inf,
    10**30,
    True,
    False,
    "",
    "x",
    "nosuch",
    "2025-13",
    "1700-01",
    "2101-01",
    "9999-12",
    "2025",
    "12",
    [],
    [1],
    ["x"],
    {},
    {"x": 1},
    {"dist": "normal"},
    {"dist": "uniform", "low": 5, "high": 1},
    {"dist": "normal", "mean": 1, "sd": -1},
    {"dist": "choice", "values": []},
    {"dist": "lognormal", "mean": 0, "sd": 1},
    {"dist": "triangular", "low": 0, "mode": 9, "high": 1},
]

values = st.one_of(
    st.sampled_from(BAD_VALUES).map(lambda v: pickle.loads(pickle.dumps(v))),  # a fresh copy
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=2),
)

distributions = st.fixed_dictionaries(
    {"dist": st.sampled_from(["uniform", "triangular", "normal", "lognormal", "choice", "beta"])},
    optional={
        "low": st.floats(-10, 1e4),
        "high": st.floats(-10, 1e4),
        "mode": st.floats(-10, 1e4),
        "mean": st.floats(-1e4, 1e4),
        "sd": st.floats(-1, 1e4),
        "min": st.floats(-10, 1e4),
        "max": st.floats(-10, 1e4),
        "values": st.lists(st.floats(-10, 1e4), max_size=3),
        "group": st.sampled_from(["g1", "g2"]),
    },
)


def _pick_path(draw: st.DrawFn, data: dict[str, Any]) -> list[str]:
    """A path to a key somewhere in ``data`` (any depth)."""
    path: list[str] = []
    node: Any = data
    while isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        path.append(key)
        node = node[key]
        if not (isinstance(node, dict) and node and draw(st.integers(0, 3)) > 0):
            break
    return path


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = pickle.loads(pickle.dumps(data))  # faster than deepcopy
    return copied


def _writable_parent(data: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """The table holding ``path[-1]``, after copying every table on the way (copy on write:
    the bases are shared between cases and must never change)."""
    node = data
    for key in path[:-1]:
        node[key] = dict(node[key])
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn, max_mutations: int = 3, small: bool = False) -> dict[str, Any]:
    """A base with 0 to ``max_mutations`` mutations: valid, nearly valid or broken."""
    data = dict(draw(st.sampled_from(small_bases() if small else bases())))
    for _ in range(draw(st.integers(0, max_mutations))):
        path = _pick_path(draw, data)
        if not path:
            continue
        parent = _writable_parent(data, path)
        op = draw(
            st.sampled_from(
                [
                    "replace",
                    "replace",
                    "delete",
                    "unknown",
                    "reference",
                    "distribution",
                    "number",
                    "table",
                ]
            )
        )
        key = path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "unknown":
            parent[draw(st.sampled_from(["colour", "capacity", "Months", key + "s"]))] = 1
        elif op == "reference":
            parent[key] = draw(st.sampled_from(["nosuch", "", "USA", "shell-155mm", NAME]))
        elif op == "distribution":
            parent[key] = draw(distributions)
        elif op == "number":  # a plausible number where one is expected: often valid
            parent[key] = draw(st.sampled_from([0, 1, 2, 12, 0.5, 100, 1e6, 1e12]))
        else:  # a table where the value was, or a value where the table was
            parent[key] = {"x": parent[key]} if not isinstance(parent[key], dict) else 7
    return data


# --- what must hold ------------------------------------------------------------------------


def _located(exc: ScenarioError, file: str) -> None:
    """Every problem names the file (the input's, or an embedded base's) and the field or
    line; none is a Python repr of an internal error."""
    assert exc.problems
    for p in exc.problems:
        assert p.file == file or p.file.startswith("<embedded:"), (p, file)
        assert p.path or p.line is not None, p
        assert p.message and "Traceback" not in p.message, p


def _runs_with_invariants(s: Scenario) -> None:
    """Accepted input runs through the engine and keeps its conservation laws."""
    if s.months > 240:  # an accepted but long horizon: the laws are the same, run less
        return
    inp = compile_inputs(s)
    check_invariants(inp, run_engine(inp, samples=1))


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _load_or_refuse(data: dict[str, Any] | Path, file: str) -> Scenario | None:
    try:
        return load(data, name=NAME)
    except ScenarioError as exc:
        _located(exc, file)
        return None


@_fuzz(6500)
@given(data=mutated())
def test_mutated_mappings_are_refused_at_the_field_or_run(data: dict[str, Any]) -> None:
    COUNTS["mappings"] += 1
    s = _load_or_refuse(data, NAME)
    if s is not None:
        _runs_with_invariants(s)


@st.composite
def overlays(draw: st.DrawFn) -> dict[str, Any]:
    """An overlay extending an embedded scenario: one entity's field changed or dropped."""
    sid = draw(st.sampled_from(["status-quo", *EMBEDDED]))
    base = bases()[draw(st.integers(0, 3 * 7 - 1))]
    table = draw(
        st.sampled_from(
            ["lines", "contracts", "products", "stocks", "targets", "procurement", "policy"]
        )
    )
    overlay: dict[str, Any] = {"extends": sid}
    if table == "policy":
        overlay["policy"] = {draw(st.sampled_from(sorted(base["policy"]))): draw(values)}
    elif draw(st.integers(0, 4)) == 0:
        overlay["drop"] = draw(
            st.one_of(
                st.lists(
                    st.sampled_from([f"{table}.{k}" for k in base[table]] or ["x.y"]), max_size=2
                ),
                values,
            )
        )
    elif base[table]:
        entity = draw(st.sampled_from(sorted(base[table])))
        fields = base[table][entity]
        name = draw(st.sampled_from(sorted(fields)))
        overlay[table] = {entity: {name: draw(st.one_of(values, distributions))}}
    return overlay


@_fuzz(60)
@given(data=overlays())
def test_overlays_on_embedded_scenarios(data: dict[str, Any]) -> None:
    COUNTS["overlays on embedded"] += 1
    _load_or_refuse(data, NAME)


@st.composite
def toml_texts(draw: st.DrawFn) -> str:
    """TOML text of a (possibly mutated) base, then possibly cut, spliced or garbled."""
    text = tomli_w.dumps(draw(mutated(max_mutations=1, small=True)))
    lines = text.splitlines(keepends=True)
    op = draw(st.sampled_from(["none", "cut", "drop-line", "dup-line", "garble", "swap"]))
    if op == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif op == "drop-line" and lines:
        del lines[draw(st.integers(0, len(lines) - 1))]
        text = "".join(lines)
    elif op == "dup-line" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        text = "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    elif op == "garble" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = (
            text[:i]
            + draw(st.sampled_from(["=", '"', "[", "]", "\n", "\x00", "é", "{"]))
            + (text[i + 1 :])
        )
    elif op == "swap" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i].replace(" = ", " = [", 1).replace("\n", "]\n")
        text = "".join(lines)
    return text


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@_fuzz(3300)
@given(text=toml_texts())
def test_toml_text_is_refused_at_the_field_or_line_or_runs(text: str, case_dir: Path) -> None:
    COUNTS["toml files"] += 1
    path = case_dir / "case.toml"
    path.write_text(text, encoding="utf-8")
    s = _load_or_refuse(path, str(path))
    if s is not None:
        _runs_with_invariants(s)


@st.composite
def valid_variants(draw: st.DrawFn) -> dict[str, Any]:
    """A base changed only within the schema's ranges: must run."""
    data = _copy(draw(st.sampled_from(bases())))
    data["months"] = draw(st.integers(1, data["months"]))
    data["policy"]["contracting_delay_months"] = draw(st.integers(0, 24))
    data["policy"]["consumption_scale"] = draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    data["policy"]["industry_invests"] = draw(st.booleans())
    for line in data["lines"].values():
        line["capacity_per_month"] = line["capacity_per_month"] * draw(
            st.sampled_from([0.0, 0.1, 1.0, 10.0])
        )
        line["max_capacity_per_month"] = max(
            line["max_capacity_per_month"], line["capacity_per_month"]
        )
    last = month_label(parse_month(data["start"]) + data["months"] - 1)
    for table in ("targets", "investments", "contracts", "aid", "consumption", "procurement"):
        for record in data.get(table, {}).values():
            for field in ("by", "decision", "start", "end"):
                if isinstance(record.get(field), str) and record[field] > last:
                    record[field] = last
    return data


@_fuzz(60)
@given(data=valid_variants())
def test_valid_variants_run_with_invariants_and_strict_json(data: dict[str, Any]) -> None:
    COUNTS["valid runs"] += 1
    try:
        result = materiel.simulate(data)  # checks the invariants
    except ScenarioError as exc:  # a variant the cross-checks refuse must still be located
        _located(exc, NAME)
        return
    _strict(dumps(result.metrics()))


runner = CliRunner()


@_fuzz(120)
@given(text=toml_texts())
def test_cli_validate_exits_0_or_2_naming_file_and_field(text: str, case_dir: Path) -> None:
    COUNTS["cli (in process)"] += 1
    path = case_dir / "cli.toml"
    path.write_text(text, encoding="utf-8")
    out = runner.invoke(cli_app, ["validate", str(path), "--json"])
    assert out.exit_code in (0, 2), out.output
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    if out.exit_code == 2:
        assert str(path) in out.output, out.output
        problems = _strict(out.stdout)["problems"]
        assert all(p["path"] or p["line"] for p in problems), problems


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(text=toml_texts())
def test_cli_subprocess_never_shows_a_traceback(text: str, case_dir: Path) -> None:
    COUNTS["cli (subprocess)"] += 1
    path = case_dir / "sub.toml"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from materiel.cli import main; main()", "run"]
    command += [str(path), "--json", "--out", str(case_dir / "sub-out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), (done.returncode, done.stderr)
    if done.returncode == 2:
        assert str(path) in done.stdout + done.stderr
    else:
        _strict(done.stdout)
