"""Helpers of the scale tests: specs, batches run as the CLI, and what the servers recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from faultproxy import Fault, FaultProxy

from gypsum_flows.client import create_project, fetch_summary, list_versions
from gypsum_flows.cluster import PrefectServer, Worker
from gypsum_flows.constants import ENV_LOCK_WAIT, ENV_STALE_LOCK_AGE
from gypsum_flows.flows.project_slots import SLOT_PREFIX
from gypsum_flows.recover import read_lock

REPO = Path(__file__).resolve().parents[2]
POOL = "gypsum-process"
BLOCK = "gypsum"
PROXIED_BLOCK = "gypsum-proxied"
#: Seconds a batch of the tests may take (workers poll each second; each asset run is a fresh process).
BATCH_TIMEOUT = 1500

#: Saves a GypsumCredentials block from the environment, so the token never appears in a command line.
SAVE_BLOCK = (
    "import os; from gypsum_flows.blocks import GypsumCredentials as C; "
    "C(url=os.environ['BLOCK_URL'], token=os.environ['BLOCK_TOKEN']).save(os.environ['BLOCK_NAME'], overwrite=True)"
)

#: Uploads here take seconds: a lock a minute old is dead. With the defaults (a live lock waited for up to
#: 10 min, presumed dead at 15) the kill test would wait that long for the lock its killed run left.
SHORT_UPLOADS = {ENV_STALE_LOCK_AGE: "60s", ENV_LOCK_WAIT: "3m"}


@dataclass
class Cluster:
    """The running test deployment: Prefect server, local gypsum server, workers, and a scratch folder."""

    prefect: PrefectServer
    gypsum: object
    workers: list[Worker]
    base: Path
    proxy: FaultProxy

    @staticmethod
    def slow_start(job: Job) -> Fault:
        """The start of ``job``'s upload reaches the server (project locked) but its answer is held for minutes."""
        return Fault(
            "slow", pattern=rf"^POST /upload/start/{job.project}/{job.asset}/{job.version}", first=1, delay=900
        )


@dataclass(frozen=True)
class Job:
    """One asset of a generated spec."""

    project: str
    asset: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.project}/{self.asset}/{self.version}"


def save_block(prefect: PrefectServer, name: str, url: str, token: str) -> None:
    """Save a GypsumCredentials block ``name`` on the cluster's Prefect server."""
    env = {**prefect.env, "BLOCK_URL": url, "BLOCK_TOKEN": token, "BLOCK_NAME": name}
    result = subprocess.run([sys.executable, "-c", SAVE_BLOCK], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def create_projects(cluster: Cluster, projects: list[str]) -> None:
    """Create ``projects`` on the gypsum server."""
    gypsum = cluster.gypsum
    for project in projects:
        create_project(project, owners=[gypsum.logins["owner"]], url=gypsum.url, token=gypsum.tokens["admin"])


def write_spec(folder: Path, jobs: list[Job], sources: dict[Job, Path] | None = None) -> Path:
    """A fan-out spec publishing ``jobs`` in this order, each from a folder of two small files."""
    folder.mkdir(parents=True, exist_ok=True)
    assets = []
    for job in jobs:
        source = (sources or {}).get(job) or _source(folder / "data" / job.project / job.asset / job.version, job)
        assets.append({"project": job.project, "asset": job.asset, "version": job.version, "directory": str(source)})
    spec = folder / "spec.yaml"
    spec.write_text(json.dumps({"fan_out": True, "concurrency": 8, "defaults": {"metadata": None}, "assets": assets}))
    return spec


def _source(folder: Path, job: Job) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "counts.csv").write_text(f"gene,{job.label}\nA,1\n")
    (folder / "notes.txt").write_text(job.label + "\n")
    return folder


def start_batch(cluster: Cluster, spec: Path, name: str, block: str = BLOCK, *options: str) -> subprocess.Popen:
    """``gypsum-flows publish SPEC --fan-out --credentials-block BLOCK --json [OPTIONS]`` in a subprocess."""
    cache = cluster.base / f"batch-cache-{name}"
    env = {
        **cluster.prefect.env,
        **SHORT_UPLOADS,
        "GYPSUM_CACHE_DIR": str(cache),
        "PREFECT_HOME": str(cluster.base / f"batch-{name}"),
    }
    log = (cluster.base / f"batch-{name}.log").open("w")
    command = [
        sys.executable,
        "-m",
        "gypsum_flows",
        "publish",
        str(spec),
        "--fan-out",
        "--credentials-block",
        block,
        "--json",
        *options,
    ]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)


def finish_batch(process: subprocess.Popen, cluster: Cluster, name: str) -> tuple[int, list[dict]]:
    """Wait for a batch; its exit code and the per-asset outcomes it printed as JSON."""
    out, _ = process.communicate(timeout=BATCH_TIMEOUT)
    start = out.find("\n[")
    try:
        outcomes = json.loads(out[start + 1 if start >= 0 else 0 :])
    except json.JSONDecodeError as exc:
        log = (cluster.base / f"batch-{name}.log").read_text()[-4000:]
        raise AssertionError(
            f"batch {name} printed no outcomes (exit {process.returncode}):\n{out[-3000:]}\n{log}"
        ) from exc
    return process.returncode, outcomes


def flow_runs(cluster: Cluster, name_like: str) -> list[dict]:
    """Flow runs whose name contains ``name_like``."""
    return cluster.prefect.api("POST", "/flow_runs/filter", json={"flow_runs": {"name": {"like_": name_like}}})


def run_logs(cluster: Cluster, run_id: str) -> str:
    """Every log message of a flow run, one per line."""
    logs = cluster.prefect.api("POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}})
    return "\n".join(entry["message"] for entry in logs)


def worker_of(cluster: Cluster, run: dict) -> str | None:
    """The name of the worker that ran a flow run: the one whose log holds the run's own "View at" line.

    The run's id alone is not enough: two workers may both start submitting a run, and the one that loses
    logs the id too ("Aborted submission of flow run ...").
    """
    for worker in cluster.workers:
        if f"/runs/flow-run/{run['id']}" in worker.log.read_text(errors="replace"):
            return worker.name
    return None


def summaries(cluster: Cluster, jobs: list[Job]) -> dict[Job, dict]:
    """The gypsum summary of every job's version (read afresh)."""
    url = cluster.gypsum.url
    return {job: fetch_summary(job.project, job.asset, job.version, url=url, cache_dir=False) for job in jobs}


def assert_complete_once(cluster: Cluster, jobs: list[Job]) -> dict[Job, dict]:
    """Every version complete, and each asset holds exactly its version (nothing duplicated or left over)."""
    found = summaries(cluster, jobs)
    for job, summary in found.items():
        assert summary.get("upload_finish"), f"{job.label} is not complete: {summary}"
        assert list_versions(job.project, job.asset, url=cluster.gypsum.url) == [job.version], job.label
    sessions = [e for e in cluster.gypsum.handle.lock_history if e[1] == "locked"]
    for job in jobs:
        started = [e for e in sessions if e[2:] == (job.project, job.asset, job.version)]
        assert started, f"{job.label}: no upload session in the lock history"
    return found


def assert_no_lock_left(cluster: Cluster, projects: list[str]) -> None:
    """No gypsum project lock and no occupied Prefect project slot."""
    for project in projects:
        assert read_lock(project, url=cluster.gypsum.url) is None, f"{project} is still locked"
    limits = cluster.prefect.api("POST", "/v2/concurrency_limits/filter", json={})
    slots = {limit["name"]: limit["active_slots"] for limit in limits if limit["name"].startswith(SLOT_PREFIX)}
    for project in projects:
        assert slots.get(SLOT_PREFIX + project) == 0, f"slot of {project}: {slots}"


def assert_sessions_never_overlapped(cluster: Cluster, projects: list[str]) -> None:
    """The gypsum server never refused a session for a held lock, and sessions of a project alternate."""
    for project in projects:
        events = [e[1] for e in cluster.gypsum.handle.lock_history if e[2] == project]
        assert "refused" not in events, f"{project}: a second upload session was attempted: {events}"
        held = False
        for event in events:
            assert not (held and event == "locked"), f"{project}: two sessions at once: {events}"
            held = event == "locked"


def assert_order_kept(cluster: Cluster, found: dict[Job, dict], jobs: list[Job]) -> None:
    """Within a project, each version started uploading after the previous one (in spec order) finished.

    From the summaries' upload times (whole seconds) and, precisely, from the server's lock history.
    """
    previous: dict[str, Job] = {}
    for job in jobs:
        before = previous.get(job.project)
        if before is not None:
            assert _time(found[job]["upload_start"]) >= _time(found[before]["upload_finish"]), (before, job)
        previous[job.project] = job
    history = list(cluster.gypsum.handle.lock_history)
    for project in {job.project for job in jobs}:
        sessions = [(e[3], e[4]) for e in history if e[1] == "locked" and e[2] == project]
        assert sessions == [(j.asset, j.version) for j in jobs if j.project == project], sessions


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_for(condition, timeout: float, what: str, poll: float = 0.2):
    """Poll ``condition()`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
