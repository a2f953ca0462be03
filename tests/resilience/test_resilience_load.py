"""32 concurrent clients for 30 s against the local server: no errors but lock contention, no lost write."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from loadgen import ClientPlan, percentile, run_load

from gypsum_flows import client
from gypsum_flows.recover import read_lock

CLIENTS, SECONDS, PROCESSES = 32, 30.0, 4


def test_32_clients_for_30_seconds(fresh_gypsum_server, make_project):
    server = fresh_gypsum_server
    shared = make_project(server, "shared")
    # Half the clients write to their own project, half to one project they all share (lock contention).
    plans = [
        ClientPlan(i, make_project(server, "own") if i % 2 else shared, server.url, server.tokens["owner"])
        for i in range(CLIENTS)
    ]
    before = len(server.request_log)
    started = time.monotonic()
    result = run_load(plans, SECONDS, PROCESSES)
    elapsed = time.monotonic() - started
    requests = len(server.request_log) - before

    rps = requests / elapsed
    print(
        f"\n{CLIENTS} clients, {elapsed:.1f} s: {requests} requests ({rps:.0f}/s), "
        f"{len(result.writes)} versions written, {result.lock_retries} lock retries; "
        f"read p50 {percentile(result.read_latencies, 50) * 1e3:.1f} ms, "
        f"p99 {percentile(result.read_latencies, 99) * 1e3:.1f} ms; "
        f"upload p99 {percentile(result.write_latencies, 99) * 1e3:.0f} ms"
    )
    assert result.errors == []
    shared_writes = [w for w in result.writes if w[0] == shared]
    assert len(shared_writes) >= 16 and len(result.writes) - len(shared_writes) >= 16
    assert rps >= 30
    # Every completed write is there, complete, with exactly the content that was sent; nothing else is.
    with ThreadPoolExecutor(8) as pool:
        manifests = list(
            pool.map(lambda w: client.fetch_manifest(*w[:3], url=server.url, cache_dir=False), result.writes)
        )
    for (*_, expected), manifest in zip(result.writes, manifests, strict=True):
        assert {p: (e["size"], e["md5sum"]) for p, e in manifest.items()} == expected
    stored = {
        (p.project, f"c{p.index}", v)
        for p in plans
        for v in client.list_versions(p.project, f"c{p.index}", url=server.url)
    }
    assert stored == {w[:3] for w in result.writes}
    assert all(read_lock(project, url=server.url) is None for project in {p.project for p in plans})
