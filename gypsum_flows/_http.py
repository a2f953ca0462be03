"""The one HTTP path of gypsum-flows: three verbs, one reply type, one retry budget, one raise-for-status.

Every request goes through :func:`request` (one call, its body read whole up
to a limit), :func:`request_many` (many calls, several in flight from one
thread) or :func:`stream` (a body read as it arrives, for large downloads),
and comes back as a :class:`Reply`. These

- send over kept-alive ``http.client`` connections (:mod:`gypsum_flows._keepalive`),
  which cost a fifth of the CPU of ``requests`` per call, or through a proxy
  (``HTTPS_PROXY`` and friends) over one pooled ``requests`` session; this is
  the only module that imports ``requests``;
- set a connect and a read timeout on every request, and the
  ``Authorization`` header from ``token=`` (nothing else builds one);
- send a failed request again within its :class:`Budget`: at most
  :data:`ATTEMPTS` sends, with exponential backoff and jitter, each wait (a
  ``Retry-After`` included) at most :data:`MAX_WAIT`; :data:`SAFE` requests
  (reads, signing a file URL, the file PUT, completion, abort) after any
  transient failure, :data:`GUARDED` ones (starting an upload, admin calls)
  only when the server cannot have acted on them (connection refused, 429, 503);
- turn error statuses and ``{"status": "error", "reason": ...}`` bodies (the
  reference server sends some under 200) into the typed errors of
  :mod:`gypsum_flows.errors`, with the number of sends in ``attempts``.

A caller that repeats a transfer itself (a download resumed after its body
broke off, or fetched again after it arrived corrupted) hands the same
:class:`Budget` to each call, so no layer multiplies another's retries. The
whole budget, layer by layer, is in docs/client.md ("The retry budget").

Example:
    >>> quote_key("test-R/basic/v1/my file.txt")
    'test-R%2Fbasic%2Fv1%2Fmy%20file.txt'
    >>> round(worst_wait(), 2)
    16.5
"""

from __future__ import annotations

import atexit
import functools
import http.client
import itertools
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from json import dumps, loads
from typing import IO, Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

import certifi
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, SSLError
from urllib3.exceptions import HTTPError as Urllib3Error

from . import __version__
from ._keepalive import Answer, ConnectionPool, Request, split_url
from .constants import (
    CONNECT_TIMEOUT,
    ENV_OFFLINE,
    READ_TIMEOUT,
    default_rest_url,
    offline_from_environment,
)
from .errors import (
    GypsumError,
    GypsumHTTPError,
    GypsumInvalidRequestError,
    GypsumLockedError,
    GypsumNotFoundError,
    GypsumOfflineError,
    GypsumPermissionError,
    GypsumQuotaExceededError,
    GypsumTransientError,
    GypsumUnsafeResponseError,
)
from .next_steps import for_status

#: The most times one request is sent: once, and up to six times again after transient failures.
ATTEMPTS = 7
#: The wait before the n-th repeat is ``BACKOFF * 2 ** (n - 1)`` seconds (the first repeat goes at once) ...
BACKOFF = 0.25
#: ... plus up to this much at random, so clients that failed together do not come back together ...
JITTER = 0.25
#: ... and never more than this, however long a ``Retry-After`` asks for.
MAX_WAIT = 8.0
#: Statuses worth repeating a safe request for.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses that mean the server did not act on the request.
NOT_ACTED_STATUSES = frozenset({429, 503})

#: Options applied to every request, as gypsum_client's ``REQUESTS_MOD`` (change them in place):
#: ``verify`` (``True``, ``False`` or a CA bundle file or folder), ``cert`` (a client certificate file, or
#: ``(cert, key)``), ``timeout`` (seconds, or ``(connect, read)``) and ``proxies`` (as in ``requests``).
REQUESTS_MOD: dict[str, Any] = {"verify": True}
_MOD_OPTIONS = ("verify", "cert", "timeout", "proxies")

_POOL_SIZE = 32
#: Bytes per socket write when streaming a request body through a proxy (urllib3's 16 KiB is slow for GiBs).
_BLOCKSIZE = 1 << 20
#: Bytes of an error body read for its reason.
_REASON_BYTES = 64 << 10
_USER_AGENT = f"gypsum-flows/{__version__}"
#: A character that must be percent-encoded before it goes on a request line: anything but visible ASCII.
_UNQUOTED = re.compile(r"[^\x21-\x7e]")
_session_lock = threading.Lock()
_session_state: dict[str, Any] = {"pid": None, "session": None}
_rest_url_override: list[str] = []


def rest_url(url: str | None = None) -> str:
    """The gypsum REST URL used when a call gets ``url=None``; set it by passing ``url``.

    Without a value set here, ``GYPSUM_REST_URL`` (read now) or the public
    instance. As in gypsum_client, setting returns the **new** value.

    Example:
        >>> rest_url("http://127.0.0.1:8787/")  # doctest: +SKIP
        'http://127.0.0.1:8787'
    """
    if url is not None:
        _rest_url_override[:] = [url.rstrip("/")]
    return _rest_url_override[0] if _rest_url_override else default_rest_url().rstrip("/")


def resolve_url(url: str | None) -> str:
    """``url`` without trailing slashes, or :func:`rest_url` when ``None``."""
    return url.rstrip("/") if url else rest_url()


def quote_key(key: str) -> str:
    """Percent-encode an object key or a name for one URL path segment (``/`` becomes ``%2F``)."""
    return quote(key, safe="")


def join_url(base: str, path: str) -> str:
    """Join a server path such as ``/upload/complete/P/A/V`` to ``base``; absolute URLs pass through."""
    if path.startswith(("http://", "https://")):
        return path
    return base.rstrip("/") + "/" + path.lstrip("/")


# ---------------------------------------------------------------------------------------------------
# The retry budget.


@dataclass(frozen=True)
class Policy:
    """When a failed request is worth sending again, and how many times it is sent at most.

    ``statuses``: the answers worth repeating it for; ``unsure``: also after a
    failure once the request may have reached the server (a broken connection,
    a read timeout), which only a request that is safe to repeat may be.
    """

    statuses: frozenset[int]
    unsure: bool
    attempts: int = ATTEMPTS


#: Requests that may be repeated: after connection errors, broken or timed-out answers, 429 and 5xx.
SAFE = Policy(TRANSIENT_STATUSES, unsure=True)
#: Requests that may change state: only after a refused connection, 429 and 503.
GUARDED = Policy(NOT_ACTED_STATUSES, unsure=False)


def wait_before(repeat: int, retry_after: float | None = None) -> float:
    """Seconds to wait before the ``repeat``-th repeat of a request (the first goes at once).

    Example:
        >>> [wait_before(n) <= 0.25 * 2 ** (n - 1) + JITTER for n in (2, 3, 4)], wait_before(1)
        ([True, True, True], 0.0)
        >>> wait_before(3, retry_after=60.0) == MAX_WAIT
        True
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_WAIT)
    if repeat <= 1:
        return 0.0
    return min(BACKOFF * 2 ** (repeat - 1) + random.uniform(0, JITTER), MAX_WAIT)


def worst_wait(attempts: int = ATTEMPTS) -> float:
    """The longest the waits between ``attempts`` sends of one request add up to, without ``Retry-After``."""
    return sum(min(BACKOFF * 2 ** (n - 1) + JITTER, MAX_WAIT) for n in range(2, attempts))


_E = TypeVar("_E", bound=GypsumError)


class Budget:
    """The sends one request has left under its :class:`Policy`; the calls that repeat one transfer share it.

    The transport counts every send in ``sent``. A caller that repeats a
    request itself (a download resumed, or fetched again after it arrived
    corrupted) asks :meth:`repeat` first and passes the same budget on, so the
    request goes out at most ``policy.attempts`` times in all.

    Example:
        >>> budget = Budget(SAFE)
        >>> budget.sent = ATTEMPTS
        >>> budget.repeat()
        False
    """

    def __init__(self, policy: Policy = SAFE) -> None:
        self.policy, self.sent = policy, 0

    def repeat(self, retry_after: float | None = None) -> bool:
        """Whether the request may be sent once more; if so, wait the backoff (or ``retry_after``) first."""
        if self.sent >= self.policy.attempts:
            return False
        time.sleep(wait_before(self.sent, retry_after))
        return True

    def tag(self, error: _E) -> _E:
        """``error`` with the number of sends it comes after in ``attempts``."""
        error.attempts = max(self.sent, 1)
        return error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The seconds a ``Retry-After`` header asks for (a number or an HTTP date), or ``None``."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _worth_repeating(policy: Policy, cause: BaseException) -> bool:
    """Whether a request that got no answer may be sent again: always if it never reached the server."""
    if isinstance(cause, SSLError):
        return False  # a certificate problem does not go away
    return isinstance(cause, ConnectTimeoutError) or policy.unsure


# ---------------------------------------------------------------------------------------------------
# Errors: the one raise-for-status.


def error_for(status: int | None, reason: str, method: str | None = None, url: str | None = None) -> GypsumHTTPError:
    """The typed error for an HTTP ``status`` and the server's ``reason``.

    Example:
        >>> type(error_for(403, "project asset has already been locked")).__name__
        'GypsumLockedError'
        >>> type(error_for(400, "upload exceeds the storage quota for this project")).__name__
        'GypsumQuotaExceededError'
    """
    cls: type[GypsumHTTPError]
    if status is None or status == 429 or status >= 500:
        cls = GypsumTransientError
    elif status == 404:
        cls = GypsumNotFoundError
    elif status in (401, 403) and "already been locked" in reason:
        cls = GypsumLockedError
    elif status in (401, 403):
        cls = GypsumPermissionError
    elif "quota" in reason:
        cls = GypsumQuotaExceededError
    elif status in (200, 400, 405, 409, 411, 413, 415, 422):
        cls = GypsumInvalidRequestError
    else:
        cls = GypsumHTTPError
    return cls(reason + for_status(status, reason, url), status=status, method=method, url=url)


def _error_reason(headers: Mapping[str, str], body: bytes) -> str | None:
    """The ``reason`` of an error body, or ``None`` if the body is not a gypsum error."""
    if "json" not in headers.get("Content-Type", ""):
        return None
    try:
        parsed = loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(parsed, dict) and parsed.get("status") == "error":
        return str(parsed.get("reason", "unknown error"))
    return None


def _raise_for(answer: Answer, method: str, url: str, check_body: bool, budget: Budget) -> None:
    """Raise the typed error for an error status or a gypsum error body (even under a 200)."""
    if answer.status >= 400:
        reason = _error_reason(answer.headers, answer.body) or answer.body[:300].decode("utf-8", "replace").strip()
        error = error_for(answer.status, reason or answer.reason or "no reason given", method, url)
        # A transient status was repeated within the budget; any other is the server's answer, however reached.
        raise budget.tag(error) if isinstance(error, GypsumTransientError) else error
    if check_body and answer.body:
        quirk = _error_reason(answer.headers, answer.body)
        if quirk is not None:
            # The reference server's quirk: some validation errors come with status 200.
            raise error_for(200, quirk, method, url)


def transport_error(exc: BaseException, method: str, url: str) -> GypsumTransientError:
    """A :class:`GypsumTransientError` describing a network failure (no headers, so no tokens)."""
    return GypsumTransientError(f"network error: {type(exc).__name__}: {exc}", method=method, url=url)


def refuse_if_offline(what: str, url: str) -> None:
    """Raise :class:`GypsumOfflineError` in offline mode (``GYPSUM_OFFLINE``): nothing may touch the network."""
    if offline_from_environment():
        raise GypsumOfflineError(
            f"offline ({ENV_OFFLINE} is set): did not {what} {url.split('?')[0]}; only what "
            "the cache holds is available (complete versions, manifests, summaries)"
        )


def _too_long(limit: int, url: str) -> GypsumUnsafeResponseError:
    return GypsumUnsafeResponseError(f"the server sent a body longer than the {limit} bytes expected", url=url)


# ---------------------------------------------------------------------------------------------------
# The reply.


class _BodyReader(Protocol):
    """What a streamed body is read through: a kept-alive :class:`~gypsum_flows._keepalive.Stream`, or a proxied one."""

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def readinto(self, buffer: memoryview) -> int: ...

    def close(self) -> None: ...


@dataclass
class Reply:
    """A response: status, headers and body; what every verb returns.

    A reply of :func:`stream` leaves its body to :meth:`readinto`; the others hold it in ``body``.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    method: str = ""
    url: str = ""
    _reader: _BodyReader | None = field(default=None, repr=False)

    @property
    def length(self) -> int | None:
        """The declared ``Content-Length`` of the body, or ``None``."""
        declared = self.headers.get("Content-Length", "")
        return int(declared) if declared.isdigit() else None

    def json(self, *, allow_empty: bool = False) -> Any:
        """The body parsed as JSON (``None`` for an empty one if ``allow_empty``); garbage is a transient error.

        Example:
            >>> Reply(200, {}, b'{"version": "v1"}').json()
            {'version': 'v1'}
        """
        if allow_empty and not self.body:
            return None
        try:
            return loads(self.body)
        except RecursionError:
            raise GypsumUnsafeResponseError("the JSON is nested too deeply to read", url=self.url or None) from None
        except ValueError:
            raise GypsumTransientError(
                "response is not valid JSON", status=self.status, method=self.method or None, url=self.url or None
            ) from None

    def readinto(self, buffer: memoryview) -> int:
        """Read up to ``len(buffer)`` more bytes of a streamed body into ``buffer``; 0 at its end.

        Raises:
            GypsumTransientError: The body broke off (the caller may resume it).
        """
        if self._reader is None:
            raise TypeError("only a reply of stream() has a body to read")
        try:
            return self._reader.readinto(buffer)
        except (Urllib3Error, OSError, http.client.HTTPException) as exc:
            raise transport_error(exc, self.method, self.url) from None


# ---------------------------------------------------------------------------------------------------
# Sending: kept-alive connections, or requests through a proxy.


class _Adapter(HTTPAdapter):
    """An adapter whose connections send request bodies in large blocks."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=_BLOCKSIZE, **kwargs)


def session() -> requests.Session:
    """The process-wide pooled session for requests through a proxy (a new one after ``fork``)."""
    with _session_lock:
        if _session_state["pid"] != os.getpid():
            sess = requests.Session()
            # No transport-level retries: the budget is applied per call.
            adapter = _Adapter(pool_connections=8, pool_maxsize=_POOL_SIZE, max_retries=0)
            sess.mount("http://", adapter)
            sess.mount("https://", adapter)
            sess.headers["User-Agent"] = _USER_AGENT
            # requests re-reads the whole environment on every request when trust_env is on; proxies are
            # looked up once per host (_proxies_for) and the CA bundle once (_ca_bundle) instead.
            sess.trust_env = False
            _session_state.update(pid=os.getpid(), session=sess)
        return _session_state["session"]


@functools.lru_cache(maxsize=1)
def _ca_bundle() -> str:
    """The CA certificates to trust: ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's (as requests)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()


def _mod() -> tuple[str | bool, Any, tuple[float, float] | None]:
    """``(verify, cert, timeout)`` from :data:`REQUESTS_MOD`: what to trust, what to present, how long to wait."""
    unknown = set(REQUESTS_MOD) - set(_MOD_OPTIONS)
    if unknown:
        raise GypsumInvalidRequestError(
            f"REQUESTS_MOD: unsupported option(s) {sorted(unknown)} (supported: {', '.join(_MOD_OPTIONS)})"
        )
    verify = REQUESTS_MOD.get("verify", True)
    timeout = REQUESTS_MOD.get("timeout")
    if isinstance(timeout, (int, float)):
        timeout = (float(timeout), float(timeout))
    return (_ca_bundle() if verify is True else verify), REQUESTS_MOD.get("cert"), timeout


def _timeout() -> tuple[float, float]:
    """``REQUESTS_MOD["timeout"]``, else the defaults of :mod:`gypsum_flows.constants`."""
    return _mod()[2] or (CONNECT_TIMEOUT, READ_TIMEOUT)


def _connections() -> ConnectionPool:
    """The process-wide pool of kept-alive connections, for the current ``REQUESTS_MOD``."""
    verify, cert, _ = _mod()
    return _pool(verify, cert if cert is None or isinstance(cert, str) else tuple(cert))


@functools.lru_cache(maxsize=8)
def _pool(verify: str | bool, cert: str | tuple[str, str] | None) -> ConnectionPool:
    pool = ConnectionPool(verify if isinstance(verify, str) else None, verify=verify is not False, cert=cert)
    atexit.register(pool.close)  # tidiness only: the sockets would close with the process anyway
    return pool


def _proxies_for(url: str) -> dict[str, str]:
    """``REQUESTS_MOD["proxies"]``, else the environment's proxies for ``url``'s host."""
    return REQUESTS_MOD.get("proxies") or _environ_proxies(*split_url(url)[:2])


@functools.lru_cache(maxsize=64)
def _environ_proxies(scheme: str, netloc: str) -> dict[str, str]:
    """The environment's proxies (``HTTPS_PROXY``, ``NO_PROXY``...) for one host, looked up once."""
    return requests.utils.get_environ_proxies(f"{scheme}://{netloc}/")


class _NoAnswer(Exception):
    """An attempt that got no answer; ``cause`` tells whether the request may have reached the server."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _sendable(url: str) -> str:
    """``url`` with what may not go on a request line (spaces, non-ASCII) percent-encoded, as ``requests`` does.

    Example:
        >>> _sendable("http://x/upload/complete/p/sp ace/v 1")
        'http://x/upload/complete/p/sp%20ace/v%201'
    """
    return requests.utils.requote_uri(url) if _UNQUOTED.search(url) else url


def _unsendable(exc: BaseException, method: str, url: str) -> GypsumInvalidRequestError:
    return GypsumInvalidRequestError(f"cannot send this request: {exc}", method=method, url=url)


class _Proxied:
    """A streamed ``requests`` response, read like a kept-alive :class:`~gypsum_flows._keepalive.Stream`."""

    def __init__(self, response: requests.Response) -> None:
        self.status, self.reason, self.headers = response.status_code, response.reason or "", response.headers
        self._response = response

    def readinto(self, buffer: memoryview) -> int:
        data = self._response.raw.read(len(buffer), decode_content=True)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._response.close()


def _open_proxied(method: str, url: str, headers: dict[str, str], data: IO[bytes] | bytes | None) -> _Proxied:
    """One attempt through ``requests`` (which knows proxies), handed straight to the adapter, body unread."""
    sess = session()
    merged = requests.structures.CaseInsensitiveDict(sess.headers)
    merged.update(headers)
    prepared = requests.PreparedRequest()
    prepared.prepare(method=method, url=url, headers=merged, data=data)
    verify, cert, _ = _mod()
    try:
        response = sess.get_adapter(url).send(
            prepared, stream=True, timeout=_timeout(), verify=verify, cert=cert, proxies=_proxies_for(url)
        )
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
    ) as exc:
        raise _unsendable(exc, method, url) from None
    except requests.RequestException as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
        raise _NoAnswer(cause.reason if isinstance(cause, MaxRetryError) and cause.reason else cause) from None
    return _Proxied(response)


def _read_limited(reader: _BodyReader, limit: int | None) -> bytes:
    """A streamed body read whole, or only its first ``limit + 1`` bytes when it is longer than ``limit``."""
    parts, got, buffer = [], 0, memoryview(bytearray(1 << 20))
    while limit is None or got <= limit:
        count = reader.readinto(buffer if limit is None else buffer[: limit + 1 - got])
        if not count:
            break
        parts.append(bytes(buffer[:count]))
        got += count
    return b"".join(parts)


def _open(method: str, url: str, headers: dict[str, str], data: IO[bytes] | bytes | None) -> _BodyReader:
    """One attempt with the body left unread: kept-alive, or through the proxy. Raises :class:`_NoAnswer`."""
    if _proxies_for(url):
        return _open_proxied(method, url, headers, data)
    try:
        return _connections().open((method, url, headers, data), _timeout())
    except Urllib3Error as exc:
        raise _NoAnswer(exc) from None
    except (ValueError, http.client.InvalidURL) as exc:  # a bad scheme, port or character
        raise _unsendable(exc, method, url) from None


def _exchange(method: str, url: str, headers: dict[str, str], data: Any, limit: int | None) -> Answer:
    """One attempt read whole (at most ``limit + 1`` bytes of the body). Raises :class:`_NoAnswer`."""
    if not _proxies_for(url):
        try:
            return _connections().exchange((method, url, headers, data), _timeout(), limit)
        except Urllib3Error as exc:
            raise _NoAnswer(exc) from None
        except (ValueError, http.client.InvalidURL) as exc:
            raise _unsendable(exc, method, url) from None
    with closing(_open_proxied(method, url, headers, data)) as reader:
        try:
            body = _read_limited(reader, limit)
        except (Urllib3Error, OSError, requests.RequestException) as exc:
            raise _NoAnswer(exc) from None
    return Answer(reader.status, reader.reason, reader.headers, body)


def _outgoing(
    token: str | None, headers: Mapping[str, str] | None, data: Any, json: Any
) -> tuple[dict[str, str], Any, Callable[[], None]]:
    """The headers and body to send, and a function putting a file body back where it started."""
    sent = {"User-Agent": _USER_AGENT, **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if json is not None:
        data = dumps(json).encode()
        sent["Content-Type"] = "application/json"
    if not hasattr(data, "seek"):
        return sent, data, lambda: None
    if hasattr(data, "fileno") and "Content-Length" not in sent:  # else http.client would send it chunked
        sent["Content-Length"] = str(os.fstat(data.fileno()).st_size - data.tell())
    start = data.tell()
    return sent, data, lambda: data.seek(start)


_A = TypeVar("_A", Answer, _BodyReader)


def _attempts(method: str, url: str, budget: Budget, attempt: Callable[[], _A], rewind: Callable[[], None]) -> _A:
    """Call ``attempt`` until its answer is not worth repeating under ``budget``, waiting in between.

    ``attempt`` returns an answer (read whole, or with its body unread) or
    raises :class:`_NoAnswer`. When the budget runs out on statuses worth
    repeating, the last answer is returned for the caller to raise on.
    """
    while True:
        rewind()
        budget.sent += 1
        try:
            answer = attempt()
        except _NoAnswer as failure:
            if _worth_repeating(budget.policy, failure.cause) and budget.repeat():
                continue
            raise budget.tag(transport_error(failure.cause, method, url)) from None
        if answer.status not in budget.policy.statuses or not budget.repeat(_retry_after(answer.headers)):
            return answer
        if not isinstance(answer, Answer):
            answer.close()


# ---------------------------------------------------------------------------------------------------
# The three verbs.


def request(
    method: str,
    url: str,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    data: IO[bytes] | bytes | None = None,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    policy: Policy = SAFE,
    budget: Budget | None = None,
    limit: int | None = None,
    check_body: bool = True,
) -> Reply:
    """Send one gypsum request, repeated within its budget, and read its whole answer; raise a typed error on failure.

    Args:
        method: HTTP method.
        url: Full URL.
        token: Bearer token; sent in the ``Authorization`` header only, never logged.
        headers: Extra headers.
        data: Request body: bytes, or a file streamed from disk and rewound before each attempt.
        json: A document to send as the JSON body instead.
        params: Query parameters.
        policy: :data:`SAFE` or :data:`GUARDED` (ignored when a ``budget`` is given).
        budget: The :class:`Budget` of a request that the caller repeats itself.
        limit: The most bytes the body may have; no more than ``limit + 1`` are ever read.
        check_body: Also recognise a ``{"status": "error"}`` body under a 2xx status.

    Returns:
        The successful reply.

    Raises:
        GypsumHTTPError: A subclass matching the status and reason.
        GypsumUnsafeResponseError: The body is longer than ``limit``.

    Example:
        >>> request("GET", "http://127.0.0.1:8787/list", params={"prefix": "test-R/"}).json()  # doctest: +SKIP
        ['test-R/basic/']
    """
    url = _sendable(f"{url}?{urlencode(params)}" if params else url)
    refuse_if_offline(f"send {method}", url)
    budget = budget or Budget(policy)
    sent, body, rewind = _outgoing(token, headers, data, json)
    answer = _attempts(method, url, budget, lambda: _exchange(method, url, sent, body, limit), rewind)
    if limit is not None and len(answer.body) > limit:
        raise _too_long(limit, url)
    _raise_for(answer, method, url, check_body, budget)
    return Reply(answer.status, answer.headers, answer.body, method, url)


@contextmanager
def stream(
    url: str, *, token: str | None = None, headers: Mapping[str, str] | None = None, budget: Budget | None = None
) -> Iterator[Reply]:
    """``GET`` ``url`` and yield its reply with the body unread, for :meth:`Reply.readinto`.

    The caller decides how much it reads, and never holds more. A failure
    before the body arrives is repeated within ``budget``; a failure while it
    arrives raises :class:`GypsumTransientError` from ``readinto``, so the
    caller can resume the download (with the same ``budget``).

    Example:
        >>> with stream("http://127.0.0.1:8787/file/x") as reply:  # doctest: +SKIP
        ...     got = reply.readinto(memoryview(bytearray(1 << 20)))
    """
    url = _sendable(url)
    refuse_if_offline("send GET", url)
    budget = budget or Budget(SAFE)
    sent, _, rewind = _outgoing(token, headers, None, None)
    reader = _attempts("GET", url, budget, lambda: _open("GET", url, sent, None), rewind)
    try:
        if reader.status >= 400:
            body = _read_limited(reader, _REASON_BYTES)
            _raise_for(Answer(reader.status, reader.reason, reader.headers, body), "GET", url, False, budget)
        yield Reply(reader.status, reader.headers, b"", "GET", url, reader)
    finally:
        reader.close()


def request_many(
    calls: Iterable[Request],
    *,
    depth: int,
    token: str | None = None,
    check_body: bool = True,
    limits: Mapping[str, int] | None = None,
) -> Iterator[Reply]:
    """:func:`request` for many safe requests ``(method, url, headers, body)``, ``depth`` in flight from one thread.

    Yields the replies in the order of ``calls``, which is read as
    requests go out (so bodies can be read from disk just in time). A request
    that broke off or got a transient status is sent again by itself within
    its :data:`SAFE` budget; an error status raises. ``limits`` maps URLs to
    the ``limit`` of :func:`request` for their bodies.

    Example:
        >>> gets = (("GET", url, {}, None) for url in urls)  # doctest: +SKIP
        >>> sizes = [len(reply.body) for reply in request_many(gets, depth=8)]  # doctest: +SKIP
    """
    pending = iter(calls)
    first = next(pending, None)
    if first is None:
        return
    refuse_if_offline(f"send {first[0]}", first[1])
    pending = itertools.chain([first], pending)
    limits = {_sendable(url): limit for url, limit in limits.items()} if limits else None
    if _proxies_for(first[1]):
        for method, url, headers, body in pending:
            limit = limits.get(_sendable(url)) if limits else None
            yield request(method, url, token=token, headers=headers, data=body, check_body=check_body, limit=limit)
        return
    sent = (
        (method, _sendable(url), _outgoing(token, headers, None, None)[0], body)
        for method, url, headers, body in pending
    )
    # closing(): the requests still in flight are dropped at once when an error status ends the loop.
    with closing(_connections().exchange_each(sent, _timeout(), depth, limits)) as outcomes:
        for (method, url, headers, body), outcome in outcomes:
            limit = limits.get(url) if limits else None
            budget = Budget(SAFE)
            budget.sent = 1
            if isinstance(outcome, Exception):
                if not (_worth_repeating(SAFE, outcome) and budget.repeat()):
                    raise budget.tag(transport_error(outcome, method, url))
            elif outcome.status not in TRANSIENT_STATUSES:
                if limit is not None and len(outcome.body) > limit:
                    raise _too_long(limit, url)
                _raise_for(outcome, method, url, check_body, budget)
                yield Reply(outcome.status, outcome.headers, outcome.body, method, url)
                continue
            elif not budget.repeat(_retry_after(outcome.headers)):
                _raise_for(outcome, method, url, check_body, budget)
            yield request(method, url, headers=headers, data=body, budget=budget, check_body=check_body, limit=limit)
