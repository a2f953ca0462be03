"""kill -9 of ``gypsum-flows publish`` mid-upload, then ``gypsum-flows recover`` and a re-run: all there, once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from faultproxy import Fault, FaultProxy
from recover_helpers import CLI, cli_env
from resilience_helpers import assert_clean, asset_files, server_manifests, write_batch

from gypsum_flows import client
from gypsum_flows.recover import read_lock

PROJECTS, PER_PROJECT = 2, 3


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_killed_batch_is_recovered_and_rerun_without_loss_or_duplicates(
    prefect_harness, fresh_gypsum_server, make_project, tmp_path
):
    import prefect.settings

    server = fresh_gypsum_server
    projects = [make_project(server) for _ in range(PROJECTS)]
    spec = write_batch(tmp_path / "batch", projects, PER_PROJECT)
    api = {"PREFECT_API_URL": prefect.settings.PREFECT_API_URL.value()}
    owner, admin = server.tokens["owner"], server.tokens["admin"]

    # Every file upload takes a second, so the kill lands while sessions are open.
    with FaultProxy(server.url, [Fault("slow", pattern=r"^PUT /", rate=1.0, delay=1.0)]) as proxy:
        env = cli_env(proxy.url, owner, tmp_path / "cache1", **api)
        batch = subprocess.Popen(
            [*CLI, "publish", str(spec), "--no-recover"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for(lambda: proxy.requests_matching(r"^POST /upload/complete/") >= 2, 180, "two completed uploads")
            opened = proxy.requests_matching(r"^POST /upload/start/")
            _wait_for(lambda: proxy.requests_matching(r"^POST /upload/start/") > opened, 60, "another upload")
            # The proxy logs a request before forwarding it: kill once the server holds that session's lock.
            _wait_for(lambda: any(read_lock(p, url=server.url) for p in projects), 60, "a project locked")
        finally:
            os.kill(batch.pid, signal.SIGKILL)
            batch.wait(30)
    locked = [p for p in projects if read_lock(p, url=server.url) is not None]
    assert locked, "the kill should leave at least one project locked"
    assert len(server_manifests(server, projects)) < PROJECTS * PER_PROJECT

    dry = _cli("recover", "--older-than", "0s", "--dry-run", "--json", env=cli_env(server.url, None, tmp_path / "c2"))
    assert dry.returncode == 0, dry.stderr
    planned = {a["project"]: a["action"] for a in json.loads(dry.stdout)["actions"]}
    assert planned == {p: "would-recover" for p in locked}
    assert [p for p in projects if read_lock(p, url=server.url) is not None] == locked

    done = _cli("recover", "--older-than", "0s", env=cli_env(server.url, admin, tmp_path / "c3"))
    assert done.returncode == 0, done.stderr
    assert sum(line.split()[0] == "recovered" for line in done.stdout.splitlines()[1:]) == len(locked), done.stdout
    assert all(read_lock(p, url=server.url) is None for p in projects)

    started = time.monotonic()
    rerun = _cli("publish", str(spec), "--no-recover", "--json", env=cli_env(server.url, owner, tmp_path / "c4", **api))
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    print(f"\nre-run took {time.monotonic() - started:.1f} s")
    outcomes = json.loads(rerun.stdout[rerun.stdout.index("[") :])
    kinds = sorted(o["outcome"] for o in outcomes)
    assert len(outcomes) == PROJECTS * PER_PROJECT and set(kinds) == {"published", "unchanged"}
    assert kinds.count("unchanged") >= 2

    assert_clean(server, projects)
    for p, project in enumerate(projects):
        assert sorted(client.list_assets(project, url=server.url)) == [
            f"asset{p * PER_PROJECT + a}" for a in range(PER_PROJECT)
        ]
        for a in range(PER_PROJECT):
            seed = p * PER_PROJECT + a
            assert client.list_versions(project, f"asset{seed}", url=server.url) == ["v1"]
            manifest = client.fetch_manifest(project, f"asset{seed}", "v1", url=server.url, cache_dir=False)
            assert {k: v["size"] for k, v in manifest.items()} == {k: len(v) for k, v in asset_files(seed).items()}
            saved = client.save_version(project, f"asset{seed}", "v1", url=server.url, cache_dir=str(tmp_path / "c5"))
            for rel, data in asset_files(seed).items():
                with open(os.path.join(saved, rel), "rb") as handle:
                    assert handle.read() == data
