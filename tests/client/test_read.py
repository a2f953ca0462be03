"""fetch_* and list_* against the local server, on test-R/basic v1-v3."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from client_helpers import BAR, BLAH, md5_hex

from gypsum_flows import client
from gypsum_flows.errors import GypsumNotFoundError


def link(project: str, version: str, path: str, ancestor: str | None = None) -> dict:
    out = {"project": project, "asset": "basic", "version": version, "path": path}
    if ancestor:
        out["ancestor"] = {**out, "version": ancestor}
    return out


def test_listings(basic):
    assert basic.project in client.list_projects(url=basic.url)
    assert "..logs" not in client.list_projects(url=basic.url)
    assert client.list_assets(basic.project, url=basic.url) == ["basic"]
    assert client.list_versions(basic.project, "basic", url=basic.url) == ["v1", "v2", "v3"]
    assert client.list_versions(basic.project, "nothing-here", url=basic.url) == []
    assert client.list_files(basic.project, "basic", "v1", url=basic.url) == [
        "..manifest",
        "..summary",
        "blah.txt",
        "foo/bar.txt",
    ]
    assert client.list_files(basic.project, "basic", "v2", url=basic.url) == [
        "..links",
        "..manifest",
        "..summary",
        "foo/..links",
    ]
    assert client.list_files(basic.project, "basic", "v1", prefix="foo/", url=basic.url) == ["foo/bar.txt"]
    assert client.list_files(basic.project, "basic", "v1", include_dot=False, url=basic.url) == [
        "blah.txt",
        "foo/bar.txt",
    ]


def test_manifests_carry_links_and_ancestors(basic, cache):
    p = basic.project
    v1 = client.fetch_manifest(p, "basic", "v1", cache_dir=str(cache), url=basic.url)
    assert v1 == {
        "blah.txt": {"size": len(BLAH), "md5sum": md5_hex(BLAH)},
        "foo/bar.txt": {"size": len(BAR), "md5sum": md5_hex(BAR)},
    }
    v2 = client.fetch_manifest(p, "basic", "v2", cache_dir=str(cache), url=basic.url)
    assert v2["blah.txt"]["link"] == link(p, "v1", "blah.txt")
    v3 = client.fetch_manifest(p, "basic", "v3", cache_dir=str(cache), url=basic.url)
    assert v3["foo/bar.txt"] == {"size": len(BAR), "md5sum": md5_hex(BAR), "link": link(p, "v2", "foo/bar.txt", "v1")}
    # Cached where gypsum_client keeps it, and readable without the cache too.
    assert (cache / "bucket" / p / "basic" / "v3" / "..manifest").is_file()
    assert client.fetch_manifest(p, "basic", "v3", cache_dir=False, url=basic.url) == v3


def test_summary_latest_and_project_files(basic, cache, gypsum_server):
    p = basic.project
    summary = client.fetch_summary(p, "basic", "v1", cache_dir=str(cache), url=basic.url)
    assert summary["upload_user_id"] == gypsum_server.logins["owner"]
    assert isinstance(summary["upload_start"], datetime) and summary["upload_start"].tzinfo is None
    assert summary["upload_start"] <= summary["upload_finish"]
    assert abs(datetime.utcnow() - summary["upload_finish"]) < timedelta(hours=1)
    assert "on_probation" not in summary
    assert client.fetch_latest(p, "basic", url=basic.url) == "v3"
    assert client.fetch_usage(p, url=basic.url) == len(BLAH) + len(BAR)
    assert client.fetch_quota(p, url=basic.url) == {
        "baseline": 10 * 10**9,
        "growth_rate": 20 * 10**9,
        "year": datetime.now().year,
    }
    assert client.fetch_permissions(p, url=basic.url) == {"owners": [gypsum_server.logins["owner"]], "uploaders": []}


def test_missing_things_are_typed_not_found(basic):
    with pytest.raises(GypsumNotFoundError) as info:
        client.fetch_latest(basic.project, "no-such-asset", url=basic.url)
    assert info.value.status == 404
    assert info.value.reason == f"{basic.project}/no-such-asset has no latest version: the asset does not exist"
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(GypsumNotFoundError) as info:
        client.fetch_manifest(basic.project, "basic", "v9", cache_dir=False, url=basic.url)
    assert info.value.reason == f"version 'v9' of {basic.project}/basic does not exist (its versions: v1, v2, v3)"


def test_defaults_are_read_at_call_time(basic, tmp_path, monkeypatch):
    monkeypatch.setenv("GYPSUM_REST_URL", basic.url + "/")
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "env-cache"))
    assert client.rest_url() == basic.url
    assert client.fetch_latest(basic.project, "basic") == "v3"
    client.fetch_manifest(basic.project, "basic", "v1")
    assert (tmp_path / "env-cache" / "bucket" / basic.project / "basic" / "v1" / "..manifest").is_file()


def test_rest_url_and_cache_directory_setters(tmp_path, monkeypatch):
    monkeypatch.delenv("GYPSUM_REST_URL", raising=False)
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "a"))
    assert client.rest_url() == "https://gypsum.artifactdb.com"
    assert client.cache_directory() == str(tmp_path / "a")
    try:
        assert client.rest_url("http://127.0.0.1:1/") == "http://127.0.0.1:1"  # returns the new value
        assert client.cache_directory(str(tmp_path / "b")) == str(tmp_path / "a")  # returns the previous one
        assert client.cache_directory() == str(tmp_path / "b")
        assert client.rest_url() == "http://127.0.0.1:1"
    finally:
        from gypsum_flows import _http, cache

        _http._rest_url_override.clear()
        cache._cache_dir_override.clear()
    assert client.cache_directory() == str(tmp_path / "a")


def test_probational_summary_is_not_cached(project, gypsum_server, cache, tmp_path):
    url, tokens = gypsum_server.url, gypsum_server.tokens
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.txt").write_bytes(b"x")
    client.upload_directory(
        str(tmp_path / "src"), project, "a", "v1", probation=True, url=url, token=tokens["owner"], cache_dir=str(cache)
    )
    summary = client.fetch_summary(project, "a", "v1", cache_dir=str(cache), url=url)
    assert summary["on_probation"] is True
    assert not os.path.exists(cache / "bucket" / project / "a" / "v1" / "..summary")
    client.approve_probation(project, "a", "v1", url=url, token=tokens["owner"])
    assert "on_probation" not in client.fetch_summary(project, "a", "v1", cache_dir=str(cache), url=url)
