"""Hostile and broken requests: traversal everywhere, bad presigned PUTs. Nothing may change on disk."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests
from server_helpers import assert_error, file_entries, md5_b64, raw_request, snapshot

from gypsum_flows.server.signing import Grant, Signer

DATA = b"payload bytes\n"


def _outside(server) -> dict:
    """Everything in the folder holding the root, users file and state folder."""
    return snapshot(server.root.parent)


TRAVERSAL_GETS = [
    "/file/..%2F..%2Fusers.yaml",
    "/file/%2E%2E%2Fusers.yaml",
    "/file/x%2F..%2F..%2Fusers.yaml",
    "/file/%2Fetc%2Fpasswd",
    "/file/x%5C..%5C..%5Cusers.yaml",
    "/file/../users.yaml",
    "/file/..%2Froot.state%2Fsigning-secret",
    "/file/x%00y",
    "/metadata/..%2F..%2Fusers.yaml",
]


@pytest.mark.parametrize("path", TRAVERSAL_GETS)
def test_traversal_reads(fresh_api, path):
    res = raw_request(fresh_api.url, "GET", path)
    assert res.status in (400, 404), res.body
    assert b"token" not in res.body and b"admins" not in res.body


@pytest.mark.parametrize("prefix", ["..", "../", "..%2F", "/etc/", "x/../../", "x\\..\\", "%2E%2E/"])
def test_traversal_list(fresh_api, prefix):
    for recursive in ("true", "false"):
        res = fresh_api.call("GET", "/list", params={"prefix": prefix, "recursive": recursive})
        assert res.status_code == 200 and res.json() == []


TRAVERSAL_MUTATIONS = [
    ("POST", "/create/..", 400, "project name cannot start with '..'"),
    ("POST", "/create/%2E%2E", 400, "project name cannot start with '..'"),
    ("POST", "/create/..%2F..%2Fx", 400, "project name cannot contain '/'"),
    ("POST", "/create/a%5Cb", 400, "project name cannot contain '/' or '\\\\'"),
    ("DELETE", "/remove/..", 400, "project name cannot start with '..'"),
    ("DELETE", "/remove/%2E%2E%2Fx", 400, "project name cannot contain '/' or '\\\\'"),
    ("DELETE", "/remove/p/..", 400, "asset name cannot start with '..'"),
    ("DELETE", "/remove/p/a/%2E%2E", 400, "version name cannot start with '..'"),
    ("PUT", "/permissions/..", 400, "project name cannot start with '..'"),
    ("PUT", "/quota/..%5C", 400, "project name cannot contain '/' or '\\\\'"),
    ("DELETE", "/unlock/..", 400, "project name cannot start with '..'"),
    ("POST", "/refresh/latest/p/..%2F..", 400, "asset name cannot contain '/' or '\\\\'"),
    ("POST", "/refresh/usage/..", 400, "project name cannot start with '..'"),
    ("POST", "/upload/start/..%2F/a/v", 400, "project name cannot contain '/' or '\\\\'"),
    ("POST", "/upload/start/p/../v", 400, "asset name cannot start with '..'"),
    ("POST", "/upload/complete/p/a/..", 400, "version name cannot start with '..'"),
    ("POST", "/upload/abort/..%2Fp/a/v", 400, "project name cannot contain '/' or '\\\\'"),
    ("POST", "/probation/approve/p/a/%2E%2E%2F..", 400, "version name cannot contain '/' or '\\\\'"),
    ("POST", "/probation/reject/p/%2E%2E/v", 400, "asset name cannot start with '..'"),
]


@pytest.mark.parametrize("method, path, status, reason", TRAVERSAL_MUTATIONS)
def test_traversal_mutations(fresh_api, method, path, status, reason):
    before = _outside(fresh_api.server)
    headers = {**fresh_api.server.auth("admin"), "Content-Type": "application/json"}
    res = raw_request(fresh_api.url, method, path, headers=headers)
    assert res.status == status, res.body
    assert json.loads(res.body) == {"status": "error", "reason": reason}
    assert _outside(fresh_api.server) == before


@pytest.fixture
def pending(api, project):
    """A started upload of one file: (init, presigned {url, md5sum_base64})."""
    init = api.start(project, "a", "v1", file_entries({"f.bin": DATA})).json()
    return init, api.presign(init, init["file_urls"][0])


def _put(url, data=DATA, md5=None, **headers):
    if md5 is not None:
        headers["Content-MD5"] = md5
    return requests.put(url, data=data, headers=headers, timeout=30)


def _grant(url: str) -> Grant:
    token = url.partition("?")[0].rpartition("/")[2]
    return Grant(*json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))


def _tamper_grant(url: str) -> str:
    base, _, query = url.partition("?")
    grant = _grant(url)
    forged_grant = grant._replace(key=grant.key.replace("f.bin", "..manifest"))
    forged = base64.urlsafe_b64encode(json.dumps(forged_grant).encode()).decode().rstrip("=")
    return f"{base.rpartition('/')[0]}/{forged}?{query}"


def _expired(api, url: str) -> str:
    secret = (api.server.root.with_name("root.state") / "signing-secret").read_bytes()
    grant = _grant(url)
    token, signature = Signer(secret).sign(grant.key, grant.md5, grant.size, grant.session, lifetime=-5)
    return f"{api.url}/upload/put/{token}?signature={signature}"


@pytest.mark.parametrize(
    "case, status, reason",
    [
        ("no-md5-header", 400, "missing Content-MD5 header"),
        ("wrong-md5-header", 403, "Content-MD5 header does not match the presigned URL"),
        ("wrong-body", 400, "body MD5 does not match Content-MD5"),
        ("oversized", 413, "body of 15 bytes exceeds the declared size of 14 bytes"),
        ("oversized-chunked", 413, "body exceeds the declared size of 14 bytes"),
        ("tampered-signature", 403, "presigned URL signature does not match"),
        ("tampered-grant", 403, "presigned URL signature does not match"),
        ("expired", 403, "presigned URL has expired"),
        ("after-abort", 403, "the upload session of this presigned URL is no longer active"),
    ],
)
def test_bad_puts_write_nothing(api, project, pending, case, status, reason):
    init, signed = pending
    url, md5 = signed["url"], signed["md5sum_base64"]
    if case == "after-abort":
        assert api.finish(init, "abort").status_code == 200
    before = snapshot(api.server.root)
    res = {
        "no-md5-header": lambda: _put(url),
        "wrong-md5-header": lambda: _put(url, md5=md5_b64(b"other")),
        "wrong-body": lambda: _put(url, data=DATA[:-1] + b"X", md5=md5),
        "oversized": lambda: _put(url, data=DATA + b"!", md5=md5),
        "oversized-chunked": lambda: _put(url, data=iter([DATA, b"!"]), md5=md5),
        "tampered-signature": lambda: _put(url[:-3] + "AAA", md5=md5),
        "tampered-grant": lambda: _put(_tamper_grant(url), md5=md5),
        "expired": lambda: _put(_expired(api, url), md5=md5),
        "after-abort": lambda: _put(url, md5=md5),
    }[case]()
    assert_error(res, status, reason)
    assert snapshot(api.server.root) == before
    assert list((api.server.root / "..tmp").iterdir()) == []
    if case != "after-abort":
        assert api.finish(init, "abort").status_code == 200


def test_replayed_put(api, project, pending):
    init, signed = pending
    assert _put(signed["url"], md5=signed["md5sum_base64"]).status_code == 200
    # A retry during the session (its answer was lost) succeeds and writes nothing.
    before = snapshot(api.server.root)
    assert _put(signed["url"], md5=signed["md5sum_base64"]).status_code == 200
    assert snapshot(api.server.root) == before
    assert api.finish(init).status_code == 200
    before = snapshot(api.server.root)
    assert_error(
        _put(signed["url"], md5=signed["md5sum_base64"]),
        403,
        "the upload session of this presigned URL is no longer active",
    )
    assert snapshot(api.server.root) == before


def test_bad_slugs(api, project, pending):
    init, _ = pending
    md5 = file_entries({"f.bin": DATA})[0]["md5sum"]
    evil = base64.b64encode(json.dumps([project, "a", "v1", "../../../x", md5]).encode()).decode()
    internal = base64.b64encode(json.dumps([project, "a", "v1", "..manifest", md5]).encode()).decode()
    for slug, reason in [
        ("not base64!", "invalid slug ('not base64!') for the presigned URL endpoint; ..."),
        (base64.b64encode(b"[1,2]").decode(), "invalid slug ('WzEsMl0=') for the presigned URL endpoint; ..."),
        (evil, f"'../../../x' with MD5 '{md5}' is not an upload of this session"),
        (internal, f"'..manifest' with MD5 '{md5}' is not an upload of this session"),
    ]:
        res = api.call(
            "POST", "/upload/presigned-file/" + requests.utils.quote(slug, safe=""), token=init["session_token"]
        )
        assert_error(res, 400, reason)
    assert api.finish(init, "abort").status_code == 200


def test_oversized_json_body(api, project):
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("POST", f"/upload/start/{project}/a/v1")
    conn.putheader("Content-Length", str(65 * 1024 * 1024))
    conn.endheaders(b"{}")
    res = conn.getresponse()
    assert res.status == 413
    assert json.loads(res.read())["reason"] == "request body is larger than 67108864 bytes"
    conn.close()
