"""HTTP plumbing shared by every endpoint: errors, JSON bodies, path parameters.

Handlers are plain functions ``handler(call) -> Response`` that run in a
worker thread; :func:`endpoint` adapts them to Starlette, reading the body
and percent-decoding the raw path parameters first.

Example:
    >>> HttpError("object not found", 404).status
    404
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..names import bad_name_reason

#: Largest JSON request body accepted (uploads go through the PUT endpoint instead).
MAX_JSON_BODY = 64 * 1024 * 1024

_NO_BODY = frozenset(("GET", "HEAD"))


class HttpError(Exception):
    """An error answered as ``{"status": "error", "reason": ...}`` with ``status``."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


#: Compact JSON text as Starlette's JSONResponse writes it, from one shared encoder:
#: ``json.dumps`` with options builds a new encoder on every call.
encode_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


class CompactJSONResponse(JSONResponse):
    """JSONResponse with the same bytes, rendered by :data:`encode_json` (for the per-file endpoints)."""

    def render(self, content: Any) -> bytes:
        return encode_json(content).encode()


def error_response(reason: str, status: int) -> JSONResponse:
    """The reference server's error body."""
    return CompactJSONResponse(
        {"status": "error", "reason": reason}, status_code=status, headers={"Access-Control-Allow-Origin": "*"}
    )


def empty_response() -> Response:
    """The 200-with-empty-body answer of most mutating endpoints."""
    return Response(status_code=200)


def decode_component(raw: str) -> str:
    """Percent-decode one raw path component like JavaScript's ``decodeURIComponent``.

    ``+`` stays a literal plus; malformed UTF-8 is a 400.

    Example:
        >>> decode_component("a%2Fb+c%20d")
        'a/b+c d'
    """
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise HttpError(f"malformed percent-encoding in '{raw}'", 400) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Parse a JSON request body strictly (no NaN/Infinity); a syntax error or deep nesting is a 400 saying so.

    Example:
        >>> parse_json(b'{"a": 1}')
        {'a': 1}
    """
    try:
        return json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(f"failed to parse JSON body; {exc}", 400) from None
    except RecursionError:  # the parser's own limit (about 1,000 levels); no request needs a tenth of it
        raise HttpError("failed to parse JSON body; it is nested too deeply", 400) from None


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes with a 413."""
    declared = request.headers.get("content-length")
    if declared == "0":  # e.g. POST /upload/presigned-file: nothing to wait for
        return b""
    if declared and declared.isdigit() and int(declared) > limit:
        raise HttpError(f"request body is larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(f"request body is larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


class Call:
    """What a handler gets: decoded path parameters, query, headers, body and the app state.

    Query, headers and base URL come from the request on first use: most handlers need few of them,
    and building them for every request costs more than some handlers do.
    """

    def __init__(self, request: Request, params: Mapping[str, str], body: bytes) -> None:
        self._request = request
        self.params = params
        self.body = body
        self.state: Any = request.app.state

    @property
    def query(self) -> Mapping[str, str]:
        """The query parameters (Starlette parses them once per request)."""
        return self._request.query_params

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers, case-insensitive."""
        return self._request.headers

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` of this server as the client addressed it."""
        scope = self._request.scope
        host = self.headers.get("host")
        if host:  # what request.url would say, without building and parsing a whole URL
            return f"{scope.get('scheme', 'http')}://{host}"
        url = self._request.url
        return f"{url.scheme}://{url.netloc}"

    def name(self, kind: str) -> str:
        """The ``project``/``asset``/``version`` path parameter, checked (400 on a bad name)."""
        value = self.params[kind]
        reason = bad_name_reason(value, kind) or (f"{kind} name cannot be '.'" if value == "." else None)
        if reason:
            raise HttpError(reason, 400)
        return value

    def json(self) -> Any:
        """The body parsed as JSON (400 when it is not JSON)."""
        return parse_json(self.body)

    def bearer(self) -> str:
        """The bearer token, or a 401 ``no user identity supplied``."""
        auth = self.headers.get("authorization")
        if auth is None or not auth.startswith("Bearer "):
            raise HttpError("no user identity supplied", 401)
        return auth[len("Bearer ") :]


Handler = Callable[[Call], Response]


def endpoint(handler: Handler, quick: bool | Callable[[Call], Response | None] = False) -> Callable[[Request], Any]:
    """Adapt a thread-run ``handler(call)`` to a Starlette endpoint.

    ``quick=True`` runs the handler in the event loop, for calls that need only a few fast local file
    operations: the hop to a worker thread and back costs more than such a call, and busy worker
    threads make the event loop wait for the GIL after every socket write. ``quick=fast`` tries
    ``fast(call)`` in the event loop first and runs the handler in a thread only when it returns ``None``.
    """

    async def run(request: Request) -> Response:
        # GET and HEAD carry no body worth reading.
        body = b"" if request.method in _NO_BODY else await read_body(request)
        call = Call(request, {k: decode_component(v) for k, v in request.path_params.items()}, body)
        if quick is True:
            return handler(call)
        if quick:
            response = quick(call)
            if response is not None:
                return response
        return await run_in_threadpool(handler, call)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run
