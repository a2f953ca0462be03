"""Kept-alive ``http.client`` connections: how :mod:`gypsum_flows._http` sends every request but proxied ones.

Saving a version of 1,000 small files takes 1,000 GETs; uploading it, 1,000
URL signings and 1,000 PUTs. Against a local server ``requests`` spends about
0.57 ms of CPU on each such request and ``http.client`` on a kept-alive
connection about 0.12 ms, which decides how fast such a version moves. So
requests go over the connections pooled here: one at a time, read whole
(:meth:`ConnectionPool.exchange`), several in flight from one thread
(:meth:`ConnectionPool.exchange_each`), or with the body left to the caller
(:meth:`ConnectionPool.open`, for large downloads), while
:mod:`gypsum_flows._http` keeps the retry budget and the typed errors.

Failures are raised as urllib3's exceptions, which tell where a request
failed: :class:`ConnectTimeoutError` when it never reached the server,
:class:`ProtocolError` after it may have, :class:`SSLError` for a TLS failure
(not repeated).

Example:
    >>> pool = ConnectionPool()
    >>> pool.exchange(("GET", "http://127.0.0.1:9/list", {}, None), (1.0, 1.0))  # doctest: +SKIP
    Traceback (most recent call last):
    urllib3.exceptions.ConnectTimeoutError: cannot connect to 127.0.0.1:9: [Errno 111] Connection refused
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import IO, NamedTuple, cast

from urllib3.exceptions import ConnectTimeoutError, ProtocolError, SSLError
from urllib3.util import wait_for_read

#: Bytes per socket write when a request body is a file (http.client's default of 8 KiB is slow for GiB files).
BLOCKSIZE = 1 << 20
#: Idle connections kept per host; more are closed when returned.
IDLE_PER_HOST = 32


class Answer(NamedTuple):
    """A response read whole: status, reason phrase, headers and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


def split_url(url: str) -> tuple[str, str, str]:
    """``(scheme, host[:port], path?query)`` of an absolute URL; string splits, far cheaper than ``urlsplit``.

    Example:
        >>> split_url("http://127.0.0.1:8787/file/p%2Fa?x=1#top")
        ('http', '127.0.0.1:8787', '/file/p%2Fa?x=1')
    """
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme.lower(), netloc, (slash + path).partition("#")[0] or "/"


#: A request: method, URL, headers and body (bytes, or a file read as it is sent).
Request = tuple[str, str, Mapping[str, str], "IO[bytes] | bytes | None"]
#: A request sent, its answer still to read: the connection, and the URL's scheme and host.
_Sent = tuple[http.client.HTTPConnection, str, str]


class ConnectionPool:
    """Idle kept-alive connections per host, shared by all threads (each connection used by one at a time)."""

    def __init__(
        self, ca_bundle: str | None = None, verify: bool = True, cert: str | tuple[str, str] | None = None
    ) -> None:
        self._ca_bundle, self._verify, self._cert = ca_bundle, verify, cert
        self._ssl_context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def exchange(self, request: Request, timeout: tuple[float, float], limit: int | None = None) -> Answer:
        """Send one request and read its whole response (at most ``limit + 1`` bytes of it, see :func:`read_body`).

        Raises:
            ConnectTimeoutError: The connection could not be made (the server never saw the request).
            ProtocolError: The connection broke or timed out after the request started.
            SSLError: The TLS handshake failed.
            http.client.InvalidURL: The URL cannot be sent.
        """
        return self._receive(*self._send(*request, timeout), limit)

    def open(self, request: Request, timeout: tuple[float, float]) -> Stream:
        """Send one request and read the head of its response; the caller reads the body and closes the stream.

        Raises:
            ConnectTimeoutError, ProtocolError, SSLError, http.client.InvalidURL: As :meth:`exchange`.
        """
        conn, scheme, netloc = self._send(*request, timeout)
        try:
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _broken(netloc, exc) from exc
        return Stream(response, netloc, lambda broken: self._finish(scheme, netloc, conn, response, broken))

    def exchange_each(
        self,
        requests: Iterable[Request],
        timeout: tuple[float, float],
        depth: int,
        limits: Mapping[str, int] | None = None,
    ) -> Generator[tuple[Request, Answer | Exception], None, None]:
        """Send ``requests`` from this one thread, ``depth`` at a time, each on a connection of its own;
        yield each with its reply (or the exception :meth:`exchange` would raise), in order.

        ``requests`` is read as requests go out, so bodies can be produced just in time. The next
        request goes out before a reply is yielded, so the server works while the caller handles it.
        One thread keeping several requests in flight moves many small files faster than several
        threads doing one each, which spend their time handing Python's GIL to each other.
        ``limits`` maps URLs to the largest body to accept from them (see :func:`read_body`).
        """
        pending = iter(requests)
        in_flight: deque[tuple[Request, _Sent | Exception]] = deque()

        def start_next() -> None:
            for request in pending:
                try:
                    in_flight.append((request, self._send(*request, timeout)))
                except (ConnectTimeoutError, ProtocolError, SSLError) as exc:
                    in_flight.append((request, exc))
                return

        try:
            for _ in range(max(depth, 1)):
                start_next()
            while in_flight:
                request, sent = in_flight.popleft()
                try:
                    limit = limits.get(request[1]) if limits else None
                    outcome: Answer | Exception = sent if isinstance(sent, Exception) else self._receive(*sent, limit)
                except ProtocolError as exc:
                    outcome = exc
                start_next()
                yield request, outcome
        finally:
            for _, sent in in_flight:  # the caller stopped early: these answers will never be read
                if not isinstance(sent, Exception):
                    sent[0].close()

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: IO[bytes] | bytes | None,
        timeout: tuple[float, float],
    ) -> tuple[http.client.HTTPConnection, str, str]:
        """Send a request on a connection of the pool; ``(connection, scheme, host)`` to read the answer from."""
        scheme, netloc, target = split_url(url)
        conn = self._acquire(scheme, netloc)
        if conn.sock is None:
            self._connect(conn, netloc, timeout)
        if conn.sock.gettimeout() != timeout[1]:
            conn.sock.settimeout(timeout[1])
        try:
            conn.request(method, target, body, headers)
        except http.client.InvalidURL:
            conn.close()
            raise
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _broken(netloc, exc) from exc
        except BaseException:  # e.g. the body's file changed while it was read: the request is half-sent
            conn.close()
            raise
        return conn, scheme, netloc

    def _receive(self, conn: http.client.HTTPConnection, scheme: str, netloc: str, limit: int | None = None) -> Answer:
        """Read the whole answer to the request sent on ``conn`` (see :func:`read_body`), then give the connection back."""
        try:
            response = conn.getresponse()
            reply = Answer(response.status, response.reason, _headers(response), read_body(response, limit))
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _broken(netloc, exc) from exc
        self._finish(scheme, netloc, conn, response)
        return reply

    def _finish(
        self,
        scheme: str,
        netloc: str,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        broken: bool = False,
    ) -> None:
        """Give ``conn`` back to the pool, closed first unless ``response`` was read to its end and keeps it open."""
        if broken or response.will_close or not response.isclosed():  # not isclosed(): a body left unread
            conn.close()
        self._release(scheme, netloc, conn)

    def _acquire(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        """An idle connection to the host that the server has not closed meanwhile, or a new one."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not share its parent's sockets
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get((scheme, netloc))
            conn = idle.pop() if idle else None
        if conn is None:
            return self._new(scheme, netloc)
        # An idle connection that is readable was closed by the server (keep-alive timeout).
        if conn.sock is not None and wait_for_read(conn.sock, timeout=0.0):
            conn.close()
        return conn

    def _new(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, context=self._tls(), blocksize=BLOCKSIZE)
        if scheme == "http":
            return http.client.HTTPConnection(netloc, blocksize=BLOCKSIZE)
        raise ValueError(f"unsupported URL scheme '{scheme}'")

    def _tls(self) -> ssl.SSLContext:
        """The TLS context: trusting ``ca_bundle`` (a file or a folder) or the system's certificates, or
        checking nothing when not ``verify``; presenting the client certificate ``cert`` if given."""
        if self._ssl_context is None:
            bundle = self._ca_bundle
            folder = bundle is not None and os.path.isdir(bundle)
            context = ssl.create_default_context(cafile=None if folder else bundle, capath=bundle if folder else None)
            if not self._verify:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            if self._cert:
                certfile, keyfile = (self._cert, None) if isinstance(self._cert, str) else self._cert
                context.load_cert_chain(certfile, keyfile)
            self._ssl_context = context
        return self._ssl_context

    @staticmethod
    def _connect(conn: http.client.HTTPConnection, netloc: str, timeout: tuple[float, float]) -> None:
        conn.timeout = timeout[0]
        try:
            conn.connect()  # sets TCP_NODELAY
        except ssl.SSLError as exc:  # a certificate problem: not worth repeating
            conn.close()
            raise SSLError(f"TLS with {netloc} failed: {exc}") from exc
        except OSError as exc:
            conn.close()
            raise ConnectTimeoutError(f"cannot connect to {netloc}: {exc}") from exc

    def close(self) -> None:
        """Close the idle connections (those in use are closed when given back)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _release(self, scheme: str, netloc: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault((scheme, netloc), [])
            if len(idle) < IDLE_PER_HOST and self._pid == os.getpid():
                idle.append(conn)
                return
        conn.close()


class Stream:
    """The response to a request sent by :meth:`ConnectionPool.open`, its body read as it arrives.

    ``readinto`` fills the caller's buffer straight from the socket (no copy
    in between, which matters for GiB downloads); :meth:`close` gives the
    connection back to the pool when the body was read to its end.
    """

    def __init__(self, response: http.client.HTTPResponse, netloc: str, finish: Callable[[bool], None]) -> None:
        self.status, self.reason, self.headers = response.status, response.reason, _headers(response)
        self._response, self._netloc, self._finish, self._broken = response, netloc, finish, False

    def readinto(self, buffer: memoryview) -> int:
        """Read up to ``len(buffer)`` bytes of the body into ``buffer``; 0 at its end.

        Raises:
            ProtocolError: The connection broke or timed out, or the body ended before its ``Content-Length``.
        """
        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            self._broken = True
            raise _broken(self._netloc, exc) from exc

    def close(self) -> None:
        """Give the connection back (closed, unless the body was read to its end)."""
        self._finish(self._broken)


def read_body(response: http.client.HTTPResponse, limit: int | None) -> bytes:
    """The body of ``response``, or only its first ``limit + 1`` bytes when it is larger than ``limit``.

    A server answering with more bytes than a file has cannot make us read (or hold) them:
    the caller sees a body one byte too long and refuses it.

    Raises:
        http.client.IncompleteRead: The body ended before its ``Content-Length``.
    """
    if limit is None:
        return response.read()
    parts, got = [], 0
    while got <= limit and (part := response.read(limit + 1 - got)):
        parts.append(part)
        got += len(part)
    body = b"".join(parts)
    if got <= limit and response.length:
        raise http.client.IncompleteRead(body, response.length)
    return body


def _headers(response: http.client.HTTPResponse) -> Mapping[str, str]:
    """The headers of ``response``: an ``email.message.Message``, a mapping looked up without regard to case."""
    return cast(Mapping[str, str], response.headers)


def _broken(netloc: str, exc: BaseException) -> ProtocolError:
    return ProtocolError(f"connection to {netloc} broke: {type(exc).__name__}: {exc}", exc)
