"""Tokens: resolution order, the shared token file, validation, expiry, the OAuth flow, no leaks."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import gypsum_client as ref
import pytest
import requests

from gypsum_flows import auth, client
from gypsum_flows.errors import GypsumAuthError, GypsumHTTPError

S3_REQUESTS: list[str] = []
EXPIRES = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)


class FakeGitHub(BaseHTTPRequestHandler):
    """Just enough of GitHub: /user with an expiry header, and the OAuth authorize/token endpoints."""

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, body: dict, status: int = 200, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        if url.path == "/credentials/s3-api":
            S3_REQUESTS.append(self.path)
            return self._json({"endpoint": "https://s3.example", "bucket": "b", "key": "k", "secret": "s"})
        if url.path == "/user":
            if self.headers.get("Authorization") != "Bearer gho_from_oauth":
                return self._json({"message": "Bad credentials"}, 401)
            expiry = EXPIRES.strftime("%Y-%m-%d %H:%M:%S UTC")
            return self._json({"login": "octocat"}, headers={"github-authentication-token-expiration": expiry})
        query = parse_qs(url.query)
        back = f"{query['redirect_uri'][0]}?{urlencode({'code': 'the-code', 'state': query['state'][0]})}"
        self.send_response(302)
        self.send_header("Location", back)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = body == {
            "client_id": "app-id",
            "client_secret": "app-secret",
            "code": "the-code",
            "redirect_uri": body.get("redirect_uri"),
        }
        self._json({"access_token": "gho_from_oauth"} if ok else {"error": "bad_verification_code"})


@pytest.fixture
def github():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(autouse=True)
def no_env_tokens(monkeypatch):
    monkeypatch.delenv("GYPSUM_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)


def test_token_resolution_order_and_token_file(gypsum_server, cache, monkeypatch):
    c = str(cache)
    owner = gypsum_server.tokens["owner"]
    assert client.access_token(request=False, cache_dir=c) is None
    with pytest.raises(GypsumAuthError, match="interactive"):
        client.access_token(cache_dir=c)
    monkeypatch.setenv("GITHUB_TOKEN", "from-github-env")
    assert client.access_token(cache_dir=c) == "from-github-env"
    monkeypatch.setenv("GYPSUM_TOKEN", "from-gypsum-env")
    assert client.access_token(cache_dir=c) == "from-gypsum-env"

    info = client.set_access_token(owner, github_url=gypsum_server.url + "/github", cache_dir=c)
    assert info == {"token": owner, "name": gypsum_server.logins["owner"], "expires": float("inf")}
    path = cache / "credentials" / "token.txt"
    assert path.read_text() == f"{owner}\n{gypsum_server.logins['owner']}\ninf"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert client.access_token(cache_dir=c) == owner  # the token file comes before the environment
    assert client.access_token(full=True, cache_dir=c)["name"] == gypsum_server.logins["owner"]
    assert owner not in repr(info) and owner not in str(info)

    assert client.set_access_token(None, cache_dir=c) is None
    assert not path.exists()
    assert client.access_token(cache_dir=c) == "from-gypsum-env"


def test_client_calls_find_the_token_themselves(project, gypsum_server, monkeypatch):
    monkeypatch.setenv("GYPSUM_TOKEN", gypsum_server.tokens["owner"])
    client.set_permissions(project, uploaders=[{"id": "someone"}], url=gypsum_server.url)
    assert client.fetch_permissions(project, url=gypsum_server.url)["uploaders"][-1] == {"id": "someone"}


def test_token_file_is_shared_with_gypsum_client(gypsum_server, tmp_path):
    owner, github = gypsum_server.tokens["owner"], gypsum_server.url + "/github"
    theirs, mine = str(tmp_path / "theirs"), str(tmp_path / "mine")
    ref.set_access_token(owner, github_url=github, cache_dir=theirs)
    ref.auth.TOKEN_CACHE["auth_info"] = None
    assert client.access_token(full=True, cache_dir=theirs)["name"] == gypsum_server.logins["owner"]
    client.set_access_token(owner, github_url=github, cache_dir=mine)
    assert ref.access_token(cache_dir=mine, request=False) == owner
    ref.auth.TOKEN_CACHE["auth_info"] = None


def test_bad_tokens_are_refused_without_showing_them(gypsum_server, cache):
    secret = "sekrit-token-value-0123"
    with pytest.raises(GypsumAuthError) as info:
        client.set_access_token(secret, github_url=gypsum_server.url + "/github", cache_dir=str(cache))
    assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(GypsumHTTPError) as info:
        client.create_project("never", owners=["x"], url=gypsum_server.url, token=secret)
    assert info.value.status == 401 and secret not in str(info.value)
    assert not (cache / "credentials" / "token.txt").exists()


def test_expiry_header_is_a_date(github, cache):
    info = client.set_access_token("gho_from_oauth", github_url=github, cache_dir=str(cache))
    assert info["name"] == "octocat" and info["expires"] == EXPIRES.timestamp()
    assert (cache / "credentials" / "token.txt").read_text().splitlines()[2] == str(EXPIRES.timestamp())
    assert auth.parse_expiry("2024-06-01 12:00:00 UTC") == 1717243200.0
    assert auth.parse_expiry("2024-06-01 14:00:00 +0200") == 1717243200.0
    # An expired token in the file is not used.
    (cache / "credentials" / "token.txt").write_text(f"old\nocto\n{time.time() - 5}")
    auth._memory.clear()
    assert client.access_token(request=False, cache_dir=str(cache)) is None


def test_oauth_code_flow(github, cache):
    def browser(address: str) -> None:
        # A real browser would follow GitHub's redirect back to the local listener.
        assert address.startswith(github + "/login/oauth/authorize?")
        assert requests.get(address, timeout=10).status_code == 200

    token = auth.oauth_flow("app-id", "app-secret", login_url=github, port=0, open_browser=browser, timeout=20)
    assert token == "gho_from_oauth"
    assert client.set_access_token(token, github_url=github, cache_dir=str(cache))["name"] == "octocat"
    with pytest.raises(GypsumAuthError, match="interactive"):
        client.set_access_token("auto", app_key="app-id", app_secret="app-secret", cache_dir=str(cache))


def test_public_s3_config_reports_the_local_servers_answer(gypsum_server):
    with pytest.raises(GypsumHTTPError, match="no S3 credentials") as info:
        client.public_s3_config(url=gypsum_server.url)
    assert info.value.status == 404


def test_public_s3_config_is_cached_in_memory_and_on_disk(github, cache):
    from gypsum_flows.client import config

    S3_REQUESTS.clear()
    creds = client.public_s3_config(url=github, cache_dir=str(cache))
    assert creds == {"endpoint": "https://s3.example", "bucket": "b", "key": "k", "secret": "s"}
    assert json.loads((cache / "credentials" / "s3.json").read_text()) == creds
    config._s3_memory.clear()  # as in a new process: the file is used, the server is not asked
    assert client.public_s3_config(url=github, cache_dir=str(cache)) == creds
    assert len(S3_REQUESTS) == 1
    assert client.public_s3_config(url=github, cache_dir=str(cache), refresh=True) == creds
    assert len(S3_REQUESTS) == 2
