"""Scenario files: extends/overrides, and every validation check with a broken file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
from builders import contract, tiny

import materiel
from materiel import ScenarioError


def write(tmp_path: Path, data: dict[str, Any], name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def problems(source: Any) -> list[materiel.Problem]:
    with pytest.raises(ScenarioError) as info:
        materiel.load(source)
    return info.value.problems


def only(source: Any) -> materiel.Problem:
    found = problems(source)
    assert len(found) == 1, found
    return found[0]


def test_overlay_replaces_attributes_and_adds_entities(tmp_path: Path) -> None:
    write(tmp_path, tiny(contracts={"c1": contract()}), "base.toml")
    overlay = {
        "extends": "base.toml",
        "lines": {"l1": {"capacity_per_month": 40.0}},
        "contracts": {"c1": {"buyers": {"BBB": 1.0}}, "c2": contract(quantity=5.0)},
    }
    s = materiel.load(write(tmp_path, overlay, "over.toml"))
    assert s.id == "over"
    assert s.lines["l1"].capacity_per_month == 40.0
    assert s.lines["l1"].max_capacity_per_month == 100.0  # kept from the base
    assert s.contracts["c1"].buyers == {"BBB": 1.0}  # a map is replaced whole
    assert set(s.contracts) == {"c1", "c2"}


def test_drop_removes_entities(tmp_path: Path) -> None:
    base = write(tmp_path, tiny(contracts={"c1": contract()}), "base.toml")
    assert base.exists()
    s = materiel.load(write(tmp_path, {"extends": "base.toml", "drop": ["contracts.c1"]}))
    assert s.contracts == {}
    p = only(write(tmp_path, {"extends": "base.toml", "drop": ["contracts.zz"]}, "bad.toml"))
    assert "cannot drop 'contracts.zz'" in p.message and p.path == "drop" and p.line == 2


def test_unknown_extends_names_the_choices(tmp_path: Path) -> None:
    p = only(write(tmp_path, {"extends": "no-such-thing"}))
    assert p.path == "extends" and "no such scenario" in p.message and p.line == 1


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path, {"extends": "b.toml"}, "a.toml")
    write(tmp_path, {"extends": "a.toml"}, "b.toml")
    assert "cycle" in only(tmp_path / "a.toml").message


def test_invalid_toml_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('id = "x"\nmonths = = 3\n')
    p = only(path)
    assert p.line == 2 and "invalid TOML" in p.message and p.file == str(path)


def test_every_problem_reported_at_once_with_lines(tmp_path: Path) -> None:
    text = """\
extends = "base.toml"

[lines.l1]
capacity_per_month = -5.0
bogus = 1

[contracts.c9]
buyers = { AAA = 0.5, ZZZ = 0.2 }
product = "shell"
line = "nope"
quantity = inf
decision = "2030-01"
"""
    write(tmp_path, tiny(), "base.toml")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    found = {(p.path, p.line): p.message for p in problems(path)}
    assert found[("lines.l1.capacity_per_month", 4)].startswith("Input should be greater than")
    assert "unknown field" in found[("lines.l1.bogus", 5)]
    assert "finite" in found[("contracts.c9.quantity", 11)]
    # the contract was invalid, so its cross-references are not checked twice;
    # the file is named in each problem
    assert all(str(path) in str(p) for p in problems(path))


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda s: s["lines"]["l1"].update(country="XXX"),
            "lines.l1.country",
            "unknown party 'XXX'",
        ),
        (
            lambda s: s["lines"]["l1"].update(product="nope"),
            "lines.l1.product",
            "unknown product 'nope'",
        ),
        (
            lambda s: s["contracts"]["c1"].update(buyers={"AAA": 0.6, "BBB": 0.6}),
            "contracts.c1.buyers",
            "buyer shares must sum to 1, got 1.2",
        ),
        (
            lambda s: s["contracts"]["c1"].update(line="l9"),
            "contracts.c1.line",
            "unknown line 'l9'",
        ),
        (
            lambda s: s["contracts"]["c1"].update(quantity=-1.0),
            "contracts.c1.quantity",
            "greater than or equal to 0",
        ),
        (
            lambda s: s["contracts"]["c1"].update(quantity=float("nan")),
            "contracts.c1.quantity",
            "finite",
        ),
        (
            lambda s: s["contracts"]["c1"].update(decision="2031-01"),
            "contracts.c1.decision",
            "after the end of the horizon",
        ),
        (
            lambda s: s["contracts"]["c1"].update(decision="2024-13"),
            "contracts.c1.decision",
            "expected a month written YYYY-MM",
        ),
        (
            lambda s: s.update(
                targets={
                    "t": {"parties": ["AAA"], "product": "shell", "quantity": 1.0, "by": "2026-01"}
                }
            ),
            "targets.t.by",
            "outside the horizon",
        ),
        (
            lambda s: s["products"].update(
                comp={"name": "c", "kind": "component", "bom": {"comp2": 1.0}},
                comp2={"name": "c2", "kind": "component", "bom": {"comp": 1.0}},
            ),
            "products.comp.bom",
            "cycle in bills of materials: comp -> comp2 -> comp",
        ),
        (
            lambda s: s["products"].update(
                other={"name": "o", "kind": "munition", "unit_price_usd": 1.0}
            ),
            None,
            None,
        ),
        (
            lambda s: (
                s["lines"].update(l2=dict(s["lines"]["l1"], product="other"))
                or s["products"].update(
                    other={"name": "o", "kind": "munition", "unit_price_usd": 1.0}
                )
                or s["contracts"]["c1"].update(line="l2")
            ),
            "contracts.c1.line",
            "line 'l2' makes 'other', not the contract's product 'shell'",
        ),
        (
            lambda s: s["products"]["shell"].update(bom={"gone": 1.0}),
            "products.shell.bom",
            "unknown product 'gone'",
        ),
        (
            lambda s: (
                s["products"].update(fz={"name": "f", "kind": "component"})
                or s["products"]["shell"].update(bom={"fz": 1.0})
            ),
            "lines.l1.pool",
            "needs component 'fz', but no line or inventory in pool 'alliance'",
        ),
        (
            lambda s: s["products"]["shell"].pop("unit_price_usd"),
            "contracts.c1.unit_price_usd",
            "expected a unit price",
        ),
        (
            lambda s: s["lines"]["l1"].update(max_capacity_per_month=1.0),
            "lines.l1.max_capacity_per_month",
            "expected at least capacity_per_month",
        ),
        (
            lambda s: s["lines"]["l1"].update(source="nowhere"),
            "lines.l1.source",
            "unknown source 'nowhere'",
        ),
        (
            lambda s: s["sources"].update(bad={"publisher": "X"}),
            "sources.bad",
            "expected either publisher, title, date and url, or an assumption",
        ),
        (
            lambda s: s.update(consumption={"u": {"party": "REC", "product": "shell"}}),
            "consumption.u",
            "expected exactly one of rate_per_day or rate_per_month",
        ),
        (
            lambda s: s.update(
                aid={
                    "a": {
                        "donor": "AAA",
                        "recipient": "AAA",
                        "product": "shell",
                        "quantity": 1.0,
                        "start": "2024-02",
                        "end": "2024-01",
                    }
                }
            ),
            "aid.a.recipient",
            "expected a recipient other than the donor",
        ),
        (
            lambda s: (
                s.update(stocks={"AAA": {"fz": {"quantity": 1.0}}})
                or s["products"].update(fz={"name": "f", "kind": "component"})
            ),
            "stocks.AAA.fz",
            "expected a munition, but 'fz' is a component",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_check_names_field_and_problem(
    tmp_path: Path, change: Any, path: str | None, message: str | None
) -> None:
    s = tiny(contracts={"c1": contract()})
    change(s)
    if path is None:  # a valid change: loads cleanly
        materiel.load(write(tmp_path, s))
        return
    found = problems(write(tmp_path, s))
    match = [p for p in found if p.path == path and message in p.message]
    assert match, found
    assert match[0].line is not None


def test_mapping_extends_embedded_dataset() -> None:
    s = materiel.load(
        {"extends": "dataset", "policy": {"contracting_delay_months": 3}}, name="inline"
    )
    assert s.id == "inline" and s.policy.contracting_delay_months == 3 and len(s.allies) == 32
    # shortening the horizon leaves the dataset's targets outside it: reported, not ignored,
    # once at its cause (the mapping's months), naming how many entries it breaks and the first
    (p,) = problems({"extends": "dataset", "months": 24})
    assert p.file == "<mapping>" and p.path == "months"
    assert "entries of the embedded data" in p.message and "outside the horizon" in p.message
    assert "<embedded:dataset>:" in p.message


def test_error_message_is_readable() -> None:
    err = ScenarioError([materiel.Problem("f.toml", "lines.x.country", "unknown party 'Q'", 7)])
    assert str(err) == "1 problem found:\n  - f.toml:7: lines.x.country: unknown party 'Q'"


# --- issue 17 friction: validate messages -------------------------------------------------


def test_unknown_extends_is_named(tmp_path: Path) -> None:
    p = only(write(tmp_path, {"extends": "no-such-thing"}))
    assert p.path == "extends" and "'no-such-thing'" in p.message and p.line == 1


def test_bad_month_says_expected_yyyy_mm_not_a_regex(tmp_path: Path) -> None:
    p = only(write(tmp_path, {"extends": "action-plan", "start": "2025-1"}))
    assert p.path == "start" and "'2025-1'" in p.message
    assert "expected a month written YYYY-MM" in p.message and "^" not in p.message


def test_unknown_field_lists_the_fields_of_that_entity(tmp_path: Path) -> None:
    data = {"extends": "action-plan", "lines": {"nammo-raufoss-155": {"capcity": 5}}}
    p = only(write(tmp_path, data))
    assert p.path == "lines.nammo-raufoss-155.capcity" and "'capcity'" in p.message
    assert "capacity_per_month" in p.message and "materiel show" not in p.message


def test_second_problem_of_the_same_entity_is_reported(tmp_path: Path) -> None:
    """A schema error (missing field) no longer hides a cross-reference error of the entity."""
    contract = {"product": "shell-999", "buyers": {"DEU": 1.0}, "quantity": 10}
    found = problems(write(tmp_path, {"extends": "action-plan", "contracts": {"c2": contract}}))
    paths = {p.path: p.message for p in found}
    assert paths.keys() == {"contracts.c2.decision", "contracts.c2.product"}, found
    assert "'shell-999'" in paths["contracts.c2.product"]


def test_a_change_that_breaks_embedded_entries_is_reported_at_its_cause(tmp_path: Path) -> None:
    """No cascade of problems pointing into <embedded:dataset>: one at the user's line."""
    path = tmp_path / "s.toml"
    path.write_text('extends = "action-plan"\n\n[products.shell-155mm]\nkind = "component"\n')
    p = only(path)
    assert (p.file, p.path, p.line) == (str(path), "products.shell-155mm.kind", 4)
    assert "entries of the embedded data" in p.message and "is a component" in p.message
    dropped = only(write(tmp_path, {"extends": "action-plan", "drop": ["parties.DEU"]}))
    assert dropped.path == "drop" and "unknown party 'DEU'" in dropped.message


def test_a_delivery_schedule_must_fit_its_contract(tmp_path: Path) -> None:
    bad_sum = tiny(
        contracts={"c1": contract(quantity=300.0, schedule=[100.0, 100.0], delivery_months=2)}
    )
    p = only(write(tmp_path, bad_sum))
    assert p.path.startswith("contracts.c1") and "sums to 200 but quantity is 300" in p.message
    bad_len = tiny(contracts={"c1": contract(quantity=200.0, schedule=[100.0, 100.0])})
    p = only(write(tmp_path, bad_len))  # contract() sets delivery_months = 3
    assert "schedule has 2 months but delivery_months is 3" in p.message
    negative = tiny(contracts={"c1": contract(quantity=0.0, schedule=[-1.0, 1.0])})
    assert only(write(tmp_path, negative)).path.startswith("contracts.c1.schedule")
    fine = contract(quantity=200.0, schedule=[100.0, 100.0])
    del fine["delivery_months"]
    assert materiel.load(tiny(contracts={"c1": fine})).contracts["c1"].delivery_months == 2


def test_a_partly_built_entity_with_raw_values_and_distributions_is_located_not_a_warning() -> None:
    # c1 is pruned for its bad quantity and rebuilt from its valid fields without validation,
    # so its contracting delay stays the float 0.0 it was given; the distribution check reads
    # the scenario's structure and must not trip pydantic's serializer warning (an error here)
    s = tiny(
        contracts={"c1": contract(quantity=-5.0, contracting_delay_months=0.0)},
        uncertain={"lines.l1.capacity_per_month": {"dist": "uniform", "low": 50.0, "high": 150.0}},
    )
    with pytest.raises(ScenarioError) as err:
        materiel.load(s)
    assert any("quantity" in str(p.path) for p in err.value.problems)


def test_figures_are_capped_so_the_engine_stays_finite(tmp_path: Path) -> None:
    """A quantity above MAX_FIGURE (1e15) is refused at its line (1e308 capacity times a
    capex per unit overflowed to inf in the engine's inputs, found by test_fuzz); an unbounded
    normal on such a field is still accepted, a uniform reaching above the cap is not."""
    path = tmp_path / "big.toml"
    path.write_text(
        'extends = "action-plan"\n\n[lines.rheinmetall-unterluess]\ncapacity_per_month = 1e308\n'
    )
    with pytest.raises(ScenarioError) as err:
        materiel.load(path)
    (problem,) = err.value.problems
    assert (problem.line, problem.path) == (4, "lines.rheinmetall-unterluess.capacity_per_month")
    assert "less than or equal to 1000000000000000" in problem.message
    stock = '[uncertain."stocks.USA.shell-155mm.quantity"]\n'
    path.write_text(
        f'extends = "action-plan"\n\n{stock}dist = "normal"\nmean = 1e6\nsd = 2e5\nmin = 0\n'
    )
    materiel.load(path)
    path.write_text(f'extends = "action-plan"\n\n{stock}dist = "uniform"\nlow = 0\nhigh = 1.5e15\n')
    with pytest.raises(ScenarioError, match="above the field's maximum 1e\\+15"):
        materiel.load(path)
