"""Benchmark: one fanned-out batch with 1, 2 and 4 Prefect workers, through a ~50 ms-per-request network.

Run on demand (not collected by pytest)::

    python bench/bench_scale.py                      # 24 assets over 6 projects, workers 1, 2, 4
    python bench/bench_scale.py --assets 48 --projects 8 --files 8 --repeat 2

Everything runs as users run it (see README "Scaling out"): a throw-away
PostgreSQL, ``prefect server start`` on it, a process pool with the
``publish-asset`` deployment of ``deployments/prefect.yaml``, and N
``prefect worker start`` processes (each with its own home, cache and working
folder, and ``--limit 1``: a worker stands for a machine running one asset at
a time). The gypsum server runs as ``gypsum-flows server`` behind
:class:`latency_proxy.LatencyProxy`, which delays every request by
``--latency`` seconds. Each round publishes the same batch into fresh
projects with ``publish_batch(..., fan_out=True)``; its wall time is measured
from the flow call to its return. Printed: the fastest round per worker
count, the speed-up against 1 worker measured in the same run (goal: 4
workers take at most 0.4 of 1 worker's time), the load average, and where the
time of an asset goes (waiting for a worker and its fresh flow-run process,
then the run itself).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency_proxy import LatencyProxy  # noqa: E402

from gypsum_flows.cluster import Postgres, PrefectServer, Worker  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POOL, BLOCK, ADMIN = "gypsum-process", "bench-gypsum", "bench-admin"


def start_gypsum(work: Path) -> tuple[subprocess.Popen, str, str]:
    """``gypsum-flows server`` in its own process; (process, URL, admin token)."""
    token = "bench-admin-" + os.urandom(8).hex()
    (work / "users.yaml").write_text(
        yaml.safe_dump({"admins": [ADMIN], "users": [{"login": ADMIN, "token": token, "orgs": []}]})
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gypsum_flows",
            "server",
            "--root",
            str(work / "root"),
            "--users",
            str(work / "users.yaml"),
            "--port",
            "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in process.stdout:  # type: ignore[union-attr]
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return process, found.group(1), token
    raise RuntimeError("the gypsum server did not start")


def write_spec(work: Path, tag: str, assets: int, projects: int, files: int) -> tuple[Path, list[str]]:
    """A fan-out spec of ``assets`` assets spread over ``projects`` fresh projects, ``files`` files each."""
    names = [f"bench-{tag}-p{i}" for i in range(projects)]
    entries = []
    for i in range(assets):
        folder = work / tag / f"a{i}"
        folder.mkdir(parents=True)
        for k in range(files):
            (folder / f"f{k}.txt").write_bytes(os.urandom(2048))
        entries.append({"project": names[i % projects], "asset": f"a{i}", "version": "v1", "directory": str(folder)})
    spec = work / tag / "spec.yaml"
    spec.write_text(
        yaml.safe_dump({"fan_out": True, "concurrency": 64, "defaults": {"metadata": None}, "assets": entries})
    )
    return spec, names


def wait_workers_online(prefect: PrefectServer, names: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = prefect.api("POST", f"/work_pools/{POOL}/workers/filter", json={})
        if {w["name"] for w in workers if w["status"] == "ONLINE"} >= set(names):
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers {names} did not come online")


def asset_timings(prefect: PrefectServer, tag: str) -> tuple[float, float]:
    """Mean seconds of an asset run from its creation to its start, and from its start to its end."""
    runs = prefect.api(
        "POST", "/flow_runs/filter", json={"flow_runs": {"name": {"like_": f"publish-asset-bench-{tag}-"}}}
    )

    def at(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    waits = [at(r["start_time"]) - at(r["created"]) for r in runs if r["start_time"]]
    runs_ = [at(r["end_time"]) - at(r["start_time"]) for r in runs if r["start_time"] and r["end_time"]]
    return sum(waits) / max(len(waits), 1), sum(runs_) / max(len(runs_), 1)


def one_round(args, work: Path, prefect: PrefectServer, n: int, attempt: int, create_project) -> dict:
    """Publish the batch into fresh projects with ``n`` workers; wall time and per-asset timings."""
    from gypsum_flows.flows import publish_batch

    tag = f"w{n}r{attempt}"
    spec, projects = write_spec(work, tag, args.assets, args.projects, args.files)
    for project in projects:
        create_project(project)
    workers = [Worker(work / "workers" / f"{tag}-{i}", prefect, POOL, name=f"{tag}-{i}", limit=1) for i in range(n)]
    for worker in workers:
        worker.start()
    try:
        wait_workers_online(prefect, [w.name for w in workers])
        start = time.perf_counter()
        outcomes = publish_batch(str(spec), fan_out=True, credentials=BLOCK)
        wall = time.perf_counter() - start
    finally:
        for worker in workers:
            worker.stop()
    assert {o.outcome for o in outcomes} == {"published"}, outcomes
    wait, run = asset_timings(prefect, tag)
    return {"wall": wall, "wait": wait, "run": run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=24)
    parser.add_argument("--projects", type=int, default=6)
    parser.add_argument("--files", type=int, default=4, help="files per asset")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per worker count (the fastest is shown)")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the cluster's processes on the way out

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    gypsum, url, token = start_gypsum(work)
    try:
        with (
            LatencyProxy(url, args.latency) as proxy,
            Postgres(work / "pg") as pg,
            PrefectServer(work / "prefect", pg.url) as prefect,
        ):
            # This process runs the batches: it talks to the cluster's Prefect server.
            os.environ.update({k: v for k, v in prefect.env.items() if k.startswith("PREFECT_")})
            # Imported once PREFECT_API_URL is set: importing Prefect fixes its settings.
            from gypsum_flows.flows.fan_out import ASSET_ENTRYPOINT

            prefect.cli("work-pool", "create", POOL, "--type", "process")
            # Only the per-asset deployment: the others' triggers would add runs of their own to the workers.
            prefect.deploy(
                REPO / "deployments" / "prefect.yaml",
                cwd=work,
                entrypoint=ASSET_ENTRYPOINT,
                env={"GYPSUM_FLOWS_SPEC": str(work / "none.yaml")},
            )
            os.environ["GYPSUM_CACHE_DIR"] = str(work / "batch-cache")
            from gypsum_flows.blocks import GypsumCredentials
            from gypsum_flows.client import create_project

            GypsumCredentials(url=proxy.url, token=token).save(BLOCK, overwrite=True)
            results: dict[int, list[dict]] = {n: [] for n in counts}
            for attempt in range(args.repeat):
                for n in counts:
                    results[n].append(
                        one_round(
                            args,
                            work,
                            prefect,
                            n,
                            attempt,
                            lambda p: create_project(p, owners=[ADMIN], url=url, token=token),
                        )
                    )
                    print(f"  round {attempt + 1}, {n} worker(s): {results[n][-1]['wall']:.1f} s", flush=True)
    finally:
        gypsum.terminate()
        gypsum.wait(30)
    report(args, counts, results)
    return 0


def report(args, counts: list[int], results: dict[int, list[dict]]) -> None:
    best = {n: min(results[n], key=lambda r: r["wall"]) for n in counts}
    base = best[counts[0]]["wall"]
    print(
        f"\n{args.assets} assets over {args.projects} projects, {args.files} files each, "
        f"{args.latency * 1000:.0f} ms per request; fastest of {args.repeat} round(s); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print(
        f"{'workers':>7}  {'wall s':>7}  {'vs ' + str(counts[0]):>6}  {'speed-up':>8}  "
        f"{'asset: wait s':>13}  {'run s':>6}"
    )
    for n in counts:
        r = best[n]
        print(
            f"{n:>7}  {r['wall']:>7.1f}  {r['wall'] / base:>6.2f}  {base / r['wall']:>7.2f}x  "
            f"{r['wait']:>13.1f}  {r['run']:>6.1f}"
        )
    if len(counts) > 1:
        last = counts[-1]
        ratio = best[last]["wall"] / base
        print(
            f"goal: {last} workers <= 0.40 of {counts[0]} worker's time: {ratio:.2f} "
            f"({'met' if ratio <= 0.40 else 'not met'})"
        )


if __name__ == "__main__":
    requests.packages.urllib3.disable_warnings()
    sys.exit(main())
