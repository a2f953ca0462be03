"""A real misbehaving HTTP proxy on 127.0.0.1, between a client and a local gypsum server.

It forwards requests to ``upstream`` (keeping the ``Host`` header, so the
server's presigned URLs point back at the proxy) and injects faults chosen by
rules: each :class:`Fault` names a ``kind``, the requests it applies to (a
regular expression on ``"METHOD /path?query"``), and either a ``rate``
(probability per matching request, from a seeded RNG) or ``first`` (the first
N matching requests). Kinds:

- ``"503"``, ``"429"``: answer at once with that status (429 with
  ``Retry-After``); the server never sees the request;
- ``"reset"``: close the connection with a TCP reset before forwarding;
- ``"reset_after"``: forward, then reset instead of relaying the answer (the
  server acted);
- ``"slow"``: forward, then wait ``delay`` seconds before answering;
- ``"truncate"``: relay the headers and only half of the body, then close;
- ``"corrupt"``: relay the body with bytes flipped (same length);
- ``"corrupt_request"``: forward the request body with bytes flipped (same length);
- ``"stall_request"``: forward the first 64 KiB of the request body, set the
  rule's ``stalled`` event, then wait ``delay`` seconds before forwarding the
  rest (the client blocks mid-body meanwhile, e.g. while a test changes its file);
- ``"status200"``: relay the answer with status 200 whatever it was (the reference
  server's error-body-under-200 quirk).

With ``tls=(cert_file, key_file)`` the proxy speaks HTTPS to its clients (and tells the server so with
``X-Forwarded-Proto``, so presigned URLs come back as ``https``).

``counts`` tells how many faults of each kind were injected, ``log`` lists
``(method, path, kind or None)`` for every request seen, and ``authorized``
the ``"METHOD /path"`` of those that carried an ``Authorization`` header.

Example:
    >>> with FaultProxy(server.url, [Fault("503", first=2, pattern=r"^GET /list")]) as proxy:  # doctest: +SKIP
    ...     list_projects(url=proxy.url)
    ...     proxy.counts["503"]
    2
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BEFORE_FORWARD = {"503", "429", "reset"}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
_CHUNK = 1 << 16


@dataclass
class Fault:
    """One fault rule: ``kind`` on requests matching ``pattern``, at ``rate`` or for the ``first`` N.

    ``after`` lets that many matching requests through untouched before the rule applies.
    """

    kind: str
    pattern: str = ""
    rate: float = 0.0
    first: int = 0
    retry_after: float = 1.0
    delay: float = 1.0
    after: int = 0
    matched: int = field(default=0, init=False)
    stalled: threading.Event = field(default_factory=threading.Event, init=False)

    def fires(self, request_line: str, rng: random.Random) -> bool:
        if not re.search(self.pattern, request_line):
            return False
        self.matched += 1
        if self.matched <= self.after:
            return False
        if self.first:
            return self.matched - self.after <= self.first
        return rng.random() < self.rate


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, *args: object) -> None:
        """Quiet: tests read ``proxy.log`` instead."""

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _answer_now(self, status: int, fault: Fault) -> None:
        body = b'{"status":"error","reason":"injected by the fault proxy"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", f"{fault.retry_after:g}")
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, corrupt: bool = False, stall: Fault | None = None) -> http.client.HTTPResponse:
        length = int(self.headers.get("Content-Length") or 0)
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        if self.server.tls:
            headers["X-Forwarded-Proto"] = "https"
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            upstream.putheader(key, value)
        upstream.endheaders()
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(_CHUNK, remaining))
            if not chunk:  # the client gave up mid-body: let the server see it at once
                upstream.close()
                raise ConnectionError("the client closed the connection before sending its whole body")
            if corrupt and remaining == length:
                chunk = bytes(b ^ 0xFF for b in chunk[:8]) + chunk[8:]
            upstream.send(chunk)
            remaining -= len(chunk)
            if stall is not None and not stall.stalled.is_set():
                stall.stalled.set()
                time.sleep(stall.delay)  # the fault itself: a client stalled mid-body (not a wait for anything)
        return upstream.getresponse()

    def _relay(self, response: http.client.HTTPResponse, fault: Fault | None) -> None:
        body = response.read()
        if fault is not None and fault.kind == "corrupt" and body:
            body = bytes(b ^ 0xFF for b in body[:8]) + body[8:]
        status = 200 if fault is not None and fault.kind == "status200" else response.status
        self.send_response(status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._reset()
            return
        self.wfile.write(body)

    def _handle(self) -> None:
        if "Authorization" in self.headers:
            self.server.authorized.append(f"{self.command} {self.path}")
        fault = self.server.pick(self.command, self.path)
        kind = fault.kind if fault else None
        if kind in ("503", "429"):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep the connection usable
            self._answer_now(int(kind), fault)  # type: ignore[arg-type]
            return
        if kind == "reset":
            self._reset()
            return
        response = self._forward(corrupt=kind == "corrupt_request", stall=fault if kind == "stall_request" else None)
        if kind == "reset_after":
            response.read()
            self._reset()
            return
        if kind == "slow":
            # The fault itself: a slow server (not a wait for anything).
            time.sleep(fault.delay)  # type: ignore[union-attr]
        self._relay(response, fault)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = _handle


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, faults: list[Fault], seed: int, tls: tuple[str, str] | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.faults = faults
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, str | None]] = []
        self.authorized: list[str] = []

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: connections the proxy reset on purpose end in errors."""

    def pick(self, method: str, path: str) -> Fault | None:
        line = f"{method} {path}"
        with self.lock:
            fault = next((f for f in self.faults if f.fires(line, self.rng)), None)
            if fault is not None:
                self.counts[fault.kind] += 1
            self.log.append((method, path, fault.kind if fault else None))
        return fault


class FaultProxy:
    """A running fault-injecting proxy in front of ``upstream`` (see the module docs)."""

    def __init__(
        self, upstream: str, faults: list[Fault] | None = None, seed: int = 0, tls: tuple[str, str] | None = None
    ) -> None:
        self._server = _ProxyServer(upstream, list(faults or []), seed, tls)
        host, port = self._server.server_address[:2]
        self.url = f"{'https' if tls else 'http'}://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fault-proxy")

    @property
    def counts(self) -> Counter[str]:
        """How many faults of each kind were injected."""
        return self._server.counts

    @property
    def log(self) -> list[tuple[str, str, str | None]]:
        """``(method, path, kind or None)`` for every request received, in order."""
        return self._server.log

    @property
    def authorized(self) -> list[str]:
        """``"METHOD /path"`` of every request that carried an ``Authorization`` header, in order."""
        return self._server.authorized

    def set_faults(self, faults: list[Fault]) -> None:
        """Replace the rules (e.g. after setting things up through the proxy)."""
        with self._server.lock:
            self._server.faults = list(faults)

    def requests_matching(self, pattern: str) -> int:
        """How many received requests match ``pattern`` (on ``"METHOD /path"``)."""
        return sum(1 for method, path, _ in self.log if re.search(pattern, f"{method} {path}"))

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
