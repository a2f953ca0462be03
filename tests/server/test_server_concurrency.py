"""Many clients at once, and a restart on the same root."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import requests
from server_helpers import Api, file_entries

from gypsum_flows.server import serve_in_thread


def test_one_lock_winner(api, project):
    files = file_entries({"x": b"x"})
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: api.start(project, "a", f"v{i}", files), range(16)))
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1
    assert all(r.json()["reason"] == "project asset has already been locked" for r in results if r not in winners)
    assert api.finish(winners[0].json(), "abort").status_code == 200
    assert api.listing(f"{project}/a/") == []


def test_parallel_puts_and_projects(api, unique_name):
    owner = api.server.logins["owner"]
    projects = [unique_name(f"c{i}") for i in range(4)]
    files = {f"dir{i % 3}/f{i}.bin": bytes([i]) * (1000 + i) for i in range(24)}

    def one_project(project: str) -> None:
        assert api.create(project, permissions={"owners": [owner]}).status_code == 200
        init = api.start(project, "a", "v1", file_entries(files)).json()
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda item: _put(api, init, item, files), init["file_urls"]))
        assert api.finish(init).status_code == 200

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one_project, projects))
    for project in projects:
        keys = api.listing(f"{project}/a/v1/", recursive=True)
        assert len([k for k in keys if "/.." not in k]) == 24
        assert api.json(f"{project}/..usage") == {"total": sum(map(len, files.values()))}


def _put(api: Api, init: dict, item: dict, files: dict) -> None:
    signed = api.presign(init, item)
    res = requests.put(signed["url"], data=files[item["path"]], headers={"Content-MD5": signed["md5sum_base64"]})
    assert res.status_code == 200, res.text


def test_reads_during_removal_never_fail(api, project):
    for version in ("v1", "v2", "v3"):
        api.upload(project, "a", version, {f"f{i}": b"z" * i for i in range(1, 30)})

    def read(_: int) -> int:
        return api.call("GET", "/list", params={"prefix": f"{project}/", "recursive": "true"}).status_code

    with ThreadPoolExecutor(6) as pool:
        reads = pool.map(read, range(60))
        assert api.call("DELETE", f"/remove/{project}/a", "admin").status_code == 200
        assert set(reads) == {200}


def test_restart_on_same_root(tmp_path, gypsum_server):
    first = serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    fresh = Api(dataclasses.replace(gypsum_server, url=first.url, root=tmp_path / "root", handle=first))
    assert fresh.create("kept", permissions={"owners": ["owner-user"]}).status_code == 200
    fresh.upload("kept", "a", "v1", {"f": b"data"})
    init = fresh.start("kept", "a", "v2", file_entries({"g": b"more"})).json()
    signed = fresh.presign(init, init["file_urls"][0])
    first.stop()

    second = serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    try:
        # Same data, and the upload in flight continues with its session and presigned URL.
        assert requests.get(second.url + "/file/kept%2Fa%2Fv1%2Ff").content == b"data"
        put_url = signed["url"].replace(first.url, second.url)
        assert requests.put(put_url, data=b"more", headers={"Content-MD5": signed["md5sum_base64"]}).status_code == 200
        session = {"Authorization": f"Bearer {init['session_token']}"}
        done = requests.post(second.url + init["complete_url"], headers=session)
        assert done.status_code == 200
        assert requests.get(second.url + "/file/kept%2Fa%2F..latest").json() == {"version": "v2"}
    finally:
        second.stop()
