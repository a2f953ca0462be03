"""Benchmark: what orchestration costs, ``gypsum-flows publish`` against the raw client, on one local server.

Run on demand (not collected by pytest)::

    python bench/bench_batch.py                 # 50 assets in 5 projects, 20 small files each
    python bench/bench_batch.py --repeat 2 --heavy-size 20M

One local gypsum server and one ``prefect server start`` (its own
PREFECT_HOME) run for the whole bench, so no case pays the embedded server's
start-up. Every case runs as users run it, in a fresh process, and the
fastest of ``--repeat`` runs is kept:

- raw client loop, serial, and one thread per project (``upload_directory``);
- ``gypsum-flows publish`` of the same 50 assets (new versions each run);
- the same publish again (everything unchanged);
- ``gypsum-flows check`` of that spec;
- a 1-asset publish (the fixed cost), and a bare Prefect flow's start-up;
- a data-heavy batch (10 assets of 50 MB) against the raw thread-per-project loop.

Printed ratios and goals (issue 13): overhead per asset
(batch - 1-asset publish - raw thread-per-project) / 49 <= 100 ms; 1-asset
publish <= 1.3x the bare flow; heavy batch <= 1.15x raw + fixed cost; no-op
re-run <= fixed cost + 3 s; check < 2 s. The load average is printed at the
start and the end: on a shared machine, compare runs only at similar loads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_client import ADMIN, OWNER, _start_server, parse_size

PROJECTS = 5
#: Valid metadata for every asset: the shipped example's.
METADATA = (
    Path(__file__).resolve().parents[1] / "gypsum_flows" / "examples" / "data" / "zeisel-brain" / "_bioconductor.json"
)
BARE_FLOW = "from prefect import flow\n@flow\ndef bare():\n    return 1\nbare()\n"


def make_assets(root: Path, count: int, files: int, size: int, prefix: str = "a") -> list[Path]:
    """``count`` asset folders ``{prefix}N`` of ``files`` random files of ``size`` bytes, each with valid metadata."""
    folders = []
    for a in range(count):
        folder = root / f"{prefix}{a}"
        for f in range(files):
            path = folder / f"d{f % 4}" / f"f{f}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(size))
        shutil.copyfile(METADATA, folder / "_bioconductor.json")
        folders.append(folder)
    return folders


def write_spec(path: Path, folders: list[Path], version: str, concurrency: int = 4) -> Path:
    lines = [f"concurrency: {concurrency}", "assets:"]
    for i, folder in enumerate(folders):
        lines.append(
            f"  - {{project: bench{i % PROJECTS}, asset: {folder.name}, version: {version}, directory: {folder}}}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def raw_loop(url: str, token: str, folders: list[Path], version: str, per_project: bool) -> None:
    """``upload_directory`` of every folder, serially or with one thread per project."""
    from gypsum_flows import client

    def upload(indexed: list[tuple[int, Path]]) -> None:
        for i, folder in indexed:
            client.upload_directory(str(folder), f"bench{i % PROJECTS}", folder.name, version, url=url, token=token)

    jobs = list(enumerate(folders))
    if not per_project:
        upload(jobs)
        return
    with ThreadPoolExecutor(PROJECTS) as pool:
        list(pool.map(upload, [[j for j in jobs if j[0] % PROJECTS == p] for p in range(PROJECTS)]))


def timed(command: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise RuntimeError(f"{command[2:5]} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def start_prefect(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """``prefect server start`` on a free port with its own PREFECT_HOME; returns it and its API URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    log = open(work / "prefect-server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
            "--analytics-off",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    status = [sys.executable, "-m", "prefect", "server", "status", "--wait", "--timeout", "300"]
    subprocess.run(status, env={**env, "PREFECT_API_URL": api}, check=True, capture_output=True)
    return proc, api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=50, help="assets of the small batch (default 50)")
    parser.add_argument("--files", type=int, default=20, help="small files per asset (default 20)")
    parser.add_argument("--heavy-size", type=parse_size, default=parse_size("50M"), help="size of a heavy asset")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, the fastest is kept (default 3)")
    parser.add_argument("--raw", nargs=4, help=argparse.SUPPRESS)  # child: url token_var version mode+folders
    args = parser.parse_args(argv)
    if args.raw:
        url, token_var, version, listing = args.raw
        mode, *folders = listing.split(",")
        raw_loop(url, os.environ[token_var], [Path(f) for f in folders], version, per_project=mode == "threads")
        return 0

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="gypsum-bench-batch-"))
    gypsum = prefect = None
    try:
        gypsum, url, tokens = _start_server(work)
        from gypsum_flows import client
        from gypsum_flows.client.metadata import shipped_schema_path

        for p in range(PROJECTS):
            client.create_project(f"bench{p}", owners=[OWNER], baseline=10**13, url=url, token=tokens[ADMIN])
        cache = work / "cache"
        (cache / "schemas" / "bioconductor").mkdir(parents=True)
        shutil.copyfile(shipped_schema_path(), cache / "schemas" / "bioconductor" / "v1.json")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GYPSUM_"))}
        base_env.update(
            GYPSUM_CACHE_DIR=str(cache),
            BENCH_TOKEN=tokens[OWNER],
            PREFECT_HOME=str(work / "prefect"),
            PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
        )
        prefect, api = start_prefect(work, base_env)
        env = {**base_env, "PREFECT_API_URL": api}
        small = make_assets(work / "small", args.assets, args.files, 2048)
        print(
            f"gypsum {url}, prefect {api}; {args.assets} assets x {args.files} files, 10 heavy assets of "
            f"{args.heavy_size / 2**20:.0f} MiB; load average {load_before[0]:.2f}; work in {work}",
            flush=True,
        )

        py = [sys.executable]
        gf = [*py, "-m", "gypsum_flows"]
        publish_args = ["--url", url, "--token-env", "BENCH_TOKEN"]

        def raw(folders: list[Path], version: str, mode: str) -> list[str]:
            listing = ",".join([mode, *map(str, folders)])
            return [*py, __file__, "--raw", url, "BENCH_TOKEN", version, listing]

        runs: dict[str, list[float]] = {}

        def record(name: str, seconds: float) -> None:
            runs.setdefault(name, []).append(seconds)
            print(f"  {name:<26} {seconds:8.2f} s", flush=True)

        for k in range(args.repeat):
            print(f"run {k + 1} of {args.repeat}", flush=True)
            record("bare Prefect flow", timed([*py, "-c", BARE_FLOW], env))
            record("raw serial", timed(raw(small, f"s{k}", "serial"), env))
            record("raw thread-per-project", timed(raw(small, f"t{k}", "threads"), env))
            spec = write_spec(work / f"batch{k}.yaml", small, f"b{k}")
            record("check", timed([*gf, "check", str(spec)], env))
            record("publish batch", timed([*gf, "publish", str(spec), *publish_args], env))
            record("publish no-op re-run", timed([*gf, "publish", str(spec), *publish_args], env))
            one = write_spec(work / f"one{k}.yaml", small[:1], f"o{k}")
            record("publish 1 asset", timed([*gf, "publish", str(one), *publish_args], env))
            # Fresh random bytes for each heavy case: a rerun (or the other case) would otherwise find every
            # file deduplicated against the version before it and send nothing.
            heavy = make_assets(work / f"heavy-raw{k}", 10, 1, args.heavy_size, prefix="h")
            record("raw heavy thread-per-project", timed(raw(heavy, f"t{k}", "threads"), env))
            shutil.rmtree(work / f"heavy-raw{k}")
            heavy = make_assets(work / f"heavy-flow{k}", 10, 1, args.heavy_size, prefix="h")
            record(
                "publish heavy batch",
                timed([*gf, "publish", str(write_spec(work / f"heavy{k}.yaml", heavy, f"b{k}")), *publish_args], env),
            )
            shutil.rmtree(work / f"heavy-flow{k}")
        report({name: min(values) for name, values in runs.items()}, args.assets, load_before)
    finally:
        for proc in (prefect, gypsum):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(best: dict[str, float], assets: int, load_before: tuple[float, float, float]) -> None:
    fixed, thread = best["publish 1 asset"], best["raw thread-per-project"]
    overhead = (best["publish batch"] - fixed - thread) / (assets - 1)
    heavy_limit = 1.15 * best["raw heavy thread-per-project"] + fixed
    print(f"\nfastest of each case (load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after):")
    for name, seconds in best.items():
        print(f"  {name:<28} {seconds:8.2f} s")
    rows = [
        ("overhead per asset", f"{overhead * 1000:.0f} ms", "<= 100 ms (stretch 50)", overhead <= 0.1),
        (
            "1-asset publish / bare flow",
            f"{fixed / best['bare Prefect flow']:.2f}x",
            "<= 1.3x",
            fixed <= 1.3 * best["bare Prefect flow"],
        ),
        (
            "heavy batch / (1.15 raw + fixed)",
            f"{best['publish heavy batch'] / heavy_limit:.2f}",
            "<= 1",
            best["publish heavy batch"] <= heavy_limit,
        ),
        (
            "no-op re-run - fixed",
            f"{best['publish no-op re-run'] - fixed:.2f} s",
            "<= 3 s",
            best["publish no-op re-run"] - fixed <= 3,
        ),
        ("check", f"{best['check']:.2f} s", "< 2 s", best["check"] < 2),
        ("batch / raw thread-per-project", f"{best['publish batch'] / thread:.1f}x", "", True),
    ]
    print("\nratio                              value      goal")
    for name, value, goal, met in rows:
        print(f"  {name:<32} {value:>9}  {goal:<24}{'' if not goal else ('met' if met else 'NOT met')}")


if __name__ == "__main__":
    sys.exit(main())
