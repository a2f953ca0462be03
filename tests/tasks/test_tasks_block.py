"""The GypsumCredentials block: saved and loaded through Prefect, found by entry point, optional; its typed client."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from faultproxy import FaultProxy
from prefect import flow
from testdata import write_files

from gypsum_flows import blocks, tasks
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.errors import GypsumNotFoundError
from gypsum_flows.tasks import create_project, fetch_permissions, list_projects

#: Operations that send nothing to the gypsum server: local work, or another host's (metadata index, schemas).
OFF_SERVER = {
    "prepare_directory_upload",
    "validate_metadata",
    "define_text_query",
    "search_metadata_text",
    "fetch_metadata_database",
    "fetch_metadata_schema",
}


def test_client_kwargs_hand_the_token_to_writes_only():
    block = GypsumCredentials(url="http://127.0.0.1:8787/", token="t0ken", cache_dir="/tmp/c")
    assert block.client_kwargs() == {"url": "http://127.0.0.1:8787/", "cache_dir": "/tmp/c"}
    assert block.client_kwargs(write=True)["token"] == "t0ken"
    assert GypsumCredentials().client_kwargs(write=True) == {}
    assert block.resolved_url() == "http://127.0.0.1:8787"
    assert "t0ken" not in repr(block) and "t0ken" not in repr(block.get_client())


def test_the_block_is_registered_for_prefect_and_survives_save_and_load(gypsum_server, unique_name):
    [entry] = [e for e in entry_points(group="prefect.collections") if e.name == "gypsum_flows"]
    assert entry.load() is blocks
    name = unique_name("creds")
    token = gypsum_server.tokens["owner"]
    GypsumCredentials(url=gypsum_server.url, token=token).save(name, overwrite=True)
    loaded = GypsumCredentials.load(name)
    assert loaded.url == gypsum_server.url and loaded.cache_dir is None
    assert loaded.token.get_secret_value() == token
    assert GypsumCredentials.get_block_type_slug() == "gypsum-credentials"


def test_get_client_fills_in_the_settings(gypsum_server, unique_name, cache_dir):
    project = unique_name("direct")
    admin = GypsumCredentials(url=gypsum_server.url, token=gypsum_server.tokens["admin"], cache_dir=str(cache_dir))
    gypsum = admin.get_client()
    gypsum.create_project(project, owners=["someone"])
    assert gypsum.fetch_permissions(project)["owners"] == ["someone"]
    assert project in gypsum.list_projects()


def test_the_typed_client_sends_the_token_with_writes_only(gypsum_server, unique_name, cache_dir, tmp_path):
    project = unique_name("bytoken")
    folder = write_files(tmp_path / "v1", {"a.txt": b"alpha", "deep/b.txt": b"bravo"})
    with FaultProxy(gypsum_server.url) as proxy:
        block = GypsumCredentials(url=proxy.url, token=gypsum_server.tokens["admin"], cache_dir=str(cache_dir))
        gypsum = block.get_client()
        gypsum.create_project(project, owners=[gypsum_server.logins["admin"]])
        gypsum.upload_directory(str(folder), project, "basic", "v1")
        assert f"POST /create/{project}" in proxy.authorized
        writes, requests = len(proxy.authorized), len(proxy.log)
        reads = {
            "fetch_latest": lambda: gypsum.fetch_latest(project, "basic"),
            "fetch_manifest": lambda: gypsum.fetch_manifest(project, "basic", "v1"),
            "fetch_summary": lambda: gypsum.fetch_summary(project, "basic", "v1"),
            "fetch_permissions": lambda: gypsum.fetch_permissions(project),
            "fetch_quota": lambda: gypsum.fetch_quota(project),
            "fetch_usage": lambda: gypsum.fetch_usage(project),
            "list_projects": lambda: gypsum.list_projects(),
            "list_assets": lambda: gypsum.list_assets(project),
            "list_versions": lambda: gypsum.list_versions(project, "basic"),
            "list_files": lambda: gypsum.list_files(project, "basic", "v1"),
            "public_s3_config": lambda: pytest.raises(GypsumNotFoundError, gypsum.public_s3_config),  # none here
            "save_file": lambda: gypsum.save_file(project, "basic", "v1", "deep/b.txt"),
            "save_version": lambda: gypsum.save_version(project, "basic", "v1"),
            "resolve_links": lambda: gypsum.resolve_links(project, "basic", "v1"),
            "clone_version": lambda: gypsum.clone_version(project, "basic", "v1", str(tmp_path / "clone")),
        }
        results = {name: read() for name, read in reads.items()}
    assert (
        set(reads) == {name for name in tasks.__all__ if "gypsum-write" not in getattr(tasks, name).tags} - OFF_SERVER
    )
    assert len(proxy.log) > requests and proxy.authorized[writes:] == []  # the reads went through, tokenless
    assert results["fetch_latest"] == "v1" and results["list_versions"] == ["v1"]
    assert (
        results["save_version"].startswith(str(cache_dir)) and (tmp_path / "clone" / "a.txt").read_bytes() == b"alpha"
    )


def test_without_a_block_tasks_use_the_client_defaults(gypsum_server, unique_name, monkeypatch, tmp_path):
    monkeypatch.setenv("GYPSUM_REST_URL", gypsum_server.url)
    monkeypatch.setenv("GYPSUM_TOKEN", gypsum_server.tokens["admin"])
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "env-cache"))
    project = unique_name("nodefaults")

    @flow
    def no_block() -> tuple:
        create_project(project, owners=["env-owner"])
        return fetch_permissions(project), list_projects()

    permissions, projects = no_block()
    assert permissions["owners"] == ["env-owner"]
    assert project in projects
