"""The published reference client, gypsum_client 0.2.0, against the local server (url/cache_dir/token explicit)."""

from __future__ import annotations

import os

import gypsum_client as gc
import pytest
from server_helpers import md5_hex


@pytest.fixture
def env(api, project, tmp_path):
    """(api, project, url, cache folder, tokens by role)."""
    return api, project, api.url, str(tmp_path / "cache"), api.server.tokens


def write(folder, files: dict[str, bytes]) -> str:
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return str(folder)


def test_upload_read_and_links(env, tmp_path):
    api, project, url, cache, tokens = env
    files = {"a.txt": b"alpha\n", "sub/b.txt": b"beta\n" * 10}
    src = write(tmp_path / "v1", files)
    init = gc.start_upload(project, "asset", "v1", list(files), directory=src, url=url, token=tokens["owner"])
    gc.upload_files(init, directory=src, url=url)
    gc.complete_upload(init, url=url)
    # Its dedup flag is inverted (a BUG in section 6 of docs/gypsum-api.md): deduplicate=False sends "dedup", so v2 stores no bytes.
    init2 = gc.start_upload(
        project, "asset", "v2", list(files), directory=src, deduplicate=False, url=url, token=tokens["owner"]
    )
    assert init2["file_urls"] == []
    gc.complete_upload(init2, url=url)

    assert project in gc.list_projects(url=url)
    assert gc.list_assets(project, url=url) == ["asset"]
    assert gc.list_versions(project, "asset", url=url) == ["v1", "v2"]
    assert gc.list_files(project, "asset", "v1", url=url) == ["..manifest", "..summary", "a.txt", "sub/b.txt"]
    assert gc.fetch_latest(project, "asset", url=url) == "v2"
    manifest = gc.fetch_manifest(project, "asset", "v2", cache_dir=cache, url=url)
    assert manifest["a.txt"]["md5sum"] == md5_hex(files["a.txt"]) and "link" in manifest["a.txt"]
    assert gc.fetch_summary(project, "asset", "v1", cache_dir=cache, url=url)["upload_user_id"] == "owner-user"
    assert gc.fetch_usage(project, url=url) == sum(map(len, files.values()))
    assert gc.fetch_quota(project, url=url)["baseline"] == 10 * 10**9
    assert gc.fetch_permissions(project, url=url)["owners"] == ["owner-user"]

    saved = gc.save_file(project, "asset", "v2", "sub/b.txt", cache_dir=cache, url=url)
    assert open(saved, "rb").read() == files["sub/b.txt"]
    folder = gc.save_version(project, "asset", "v2", cache_dir=cache, url=url)
    assert open(os.path.join(folder, "a.txt"), "rb").read() == files["a.txt"]
    v1_copy = os.path.join(cache, "bucket", project, "asset", "v1", "a.txt")
    assert os.path.samefile(os.path.join(folder, "a.txt"), v1_copy)  # relinked to the ancestor


def test_upload_directory_abort_and_probation(env, tmp_path):
    api, project, url, cache, tokens = env
    src = write(tmp_path / "d", {"x.txt": b"x" * 100})
    assert gc.upload_directory(src, project, "dir", "v1", cache_dir=cache, url=url, token=tokens["owner"])
    assert gc.fetch_latest(project, "dir", url=url) == "v1"

    init = gc.start_upload(
        project, "dir", "v2", ["x.txt"], directory=src, url=url, token=tokens["owner"], deduplicate=True
    )
    gc.abort_upload(init, url=url)
    assert gc.list_versions(project, "dir", url=url) == ["v1"]

    # An untrusted uploader is always put on probation; the owner approves, the uploader rejects its own.
    for version in ("p1", "p2"):
        init = gc.start_upload(
            project, "dir", version, ["x.txt"], directory=src, deduplicate=True, url=url, token=tokens["uploader"]
        )
        gc.upload_files(init, directory=src, url=url)
        gc.complete_upload(init, url=url)
        assert api.json(f"{project}/dir/{version}/..summary")["on_probation"] is True
    gc.approve_probation(project, "dir", "p1", url=url, token=tokens["owner"])
    assert gc.fetch_latest(project, "dir", url=url) == "p1"
    gc.reject_probation(project, "dir", "p2", url=url, token=tokens["uploader"])
    assert gc.list_versions(project, "dir", url=url) == ["p1", "v1"]


def test_admin_calls(api, unique_name):
    url, tokens = api.url, api.server.tokens
    project = unique_name("ref")
    gc.create_project(
        project,
        owners=["owner-user"],
        uploaders=[{"id": "trusted-user", "trusted": True}],
        baseline=1000,
        url=url,
        token=tokens["admin"],
    )
    assert gc.fetch_quota(project, url=url)["baseline"] == 1000
    gc.set_quota(project, growth_rate=5, url=url, token=tokens["admin"])
    assert gc.fetch_quota(project, url=url)["growth_rate"] == 5
    gc.set_permissions(
        project,
        owners=["someone"],
        uploaders=[{"id": "u2", "until": "2099-01-01T00:00:00Z"}],
        url=url,
        token=tokens["owner"],
    )
    perms = gc.fetch_permissions(project, url=url)
    assert sorted(perms["owners"]) == ["owner-user", "someone"]
    assert [u["id"] for u in perms["uploaders"]] == ["trusted-user", "u2"]

    init = gc.start_upload(
        project, "a", "v1", [{"path": "f", "size": 3, "md5sum": md5_hex(b"abc")}], url=url, token=tokens["trusted"]
    )
    assert [f["path"] for f in init["file_urls"]] == ["f"]
    gc.abort_upload(init, url=url)
    api.upload(project, "a", "v1", {"f": b"abc"}, role="owner")
    api.upload(project, "a", "v2", {"f": b"abcd"}, role="owner")
    assert gc.refresh_usage(project, url=url, token=tokens["admin"]) == 7
    assert gc.refresh_latest(project, "a", url=url, token=tokens["admin"]) == "v2"
    assert gc.remove_version(project, "a", "v2", url=url, token=tokens["admin"])
    assert gc.fetch_latest(project, "a", url=url) == "v1"
    assert gc.fetch_usage(project, url=url) == 3
    assert gc.remove_asset(project, "a", url=url, token=tokens["admin"])
    assert gc.list_assets(project, url=url) == []
    assert gc.remove_project(project, url=url, token=tokens["admin"])
    assert project not in gc.list_projects(url=url)
    with pytest.raises(Exception, match="403"):
        gc.create_project(unique_name("no"), owners=["x"], url=url, token=tokens["owner"])


def test_set_access_token_against_github_endpoints(api, tmp_path):
    cache = str(tmp_path / "cache")
    info = gc.set_access_token(api.server.tokens["org_member"], github_url=api.url + "/github", cache_dir=cache)
    assert info["name"] == "org-member" and info["expires"] == float("inf")
    with pytest.raises(Exception, match="401 and reason: .*Bad credentials"):
        gc.set_access_token("not-a-token", github_url=api.url + "/github", cache_dir=cache)
