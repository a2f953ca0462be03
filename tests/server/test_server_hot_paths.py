"""The per-file fast paths stay exact: the lock-file memo, grant binding, temp-file names, quick GETs."""

import os
import uuid

import requests
from polling import restamp
from server_helpers import assert_error, file_entries, md5_hex, snapshot

from gypsum_flows.server.locks import hash_session

DATA = {"x.bin": b"some bytes", "y.bin": b"other bytes"}


def _put(signed: dict, data: bytes) -> requests.Response:
    return requests.put(signed["url"], data=data, headers={"Content-MD5": signed["md5sum_base64"]}, timeout=30)


def _start(api, project: str) -> dict:
    res = api.start(project, "a", "v1", file_entries(DATA))
    assert res.status_code == 200, res.text
    return res.json()


def test_grant_of_an_ended_session_is_refused_under_a_new_lock(api, project):
    old = _start(api, project)
    stale = api.presign(old, old["file_urls"][0])
    assert api.finish(old, "abort").status_code == 200
    new = _start(api, project)  # the same project, asset and version, locked again at once
    assert_error(_put(stale, DATA["x.bin"]), 403, "the upload session of this presigned URL is no longer active")
    assert _put(api.presign(new, new["file_urls"][0]), DATA["x.bin"]).status_code == 200
    api.put_all(new, DATA)  # a replay of x.bin then y.bin
    assert api.finish(new).status_code == 200
    assert api.json(f"{project}/a/v1/..manifest")["x.bin"]["size"] == len(DATA["x.bin"])


def test_lock_file_edited_on_disk_is_honoured(api, project):
    init = _start(api, project)
    signed = api.presign(init, init["file_urls"][0])
    lock = api.server.root / project / "..LOCK"
    original = lock.read_text()
    other = original.replace(hash_session(init["session_token"]), hash_session(str(uuid.uuid4())))
    assert len(other) == len(original)  # same size: only the file's times and content tell them apart
    restamp(lock, lambda p: p.write_text(other))
    assert_error(_put(signed, DATA["x.bin"]), 403, "the upload session of this presigned URL is no longer active")
    res = api.call("POST", init["file_urls"][1]["url"], token=init["session_token"])
    assert_error(res, 403, "project was locked for a different upload session")
    restamp(lock, lambda p: p.write_text(original))
    assert _put(signed, DATA["x.bin"]).status_code == 200


def test_leftover_temp_files_are_skipped_and_kept(fresh_api, unique_name):
    # Another server in this process may have left temporary files behind after its start-up sweep.
    tmp = fresh_api.server.root / "..tmp"
    leftovers = [tmp / f"put-{os.getpid()}-{n}" for n in range(50)]
    for path in leftovers:
        path.write_bytes(b"left over")
    project = unique_name()
    assert fresh_api.create(project, permissions={"owners": [fresh_api.server.logins["owner"]]}).status_code == 200
    fresh_api.upload(project, "a", "v1", DATA)
    assert all(path.read_bytes() == b"left over" for path in leftovers)
    assert sorted(tmp.iterdir()) == sorted(leftovers)
    assert fresh_api.call("GET", f"/file/{project}%2Fa%2Fv1%2Fx.bin").content == DATA["x.bin"]


def test_quick_get_sees_a_rewritten_object(api, project):
    api.upload(project, "a", "v1", DATA)
    key = f"{project}%2Fa%2Fv1%2Fx.bin"
    first = api.call("GET", f"/file/{key}")
    assert first.headers["ETag"] == f'"{md5_hex(DATA["x.bin"])}"'
    path = api.server.root / project / "a" / "v1" / "x.bin"
    restamp(path, lambda p: p.write_bytes(b"changed!!!"))  # same size, edited outside the server
    again = api.call("GET", f"/file/{key}")
    assert again.content == b"changed!!!"
    assert again.headers["ETag"] == f'"{md5_hex(b"changed!!!")}"'
    before = snapshot(api.server.root)
    assert api.call("HEAD", f"/file/{key}").headers["Content-Length"] == "10"
    assert snapshot(api.server.root) == before
