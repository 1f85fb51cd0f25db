"""``/api/simulate`` computes uncached answers in the catalogue's answering thread (one per
worker, :data:`materiel.web.catalogue.ANSWER_THREADS`): one simulation at a time, the
rest in line, and cached answers served on the event loop without waiting for it."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx

from materiel.web.app import create_app
from materiel.web.catalogue import ANSWER_THREADS, Catalogue

SCENARIO = "action-plan"


def _body(scale: float) -> dict[str, Any]:
    return {"scenario": SCENARIO, "knobs": {"consumption_scale": scale}}


def test_cached_answers_never_wait_for_the_answering_thread(tmp_path: Path) -> None:
    """With the answering thread held, a cached request is answered and an uncached one
    waits until the thread is free; then both answers are whole."""
    app = create_app(tmp_path / "answering.db")
    catalogue: Catalogue = app.state.catalogue
    release = threading.Event()

    async def scenario() -> tuple[httpx.Response, bool, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post("/api/simulate", json=_body(1.25))
            assert first.status_code == 200
            held = catalogue.answering.submit(release.wait, 60)  # the thread is busy
            try:
                pending = asyncio.create_task(client.post("/api/simulate", json=_body(1.5)))
                cached = await asyncio.wait_for(
                    client.post("/api/simulate", json=_body(1.25)), timeout=60
                )
                await asyncio.sleep(0.2)
                waited = not pending.done()  # behind the held thread
            finally:
                release.set()
            assert held.result(timeout=60) is True
            return cached, waited, await pending

    cached, waited, uncached = asyncio.run(scenario())
    assert cached.status_code == 200
    assert cached.json()["knobs"]["consumption_scale"] == 1.25
    assert waited
    assert uncached.status_code == 200
    assert uncached.json()["knobs"]["consumption_scale"] == 1.5


def test_a_worker_simulates_one_request_at_a_time(tmp_path: Path) -> None:
    """Six uncached requests at once: at most :data:`ANSWER_THREADS` runs are ever in
    progress together (starlette's thread pool ran all six), and every answer echoes
    its own knobs."""
    app = create_app(tmp_path / "answering.db")
    catalogue: Catalogue = app.state.catalogue
    run = catalogue.run
    lock = threading.Lock()
    now, most = [0], [0]

    def counted(ref: Any) -> Any:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return run(ref)
        finally:
            with lock:
                now[0] -= 1

    catalogue.run = counted  # type: ignore[method-assign]
    scales = [0.6, 0.7, 0.8, 0.9, 1.1, 1.2]

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(client.post("/api/simulate", json=_body(s)) for s in scales)
            )

    answers = asyncio.run(ask())
    assert [a.status_code for a in answers] == [200] * len(scales)
    assert [a.json()["knobs"]["consumption_scale"] for a in answers] == scales
    assert most[0] == ANSWER_THREADS == 1
