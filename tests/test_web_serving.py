"""``materiel serve --workers N``: each worker its own SO_REUSEPORT socket (Linux), real
processes on loopback; connections reach several workers, a killed worker is replaced,
SIGTERM lets in-flight requests finish and leaves no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

pytest.importorskip("uvicorn")
from typer.testing import CliRunner

from materiel.cli import app as cli_app
from materiel.web.serving import (
    Rebalance,
    balanced_reuse_port,
    listening_socket,
    worker_connections,
)

pytestmark = pytest.mark.skipif(
    not balanced_reuse_port() or not Path("/proc/net/tcp").exists(),
    reason="one socket per worker needs Linux (SO_REUSEPORT balancing, /proc)",
)

SERVE = [sys.executable, "-c", "from materiel.cli import main; main()", "serve"]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(conn: http.client.HTTPConnection, path: str) -> int:
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    return response.status


class Served:
    """``materiel serve --workers 2 --port 0`` in its own process group."""

    def __init__(self, tmp: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MATERIEL_TOKEN", None)
        self.stderr = tmp / "stderr.txt"
        with self.stderr.open("w") as err:  # a file: a full pipe would block the server
            self.proc = subprocess.Popen(
                [*SERVE, "--workers", "2", "--port", "0", "--store", str(tmp / "store.db")],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                start_new_session=True,
            )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        assert first and first[0].startswith("materiel serving on http://127.0.0.1:"), first
        self.port = int(first[0].split("127.0.0.1:")[1].split("/")[0])
        assert self.port > 0  # the real port, not the 0 asked for

    def workers(self, n: int = 2, timeout: float = 90) -> dict[int, int]:
        """Wait until ``n`` workers listen and answer; their established connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.stderr.read_text()
            split = worker_connections(self.port, _children(self.proc.pid))
            if len(split) == n:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    if _get(conn, "/api/health") == 200:
                        conn.close()
                        return split
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"{n} workers did not start listening on {self.port}")

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    s = Served(tmp_path_factory.mktemp("serving"))
    try:
        s.workers()
        yield s
    finally:
        s.kill_group()


def test_connections_reach_both_workers(served: Served) -> None:
    """Each new connection lands on one worker's own socket by the kernel's hash; keep
    opening (answered) connections until both workers hold some: 40 all on one worker
    has odds 2 in 2^40 if the sockets are balanced, certainty if they were not."""
    conns: list[http.client.HTTPConnection] = []
    try:
        for _ in range(40):
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
            assert _get(conn, "/api/health") == 200  # accepted and answered by its worker
            conns.append(conn)
            split = worker_connections(served.port, _children(served.proc.pid))
            if len(split) == 2 and min(split.values()) > 0:
                break
        assert len(split) == 2 and min(split.values()) > 0, split
        assert sum(split.values()) <= len(conns)  # Rebalance closes those over a share
    finally:
        for conn in conns:
            conn.close()


def test_keep_alive_connections_settle_evenly(served: Served) -> None:
    """8 keep-alive clients, 25 requests each: a worker over its share answers with
    ``Connection: close`` until the clients, reconnecting, lie 4/4."""
    conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=30) for _ in range(8)]
    go = threading.Barrier(len(conns))
    closes = [0] * len(conns)

    def client(i: int) -> None:
        go.wait()
        for _ in range(25):
            conns[i].request("GET", "/api/health")
            response = conns[i].getresponse()
            response.read()
            assert response.status == 200
            closes[i] += response.getheader("connection") == "close"  # reopens on the next

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(conns))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        split = worker_connections(served.port, _children(served.proc.pid))
        assert sorted(split.values()) == [4, 4], (split, closes)
    finally:
        for conn in conns:
            conn.close()


def test_rebalance_closes_only_over_the_share() -> None:
    """Exact: ``Connection: close`` is added when the worker holds more than
    ceil(all / workers) connections, and only then; the slot is updated first."""
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"1")]})
        await send({"type": "http.response.body", "body": b"x"})

    async def keep(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    def headers(held: int, counts: list[int], slot: int = 0) -> list[tuple[bytes, bytes]]:
        sent.clear()
        wrapped = Rebalance(app, counts, slot, lambda: held)
        asyncio.run(wrapped({"type": "http"}, receive, keep))
        assert counts[slot] == held and sent[1]["body"] == b"x"
        return list(sent[0]["headers"])

    close = [(b"a", b"1"), (b"connection", b"close")]
    assert headers(5, [0, 3]) == close  # 5 of 8: share 4
    assert headers(4, [0, 4]) == [(b"a", b"1")]  # 4 of 8
    assert headers(5, [0, 4]) == [(b"a", b"1")]  # 5 of 9: share 5
    assert headers(6, [0, 4, 1]) == close  # 6 of 11 on 3 workers: share 4
    assert headers(1, [0, 0]) == [(b"a", b"1")]  # 1 of 1: share 1


def test_a_killed_worker_is_replaced(served: Served) -> None:
    before = served.workers()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    # wait until the supervisor has reaped it: its thread-group leader shows as a zombie
    # while its other threads still exit and its listening socket is still open (a
    # connection hashed to that socket meanwhile is reset when the last thread goes)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{victim}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    assert _get(conn, "/api/health") == 200  # the other worker answers meanwhile
    conn.close()
    after = served.workers()
    assert victim not in after and len(after) == 2
    assert f"worker [{victim}] died (exit code -9); starting another" in served.stderr.read_text()


def test_sigterm_finishes_in_flight_requests_and_leaves_nothing(served: Served) -> None:
    """A request whose body is half sent when SIGTERM arrives is still answered 200;
    then the supervisor exits 0 with every worker gone."""
    workers = list(served.workers())
    body = json.dumps({"scenario": "status-quo"}).encode()
    # a cold numba cache (the first run in a checkout) makes this first simulate slow
    with socket.create_connection(("127.0.0.1", served.port), timeout=180) as sock:
        head = (
            f"POST /api/simulate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:5])
        time.sleep(0.5)  # the worker has the request's head: the request is in flight
        served.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[5:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert served.proc.wait(timeout=30) == 0
    err = served.stderr.read_text()
    assert "Traceback" not in err, err
    assert not [pid for pid in workers if _alive(pid)]


def test_worker_connections_counts_what_each_listener_accepted() -> None:
    """Exact on a socket in this process: 3 accepted connections, 1 still queued."""
    listener = listening_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    accepted = [listener.accept()[0] for _ in range(3)]
    try:
        assert worker_connections(port, [os.getpid()]) == {os.getpid(): 3}
        assert worker_connections(port, [1]) == {}  # pid 1 does not listen on it
    finally:
        for s in [*clients, *accepted, listener]:
            s.close()


def test_a_port_in_use_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = CliRunner().invoke(
            cli_app,
            ["serve", "--workers", "2", "--port", str(port), "--store", str(tmp_path / "s.db")],
        )
    assert result.exit_code == 2
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in result.output
