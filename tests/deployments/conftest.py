"""Fixtures for the deployment tests: a real ``prefect server start``, a process worker, prefect.yaml deployed.

Everything runs as separate processes, as in production: the Prefect API
server (SQLite, loopback, its own PREFECT_HOME, no UI), the process worker and
the flow runs it spawns, and the CLI commands. The gypsum server is the local
one, started in this process; the GypsumCredentials block saved in that Prefect
points at it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deployments_helpers import (
    BLOCK,
    POOL,
    PREFECT_YAML,
    SAVE_BLOCK,
    SPECS,
    PrefectServer,
    clean_env,
    create_projects,
    example_projects,
    free_port,
    prefect_cli,
    run,
    start,
    stop,
    wait_healthy,
)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    """``prefect server start`` on loopback with SQLite in its own PREFECT_HOME, without UI."""
    base = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = clean_env(
        PREFECT_HOME=str(base / "home"),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="2",
    )
    log = base / "server.log"
    server = start(
        prefect_cli("server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"), env, log, base
    )
    try:
        wait_healthy(api_url, server, log)
        yield PrefectServer(api_url, env, base / "home", log)
    finally:
        stop(server)


@pytest.fixture(scope="session")
def offline_cache(tmp_path_factory) -> Path:
    """A gypsum cache holding the shipped metadata schema, so validation needs no internet."""
    from gypsum_flows.client.metadata import shipped_schema_path

    cache = tmp_path_factory.mktemp("gypsum-cache")
    target = cache / "schemas" / "bioconductor" / "v1.json"
    target.parent.mkdir(parents=True)
    shutil.copyfile(shipped_schema_path(), target)
    return cache


@dataclass
class Deployed:
    """prefect.yaml deployed to :class:`PrefectServer`, a worker polling its pool, and the gypsum server."""

    prefect: PrefectServer
    gypsum: object
    cache: Path
    worker_log: Path
    index_dir: Path


@pytest.fixture(scope="session")
def deployed(prefect_server, make_gypsum_server, offline_cache, tmp_path_factory) -> Iterator[Deployed]:
    """Create the process pool, save the block, deploy every deployment from an unrelated folder, start a worker."""
    gypsum = make_gypsum_server()
    create_projects(gypsum, example_projects())
    elsewhere = tmp_path_factory.mktemp("deploy-from-here")
    block_env = {
        **prefect_server.env,
        "GYPSUM_REST_URL": gypsum.url,
        "GYPSUM_TOKEN": gypsum.tokens["owner"],
        "GYPSUM_CACHE_DIR": str(offline_cache),
        "BLOCK_NAME": BLOCK,
    }
    setup = [
        subprocess.Popen(
            prefect_cli("work-pool", "create", POOL, "--type", "process"),
            env=prefect_server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(
            [sys.executable, "-c", SAVE_BLOCK],
            env=block_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    for process in setup:
        output, _ = process.communicate(timeout=180)
        assert process.returncode == 0, output
    index_dir = tmp_path_factory.mktemp("metadata-index")
    deploy_env = {
        **prefect_server.env,
        "GYPSUM_FLOWS_SPEC": str(SPECS / "scrnaseq.yaml"),
        "GYPSUM_FLOWS_INDEX_DIR": str(index_dir),
    }
    result = run(
        prefect_cli("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_YAML)), deploy_env, cwd=elsewhere
    )
    assert result.returncode == 0, result.stdout
    worker_log = elsewhere / "worker.log"
    worker = start(
        prefect_cli("worker", "start", "--pool", POOL, "--type", "process"),
        prefect_server.env,
        worker_log,
        tmp_path_factory.mktemp("worker"),
    )
    try:
        yield Deployed(prefect_server, gypsum, offline_cache, worker_log, index_dir)
    finally:
        stop(worker)
