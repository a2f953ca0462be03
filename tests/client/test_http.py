"""The HTTP layer: typed errors, retry policies, and requests confined to gypsum_flows/_http.py."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from client_helpers import self_signed_cert
from polling import wait_until
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, SSLError

import gypsum_flows
from gypsum_flows import _http
from gypsum_flows._keepalive import ConnectionPool
from gypsum_flows.errors import (
    GypsumHTTPError,
    GypsumInvalidRequestError,
    GypsumLockedError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumQuotaExceededError,
    GypsumTransientError,
    is_transient,
)


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (404, "object not found", GypsumNotFoundError),
        (401, "no user identity supplied", GypsumPermissionError),
        (403, "user is not an owner of project 'p'", GypsumPermissionError),
        (403, "project asset has already been locked", GypsumLockedError),
        (400, "upload exceeds the storage quota for this project", GypsumQuotaExceededError),
        (400, "project-asset-version already exists", GypsumInvalidRequestError),
        (200, "'files.path' cannot contain repeated '/'", GypsumInvalidRequestError),
        (429, "slow down", GypsumTransientError),
        (500, "no file at 'p/..usage'", GypsumTransientError),
        (503, "unavailable", GypsumTransientError),
        (418, "teapot", GypsumHTTPError),
    ],
)
def test_error_classes(status, reason, cls):
    error = _http.error_for(status, reason, "GET", "http://x/file/k")
    assert type(error) is cls and error.status == status and error.reason == reason
    assert str(error) == f"{status} {reason} (GET http://x/file/k)"
    assert is_transient(error) == (cls in (GypsumTransientError, GypsumLockedError))


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_becomes_a_transient_error():
    port = _closed_port()
    with pytest.raises(GypsumTransientError, match="network error") as info:
        _http.request("GET", f"http://127.0.0.1:{port}/list", policy=replace(_http.GUARDED, attempts=2))
    assert info.value.status is None


def test_one_pooled_session_per_process():
    assert _http.session() is _http.session()
    adapter = _http.session().get_adapter("http://127.0.0.1/")
    assert adapter.max_retries.total == 0  # retries are applied per call, within its budget


def test_requests_is_imported_only_by_the_http_module():
    root = Path(gypsum_flows.__file__).parent
    pattern = re.compile(r"^\s*(import requests|from requests\b)", re.MULTILINE)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == ["_http.py"]


def test_only_the_transport_holds_connections_and_builds_authorization_headers():
    root = Path(gypsum_flows.__file__).parent
    keepalive = re.compile(r"_keepalive\b")
    bearer = re.compile(r"[\"']Bearer |[\"']Authorization[\"']\s*:")
    client_side = [p for p in root.rglob("*.py") if p.parts[len(root.parts)] != "server"]
    outside = [p for p in client_side if p.name not in ("_http.py", "_keepalive.py")]
    assert [str(p.relative_to(root)) for p in outside if keepalive.search(p.read_text())] == []
    assert [str(p.relative_to(root)) for p in client_side if bearer.search(p.read_text())] == ["_http.py"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 answers of ``{"n": <request number>}``; records the client port of every request.

    With ``close_after`` set, the server closes each connection after answering without saying so
    (no ``Connection: close``), as a server does when an idle keep-alive connection times out.
    """

    protocol_version = "HTTP/1.1"
    ports: list[int] = []
    closed: list[socket.socket] = []  # the connections the server has closed
    close_after = False

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).ports.append(self.client_address[1])
        missing = self.path.startswith("/missing")
        body = json.dumps(
            {"status": "error", "reason": "object not found"}
            if missing
            else {"n": len(type(self).ports), "path": self.path}
        ).encode()
        self.send_response(404 if missing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = type(self).close_after

    def log_message(self, *args: object) -> None:
        pass


class _RecordingServer(http.server.ThreadingHTTPServer):
    """Lists in its handler's ``closed`` every connection it has closed (the client is then sent a FIN)."""

    def __init__(self, handler: type[_Recorder]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.closed = handler.closed

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.closed.append(request)


@pytest.fixture
def recorder():
    handler = type("Handler", (_Recorder,), {"ports": [], "closed": []})
    server = _RecordingServer(handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_transfer_requests_reuse_one_kept_alive_connection(recorder):
    handler, url = recorder
    answers = [_http.request("GET", f"{url}/file/x").json()["n"] for _ in range(20)]
    assert answers == list(range(1, 21))
    assert len(set(handler.ports)) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry(recorder):
    handler, url = recorder
    handler.close_after = True
    # Each answer is followed by a close the client is not told of; the next request must notice
    # before sending (no error, no retry: each request reaches the server exactly once).
    answers = []
    for n in range(1, 6):
        reply = _http.request("GET", f"{url}/file/x", policy=replace(_http.SAFE, attempts=1))
        answers.append(json.loads(reply.body)["n"])
        wait_until(lambda n=n: len(handler.closed) == n, "the server to close the connection")
    assert answers == [1, 2, 3, 4, 5]
    assert len(handler.ports) == 5 and len(set(handler.ports)) == 5


def test_kept_alive_path_classifies_failures_like_urllib3():
    port = _closed_port()
    pool = ConnectionPool()
    with pytest.raises(ConnectTimeoutError):  # refused: the server never saw the request
        pool.exchange(("GET", f"http://127.0.0.1:{port}/list", {}, None), (1.0, 1.0))
    with socket.socket() as listener:  # accepts, reads the request, then hangs up without answering
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        with pytest.raises(ProtocolError):  # the request was sent: the server may have acted on it
            pool.exchange(("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/x", {}, None), (1.0, 1.0))


def test_request_gives_up_with_a_transient_error_naming_the_request_and_its_attempts():
    port = _closed_port()
    with pytest.raises(GypsumTransientError, match="cannot connect") as info:
        _http.request("GET", f"http://127.0.0.1:{port}/file/k", policy=replace(_http.SAFE, attempts=2))
    assert info.value.method == "GET" and info.value.url.endswith("/file/k") and info.value.attempts == 2


def test_request_many_keeps_depth_requests_in_flight_and_answers_in_order(recorder):
    handler, url = recorder
    gets = (("GET", f"{url}/file/{i}", {}, None) for i in range(30))
    answers = [reply.json()["path"] for reply in _http.request_many(gets, depth=4)]
    assert answers == [f"/file/{i}" for i in range(30)]
    assert len(handler.ports) == 30 and 1 < len(set(handler.ports)) <= 4


def test_request_many_raises_on_an_error_status_and_leaves_no_unread_answer_behind(recorder):
    handler, url = recorder
    urls = [f"{url}/file/0", f"{url}/missing/1", *(f"{url}/file/{i}" for i in range(2, 10))]
    seen = []
    with pytest.raises(GypsumNotFoundError, match="object not found") as info:
        for reply in _http.request_many((("GET", u, {}, None) for u in urls), depth=4):
            seen.append(reply.json()["path"])
    assert seen == ["/file/0"] and info.value.url.endswith("/missing/1")
    # The connections still waiting for answers were closed, not pooled: later requests get their own answers.
    assert [_http.request("GET", f"{url}/file/x{i}").json()["path"] for i in range(6)] == [
        f"/file/x{i}" for i in range(6)
    ]


@pytest.fixture
def tls_recorder(recorder, tmp_path):
    """The recorder behind TLS, with a self-signed certificate for 127.0.0.1: ``(handler, url, cert_file)``."""
    import ssl

    cert_file, key_file = self_signed_cert(tmp_path)
    handler, url = recorder
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"https://127.0.0.1:{server.server_address[1]}", str(cert_file)
    server.shutdown()
    server.server_close()


def test_kept_alive_connections_speak_tls_and_check_the_certificate(tls_recorder):
    handler, url, cert_file = tls_recorder
    pool = ConnectionPool(ca_bundle=cert_file)
    paths = [json.loads(pool.exchange(("GET", f"{url}/file/{i}", {}, None), (5.0, 5.0)).body)["path"] for i in range(3)]
    assert paths == ["/file/0", "/file/1", "/file/2"] and len(set(handler.ports)) == 1  # one TLS connection
    with pytest.raises(SSLError, match="certificate verify failed"):  # the system's CAs do not trust it
        ConnectionPool().exchange(("GET", f"{url}/file/x", {}, None), (5.0, 5.0))
