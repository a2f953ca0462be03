"""Caching proven on the server side: which task runs send requests, and which are served from cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prefect import flow
from task_helpers import flow_task_runs

from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.tasks import (
    fetch_latest,
    fetch_manifest,
    fetch_permissions,
    fetch_quota,
    fetch_summary,
    fetch_usage,
    list_assets,
    list_files,
    list_projects,
    list_versions,
    save_file,
    save_version,
)

FILES = {"a.txt": b"alpha", "sub/b.txt": b"bravo!", "sub/c.bin": bytes(range(256)) * 40}


def requests_during(server, fn):
    """Run ``fn()``; return its result and the (method, path) requests the server answered meanwhile."""
    before = len(server.request_log)
    result = fn()
    return result, server.request_log[before:]


def task_states(state, count: int) -> dict[str, str]:
    """Task run name -> final state name, for the ``count`` task runs of one flow run."""
    return {run.name: run.state.name for run in flow_task_runs(state.state_details.flow_run_id, count)}


def test_immutable_reads_are_served_from_cache_on_later_runs(
    fresh_gypsum_server, make_gypsum_server, publish, credentials, cache_dir
):
    server = fresh_gypsum_server
    publish(server, "cached", "basic", "v1", FILES)

    @flow
    def immutable_reads(creds) -> dict:
        return {
            "manifest": fetch_manifest("cached", "basic", "v1", credentials=creds),
            "summary": fetch_summary("cached", "basic", "v1", credentials=creds),
            "files": list_files("cached", "basic", "v1", credentials=creds),
            "file": save_file("cached", "basic", "v1", "sub/b.txt", credentials=creds),
            "version": save_version("cached", "basic", "v1", credentials=creds),
        }

    first, sent = requests_during(server, lambda: immutable_reads(credentials(server)))
    assert sent, "the first run must talk to the server"
    assert Path(first["file"]).read_bytes() == b"bravo!"
    assert Path(first["version"], "sub", "c.bin").read_bytes() == FILES["sub/c.bin"]

    second, sent = requests_during(server, lambda: immutable_reads(credentials(server)))
    assert sent == []
    assert second == first

    # Another identity (another token) on the same server shares the cache entries: the token is not in the key.
    third_state, sent = requests_during(
        server, lambda: immutable_reads(credentials(server, "stranger"), return_state=True)
    )
    assert sent == []
    assert third_state.result() == first
    states = task_states(third_state, 5)
    assert set(states.values()) == {"Cached"}, states

    # The same names on another server are another cache entry: the server URL is in the key.
    elsewhere = make_gypsum_server()
    publish(elsewhere, "cached", "basic", "v1", {"a.txt": b"ALPHA", "sub/b.txt": b"BRAVO!", "sub/c.bin": b"c"})
    other = immutable_reads(GypsumCredentials(url=elsewhere.url, cache_dir=str(cache_dir.parent / "other-cache")))
    assert other["manifest"]["sub/c.bin"]["size"] == 1
    assert Path(other["file"]).read_bytes() == b"BRAVO!"


def test_mutable_reads_and_probational_versions_always_ask_the_server(fresh_gypsum_server, publish, credentials):
    server = fresh_gypsum_server
    publish(server, "live", "basic", "v1", {"a.txt": b"one"})
    publish(server, "live", "basic", "v2", {"a.txt": b"two"}, probation=True)
    reader = credentials(server)

    @flow
    def mutable_reads() -> dict:
        return {
            "latest": fetch_latest("live", "basic", credentials=reader),
            "permissions": fetch_permissions("live", credentials=reader),
            "quota": fetch_quota("live", credentials=reader),
            "usage": fetch_usage("live", credentials=reader),
            "projects": list_projects(credentials=reader),
            "assets": list_assets("live", credentials=reader),
            "versions": list_versions("live", "basic", credentials=reader),
            "probation": fetch_summary("live", "basic", "v2", credentials=reader),
            "probation_files": list_files("live", "basic", "v2", credentials=reader),
        }

    first, sent_first = requests_during(server, mutable_reads)
    second, sent_second = requests_during(server, mutable_reads)
    assert first == second
    assert first["probation"]["on_probation"] is True
    assert sorted(sent_second) == sorted(sent_first)
    paths = [path for _, path in sent_second]
    for internal in ("..latest", "..permissions", "..quota", "..usage"):
        assert any(path.startswith("/file/live") and path.endswith(internal) for path in paths), internal
    assert sum(path.startswith("/list") for path in paths) == 4  # projects, assets, versions, files of v2
    assert sum(path.endswith("v2%2F..summary") for path in paths) >= 2  # probation: key check and read


def test_save_version_downloads_again_when_the_local_copy_is_gone_or_damaged(
    fresh_gypsum_server, publish, credentials, cache_dir
):
    server = fresh_gypsum_server
    publish(server, "heal", "basic", "v1", FILES)
    reader = credentials(server)

    @flow
    def fetch_version() -> str:
        return save_version("heal", "basic", "v1", credentials=reader)

    def file_gets(sent) -> set[str]:
        return {path for method, path in sent if method == "GET" and path.startswith("/file/heal%2Fbasic%2Fv1%2F")}

    every_file = {f"/file/heal%2Fbasic%2Fv1%2F{p.replace('/', '%2F')}" for p in FILES}
    folder, sent = requests_during(server, fetch_version)
    assert every_file <= file_gets(sent)
    requests_during(server, fetch_version)  # now keyed: the copy is intact

    shutil.rmtree(cache_dir)
    again, sent = requests_during(server, fetch_version)
    assert again == folder
    assert every_file <= file_gets(sent), "a deleted cache must be downloaded again, not served from cache"
    assert Path(folder, "sub", "c.bin").read_bytes() == FILES["sub/c.bin"]

    damaged = Path(folder, "sub", "c.bin")
    os.truncate(damaged, 10)
    repaired, sent = requests_during(server, fetch_version)
    assert "/file/heal%2Fbasic%2Fv1%2Fsub%2Fc.bin" in file_gets(sent)
    assert Path(repaired, "sub", "c.bin").read_bytes() == FILES["sub/c.bin"]
