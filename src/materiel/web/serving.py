"""``materiel serve``: one uvicorn process, or N worker processes each with its own socket.

uvicorn's own ``--workers N`` binds one listening socket and shares it: every worker
accepts on it, and whichever worker's ``accept`` wins takes the connection. Keep-alive
clients then stay where they landed, and 8 connections were seen split 7/1, 6/2 and
8/0 over two workers (``ss -tnp``): one worker did all the work at one core's speed
while the other idled. Here, on Linux, each worker binds its OWN listening socket to
the same host and port with ``SO_REUSEPORT``, and the kernel spreads new connections
over the listening sockets by a hash of the connection's addresses and ports.

- :func:`serve` is what ``materiel serve`` calls. One worker: ``uvicorn.run`` in this
  process. Several on Linux: :class:`Supervisor`. Several elsewhere: uvicorn's shared
  socket (macOS has ``SO_REUSEPORT`` but gives every new connection to the last socket
  bound rather than balancing, and Windows has none), with the imbalance above.
- The port is resolved first (``--port 0`` picks a free one), by binding a plain socket
  (no ``SO_REUSEPORT``, so a port another server holds, even another ``materiel
  serve``, is refused rather than shared); the supervisor then holds a bound, not
  listening, ``SO_REUSEPORT`` socket on that port for its whole life, so the port stays
  its own while workers come and go, and every worker binds the same port.
- :class:`Supervisor` does what uvicorn's ``Multiprocess`` does: SIGINT or SIGTERM
  stops every worker gracefully (SIGTERM to each; in-flight requests finish, idle
  keep-alive connections close) and it exits 0; a second signal makes the workers quit
  at once (uvicorn's second Ctrl-C). A worker that dies after it started serving is
  replaced, with a line on stderr; one that dies before (the app cannot be built, the
  port cannot be bound) stops the supervisor, exit code 1, rather than restarting in a
  loop. Workers also ask the kernel for SIGTERM when the supervisor dies
  (``PR_SET_PDEATHSIG``), so even a killed supervisor leaves no workers behind.
  Unlike uvicorn it does not ping workers for liveness: one answering a long
  simulation while holding the GIL would be taken for hung.
- The hash balances only on average: two workers and 8 connections split 4/4, 5/3,
  6/2, 7/1 or 8/0 with the binomial odds 27, 44, 22, 6 and 1 in 100
  (``benchmarks/bench_web.py --splits`` counts them with :func:`worker_connections`),
  and keep-alive clients stay where they land. So each worker's app is wrapped in
  :class:`Rebalance`: a worker holding more than its share of the open connections
  answers with ``Connection: close``, and the client's next connection is hashed
  afresh, until the connections lie evenly.
- When a worker dies, connections still waiting in its own accept queue are reset
  (with one shared socket they would wait for another worker); new ones go to the
  workers left until its replacement listens.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "APP",
    "Rebalance",
    "Supervisor",
    "balanced_reuse_port",
    "listening_socket",
    "serve",
    "worker_connections",
]

APP = "materiel.web.app:create_app_from_env"
"""The app factory every worker imports (it reads ``MATERIEL_*`` from the environment)."""

LOG_LEVEL = "warning"
BACKLOG = 2048  # uvicorn's default
_POLL_S = 0.2
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def balanced_reuse_port() -> bool:
    """Whether ``SO_REUSEPORT`` sockets here share new connections out by hash (Linux
    3.9 and later); macOS and the BSDs have the option but do not balance."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn decides


def resolve_port(host: str, port: int) -> int:
    """The port ``materiel serve`` will listen on: ``port``, or a free one if 0.

    Binds a plain socket (``SO_REUSEADDR`` as uvicorn does, no ``SO_REUSEPORT``) and
    closes it, so a port in use, even by another ``SO_REUSEPORT`` group, raises
    :class:`OSError` here."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        bound: int = probe.getsockname()[1]
        return bound


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT``,
    not yet listening; every worker's socket and the supervisor's hold on the port."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A worker's own listening socket on ``(host, port)`` (``SO_REUSEPORT``)."""
    sock = reuse_port_socket(host, port)
    sock.listen(backlog)
    return sock


def _die_with_parent(parent: int) -> None:
    """Ask Linux for SIGTERM when the supervisor dies; exit now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the supervisor's own shutdown still works
        pass
    if os.getppid() != parent:
        sys.exit(0)


class Rebalance:
    """ASGI wrapper that evens out keep-alive connections over the workers.

    The kernel's hash leaves 8 connections on 2 workers 6/2 or worse 3 times in 10, and
    keep-alive clients stay where they landed. Every worker writes the number of
    connections it holds (``connections()``) into its slot of ``counts``, an array shared
    by all workers, at each response it starts; while it holds more than its share,
    ``ceil(sum(counts) / len(counts))``, the response carries ``Connection: close`` and
    the client's next request opens a new connection, which the kernel hashes afresh.
    A worker at or under its share never closes one, so the splits settle at 4/4 (or
    5/4 for 9 clients) within a few requests. Slots are read without a lock: a stale
    count only makes a worker's share look larger, so it closes fewer, never more.
    """

    def __init__(
        self, app: ASGIApp, counts: Any, slot: int, connections: Callable[[], int]
    ) -> None:
        self.app, self.counts, self.slot, self.connections = app, counts, slot, connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def start(message: Message) -> None:
            if message["type"] == "http.response.start":
                held = self.counts[self.slot] = self.connections()
                share = -(-sum(self.counts) // len(self.counts))
                headers = list(message.get("headers", ()))
                if held > share and all(k.lower() != b"connection" for k, _ in headers):
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, start)


def _worker(
    host: str, port: int, parent: int, ready: Connection, counts: Any, slot: int
) -> None:  # pragma: no cover
    """One worker process: its own listening socket, one uvicorn server on it, the app
    wrapped in :class:`Rebalance`. Sends its pid over ``ready`` once the app is built and
    the server accepts."""
    _die_with_parent(parent)
    from materiel.web.app import create_app_from_env

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready.send(os.getpid())

    try:
        sock = listening_socket(host, port)
        server: list[_Server] = []
        app = Rebalance(
            create_app_from_env(), counts, slot, lambda: len(server[0].server_state.connections)
        )
        server.append(_Server(uvicorn.Config(app, log_level=LOG_LEVEL, backlog=BACKLOG)))
        server[0].run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent knows
        pass


@dataclass
class _Worker:
    process: BaseProcess
    ready: Connection
    started: bool = False

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def poll_started(self) -> bool:
        try:
            if not self.started and self.ready.poll():
                self.ready.recv()
                self.started = True
        except (OSError, EOFError):
            pass
        return self.started


class Supervisor:
    """N uvicorn worker processes, each listening on its own ``SO_REUSEPORT`` socket on
    one port; starts them, replaces any that die, stops them all on SIGINT or SIGTERM.

    ``port`` must be resolved already (not 0): :func:`serve` does it."""

    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.n = host, port, workers
        self.workers: list[_Worker] = []
        self.signals = 0
        self._spawn = multiprocessing.get_context("spawn")
        self.counts = self._spawn.RawArray("i", workers)  # connections each worker holds

    def _start(self, slot: int) -> _Worker:
        self.counts[slot] = 0
        ours, theirs = self._spawn.Pipe(duplex=False)
        process = self._spawn.Process(
            target=_worker,
            args=(self.host, self.port, os.getpid(), theirs, self.counts, slot),
            daemon=False,
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:  # asked twice: workers stop at once, as uvicorn's second Ctrl-C
            for w in self.workers:
                if w.process.is_alive():
                    os.kill(w.pid, signal.SIGINT)

    def pids(self) -> list[int]:
        """The live workers' process ids."""
        return [w.pid for w in self.workers if w.process.is_alive()]

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit code: 0, or 1 if a worker could not
        start."""
        hold = reuse_port_socket(self.host, self.port)  # the port stays ours meanwhile
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        failed = False
        try:
            self.workers = [self._start(slot) for slot in range(self.n)]
            while not self.signals and not failed:
                for i, w in enumerate(self.workers):
                    w.poll_started()
                    if w.process.is_alive() or self.signals:
                        continue
                    w.process.join()
                    if not w.poll_started():
                        _say(
                            f"worker [{w.pid}] failed to start (exit code "
                            f"{w.process.exitcode}); stopping"
                        )
                        failed = True
                        break
                    _say(
                        f"worker [{w.pid}] died (exit code {w.process.exitcode}); starting another"
                    )
                    w.ready.close()
                    self.workers[i] = self._start(i)
                time.sleep(_POLL_S)
        finally:
            self._stop_all()
            hold.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 1 if failed else 0

    def _stop_all(self) -> None:
        """SIGTERM to every live worker (uvicorn's graceful shutdown), then wait for each."""
        for w in self.workers:
            if w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGTERM)
        for w in self.workers:
            w.process.join()
            w.ready.close()


def _say(message: str) -> None:
    print(f"materiel serve: {message}", file=sys.stderr, flush=True)


def serve(host: str, port: int, workers: int, announce: Callable[[int], None]) -> int:
    """Serve :data:`APP` on ``host:port`` with ``workers`` processes; the exit code.

    ``announce`` is called with the port actually listened on (``port``, or the free
    one picked for 0) before serving starts. A port that cannot be bound raises
    :class:`OSError` before anything starts. One worker runs ``uvicorn.run`` here;
    several run under :class:`Supervisor` where :func:`balanced_reuse_port`, else under
    uvicorn's shared socket."""
    port = resolve_port(host, port)
    announce(port)
    if workers > 1 and balanced_reuse_port():
        return Supervisor(host, port, workers).run()
    uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=LOG_LEVEL)
    return 0


def worker_connections(port: int, pids: Iterable[int]) -> dict[int, int]:
    """Established TCP connections on local ``port`` held by each of ``pids`` that
    listens on it (Linux ``/proc``, what ``ss -tnp`` reads): how the kernel has spread
    the clients over the workers. Other pids are left out; empty off Linux."""
    owners: dict[int, list[int]] = {}  # socket inode -> the pids holding it
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(int(target[8:-1]), []).append(pid)
    counts: dict[int, int] = {}
    rows: list[list[str]] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows += [line.split() for line in Path(table).read_text().splitlines()[1:]]
        except OSError:
            continue
    for f in rows:  # sl local rem state tx:rx tr:when retrnsmt uid timeout inode
        if len(f) > 9 and int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":
            for pid in owners.get(int(f[9]), []):  # a shared socket: every worker holds it
                counts[pid] = 0
    for f in rows:
        if len(f) > 9 and int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":
            for pid in owners.get(int(f[9]), []):
                if pid in counts:
                    counts[pid] += 1
    return counts
