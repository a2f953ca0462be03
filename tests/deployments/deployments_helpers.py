"""Helpers of the deployment tests: commands, processes, the Prefect server's REST API, published versions."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gypsum_flows.batch import load_spec
from gypsum_flows.client import create_project, fetch_manifest, fetch_summary

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO / "deployments" / "prefect.yaml"
RELEASE_SH = REPO / "deployments" / "ci" / "release.sh"
SPECS = REPO / "deployments" / "specs"

#: Names used by deployments/prefect.yaml.
POOL = "gypsum-process"
BLOCK = "gypsum"
SCHEDULED = "publish-batch/nightly"

#: Seconds allowed for the Prefect server to answer its health check (fresh SQLite: all migrations run).
STARTUP_TIMEOUT = 300

#: Saves the block from the environment, so the token never appears in a command line.
SAVE_BLOCK = (
    "import os; from gypsum_flows.blocks import GypsumCredentials as C; "
    "C(url=os.environ['GYPSUM_REST_URL'], token=os.environ['GYPSUM_TOKEN'], "
    "cache_dir=os.environ['GYPSUM_CACHE_DIR']).save(os.environ['BLOCK_NAME'], overwrite=True)"
)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without gypsum or Prefect API settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GYPSUM_", "PREFECT_API_"))}
    env.update(extra)
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 180, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run a command to completion; stdout and stderr merged into ``.stdout``."""
    return subprocess.run(
        args, env=env, cwd=cwd, timeout=timeout, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def prefect_cli(*args: str) -> list[str]:
    """The ``prefect`` command line of this interpreter."""
    return [sys.executable, "-m", "prefect", *args]


def start(args: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    """Start a long-running process in its own session (so its children can be stopped with it)."""
    with log.open("w") as out:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a process started by :func:`start` and every process of its session."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrefectServer:
    """A running ``prefect server start`` and the environment of processes that use it."""

    api_url: str
    env: dict[str, str]
    home: Path
    log: Path

    def get(self, path: str) -> dict:
        """GET ``path`` of the REST API as JSON."""
        response = requests.get(self.api_url + path, timeout=30)
        response.raise_for_status()
        return response.json()

    def deployment(self, name: str) -> dict:
        """The deployment ``flow/deployment``."""
        return self.get(f"/deployments/name/{name}")


def wait_healthy(api_url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"prefect server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(api_url + "/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after {STARTUP_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def example_projects() -> list[str]:
    """The projects the example specs publish into."""
    return sorted({job.project for spec in SPECS.glob("*.yaml") for job in load_spec(spec).assets})


def create_projects(server, projects: list[str]) -> None:
    """Create ``projects`` on a local gypsum server, owned by its ``owner`` role."""
    for project in projects:
        create_project(project, owners=[server.logins["owner"]], url=server.url, token=server.tokens["admin"])


def assert_published(spec: Path, gypsum) -> None:
    """Every version of ``spec`` is complete on ``gypsum`` and holds the files of its source folder."""
    for job in load_spec(spec).assets:
        summary = fetch_summary(job.project, job.asset, job.version, url=gypsum.url, cache_dir=False)
        assert summary.get("upload_finish"), f"{job.label} is not complete: {summary}"
        manifest = fetch_manifest(job.project, job.asset, job.version, url=gypsum.url, cache_dir=False)
        if job.directory is not None:
            local = {p.relative_to(job.directory).as_posix() for p in Path(job.directory).rglob("*") if p.is_file()}
            assert set(manifest) == local, job.label
