"""Uploads, deduplication, probation, permissions, quota, usage, refresh, removal and unlocking."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from client_helpers import BASIC_FILES, md5_hex
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.client._util import fetch_json
from gypsum_flows.errors import (
    GypsumInvalidRequestError,
    GypsumLockedError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumQuotaExceededError,
)


def test_start_upload_complete_and_dedup_flag(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", BASIC_FILES)
    init = client.start_upload(
        project, "a", "v1", ["blah.txt", "foo/bar.txt"], directory=str(src), url=url, token=owner
    )
    assert sorted(init) == ["abort_url", "complete_url", "file_urls", "session_token"]
    assert [f["path"] for f in init["file_urls"]] == ["blah.txt", "foo/bar.txt"]
    assert client.upload_files(init, directory=str(src), url=url) is None
    assert client.complete_upload(init, url=url) is None
    assert client.fetch_latest(project, "a", url=url) == "v1"

    # deduplicate=True sends "dedup": nothing to upload, the files become links to v1.
    init = client.start_upload(
        project, "a", "v2", ["blah.txt", "foo/bar.txt"], directory=str(src), url=url, token=owner
    )
    assert init["file_urls"] == []
    client.complete_upload(init, url=url)
    assert client.fetch_manifest(project, "a", "v2", cache_dir=False, url=url)["blah.txt"]["link"]["version"] == "v1"
    # deduplicate=False sends "simple": the files are uploaded again.
    init = client.start_upload(
        project, "a", "v3", ["blah.txt"], directory=str(src), deduplicate=False, url=url, token=owner
    )
    assert [f["path"] for f in init["file_urls"]] == ["blah.txt"]
    client.abort_upload(init, url=url)
    assert client.list_versions(project, "a", url=url) == ["v1", "v2"]


def test_file_dicts_links_and_keys_with_spaces(project, gypsum_server, tmp_path, cache):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    data = b"spaced out\n"
    write_files(tmp_path / "src", {"my dir/a file.txt": data})
    files = [{"path": "my dir/a file.txt", "size": len(data), "md5sum": md5_hex(data)}]
    init = client.start_upload(project, "sp ace", "v 1", files, url=url, token=owner)
    client.upload_files(init, directory=str(tmp_path / "src"), url=url, concurrent=1)
    client.complete_upload(init, url=url)
    assert client.list_files(project, "sp ace", "v 1", include_dot=False, url=url) == ["my dir/a file.txt"]
    got = client.save_file(project, "sp ace", "v 1", "my dir/a file.txt", cache_dir=str(cache), url=url)
    assert open(got, "rb").read() == data
    link = {
        "from.path": "again.txt",
        "to.project": project,
        "to.asset": "sp ace",
        "to.version": "v 1",
        "to.path": "my dir/a file.txt",
    }
    init = client.start_upload(project, "sp ace", "v 2", [], links=[link], url=url, token=owner)
    client.complete_upload(init, url=url)
    again = client.save_file(project, "sp ace", "v 2", "again.txt", cache_dir=str(cache), url=url)
    assert os.path.samefile(again, got)


def test_bad_input_is_rejected_before_or_by_the_server(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    with pytest.raises(ValueError, match="not a mix"):
        client.start_upload(project, "a", "v1", ["x", {"path": "y", "size": 1, "md5sum": "0"}], url=url, token=owner)
    with pytest.raises(ValueError, match="cannot start with '..'"):
        client.start_upload(project, "..a", "v1", [], url=url, token=owner)
    bad = [{"path": "/abs.txt", "size": 1, "md5sum": md5_hex(b"x")}]
    with pytest.raises(GypsumInvalidRequestError, match="cannot start or end with '/'"):
        client.start_upload(project, "a", "v1", bad, url=url, token=owner)
    # The failed start left no lock: a normal upload works.
    client.upload_directory(
        str(write_files(tmp_path / "ok", {"x.txt": b"x"})), project, "a", "v1", url=url, token=owner
    )
    with pytest.raises(GypsumInvalidRequestError, match="already exists"):
        client.upload_directory(str(tmp_path / "ok"), project, "a", "v1", url=url, token=owner)
    # The existing version is untouched (the reference server deleted it here: the data-loss BUG).
    assert client.list_files(project, "a", "v1", include_dot=False, url=url) == ["x.txt"]
    assert "upload_finish" in client.fetch_summary(project, "a", "v1", cache_dir=False, url=url)


def test_failure_mid_upload_aborts_and_names_the_file(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"good.txt": b"good", "bad.txt": b"original"})
    init = client.start_upload(project, "a", "v1", ["good.txt", "bad.txt"], directory=str(src), url=url, token=owner)
    (src / "bad.txt").write_bytes(b"changed after start")  # its MD5 no longer matches the signed one
    with pytest.raises(GypsumInvalidRequestError, match="bad.txt"):
        client.upload_files(init, directory=str(src), url=url)
    client.abort_upload(init, url=url)
    assert client.list_versions(project, "a", url=url) == []

    # upload_directory aborts by itself: here the second file vanishes once the first is uploaded.
    def vanish(progress):
        if progress.files_done == 1:
            os.unlink(src / "good.txt")

    with pytest.raises(FileNotFoundError, match="good.txt"):
        client.upload_directory(str(src), project, "a", "v1", url=url, token=owner, concurrent=1, progress=vanish)
    assert client.list_versions(project, "a", url=url) == []
    with pytest.raises(GypsumNotFoundError):
        fetch_json(f"{project}/..LOCK", url)


def test_probation_approve_and_reject(project, gypsum_server, tmp_path):
    url, tokens = gypsum_server.url, gypsum_server.tokens
    src = str(write_files(tmp_path / "src", {"x.txt": b"x"}))
    # An untrusted uploader is always on probation.
    client.upload_directory(src, project, "a", "v1", url=url, token=tokens["uploader"])
    assert client.fetch_summary(project, "a", "v1", cache_dir=False, url=url)["on_probation"] is True
    with pytest.raises(GypsumNotFoundError):
        client.fetch_latest(project, "a", url=url)
    with pytest.raises(GypsumPermissionError):
        client.approve_probation(project, "a", "v1", url=url, token=tokens["uploader"])
    client.approve_probation(project, "a", "v1", url=url, token=tokens["owner"])
    assert client.fetch_latest(project, "a", url=url) == "v1"
    # A trusted uploader may ask for probation, and reject their own upload.
    client.upload_directory(src, project, "a", "v2", probation=True, url=url, token=tokens["trusted"])
    client.reject_probation(project, "a", "v2", url=url, token=tokens["trusted"])
    assert client.list_versions(project, "a", url=url) == ["v1"]
    with pytest.raises(GypsumInvalidRequestError, match="non-probational"):
        client.approve_probation(project, "a", "v1", url=url, token=tokens["owner"])


def test_permissions_append_and_replace(project, gypsum_server):
    url, tokens, logins = gypsum_server.url, gypsum_server.tokens, gypsum_server.logins
    until = (datetime.utcnow() + timedelta(days=3)).replace(microsecond=0)
    with pytest.raises(GypsumPermissionError):
        client.set_permissions(project, owners=["x"], url=url, token=tokens["stranger"])
    client.set_permissions(
        project,
        owners=["new-owner", logins["owner"]],
        uploaders=[{"id": "temp", "until": until, "asset": "a"}],
        url=url,
        token=tokens["owner"],
    )
    perms = client.fetch_permissions(project, url=url)
    assert perms["owners"] == [logins["owner"], "new-owner"]
    assert [u["id"] for u in perms["uploaders"]] == [logins["uploader"], logins["trusted"], "temp"]
    assert perms["uploaders"][2] == {"id": "temp", "until": until, "asset": "a"}
    client.set_permissions(project, uploaders=[{"id": "only"}], append=False, url=url, token=tokens["owner"])
    perms = client.fetch_permissions(project, url=url)
    assert perms["uploaders"] == [{"id": "only"}] and perms["owners"] == [logins["owner"], "new-owner"]


def test_quota_usage_and_refresh(project, gypsum_server, tmp_path):
    url, tokens = gypsum_server.url, gypsum_server.tokens
    src = str(write_files(tmp_path / "src", {"x.txt": b"x" * 100}))
    client.set_quota(project, baseline=150, growth_rate=0, year=datetime.now().year, url=url, token=tokens["admin"])
    assert client.fetch_quota(project, url=url)["baseline"] == 150
    client.upload_directory(src, project, "a", "v1", url=url, token=tokens["owner"])
    assert client.fetch_usage(project, url=url) == 100
    with pytest.raises(GypsumQuotaExceededError):
        client.upload_directory(src, project, "a", "v2", deduplicate=False, url=url, token=tokens["owner"])
    with pytest.raises(GypsumPermissionError):
        client.set_quota(project, baseline=10**12, url=url, token=tokens["owner"])
    assert client.refresh_usage(project, url=url, token=tokens["admin"]) == 100
    assert client.refresh_latest(project, "a", url=url, token=tokens["admin"]) == "v1"
    assert client.refresh_latest(project, "nothing", url=url, token=tokens["admin"]) is None


def test_removal_and_unlock(project, gypsum_server, tmp_path):
    url, tokens = gypsum_server.url, gypsum_server.tokens
    admin = tokens["admin"]
    src = str(write_files(tmp_path / "src", {"x.txt": b"x"}))
    for version in ("v1", "v2"):
        client.upload_directory(src, project, "a", version, deduplicate=False, url=url, token=tokens["owner"])
    client.upload_directory(src, project, "b", "v1", url=url, token=tokens["owner"])
    with pytest.raises(GypsumPermissionError):
        client.remove_version(project, "a", "v2", url=url, token=tokens["owner"])
    assert client.remove_version(project, "a", "v2", url=url, token=admin) is True
    assert client.fetch_latest(project, "a", url=url) == "v1"
    assert client.remove_asset(project, "b", url=url, token=admin) is True
    assert client.list_assets(project, url=url) == ["a"]
    # A stale lock (an upload never finished) blocks others until unlocked.
    stale = client.start_upload(project, "a", "v3", [], url=url, token=tokens["owner"])
    with pytest.raises(GypsumLockedError):
        client.start_upload(project, "a", "v4", [], url=url, token=tokens["owner"])
    assert client.unlock_project(project, url=url, token=admin) is None
    client.remove_version(project, "a", "v3", url=url, token=admin)
    client.upload_directory(src, project, "a", "v4", url=url, token=tokens["owner"])
    with pytest.raises(GypsumPermissionError):
        client.complete_upload(stale, url=url)
    assert client.remove_project(project, url=url, token=admin) is True
    assert project not in client.list_projects(url=url)
