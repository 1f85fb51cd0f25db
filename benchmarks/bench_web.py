"""Load test: N concurrent clients on loopback running simulations with varied knobs.

Starts ``materiel serve`` (``--workers``) on a free port with a throwaway
SQLite store, runs for ``--seconds`` and prints requests/s, p50/p99 latency
and the error count.

    .venv/bin/python benchmarks/bench_web.py --clients 8 --seconds 20 --workers 2
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    """Run the load test and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenario", default="action-plan")
    args = ap.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from materiel.cli import main; main()", "serve",
             "--port", str(port), "--store", str(Path(tmp) / "bench.db"),
             "--workers", str(args.workers)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            with httpx.Client(base_url=url, timeout=30) as warm:  # compile and cache first
                for _ in range(4 * args.workers):
                    warm.post("/api/simulate", json={"scenario": args.scenario})
            latencies: list[float] = []
            errors = [0]
            lock = threading.Lock()
            stop_at = time.monotonic() + args.seconds

            def client(seed: int) -> None:
                rng = random.Random(seed)
                with httpx.Client(base_url=url, timeout=30) as c:
                    while time.monotonic() < stop_at:
                        knobs = {
                            "extra_contracting_delay_months": rng.randint(0, 24),
                            "consumption_scale": round(rng.uniform(0.5, 2.0), 2),
                            "multi_year_share": round(rng.uniform(0, 1), 2),
                        }
                        t0 = time.perf_counter()
                        try:
                            r = c.post(
                                "/api/simulate", json={"scenario": args.scenario, "knobs": knobs}
                            )
                            ok = r.status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        dt = time.perf_counter() - t0
                        with lock:
                            latencies.append(dt)
                            if not ok:
                                errors[0] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1e3
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1e3
    print(
        f"{args.clients} clients, {args.workers} workers, {elapsed:.1f} s: "
        f"{len(lat)} requests, {len(lat) / elapsed:.1f} req/s, "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, errors {errors[0]}"
    )


if __name__ == "__main__":
    main()
