"""A bounded load generator: many gypsum clients (our client, real HTTP) writing and reading for a fixed time.

Client ``i`` loops until the deadline: upload a small new version of asset
``c{i}`` (to its own project, or to the project every "shared" client writes
to), then read it back (manifest, summary, version list) and check it. A
project lock held by someone else is the expected contention: the client
waits a little and tries again. Anything else is an error.

The clients run as threads in a few worker processes, so the measuring
process (and the server's thread) does not share one interpreter lock with
all of them. Used by ``test_resilience_load.py`` and ``bench/bench_load.py``.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gypsum_flows import client
from gypsum_flows.errors import GypsumLockedError


@dataclass
class ClientPlan:
    """What one simulated client does: where it writes and with which token."""

    index: int
    project: str
    url: str
    token: str


@dataclass
class LoadResult:
    """What a group of clients did: completed writes, contention retries, errors, read latencies (seconds)."""

    writes: list[tuple[str, str, str, dict[str, tuple[int, str]]]] = field(default_factory=list)
    lock_retries: int = 0
    errors: list[str] = field(default_factory=list)
    read_latencies: list[float] = field(default_factory=list)
    write_latencies: list[float] = field(default_factory=list)

    def merge(self, other: LoadResult) -> None:
        """Add ``other``'s counts and samples to this one."""
        self.writes += other.writes
        self.lock_retries += other.lock_retries
        self.errors += other.errors
        self.read_latencies += other.read_latencies
        self.write_latencies += other.write_latencies


def _version_files(plan: ClientPlan, n: int) -> dict[str, bytes]:
    seed = f"{plan.project}/{plan.index}/{n}".encode()
    return {"data.bin": hashlib.sha256(seed).digest() * 64, f"sub/n{n % 3}.txt": seed * (1 + n % 5)}


def _timed(samples: list[float], fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    samples.append(time.perf_counter() - start)
    return out


def _write(
    plan: ClientPlan, version: str, folder: Path, files: dict[str, bytes], out: LoadResult, deadline: float
) -> bool:
    """Upload one version, waiting out other clients' locks; False if the deadline passed first."""
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    while True:
        try:
            _timed(
                out.write_latencies,
                client.upload_directory,
                str(folder),
                plan.project,
                f"c{plan.index}",
                version,
                url=plan.url,
                token=plan.token,
                cache_dir=str(folder.parent / "cache"),
                concurrent=2,
            )
            return True
        except GypsumLockedError:
            out.lock_retries += 1
            if time.monotonic() > deadline:
                return False
            time.sleep(random.uniform(0.005, 0.05))  # a client's jittered backoff: part of the load, bounded above


def _check(plan: ClientPlan, version: str, expected: dict[str, tuple[int, str]], out: LoadResult) -> None:
    """Read the version back three ways and compare with what was sent."""
    asset = f"c{plan.index}"
    manifest = _timed(
        out.read_latencies, client.fetch_manifest, plan.project, asset, version, url=plan.url, cache_dir=False
    )
    got = {path: (entry["size"], entry["md5sum"]) for path, entry in manifest.items()}
    summary = _timed(
        out.read_latencies, client.fetch_summary, plan.project, asset, version, url=plan.url, cache_dir=False
    )
    versions = _timed(out.read_latencies, client.list_versions, plan.project, asset, url=plan.url)
    if got != expected or "upload_finish" not in summary or version not in versions:
        out.errors.append(f"{plan.project}/{asset}/{version}: read back differs from what was written")


def run_client(plan: ClientPlan, deadline: float, out: LoadResult) -> None:
    """One client's loop: write a version, read it back, repeat until ``deadline`` (monotonic seconds)."""
    with tempfile.TemporaryDirectory(prefix=f"load-{plan.index}-") as tmp:
        n = 0
        while time.monotonic() < deadline:
            version, files = f"v{n}", _version_files(plan, n)
            expected = {p: (len(d), hashlib.md5(d).hexdigest()) for p, d in files.items()}
            try:
                if not _write(plan, version, Path(tmp) / version, files, out, deadline):
                    return
                out.writes.append((plan.project, f"c{plan.index}", version, expected))
                _check(plan, version, expected, out)
            except Exception as exc:  # every failure is counted; the test asserts there are none
                out.errors.append(f"{plan.project}/c{plan.index}/{version}: {type(exc).__name__}: {exc}")
            n += 1


def run_group(plans: list[ClientPlan], seconds: float) -> LoadResult:
    """Run ``plans`` as threads for ``seconds``; returns their merged result (picklable, for worker processes)."""
    deadline = time.monotonic() + seconds
    results = [LoadResult() for _ in plans]
    threads = [threading.Thread(target=run_client, args=(p, deadline, r)) for p, r in zip(plans, results, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = LoadResult()
    for result in results:
        merged.merge(result)
    return merged


def run_load(plans: list[ClientPlan], seconds: float, processes: int) -> LoadResult:
    """Spread ``plans`` over ``processes`` worker processes and run them all for ``seconds``."""
    groups = [plans[i::processes] for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.starmap(run_group, [(group, seconds) for group in groups])
    merged = LoadResult()
    for part in parts:
        merged.merge(part)
    return merged


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``samples``, nearest rank.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.0
    """
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
