"""schemathesis with all its checks against a real ``materiel serve`` on loopback (issue 19).

The server runs with a token, so the auth checks (requests without it or with a wrong
one get 401) run too. Every check is on; the run must end with no failure and no error:
no 5xx, every status code, content type and body as the OpenAPI document says,
schema-violating requests refused, the ``Allow`` header right, every answer within 90 s
(the server's own limit on a run is 60 s; ``max_response_time`` defaults to 10 s,
which a loaded CI machine exceeds on a full run with charts). Bounded: ``--max-examples``
per operation in the fuzzing and stateful phases; the coverage phase (every boundary case the schema
defines) skips the three routes that run the model on each request, which the other
phases still exercise.

One setting is not the default, and why: ``positive_data_acceptance`` also accepts
404 (an id that names nothing), 409 (an id taken), 413 (over the cost budget), 422
and 429 (jobs busy). A scenario body is a free-form mapping in the schema; its rules
(every cross-check of :func:`materiel.load`) cannot be written in JSON Schema, so a
schema-valid body may rightly get a located 422.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("schemathesis")
pytest.importorskip("uvicorn")

from test_web_api import Server

pytestmark = pytest.mark.slow

COUNTS: dict[str, Any] = {}  # printed by conftest.py

TOKEN = "schemathesis-token"
CONFIG = """
request-timeout = 120

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "409", "413", "422", "429"]

[[operations]]
include-path-regex = "^/api/(simulate|compare|download)$"
phases.coverage.enabled = false
"""


def test_schemathesis_all_checks_against_a_running_server(tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    report = tmp_path / "report.json"
    limits = ["--max-mc-samples", "20", "--job-timeout-s", "30", "--max-active-jobs", "1"]
    server = Server(tmp_path / "store.db", token=TOKEN, extra=limits).start()
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"]
    command += [f"{server.url}/openapi.json", "--checks", "all", "--seed", "19"]
    command += ["--header", f"Authorization: Bearer {TOKEN}", "--max-examples", "8"]
    command += ["--workers", "1", "--report", "json", "--report-json-path", str(report)]
    command += ["--max-response-time", "90"]  # the server's own limit on a run is 60 s
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    finally:
        server.stop()
    summary = json.loads(report.read_text())
    COUNTS.update(summary["test_cases"], operations=summary["operations"]["tested"])
    assert done.returncode == 0, done.stdout[-20000:]
    assert summary["failures"] == [] and summary["errors"] == [], done.stdout[-6000:]
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 16
    assert summary["test_cases"]["generated"] >= 300
