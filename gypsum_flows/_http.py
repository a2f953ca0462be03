"""The one HTTP path of gypsum-flows: pooled connections, retries, timeouts, typed errors.

This is the only module that imports ``requests``. Every call goes through
:func:`request` or :func:`fetch`, which

- use one ``requests.Session`` per process (connection pooling; safe to
  share between threads), or for the per-file requests of a transfer
  (:func:`fetch`: file GETs, URL signing, file PUTs) kept-alive
  ``http.client`` connections (:mod:`gypsum_flows._keepalive`), which cost
  a fifth of the CPU per request,
- sets a connect and a read timeout on every request,
- retries according to a :class:`urllib3.util.retry.Retry` policy with
  exponential backoff, jitter and ``Retry-After``, chosen per call:
  :data:`SAFE` for requests that may be repeated (reads, signing a file URL,
  the file PUT, completion, abort) and :data:`GUARDED` for requests that may
  change server state (starting an upload, admin calls), which are repeated
  only when the server cannot have acted on them (connection refused, 429,
  503),
- turns error statuses and ``{"status": "error", "reason": ...}`` bodies
  (including the reference server's 200-with-error-body quirk) into the typed
  errors of :mod:`gypsum_flows.errors`.

The retry loop lives here rather than in the session's adapter because the
policy differs per call while the session and its connection pool are shared.
Requests through a proxy (``HTTPS_PROXY`` and friends) always use ``requests``.

Example:
    >>> quote_key("test-R/basic/v1/my file.txt")
    'test-R%2Fbasic%2Fv1%2Fmy%20file.txt'
"""

from __future__ import annotations

import functools
import http.client
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from typing import IO, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from . import __version__
from ._keepalive import ConnectionPool, Reply, Request, split_url
from .constants import (
    CONNECT_TIMEOUT,
    ENV_OFFLINE,
    MAX_DOCUMENT_SIZE,
    READ_TIMEOUT,
    default_rest_url,
    offline_from_environment,
)
from .errors import (
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

#: Statuses worth repeating a safe request for.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses that mean the server did not act on the request.
NOT_ACTED_STATUSES = frozenset({429, 503})


def _policy(read: int, statuses: frozenset[int]) -> Retry:
    """A retry policy with exponential backoff and jitter that honours ``Retry-After``."""
    return Retry(
        total=6,
        connect=6,
        read=read,
        status=6,
        other=0,
        redirect=False,
        allowed_methods=None,  # the caller chose the policy for this request's safety
        status_forcelist=statuses,
        raise_on_status=False,
        backoff_factor=0.25,
        backoff_jitter=0.25,
        backoff_max=8.0,
    )


#: Policy for requests that may be repeated: connection errors, read errors, 429 and 5xx.
SAFE = _policy(read=4, statuses=TRANSIENT_STATUSES)
#: Policy for requests that may change state: only connection refused/unreachable, 429 and 503.
GUARDED = _policy(read=0, statuses=NOT_ACTED_STATUSES)

#: Options applied to every request, as gypsum_client's ``REQUESTS_MOD`` (change them in place):
#: ``verify`` (``True``, ``False`` or a CA bundle file or folder), ``cert`` (a client certificate file, or
#: ``(cert, key)``), ``timeout`` (seconds, or ``(connect, read)``) and ``proxies`` (as in ``requests``).
REQUESTS_MOD: dict[str, Any] = {"verify": True}
_MOD_OPTIONS = ("verify", "cert", "timeout", "proxies")

_POOL_SIZE = 32
#: Bytes per socket write when streaming a request body (urllib3's default of 16 KiB is slow for GiB files).
_BLOCKSIZE = 1 << 20
_USER_AGENT = f"gypsum-flows/{__version__}"
_session_lock = threading.Lock()
_session_state: dict[str, Any] = {"pid": None, "session": None}
_rest_url_override: list[str] = []
T = TypeVar("T")


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


class _Adapter(HTTPAdapter):
    """An adapter whose connections send request bodies in large blocks."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=_BLOCKSIZE, **kwargs)


def session() -> requests.Session:
    """The process-wide pooled session (a new one after ``fork``)."""
    with _session_lock:
        if _session_state["pid"] != os.getpid():
            sess = requests.Session()
            # No transport-level retries: the policy is applied per call by request().
            adapter = _Adapter(pool_connections=8, pool_maxsize=_POOL_SIZE, max_retries=0)
            sess.mount("http://", adapter)
            sess.mount("https://", adapter)
            sess.headers["User-Agent"] = _USER_AGENT
            # requests re-reads the whole environment on every request when trust_env is on (milliseconds
            # each); proxies are looked up once per host instead (_proxies_for), the CA bundle once (_ca_bundle),
            # and both are handed to each request with REQUESTS_MOD (_send).
            sess.trust_env = False
            _session_state.update(pid=os.getpid(), session=sess)
        return _session_state["session"]


@functools.lru_cache(maxsize=1)
def _ca_bundle() -> str:
    """The CA certificates to trust: ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's (as requests)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or requests.certs.where()


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


def _connections() -> ConnectionPool:
    """The process-wide pool of kept-alive connections used by :func:`fetch`, for the current ``REQUESTS_MOD``."""
    verify, cert, _ = _mod()
    return _pool(verify, cert if cert is None or isinstance(cert, str) else tuple(cert))


@functools.lru_cache(maxsize=8)
def _pool(verify: str | bool, cert: str | tuple[str, str] | None) -> ConnectionPool:
    return ConnectionPool(verify if isinstance(verify, str) else None, verify=verify is not False, cert=cert)


def _proxies_for(scheme: str, netloc: str) -> dict[str, str]:
    """``REQUESTS_MOD["proxies"]``, else the environment's proxies for one host."""
    return REQUESTS_MOD.get("proxies") or _environ_proxies(scheme, netloc)


@functools.lru_cache(maxsize=64)
def _environ_proxies(scheme: str, netloc: str) -> dict[str, str]:
    """The environment's proxies (``HTTPS_PROXY``, ``NO_PROXY``...) for one host, looked up once."""
    return requests.utils.get_environ_proxies(f"{scheme}://{netloc}/")


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
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("status") == "error":
        return str(parsed.get("reason", "unknown error"))
    return None


def _raise_for(
    status: int, headers: Mapping[str, str], body: bytes, phrase: str, method: str, url: str, check_body: bool
) -> None:
    """Raise the typed error for an error status or a gypsum error body (even under a 200)."""
    if status >= 400:
        reason = _error_reason(headers, body) or body[:300].decode("utf-8", "replace").strip()
        raise error_for(status, reason or phrase or "no reason given", method, url)
    if check_body and body:
        reason = _error_reason(headers, body)
        if reason is not None:
            # The reference server's quirk: some validation errors come with status 200.
            raise error_for(200, reason, method, url)


def raise_for_gypsum(response: requests.Response, *, check_body: bool = True) -> None:
    """:func:`_raise_for` on a ``requests`` response (whose error body may break off while read)."""
    if response.status_code < 400 and not check_body:
        return
    try:
        body = response.content
    except requests.RequestException:
        body = b""
    _raise_for(
        response.status_code,
        response.headers,
        body,
        response.reason or "",
        response.request.method or "",
        response.url,
        check_body,
    )


def _root_cause(exc: requests.RequestException) -> BaseException:
    """The urllib3 error under a requests exception, which urllib3's Retry knows how to classify."""
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    return cause.reason if isinstance(cause, MaxRetryError) and cause.reason is not None else cause


def transport_error(exc: BaseException, method: str, url: str) -> GypsumTransientError:
    """A :class:`GypsumTransientError` describing a network failure (no headers, so no tokens)."""
    return GypsumTransientError(f"network error: {type(exc).__name__}: {exc}", method=method, url=url)


class _NoResponse(Exception):
    """An attempt that got no response; ``cause`` is the error urllib3's Retry classifies."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _with_retries(
    method: str,
    url: str,
    policy: Retry,
    attempt: Callable[[], tuple[int, Mapping[str, str], T]],
    discard: Callable[[T], None],
) -> T:
    """Call ``attempt`` until its response is not worth repeating under ``policy``, sleeping in between.

    ``attempt`` returns ``(status, headers, response)`` or raises :class:`_NoResponse`. When the
    policy is used up on retryable statuses, the last response is returned for the caller to raise on.
    """
    retry = policy
    while True:
        try:
            status, headers, response = attempt()
        except _NoResponse as failure:
            try:
                # urllib3 tells connection errors (never reached the server) from read errors.
                retry = retry.increment(method, url, error=failure.cause)  # type: ignore[arg-type]
            except Exception:
                raise transport_error(failure.cause, method, url) from None
            retry.sleep()
            continue
        if not retry.is_retry(method, status, status in Retry.RETRY_AFTER_STATUS_CODES and "Retry-After" in headers):
            return response
        answer = HTTPResponse(status=status, headers=dict(headers), preload_content=False)  # for Retry-After
        try:
            retry = retry.increment(method, url, response=answer)
        except MaxRetryError:
            return response
        discard(response)
        retry.sleep(answer)


def refuse_if_offline(what: str, url: str) -> None:
    """Raise :class:`GypsumOfflineError` in offline mode (``GYPSUM_OFFLINE``): nothing may touch the network."""
    if offline_from_environment():
        raise GypsumOfflineError(
            f"offline ({ENV_OFFLINE} is set): did not {what} {url.split('?')[0]}; only what "
            "the cache holds is available (complete versions, manifests, summaries)"
        )


def _timeout() -> tuple[float, float]:
    """``REQUESTS_MOD["timeout"]``, else the defaults of :mod:`gypsum_flows.constants`."""
    return _mod()[2] or (CONNECT_TIMEOUT, READ_TIMEOUT)


def _headers(token: str | None, headers: dict[str, str] | None) -> dict[str, str]:
    out = dict(headers or {})
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def _rewinder(data: IO[bytes] | bytes | None) -> Callable[[], None]:
    """A function putting a seekable request body back where it started (each attempt sends it all)."""
    if not hasattr(data, "seek"):
        return lambda: None
    start = data.tell()  # type: ignore[union-attr]
    return lambda: data.seek(start)  # type: ignore[union-attr]


def _send(
    sess: requests.Session,
    method: str,
    url: str,
    headers: dict[str, str],
    data: IO[bytes] | bytes | None,
    timeout: tuple[float, float],
    stream: bool,
    **kwargs: Any,
) -> requests.Response:
    """One attempt, handed straight to the session's adapter without redirects.

    ``Session.request`` would merge the session's cookies, hooks, auth and
    parameters into every request, which costs more CPU than fetching a small
    file; the shared session has nothing of those but its headers.
    """
    merged = requests.structures.CaseInsensitiveDict(sess.headers)
    merged.update(headers)
    prepared = requests.PreparedRequest()
    prepared.prepare(method=method, url=url, headers=merged, data=data, **kwargs)
    verify, cert, _ = _mod()
    try:
        response = sess.get_adapter(url).send(
            prepared,
            stream=stream,
            timeout=timeout,
            verify=verify,
            cert=cert,
            proxies=_proxies_for(*urlsplit(url)[:2]),
        )
        if not stream:
            response.content  # noqa: B018 - read the body now, as Session.send does
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
    ) as exc:
        raise GypsumInvalidRequestError(f"cannot send this request: {exc}", method=method, url=url) from None
    except requests.RequestException as exc:
        raise _NoResponse(_root_cause(exc)) from None
    return response


def request(
    method: str,
    url: str,
    *,
    policy: Retry = SAFE,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    data: IO[bytes] | bytes | None = None,
    timeout: tuple[float, float] | None = None,
    stream: bool = False,
    check_body: bool = True,
    **kwargs: Any,
) -> requests.Response:
    """Send one gypsum request through the session with retries under ``policy``; raise a typed error on failure.

    Args:
        method: HTTP method.
        url: Full URL.
        policy: :data:`SAFE` or :data:`GUARDED` (or any ``Retry``).
        token: Bearer token; sent in the header only, never logged.
        headers: Extra headers.
        data: Request body; a seekable file is rewound before each attempt.
        timeout: ``(connect, read)`` seconds; defaults from :mod:`gypsum_flows.constants`.
        stream: Leave the body unread (the caller closes the response).
        check_body: Also recognise a ``{"status": "error"}`` body under a 2xx status.
        **kwargs: Passed to ``requests`` (``json=``, ``params=``).

    Returns:
        The successful response.

    Raises:
        GypsumHTTPError: A subclass matching the status and reason.

    Example:
        >>> request("GET", "http://127.0.0.1:9/list", policy=GUARDED.new(total=0))  # doctest: +SKIP
    """
    refuse_if_offline(f"send {method}", url)
    sess, rewind, sent = session(), _rewinder(data), _headers(token, headers)

    def attempt() -> tuple[int, Mapping[str, str], requests.Response]:
        rewind()
        response = _send(sess, method, url, sent, data, timeout or _timeout(), stream, **kwargs)
        return response.status_code, response.headers, response

    response = _with_retries(method, url, policy, attempt, discard=lambda r: r.close())
    if response.status_code >= 400 or not stream:
        raise_for_gypsum(response, check_body=check_body)
    return response


def fetch(
    method: str,
    url: str,
    *,
    policy: Retry = SAFE,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    data: IO[bytes] | bytes | None = None,
    params: Mapping[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    check_body: bool = True,
    limit: int | None = None,
) -> Reply:
    """Send a request that is safe to repeat and read its whole response, on a kept-alive connection.

    For the many small requests of a transfer; retried under ``policy``
    (a :data:`SAFE` one: such requests may be repeated), with the same typed
    errors as :func:`request`. A file ``data`` is
    streamed (its ``Content-Length`` taken from the file) and rewound before
    each attempt. With a ``limit``, no more than ``limit + 1`` bytes of the
    body are read: a longer body comes back cut there, for the caller to refuse.

    Example:
        >>> fetch("GET", "http://127.0.0.1:9/list", params={"prefix": "p/"}).body  # doctest: +SKIP
        b'["p/a/"]'
    """
    if params:
        url = f"{url}?{urlencode(params)}"
    refuse_if_offline(f"send {method}", url)
    if _proxies_for(*split_url(url)[:2]):
        return _fetch_proxied(
            method,
            url,
            policy=policy,
            token=token,
            headers=headers,
            data=data,
            timeout=timeout,
            check_body=check_body,
            limit=limit,
        )
    sent = {"User-Agent": _USER_AGENT, **_headers(token, headers)}
    if hasattr(data, "fileno") and "Content-Length" not in sent:
        sent["Content-Length"] = str(os.fstat(data.fileno()).st_size - data.tell())  # type: ignore[union-attr]
    rewind, pool = _rewinder(data), _connections()

    def attempt() -> tuple[int, Mapping[str, str], Reply]:
        rewind()
        try:
            reply = pool.exchange(method, url, sent, data, timeout or _timeout(), limit)
        except Urllib3Error as exc:
            raise _NoResponse(exc) from None
        except (ValueError, http.client.InvalidURL) as exc:  # a bad scheme, port or character
            raise GypsumInvalidRequestError(f"cannot send this request: {exc}", method=method, url=url) from None
        return reply.status, reply.headers, reply

    reply = _with_retries(method, url, policy, attempt, discard=lambda r: None)
    _raise_for(reply.status, reply.headers, reply.body, reply.reason, method, url, check_body)
    return reply


def _fetch_proxied(method: str, url: str, *, limit: int | None, check_body: bool, **kwargs: Any) -> Reply:
    """:func:`fetch` through ``requests`` (which knows proxies), reading at most ``limit + 1`` bytes of the body."""
    if limit is None:
        response = request(method, url, check_body=check_body, **kwargs)
        return Reply(response.status_code, response.reason or "", response.headers, response.content)  # type: ignore[arg-type]
    with closing(request(method, url, stream=True, check_body=check_body, **kwargs)) as response:
        read = _body_reader(response, url)
        parts, got = [], 0
        while got <= limit and (part := read(limit + 1 - got)):
            parts.append(part)
            got += len(part)
    reply = Reply(response.status_code, response.reason or "", response.headers, b"".join(parts))  # type: ignore[arg-type]
    _raise_for(reply.status, reply.headers, reply.body, reply.reason, method, url, check_body)
    return reply


def fetch_each(
    requests: Iterable[Request], *, depth: int, check_body: bool = True, limits: Mapping[str, int] | None = None
) -> Iterator[Reply]:
    """:func:`fetch` for many requests ``(method, url, headers, body)``, ``depth`` in flight from this one thread.

    Yields the replies in the order of ``requests``, which is read as
    requests go out (so bodies can be read from disk just in time). A request
    that broke off or got a transient status is sent again through
    :func:`fetch`, with the whole :data:`SAFE` policy; an error status raises.
    ``limits`` maps URLs to the ``limit`` of :func:`fetch` for their bodies.

    Example:
        >>> gets = (("GET", url, {}, None) for url in urls)  # doctest: +SKIP
        >>> sizes = [len(reply.body) for reply in fetch_each(gets, depth=8)]  # doctest: +SKIP
    """
    requests = iter(requests)
    first = next(requests, None)
    if first is None:
        return
    refuse_if_offline(f"send {first[0]}", first[1])
    requests = itertools.chain([first], requests)
    if _proxies_for(*split_url(first[1])[:2]):
        for method, url, headers, body in requests:
            yield fetch(
                method,
                url,
                headers=dict(headers),
                data=body,
                check_body=check_body,
                limit=limits.get(url) if limits else None,
            )
        return
    sent = ((method, url, {"User-Agent": _USER_AGENT, **headers}, body) for method, url, headers, body in requests)
    # closing(): the requests still in flight are dropped at once when an error status ends the loop.
    with closing(_connections().exchange_each(sent, _timeout(), depth, limits)) as outcomes:
        for (method, url, headers, body), outcome in outcomes:
            if isinstance(outcome, Exception) or outcome.status in TRANSIENT_STATUSES:
                yield _fetch_again(
                    method, url, dict(headers), body, outcome, check_body, limits.get(url) if limits else None
                )
                continue
            _raise_for(outcome.status, outcome.headers, outcome.body, outcome.reason, method, url, check_body)
            yield outcome


def _fetch_again(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    first: Reply | Exception,
    check_body: bool,
    limit: int | None,
) -> Reply:
    """:func:`fetch` for a request whose first attempt (by :func:`fetch_each`) failed, which counts under the policy."""
    answer = (
        None
        if isinstance(first, Exception)
        else HTTPResponse(status=first.status, headers=dict(first.headers), preload_content=False)
    )
    try:
        retry = (
            SAFE.increment(method, url, error=first)
            if answer is None
            else SAFE.increment(  # type: ignore[arg-type]
                method, url, response=answer
            )
        )
    except MaxRetryError:
        if isinstance(first, Exception):
            raise transport_error(first, method, url) from None
        _raise_for(first.status, first.headers, first.body, first.reason, method, url, check_body)
        raise
    retry.sleep(answer)
    return fetch(method, url, policy=retry, headers=headers, data=body, check_body=check_body, limit=limit)


def response_json(response: requests.Response | Reply, *, allow_empty: bool = False) -> Any:
    """The JSON body of a response (``None`` for an empty one if ``allow_empty``); garbage is transient."""
    body = response.body if isinstance(response, Reply) else response.content
    if allow_empty and not body:
        return None
    try:
        return json.loads(body)
    except RecursionError:
        raise GypsumUnsafeResponseError(
            "the JSON is nested too deeply to read", url=None if isinstance(response, Reply) else response.url
        ) from None
    except ValueError:
        if isinstance(response, Reply):
            raise GypsumTransientError("response is not valid JSON", status=response.status) from None
        raise GypsumTransientError(
            "response is not valid JSON", status=response.status_code, method=response.request.method, url=response.url
        ) from None


def get_json(url: str, attempts: int = 3, **kwargs: Any) -> Any:
    """``GET`` a JSON document (see :func:`fetch_json`); a garbled body is fetched again.

    Example:
        >>> get_json("http://127.0.0.1:9/list", params={"prefix": "x/"})  # doctest: +SKIP
    """
    return fetch_json("GET", url, attempts=attempts, check_body=False, **kwargs)


def fetch_json(method: str, url: str, attempts: int = 3, limit: int = MAX_DOCUMENT_SIZE, **kwargs: Any) -> Any:
    """The JSON body of :func:`fetch`; a garbled body is fetched again, up to ``attempts`` times in all.

    Raises:
        GypsumUnsafeResponseError: The body is larger than ``limit`` bytes or nested too deeply to parse.

    Example:
        >>> fetch_json("POST", "http://127.0.0.1:9/upload/presigned-file/x", token="t")  # doctest: +SKIP
    """
    for attempt in range(attempts):
        reply = fetch(method, url, limit=limit, **kwargs)
        if len(reply.body) > limit:
            raise GypsumUnsafeResponseError(f"the response is larger than the {limit}-byte limit", url=url)
        try:
            return response_json(reply)
        except GypsumTransientError as exc:
            if attempt == attempts - 1:
                raise GypsumTransientError(exc.reason, status=exc.status, method=method, url=url) from None
    raise AssertionError("unreachable")


#: Reads up to ``n`` more bytes of a streamed body.
BodyReader = Callable[[int], bytes]


@contextmanager
def stream_get(url: str, *, headers: dict[str, str] | None = None) -> Iterator[tuple[int, int | None, BodyReader]]:
    """``GET`` ``url`` and yield its status, its declared ``Content-Length`` (or ``None``) and a body reader.

    ``read(n)`` returns up to ``n`` more bytes of the body (``b""`` at its end),
    so the caller decides how much it reads, and never holds more. A
    connection failure before the body arrives is retried under :data:`SAFE`;
    a failure while the body streams raises :class:`GypsumTransientError`, so
    the caller can restart or resume the download.

    Example:
        >>> with stream_get("http://127.0.0.1:9/file/x") as (status, length, read):  # doctest: +SKIP
        ...     first = read(1 << 20)
    """
    response = request("GET", url, headers=headers, stream=True, check_body=False)
    declared = response.headers.get("Content-Length", "")
    try:
        yield response.status_code, int(declared) if declared.isdigit() else None, _body_reader(response, url)
    finally:
        response.close()


def _body_reader(response: requests.Response, url: str) -> BodyReader:
    """A :data:`BodyReader` over a streamed ``requests`` response; network failures become transient errors."""

    def read(n: int) -> bytes:
        try:
            return response.raw.read(n, decode_content=True)
        except (Urllib3Error, OSError) as exc:
            raise transport_error(exc, "GET", url) from None

    return read


def put_file(url: str, fileobj: IO[bytes], *, headers: dict[str, str]) -> None:
    """``PUT`` a file's bytes, streamed from disk and rewound on retry, under :data:`SAFE`."""
    fetch("PUT", url, data=fileobj, headers=headers)
