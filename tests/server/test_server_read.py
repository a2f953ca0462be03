"""Read-only endpoints, routing, CORS, GitHub-compatible identity and metadata files."""

from __future__ import annotations

import hashlib

import pytest
import requests
from server_helpers import assert_error, raw_request

from gypsum_flows.server import serve_in_thread


def test_file_get_head_and_range(api, project):
    data = b"0123456789" * 10
    api.upload(project, "a", "v1", {"n.bin": data})
    key = f"/file/{project}%2Fa%2Fv1%2Fn.bin"
    res = api.call("GET", key)
    assert res.content == data
    assert res.headers["Content-Length"] == "100"
    assert res.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert res.headers["Last-Modified"].endswith("GMT")
    assert res.headers["Access-Control-Allow-Origin"] == "*"
    head = api.call("HEAD", key)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == "100"
    part = api.call("GET", key, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == b"0123456789"
    assert part.headers["Content-Range"] == "bytes 10-19/100"
    summary = api.call("GET", f"/file/{project}%2Fa%2Fv1%2F..summary")
    assert summary.headers["Content-Type"] == "application/json"
    assert_error(api.call("GET", f"/file/{project}%2Fmissing"), 404, "object not found")
    assert_error(api.call("GET", f"/file/{project}%2Fa"), 404, "object not found")  # a "directory"
    assert_error(api.call("GET", f"/file/{project}%2Fa%2F"), 404, "object not found")
    assert_error(api.call("GET", f"/file/{project}%2F%2Fa"), 404, "object not found")
    assert api.call("HEAD", f"/file/{project}%2Fmissing").status_code == 404


def test_keys_with_spaces_plus_and_unicode(api, project):
    files = {"a b+c.txt": b"space", "d\u00e9j\u00e0/\u00fc.txt": b"unicode"}
    api.upload(project, "a", "v1", files)
    assert api.call("GET", f"/file/{project}%2Fa%2Fv1%2Fa%20b%2Bc.txt").content == b"space"
    assert raw_request(api.url, "GET", f"/file/{project}%2Fa%2Fv1%2Fa%20b+c.txt").body == b"space"
    # '+' is literal, as in the reference: gypsum_client's quote_plus spaces do not resolve.
    assert raw_request(api.url, "GET", f"/file/{project}%2Fa%2Fv1%2Fa+b%2Bc.txt").status == 404
    quoted = requests.utils.quote(f"{project}/a/v1/d\u00e9j\u00e0/\u00fc.txt", safe="")
    assert api.call("GET", f"/file/{quoted}").content == b"unicode"
    assert f"{project}/a/v1/d\u00e9j\u00e0/" in api.listing(f"{project}/a/v1/")


def test_list_semantics(api, project):
    api.upload(project, "asset", "v1", {"x/y.txt": b"1", "z.txt": b"2"})
    api.upload(project, "asset2", "v1", {"q": b"3"})
    assert api.listing(f"{project}/asset") == [f"{project}/asset/", f"{project}/asset2/"]
    assert api.listing(f"{project}/asset/v1/") == [
        f"{project}/asset/v1/x/",
        f"{project}/asset/v1/..manifest",
        f"{project}/asset/v1/..summary",
        f"{project}/asset/v1/z.txt",
    ]
    assert api.listing(f"{project}/asset/v1/x", recursive=True) == [f"{project}/asset/v1/x/y.txt"]
    not_true = api.call("GET", "/list", params={"prefix": f"{project}/", "recursive": "True"}).json()
    assert not_true == api.listing(f"{project}/")
    assert api.listing(f"{project}/nothing/") == []
    assert "..logs/" in api.listing() and f"{project}/" in api.listing()
    # Query values are decoded twice, as by the reference (URLSearchParams, then decodeURIComponent).
    twice = raw_request(api.url, "GET", f"/list?prefix={project}%252Fasset2%252F&recursive=true")
    assert twice.status == 200 and b"asset2/v1/q" in twice.body


def test_credentials_root_and_routing(api):
    assert_error(api.call("GET", "/credentials/s3-api"), 404, "this local gypsum server has no S3 credentials...")
    assert_error(api.call("GET", "/credentials/github-app"), 404, "this local gypsum server has no GitHub app...")
    root = api.call("GET", "/")
    assert root.status_code == 301 and root.headers["Location"] == "https://artifactdb.github.io/gypsum-worker"
    doubled = raw_request(api.url, "GET", "//list?prefix=a")
    assert doubled.status == 301 and doubled.getheader("Location") == "/list?prefix=a"
    assert raw_request(api.url, "POST", "/create//x").getheader("Location") == "/create/x"
    for method, path in [
        ("GET", "/nope"),
        ("GET", "/create/x"),
        ("PATCH", "/list"),
        ("POST", "/file/x"),
        ("GET", "/list/"),
    ]:
        res = api.call(method, path)
        assert_error(res, 404, "no such endpoint")
        assert res.headers["Access-Control-Allow-Origin"] == "*"


def test_cors_preflight(api):
    pre = api.call(
        "OPTIONS",
        "/upload/start/a/b/c",
        headers={
            "Origin": "https://x.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 200 and pre.content == b""
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,HEAD,POST,OPTIONS"
    assert pre.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert pre.headers["Access-Control-Max-Age"] == "86400"
    plain = api.call("OPTIONS", "/anything")
    assert plain.status_code == 200 and plain.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


@pytest.mark.parametrize("scheme", ["Bearer", "token"])
def test_github_compatible_identity(api, scheme):
    headers = {"Authorization": f"{scheme} {api.server.tokens['org_member']}"}
    assert api.call("GET", "/github/user", headers=headers).json()["login"] == "org-member"
    assert api.call("GET", "/github/user/orgs", headers=headers).json() == [{"login": "test-org"}]
    bad = api.call("GET", "/github/user", headers={"Authorization": f"{scheme} nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert api.call("GET", "/github/user/orgs").status_code == 401


def test_metadata_folder(tmp_path, gypsum_server):
    folder = tmp_path / "meta"
    folder.mkdir()
    (folder / "bioconductor.sqlite3").write_bytes(b"SQLite format 3\x00rest")
    (folder / "modified").write_text("1700000000")
    server = serve_in_thread(tmp_path / "root", gypsum_server.users_file, metadata_dir=folder)
    try:
        res = requests.get(server.url + "/metadata/bioconductor.sqlite3")
        assert res.content == b"SQLite format 3\x00rest"
        assert requests.get(server.url + "/metadata/modified").text == "1700000000"
        assert_error(requests.get(server.url + "/metadata/other.sqlite3"), 404, "object not found")
        assert_error(requests.get(server.url + "/metadata/..%2Fsecret"), 400, "invalid metadata file name '../secret'")
    finally:
        server.stop()
    assert_error(requests.get(gypsum_server.url + "/metadata/modified"), 404, "this server has no metadata folder")


def test_request_log_records_raw_paths(fresh_api):
    fresh_api.call("GET", "/list", params={"prefix": "a b/", "recursive": "true"})
    raw_request(fresh_api.url, "GET", "/file/x%2Fy")
    assert fresh_api.server.request_log == [("GET", "/list?prefix=a+b%2F&recursive=true"), ("GET", "/file/x%2Fy")]
