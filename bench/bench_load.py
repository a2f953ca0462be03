"""Benchmark: the local gypsum server under many concurrent clients (loopback only).

Starts a local server on a temporary folder, then runs the load generator of
``tests/resilience/loadgen.py`` (each client uploads small versions and reads
them back; half write to their own project, half to one shared project):

- baseline, measured in the same run: one client alone;
- the load: ``--clients`` clients spread over ``--processes`` processes.

Prints requests per second, read p50/p99 and upload p99 for both, and the
ratios of the load to the baseline.

Run on demand:  python bench/bench_load.py [--clients 32] [--seconds 30] [--processes 4]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "resilience"))

from loadgen import ClientPlan, LoadResult, percentile, run_load  # noqa: E402

from gypsum_flows import client  # noqa: E402
from gypsum_flows.server import serve_in_thread  # noqa: E402


def start_server(base: Path) -> tuple[object, str, str]:
    """A server on ``base/root`` with one admin and one user; returns (handle, admin token, user token)."""
    admin, user = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    users = {
        "admins": ["bench-admin"],
        "users": [
            {"login": "bench-admin", "token": admin, "orgs": []},
            {"login": "bench-user", "token": user, "orgs": []},
        ],
    }
    (base / "users.yaml").write_text(yaml.safe_dump(users))
    handle = serve_in_thread(root=base / "root", users_file=base / "users.yaml", host="127.0.0.1", port=0)
    return handle, admin, user


def measure(handle, admin: str, user: str, clients: int, seconds: float, processes: int, tag: str) -> dict:
    """Run ``clients`` clients for ``seconds``; returns their throughput and latencies."""
    url = handle.url
    shared = f"{tag}-shared"
    for name in [shared] + [f"{tag}-own-{i}" for i in range(clients)]:
        client.create_project(name, owners=["bench-user"], url=url, token=admin)
    plans = [ClientPlan(i, f"{tag}-own-{i}" if i % 2 else shared, url, user) for i in range(clients)]
    before, started = len(handle.request_log), time.monotonic()
    result: LoadResult = run_load(plans, seconds, min(processes, clients))
    elapsed = time.monotonic() - started
    if result.errors:
        print(f"{tag}: {len(result.errors)} errors, first: {result.errors[0]}")
    return {
        "rps": (len(handle.request_log) - before) / elapsed,
        "read_p50_ms": percentile(result.read_latencies, 50) * 1e3,
        "read_p99_ms": percentile(result.read_latencies, 99) * 1e3,
        "upload_p99_ms": percentile(result.write_latencies, 99) * 1e3,
        "versions": len(result.writes),
        "lock_retries": result.lock_retries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        handle, admin, user = start_server(Path(tmp))
        try:
            base = measure(handle, admin, user, 1, min(args.seconds, 10.0), 1, "baseline")
            load = measure(handle, admin, user, args.clients, args.seconds, args.processes, "load")
        finally:
            handle.stop()
    print(f"{'':10}{'req/s':>10}{'read p50 ms':>14}{'read p99 ms':>14}{'upload p99 ms':>16}{'versions':>10}")
    for name, row in (("1 client", base), (f"{args.clients} clients", load)):
        print(
            f"{name:10}{row['rps']:>10.0f}{row['read_p50_ms']:>14.1f}{row['read_p99_ms']:>14.1f}"
            f"{row['upload_p99_ms']:>16.0f}{row['versions']:>10}"
        )
    print(
        f"ratio load/baseline: throughput x{load['rps'] / base['rps']:.2f}, "
        f"read p99 x{load['read_p99_ms'] / base['read_p99_ms']:.2f}; lock retries under load: {load['lock_retries']}"
    )


if __name__ == "__main__":
    main()
