"""Calibration against the record: synthetic truth recovered, seeds, fitted scenario, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from builders import contract, tiny
from typer.testing import CliRunner

import materiel
from materiel.analysis.calibrate import (
    Calibration,
    Fit,
    RecordEvaluator,
    calibrate,
    fitted_scenario,
    fitted_toml,
    log_likelihood_of,
    outside_prior,
    parse_fit,
    tied_paths,
)
from materiel.analysis.montecarlo import sample
from materiel.analysis.record import RecordRow, model_value
from materiel.cli import app

TRUTH = {
    "lines.l1.capacity_per_month": 100.0,
    "investments.grow.lead_time_months": 5.0,
    "investments.grow.ramp_up_months": 4.0,
}
TRUTH_LEAD = "investments.grow.lead_time_months"
PRIOR = {
    "lines.l1.capacity_per_month": (20.0, 400.0),
    "investments.grow.lead_time_months": (0.0, 12.0),
    "investments.grow.ramp_up_months": (1.0, 12.0),
}
HEADER = "id,item,counted,measure,product,scope,date,value,unit,source,url,in_dataset,note\n"


def _scenario(**values: float) -> dict[str, object]:
    """l1 makes 100/month; an announced investment adds 900/month after a lead time and ramp.

    A 100,000-round order due at once keeps the line busy, so output is capacity.
    """
    v = {**TRUTH, **values}
    line = {
        **tiny()["lines"]["l1"],
        "max_capacity_per_month": 1000.0,
        "capacity_per_month": v["lines.l1.capacity_per_month"],
    }
    grow = {
        "line": "l1",
        "decision": "2024-01",
        "capacity_added_per_month": 900.0,
        "lead_time_months": int(v["investments.grow.lead_time_months"]),
        "ramp_up_months": int(v["investments.grow.ramp_up_months"]),
        "source": "fx",
    }
    return tiny(
        months=24,
        lines={"l1": line},
        investments={"grow": grow},
        contracts={"c1": contract(quantity=100_000.0, delivery_months=1)},
    )


def _rows(truth: materiel.Result) -> list[RecordRow]:
    """The true run's output at a few months as a record; 2025 rows are out-of-sample."""
    rows = []
    for month in [f"2024-{m:02d}" for m in range(2, 13)] + ["2025-06"]:
        row = RecordRow(
            id=f"out-{month}",
            item="l1 output",
            counted="rounds",
            measure="production",
            product="shell",
            scope="line:l1",
            date=month,
            value=1.0,
            unit="per_month",
            source="synthetic truth",
        )
        value = model_value(truth, row)
        assert value is not None
        rows.append(RecordRow(**{**row.__dict__, "value": value}))
    return rows


@pytest.fixture(scope="module")
def truth_rows() -> list[RecordRow]:
    return _rows(materiel.simulate(_scenario()))


@pytest.fixture(scope="module")
def fitted(truth_rows: list[RecordRow]) -> Calibration:
    """Start from the wrong values (capacity 250, lead 10, ramp 9): only the record says 100/5/4."""
    wrong = materiel.load(
        _scenario(
            **{
                "lines.l1.capacity_per_month": 250.0,
                "investments.grow.lead_time_months": 10.0,
                "investments.grow.ramp_up_months": 9.0,
            }
        )
    )
    fits = [Fit(path, *PRIOR[path]) for path in TRUTH]
    return calibrate(
        wrong, fits, rows=truth_rows, until="2024-12", samples=2000, seed=3, sigma=0.05
    )


def test_synthetic_truth_is_recovered_within_the_spread(fitted: Calibration) -> None:
    params = fitted.parameters().set_index("path")
    for path, true in TRUTH.items():
        p = params.loc[path]
        assert p.p5 <= true <= p.p95, (path, p.p5, true, p.p95)
        assert abs(p["median"] - true) <= 0.1 * (PRIOR[path][1] - PRIOR[path][0]), path
    # the wide prior has narrowed: the capacity to within a tenth of its range
    cap = params.loc["lines.l1.capacity_per_month"]
    assert cap.p95 - cap.p5 < 0.1 * (400 - 20)
    errors = fitted.errors()
    assert errors["in-sample"]["rows"] == 11 and errors["out-of-sample"]["rows"] == 1
    assert errors["in-sample"]["before_mean_abs_pct"] > 50  # the wrong start misses ...
    assert errors["in-sample"]["after_mean_abs_pct"] < 3  # ... the posterior does not
    assert errors["out-of-sample"]["after_mean_abs_pct"] < 3  # and predicts the held-out row


def test_mode_is_the_best_posterior_draw_and_log_l_is_the_rows(fitted: Calibration) -> None:
    """The reported mode is the draw with the highest in-sample log L, recomputed from its rows.

    The scenario starts from the wrong values, so its own log L is far below the mode's;
    the out-of-sample row (2025-06) is excluded from both.
    """
    mode, best = fitted.mode()
    assert best == pytest.approx(fitted.log_likelihood.max())
    j = int(np.argmax(fitted.log_likelihood))
    assert mode == {f.path: fitted.posterior[j, i] for i, f in enumerate(fitted.fits)}
    fitted_rows = fitted.in_sample & np.array([r.value != 0 for r in fitted.rows])
    assert fitted_rows.sum() == 11
    recomputed = log_likelihood_of(fitted.predictive[j], fitted.rows, fitted_rows, fitted.sigma)
    assert float(recomputed) == pytest.approx(best)
    relative = (fitted.nominal - [r.value for r in fitted.rows]) / [r.value for r in fitted.rows]
    by_hand = -0.5 * float(np.sum((relative[:11] / fitted.sigma) ** 2))
    assert fitted.nominal_log_likelihood == pytest.approx(by_hand)
    assert fitted.nominal_log_likelihood < best - 100
    m = fitted.metrics()
    assert m["mode_log_likelihood"] == best and m["mode"] == mode


def test_rows_after_until_never_enter_the_likelihood(truth_rows: list[RecordRow]) -> None:
    """Moving the out-of-sample row's value changes no draw of the posterior."""
    fits = [Fit("investments.grow.lead_time_months", 0, 12)]
    base = calibrate(
        materiel.load(_scenario()), fits, rows=truth_rows, until="2024-12", samples=400, seed=1
    )
    moved = [*truth_rows[:-1], RecordRow(**{**truth_rows[-1].__dict__, "value": 1e6})]
    other = calibrate(
        materiel.load(_scenario()), fits, rows=moved, until="2024-12", samples=400, seed=1
    )
    np.testing.assert_array_equal(base.posterior, other.posterior)
    assert other.table().set_index("id").loc["out-2025-06", "sample"] == "out-of-sample"


def test_same_seed_same_posterior(truth_rows: list[RecordRow]) -> None:
    fits = [Fit("investments.grow.ramp_up_months", 1, 12)]
    s = materiel.load(_scenario())
    runs = [
        calibrate(s, fits, rows=truth_rows, until="2024-12", samples=400, seed=seed)
        for seed in (7, 7, 8)
    ]
    np.testing.assert_array_equal(runs[0].posterior, runs[1].posterior)
    np.testing.assert_array_equal(runs[0].predictive, runs[1].predictive)
    assert not np.array_equal(runs[0].posterior, runs[2].posterior)


def test_evaluator_agrees_with_the_single_run_comparison(truth_rows: list[RecordRow]) -> None:
    """The batched einsum path gives exactly what model_value reads off a full run."""
    theta = np.array([[100.0, 5.0, 4.0], [60.0, 2.0, 7.0], [300.0, 11.0, 1.0]])
    evaluate = RecordEvaluator(materiel.load(_scenario()), truth_rows, list(TRUTH), chunk=2)
    values = evaluate(theta)
    for k, point in enumerate(theta):
        run = materiel.simulate(_scenario(**dict(zip(TRUTH, point, strict=True))))
        expected = [model_value(run, r) for r in truth_rows]
        np.testing.assert_allclose(values[k], expected, rtol=1e-12)
    np.testing.assert_allclose(values[0], [r.value for r in truth_rows], rtol=1e-12)


def test_fitted_scenario_validates_and_runs(fitted: Calibration, tmp_path: Path) -> None:
    path = tmp_path / "fitted.toml"
    path.write_text(fitted_toml(fitted))
    s = materiel.load(path)
    params = fitted.parameters().set_index("path")
    assert set(s.uncertain) == set(TRUTH)
    assert s.lines["l1"].capacity_per_month == pytest.approx(
        params.loc["lines.l1.capacity_per_month", "median"]
    )
    assert s.investments["grow"].lead_time_months == round(
        params.loc["investments.grow.lead_time_months", "median"]
    )
    materiel.simulate(s)
    mc = sample(s, 40, seed=0)
    drawn = mc.inputs["lines.l1.capacity_per_month"].values
    assert drawn.min() >= 20 and drawn.max() <= 400 and np.ptp(drawn) > 0


def test_bad_fit_arguments_are_refused() -> None:
    assert parse_fit(" lines.l1.ramp_up_months = 1..12 ") == Fit("lines.l1.ramp_up_months", 1, 12)
    for text, expected in (
        ("lines.l1.ramp_up_months", "PATH=LOW..HIGH"),
        ("lines.l1.ramp_up_months=a..3", "expected numbers"),
        ("lines.l1.ramp_up_months=5..2", "LOW < HIGH"),
        ("lines.l1.ramp_up_months=1..inf", "finite"),
    ):
        with pytest.raises(materiel.ScenarioError, match=expected):
            parse_fit(text)
    s = materiel.load(_scenario())
    for fit, expected in (
        (Fit("lines.nope.ramp_up_months", 1, 3), "no lines.nope"),
        (Fit("lines.l1.name", 1, 3), "a field the sampler can vary"),
        (Fit("lines.l1.ramp_up_months", -2, 3), "months >= 0"),
        (Fit("lines.l1.capacity_per_month", 10, 5000), "at most the line's"),
    ):
        with pytest.raises(materiel.ScenarioError, match=expected):
            calibrate(s, [fit], rows=[], samples=400)


def _files(tmp_path: Path, rows: list[RecordRow]) -> tuple[Path, Path]:
    """The tiny scenario and a record of ``rows``, written as a user would give them."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(tomli_w.dumps(_scenario()))
    record = tmp_path / "record.csv"
    record.write_text(
        HEADER
        + "".join(
            f"{r.id},{r.item},{r.counted},{r.measure},{r.product},{r.scope},{r.date},{r.value!r},"
            f"{r.unit},{r.source},,no,\n"
            for r in rows
        )
    )
    return scenario, record


def test_cli_calibrate(truth_rows: list[RecordRow], tmp_path: Path) -> None:
    scenario, record = _files(tmp_path, truth_rows)
    out = tmp_path / "fitted.toml"
    args = [
        "calibrate",
        str(scenario),
        "--fit",
        "investments.grow.lead_time_months=0..12",
        "--record",
        str(record),
        "--until",
        "2024-12",
        "--samples",
        "400",
        "--seed",
        "2",
    ]
    done = CliRunner().invoke(app, [*args, "--json", "--write", str(out)])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert payload["errors"]["out-of-sample"]["rows"] == 1
    assert {r["sample"] for r in payload["rows"]} == {"in-sample", "out-of-sample"}
    assert materiel.load(out).id == "tiny-calibrated"
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "out-of-sample (checks, never fitted)" in text.output
    for bad, expected in (
        ("lines.l1.nope=1..2", "a field the sampler can vary"),
        ("lines.l1.ramp_up_months=3..1", "LOW < HIGH"),
    ):
        done = CliRunner().invoke(app, [*args[:2], "--fit", bad, "--record", str(record)])
        assert done.exit_code == 2 and expected in done.output, done.output
    for extra, expected in (
        (["--until", "2024"], "expected YYYY-MM"),
        (["--samples", "10"], "at least"),
        (["--sigma", "0"], "expected a relative error > 0"),
        (["--write", str(record / "x.toml")], "under a file"),
    ):
        done = CliRunner().invoke(app, [*args, *extra])
        assert done.exit_code == 2 and expected in done.output, (extra, done.output)


def test_a_tied_path_gives_one_value_to_every_field_it_matches(
    truth_rows: list[RecordRow],
) -> None:
    """``lines.l1,l*.capacity_per_month`` is one parameter for both lines (and patterns match)."""
    base = _scenario()
    lines = base["lines"]
    assert isinstance(lines, dict)
    lines["l2"] = {**lines["l1"], "name": "second line"}
    s = materiel.load(base)
    assert tied_paths(s, "lines.l*.capacity_per_month") == [
        "lines.l1.capacity_per_month",
        "lines.l2.capacity_per_month",
    ]
    assert tied_paths(s, "lines.l2,l1.ramp_up_months") == [
        "lines.l1.ramp_up_months",
        "lines.l2.ramp_up_months",
    ]
    assert tied_paths(s, "lines.l1.ramp_up_months") == ["lines.l1.ramp_up_months"]
    rows = [RecordRow(**{**r.__dict__, "scope": "line:l1;line:l2"}) for r in truth_rows]
    tied = RecordEvaluator(s, rows, ["lines.l1,l2.capacity_per_month"])
    apart = RecordEvaluator(s, rows, ["lines.l1.capacity_per_month", "lines.l2.capacity_per_month"])
    np.testing.assert_array_equal(
        tied(np.array([[70.0], [300.0]])), apart(np.array([[70.0, 70.0], [300.0, 300.0]]))
    )
    np.testing.assert_array_equal(tied.nominal(), apart.nominal())
    result = calibrate(
        s,
        [Fit("lines.l*.capacity_per_month", 20, 400)],
        rows=rows,
        until="2024-12",
        samples=400,
        seed=2,
    )
    uncertain = fitted_scenario(result)["uncertain"]
    assert uncertain["lines.l1.capacity_per_month"] == uncertain["lines.l2.capacity_per_month"]
    with pytest.raises(materiel.ScenarioError, match="matches no lines"):
        calibrate(s, [Fit("lines.zz*.capacity_per_month", 20, 400)], rows=rows, samples=400)


def test_a_prior_excluding_the_scenario_value_is_accepted_with_a_note(
    truth_rows: list[RecordRow], tmp_path: Path
) -> None:
    """lead_time_months is 5 in the scenario: a prior of 6..12 excludes it on purpose."""
    base = _scenario()
    lines = base["lines"]
    assert isinstance(lines, dict)
    lines["l2"] = {**lines["l1"], "name": "second line", "capacity_per_month": 500.0}
    s = materiel.load(base)
    assert outside_prior(s, [Fit(path, *PRIOR[path]) for path in TRUTH]) == []
    assert outside_prior(s, [Fit("lines.l*.capacity_per_month", 20, 400)]) == [
        {
            "fit": "lines.l*.capacity_per_month",
            "path": "lines.l2.capacity_per_month",
            "scenario_value": 500.0,
            "low": 20,
            "high": 400,
        }
    ]
    assert [n["path"] for n in outside_prior(s, [Fit(TRUTH_LEAD, 6, 12)])] == [TRUTH_LEAD]
    scenario, record = _files(tmp_path, truth_rows)
    args = ["calibrate", str(scenario), "--fit", f"{TRUTH_LEAD}=6..12", "--record", str(record)]
    args += ["--until", "2024-12", "--samples", "400", "--seed", "2"]
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert f"note: {TRUTH_LEAD}: the scenario's value 5 lies outside the prior 6..12" in text.output
    done = CliRunner().invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert payload["outside_prior"] == [
        {"fit": TRUTH_LEAD, "path": TRUTH_LEAD, "scenario_value": 5.0, "low": 6.0, "high": 12.0}
    ]
    assert 6.0 <= payload["parameters"][0]["p5"] <= payload["parameters"][0]["p95"] <= 12.0
