"""Temporary files on the root's own file system (a root that is a mount point works), hidden, swept at start;
JSON nested too deeply is a 400."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
from pathlib import Path

import pytest
import requests
from server_helpers import Api, assert_error

from gypsum_flows.server import serve_in_thread

DATA = {"x.bin": b"stored on its own file system\n", "sub/y.txt": b"y\n"}


@pytest.fixture
def mounted_root(tmp_path):
    """``tmp_path/root``: a tmpfs of its own, so the root and its parent are different file systems."""
    root = tmp_path / "root"
    root.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=True)


def _api_on(gypsum_server, handle) -> Api:
    """An Api for the server ``handle``, with the session server's users."""
    return Api(dataclasses.replace(gypsum_server, url=handle.url, root=handle.root, handle=handle))


def test_a_root_that_is_a_mount_point_stores_and_serves_a_version(gypsum_server, mounted_root):
    assert mounted_root.stat().st_dev != mounted_root.parent.stat().st_dev
    handle = serve_in_thread(mounted_root, gypsum_server.users_file)
    try:
        api = _api_on(gypsum_server, handle)
        owners = {"owners": [gypsum_server.logins["owner"]]}
        assert api.create("mounted", permissions=owners).status_code == 200
        api.upload("mounted", "a", "v1", DATA)
        assert api.call("GET", "/file/mounted%2Fa%2Fv1%2Fx.bin").content == DATA["x.bin"]
        assert api.listing("mounted/a/v1/", recursive=True) == [
            "mounted/a/v1/..manifest",
            "mounted/a/v1/..summary",
            "mounted/a/v1/sub/y.txt",
            "mounted/a/v1/x.bin",
        ]
        assert api.json("mounted/a/..latest") == {"version": "v1"}
    finally:
        handle.stop()


def test_stale_temporary_files_are_swept_at_start_and_never_listed_or_served(gypsum_server, tmp_path):
    temp = tmp_path / "root" / "..tmp"
    temp.mkdir(parents=True)
    stale = [temp / f"put-{pid}-{n}" for pid in (1, 99999) for n in range(3)]
    for path in stale:
        path.write_bytes(b"cut off by a crash")
    handle = serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    try:
        assert list(temp.iterdir()) == []
        api = _api_on(gypsum_server, handle)
        assert api.create("swept", permissions={"owners": [gypsum_server.logins["owner"]]}).status_code == 200
        api.upload("swept", "a", "v1", DATA)
        (temp / "put-in-flight").write_bytes(b"a PUT still receiving its body")
        assert all("..tmp" not in key for key in api.listing(recursive=True))
        assert "..tmp/" not in api.listing()
        assert api.listing("..t") == [] and api.listing("..tmp/") == []
        assert_error(api.call("GET", "/file/..tmp%2Fput-in-flight"), 400, "invalid object key '..tmp/put-in-flight'")
        refreshed = api.call("POST", "/refresh/usage/swept", "admin").json()["total"]
        assert refreshed == sum(len(data) for data in DATA.values())
    finally:
        handle.stop()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_json_nested_too_deeply_is_a_400(api, project, depth):
    for path, role in (
        (f"/upload/start/{project}/a/v1", "owner"),
        (f"/create/{project}-deep", "admin"),
        (f"/permissions/{project}", "owner"),
    ):
        res = api.call(
            "PUT" if path.startswith("/permissions") else "POST",
            path,
            role,
            data=_nested(depth),
            headers={"Content-Type": "application/json"},
        )
        assert_error(res, 400, "failed to parse JSON body; it is nested too deeply")
    # Nothing was created or locked.
    assert api.call("GET", f"/file/{project}%2F..LOCK").status_code == 404
    assert api.call("GET", f"/file/{project}-deep%2F..permissions").status_code == 404


def test_a_presigned_file_slug_nested_too_deeply_is_a_400(api):
    slug = base64.b64encode(_nested(2_000).encode()).decode()  # 5 KB: URLs stay short
    res = api.call("POST", "/upload/presigned-file/" + requests.utils.quote(slug, safe=""), "owner")
    assert_error(res, 400, "invalid slug for the presigned URL endpoint; its JSON is nested too deeply")


def test_json_at_a_depth_any_request_needs_still_parses(api, project):
    res = api.call(
        "POST",
        f"/upload/start/{project}/a/v1",
        "owner",
        data='{"files": ' + _nested(100) + "}",
        headers={"Content-Type": "application/json"},
    )
    assert res.status_code == 400 and "nested" not in res.json()["reason"]


def test_temp_folder_is_inside_the_root(tmp_path, gypsum_server):
    handle = serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    try:
        assert (Path(handle.root) / "..tmp").is_dir()
        assert not (tmp_path / "root.state" / "tmp").exists()
    finally:
        handle.stop()
