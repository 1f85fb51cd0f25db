"""Stored reference results of the embedded scenarios, compared on every run.

Each embedded scenario's deterministic run is reduced to a fingerprint (every
numeric output summed per calendar year over its other dimensions, the count of
each binding label, the targets' rows and the cost totals of ``metrics()``)
stored in ``tests/reference/<id>.json``. A change that moves any of these
numbers fails here, naming where; when the change is meant (new data, a new
rule), write the references again and commit them with it::

    PYTHONPATH=src python tests/test_reference_results.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import materiel
from materiel.scenario.loading import embedded_ids

REFERENCE = Path(__file__).resolve().parent / "reference"
RTOL = 1e-9  # the kernel is deterministic; this only absorbs a platform's last bits
ATOL = 1e-6  # units or US$: below any figure the model reports


def fingerprint(sid: str) -> dict[str, Any]:
    """The numbers of scenario ``sid``'s run that its reference keeps (JSON-ready)."""
    r = materiel.simulate(sid)
    ds = r.dataset.isel(sample=0)
    yearly: dict[str, Any] = {}
    for name, v in ds.data_vars.items():
        if v.dtype.kind != "f":
            continue
        others = [d for d in v.dims if d != "month"]
        total = v.sum(others) if others else v
        if "month" in v.dims:
            by_year = total.groupby("month.year").sum()
            yearly[str(name)] = {
                str(y): _number(x) for y, x in zip(by_year.year.values, by_year.values, strict=True)
            }
        else:
            yearly[str(name)] = _number(total.values)
    labels, counts = np.unique(ds.binding.values, return_counts=True)
    m = r.metrics()
    return {
        "scenario": sid,
        "yearly_sums": yearly,
        "binding_counts": {str(k): int(n) for k, n in zip(labels, counts, strict=True)},
        "targets": m["targets"],
        "cost": m["cost"],
    }


def _number(x: Any) -> float | None:
    value = float(x)
    return None if math.isnan(value) else value


def differences(want: Any, got: Any, path: str = "") -> list[str]:
    """Where ``got`` departs from ``want``: numbers beyond RTOL/ATOL, anything else unequal."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing" for k in want if k not in got]
        out += [f"{path}.{k}: not in the reference" for k in got if k not in want]
        for k in want.keys() & got.keys():
            out += differences(want[k], got[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{path}: {len(got)} items, the reference has {len(want)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(want, got, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(want, bool):
        if math.isclose(want, got, rel_tol=RTOL, abs_tol=ATOL):
            return []
        return [f"{path}: {got!r}, the reference has {want!r}"]
    return [] if want == got else [f"{path}: {got!r}, the reference has {want!r}"]


def test_every_embedded_scenario_has_a_reference() -> None:
    stored = {p.stem for p in REFERENCE.glob("*.json")}
    assert stored == set(embedded_ids())


@pytest.mark.parametrize("sid", embedded_ids())
def test_embedded_scenario_matches_its_stored_reference(sid: str) -> None:
    want = json.loads((REFERENCE / f"{sid}.json").read_text(encoding="utf-8"))
    found = sorted(differences(want, json.loads(json.dumps(fingerprint(sid)))))
    assert not found, (
        f"{sid} moved from tests/reference/{sid}.json in {len(found)} place(s) "
        "(if meant, write the references again: see this module's docstring):\n  "
        + "\n  ".join(found[:20])
    )


def test_the_comparison_sees_a_moved_number_and_a_new_key() -> None:
    want = {"a": {"2024": 1000.0, "2025": None}, "t": [{"first_met": "2026-03"}]}
    assert differences(want, want) == []
    assert (
        differences(want, {"a": {"2024": 1000.0 * (1 + 1e-12), "2025": None}, "t": want["t"]}) == []
    )
    moved = {"a": {"2024": 1000.001, "2025": None}, "t": [{"first_met": "2026-04"}]}
    assert sorted(differences(want, moved)) == [
        ".a.2024: 1000.001, the reference has 1000.0",
        ".t[0].first_met: '2026-04', the reference has '2026-03'",
    ]
    assert differences({"a": 1.0}, {"a": 1.0, "b": 2.0}) == [".b: not in the reference"]


if __name__ == "__main__":
    REFERENCE.mkdir(exist_ok=True)
    for sid in sys.argv[1:] or embedded_ids():
        text = json.dumps(fingerprint(sid), indent=1, sort_keys=True, allow_nan=False)
        (REFERENCE / f"{sid}.json").write_text(text + "\n", encoding="utf-8")
        print(f"wrote {REFERENCE / sid}.json")
