"""The GypsumCredentials block: saved and loaded through Prefect, found by entry point, optional."""

from __future__ import annotations

from importlib.metadata import entry_points

from prefect import flow

from gypsum_flows import blocks
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.tasks import create_project, fetch_permissions, list_projects


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
