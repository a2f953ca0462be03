"""Fixtures of the scale tests: PostgreSQL, ``prefect server start`` on it, a process pool and three workers.

Everything is started as a user starts it (see README "Scaling out"), each in
its own process: Debian's PostgreSQL on a free loopback port and a temporary
data folder, the Prefect server on it, ``prefect work-pool create``,
``prefect deploy`` of ``deployments/prefect.yaml``'s per-asset deployment,
and workers that each have their own PREFECT_HOME, gypsum cache and working
folder, like separate machines. The gypsum server is the local one, in this
process, so its lock history can be read. Batches run as the CLI,
``gypsum-flows publish --fan-out``, in subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faultproxy import FaultProxy
from scale_helpers import BLOCK, POOL, PROXIED_BLOCK, REPO, SHORT_UPLOADS, Cluster, save_block

from gypsum_flows.cluster import Postgres, PrefectServer, Worker
from gypsum_flows.flows.fan_out import ASSET_ENTRYPOINT

#: Workers of the test cluster, and the flow runs each may run at once (so no one worker takes every asset).
WORKERS = 3
WORKER_LIMIT = 2


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, make_gypsum_server) -> Iterator[Cluster]:
    """PostgreSQL, the Prefect server, the pool, the deployment, the credentials blocks and three workers.

    Block ``gypsum`` reaches the gypsum server directly, ``gypsum-proxied`` through a fault proxy.
    """
    base = tmp_path_factory.mktemp("scale")
    gypsum = make_gypsum_server()
    with (
        FaultProxy(gypsum.url) as proxy,
        Postgres(base / "pg") as pg,
        PrefectServer(base / "prefect", pg.url) as prefect,
    ):
        prefect.cli("work-pool", "create", POOL, "--type", "process")
        elsewhere = base / "deploy-from-here"
        elsewhere.mkdir()
        # Only the per-asset deployment: the others' triggers would add runs of their own to the workers.
        prefect.deploy(
            REPO / "deployments" / "prefect.yaml",
            cwd=elsewhere,
            entrypoint=ASSET_ENTRYPOINT,
            env={"GYPSUM_FLOWS_SPEC": str(REPO / "deployments" / "specs" / "scrnaseq.yaml")},
        )
        # An admin token: a re-run recovers uploads that a killed worker left behind.
        save_block(prefect, BLOCK, gypsum.url, gypsum.tokens["admin"])
        save_block(prefect, PROXIED_BLOCK, proxy.url, gypsum.tokens["admin"])
        workers = [
            Worker(base / f"w{i}", prefect, POOL, name=f"w{i}", limit=WORKER_LIMIT, env=SHORT_UPLOADS)
            for i in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        try:
            yield Cluster(prefect, gypsum, workers, base, proxy)
        finally:
            for worker in workers:
                worker.stop()


@pytest.fixture(autouse=True)
def _workers_alive(cluster) -> None:
    """A test that killed a worker leaves it restarted for the next one."""
    for worker in cluster.workers:
        if worker.process is None or worker.process.poll() is not None:
            worker.start()
