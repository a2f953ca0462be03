"""The plugin's own behaviour against the local server: queries, latest, inventory, retrieval, publishing, glob."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import sys
from pathlib import Path

import configargparse
import pytest
from snakemake.io import IOCache
from snakemake_helpers import FIRST, LINKED, data_requests, make_provider
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_storage_plugins.registry import StoragePluginRegistry

from gypsum_flows import client
from gypsum_flows.constants import LOCK_FILE
from snakemake_storage_plugin_gypsum import StorageProvider, StorageProviderSettings
from snakemake_storage_plugin_gypsum.query import parse_query

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faultproxy import Fault, FaultProxy  # noqa: E402


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("s3://bucket/key", "must start with 'gypsum://'"),
        ("gypsum://p/a", "needs a project, an asset and a version"),
        ("gypsum://p//v/x", "asset name cannot be empty"),
        ("gypsum://p/a/v/x/", "empty part"),
        ("gypsum://p/a/v/x//y", "empty part"),
        ("gypsum://p/a/v/x/../y", "cannot contain '..' segments"),
        ("gypsum://p/a/v/..manifest", "'..manifest' is an internal gypsum name"),
        ("gypsum://..p/a/v", "project name cannot start with '..'"),
        ("gypsum://p/a/./x", "version name cannot be '.'"),
    ],
)
def test_invalid_queries_say_why(query, reason):
    result = StorageProvider.is_valid_query(query)
    assert not result and reason in str(result)


def test_queries_keep_case_and_accept_wildcards():
    assert parse_query("gypsum://test-R/Basic/V1/Foo/Bar.txt").key == "test-R/Basic/V1/Foo/Bar.txt"
    assert StorageProvider.is_valid_query("gypsum://{project}/a/{version,[^/]+}/{sample}.csv")


def test_discovered_by_snakemake_with_flags_and_environment_variables(monkeypatch):
    plugin = StoragePluginRegistry().get_plugin("gypsum")
    parser = configargparse.ArgumentParser()
    plugin.register_cli_args(parser, "storage")
    monkeypatch.setenv("SNAKEMAKE_STORAGE_GYPSUM_TOKEN", "from-env")
    monkeypatch.setenv("SNAKEMAKE_STORAGE_GYPSUM_DEDUPLICATE", "no")
    args = parser.parse_args(
        [
            "--storage-gypsum-url",
            "http://127.0.0.1:9",
            "--storage-gypsum-probation",
            "yes",
            "--storage-gypsum-concurrent",
            "3",
            "--storage-gypsum-max-requests-per-second",
            "5",
        ]
    )
    settings = plugin.get_settings(args).get_settings(None)
    assert (
        settings.url,
        settings.token,
        settings.probation,
        settings.deduplicate,
        settings.concurrent,
        float(settings.max_requests_per_second),
    ) == ("http://127.0.0.1:9", "from-env", True, False, 3, 5.0)
    assert "from-env" not in repr(settings)


def test_latest_is_resolved_once_per_run_and_logged(published, settings_for, tmp_path, caplog):
    provider = make_provider(tmp_path, settings_for())
    before = len(published.server.request_log)
    with caplog.at_level(logging.INFO, logger="gypsum-test"):
        objects = [provider.object(published.query("latest", name)) for name in ("counts.csv", "coldata.csv")]
        assert [o.local_suffix() for o in objects] == [
            f"{published.project}/zeisel-brain/{LINKED}/{n}" for n in ("counts.csv", "coldata.csv")
        ]
        assert all(o.exists() for o in objects)
    latest = [p for _, p in published.server.request_log[before:] if p.endswith("..latest")]
    assert len(latest) == 1
    assert f"zeisel-brain/latest is version '{LINKED}'" in caplog.text


def test_one_manifest_fills_the_inventory_of_every_file(published, settings_for, tmp_path):
    provider = make_provider(tmp_path, settings_for())
    counts, coldata = (provider.object(published.query(FIRST, n)) for n in ("counts.csv", "coldata.csv"))
    cache = IOCache(max_wait_time=10)
    before = len(published.server.request_log)
    asyncio.run(counts.inventory(cache))
    asyncio.run(coldata.inventory(cache))
    manifests = [p for _, p in published.server.request_log[before:] if p.endswith("..manifest")]
    assert len(manifests) == 1
    key = coldata.cache_key()
    data = (published.source / "coldata.csv").read_bytes()
    assert cache.exists_in_storage[key] and cache.size[key] == len(data)
    assert cache.checksum[key] == f"md5:{hashlib.md5(data).hexdigest()}" == coldata.checksum()
    assert cache.mtime[key].storage() == coldata.mtime()


def test_mtime_is_the_versions_upload_finish(published, settings_for, tmp_path):
    from datetime import timezone

    obj = make_provider(tmp_path, settings_for()).object(published.query(FIRST, "counts.csv"))
    finish = client.fetch_summary(published.project, "zeisel-brain", FIRST, cache_dir=False, url=published.url)
    assert obj.mtime() == finish["upload_finish"].replace(tzinfo=timezone.utc).timestamp()


def test_retrieval_links_from_the_cache_read_only_never_symlinks(published, settings_for, tmp_path):
    settings = settings_for()
    obj = make_provider(tmp_path, settings).object(published.query(LINKED, "counts.csv"))
    obj.retrieve_object()
    local = obj.local_path()
    assert not local.is_symlink()
    assert local.read_bytes() == (published.source / "counts.csv").read_bytes()
    # The link entry was resolved to its ancestor: the cached file is FIRST's, shared with the local copy.
    ancestor = Path(settings.cache_dir, "bucket", published.project, "zeisel-brain", FIRST, "counts.csv")
    assert os.stat(local).st_ino == os.stat(ancestor).st_ino
    assert stat.S_IMODE(os.stat(local).st_mode) & 0o222 == 0


def test_a_second_provider_reuses_the_gypsum_cache(published, settings_for, tmp_path):
    settings = settings_for()
    make_provider(tmp_path / "one", settings).object(published.query(FIRST)).retrieve_object()
    before = len(published.server.request_log)
    again = make_provider(tmp_path / "two", settings).object(published.query(FIRST))
    again.retrieve_object()
    assert sorted(os.listdir(again.local_path())) == ["coldata.csv", "counts.csv"]
    assert data_requests(published.server, before) == []


def test_single_file_output_into_existing_version_is_refused(published, settings_for, tmp_path):
    obj = make_provider(tmp_path, settings_for()).object(published.query(FIRST, "new.txt"))
    obj.local_path().parent.mkdir(parents=True)
    obj.local_path().write_text("x")
    with pytest.raises(WorkflowError, match="already exists, and gypsum versions are immutable"):
        obj.store_object()


def test_single_file_output_into_a_new_version_publishes_it(published, settings_for, tmp_path, unique_name):
    version = unique_name("one")
    obj = make_provider(tmp_path, settings_for()).object(f"gypsum://{published.project}/single/{version}/sub/only.txt")
    obj.local_path().parent.mkdir(parents=True)
    obj.local_path().write_text("only")
    (obj.local_path().parent / "stray.txt").write_text("not published")
    obj.store_object()
    assert obj.exists()
    manifest = client.fetch_manifest(published.project, "single", version, cache_dir=False, url=published.url)
    assert list(manifest) == ["sub/only.txt"]


@pytest.mark.parametrize("query", [f"{FIRST}", f"{FIRST}/counts.csv"])
def test_remove_refuses_published_versions_and_files(published, settings_for, tmp_path, query):
    version, _, path = query.partition("/")
    obj = make_provider(tmp_path, settings_for()).object(published.query(version, path or None))
    with pytest.raises(WorkflowError, match="refusing to remove .* gypsum versions are immutable"):
        obj.remove()
    assert obj.exists()


def test_outputs_need_an_explicit_version(published, settings_for, tmp_path):
    obj = make_provider(tmp_path, settings_for()).object(published.query("latest"))
    with pytest.raises(WorkflowError, match="outputs need an explicit version, not 'latest'"):
        obj.store_object()


def test_glob_lists_versions_and_files(published, settings_for, tmp_path):
    provider = make_provider(tmp_path, settings_for())
    found = set(
        provider.object(f"gypsum://{published.project}/zeisel-brain/{{version}}/{{name}}.csv").list_candidate_matches()
    )
    for version in (FIRST, LINKED):
        assert {published.query(version, "counts.csv"), published.query(version, "coldata.csv")} <= found
    with pytest.raises(WorkflowError, match="needs a fixed project and asset"):
        list(provider.object("gypsum://{project}/a/v/x").list_candidate_matches())


def test_errors_name_the_query_and_hide_the_token(published, settings_for, tmp_path, unique_name):
    settings = settings_for("stranger")
    obj = make_provider(tmp_path, settings).object(f"gypsum://{published.project}/refused/{unique_name('v')}")
    obj.local_path().mkdir(parents=True)
    (obj.local_path() / "a.txt").write_text("a")
    with pytest.raises(WorkflowError) as caught:
        obj.store_object()
    text = str(caught.value) + repr(caught.value.__cause__)
    assert f"gypsum storage {obj.query}: 403" in str(caught.value)
    assert settings.token not in text
    missing = make_provider(tmp_path, settings).object(published.query(FIRST, "nope.csv"))
    assert not missing.exists()
    with pytest.raises(WorkflowError, match=f"gypsum storage {missing.query}: does not exist"):
        missing.retrieve_object()


def test_failed_upload_is_aborted_leaving_no_version_and_no_lock(published, settings_for, tmp_path, unique_name):
    version = unique_name("broken")
    with FaultProxy(published.url, [Fault("corrupt_request", pattern=r"^PUT ", rate=1.0)]) as proxy:
        settings = StorageProviderSettings(
            url=proxy.url, cache_dir=settings_for().cache_dir, token=published.server.tokens["owner"]
        )
        obj = make_provider(tmp_path, settings).object(f"gypsum://{published.project}/aborted/{version}")
        obj.local_path().mkdir(parents=True)
        (obj.local_path() / "data.txt").write_text("will arrive corrupted")
        with pytest.raises(WorkflowError, match=f"gypsum storage {obj.query}"):
            obj.store_object()
        assert proxy.counts["corrupt_request"] >= 1
    assert version not in client.list_versions(published.project, "aborted", url=published.url)
    assert not (published.server.root / published.project / LOCK_FILE).exists()
