"""The Starlette application: one route list, one error handler.

Routing happens on the **raw** request path, so a ``%2F`` inside a key or a
name stays inside its path parameter; handlers get the parameters
percent-decoded once, like the reference's ``decodeURIComponent``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..constants import MAX_FILE_SIZE
from . import admin, probation, read, upload
from .signing import Signer, load_secret
from .storage import Bucket
from .transfer import put_object
from .users import Users, github_user, github_user_orgs
from .web import HttpError, endpoint, error_response

logger = logging.getLogger("gypsum_flows.server")

_DOUBLE_SLASH = re.compile(r"(?<!:)//+")
_GET_HEAD = ["GET", "HEAD"]
_CORS_HEADER = b"access-control-allow-origin"

ROUTES = [
    Route("/", endpoint(read.root), methods=_GET_HEAD),
    Route("/file/{key:path}", endpoint(read.get_file, quick=read.quick_file), methods=_GET_HEAD),
    Route("/list", endpoint(read.list_objects), methods=_GET_HEAD),
    Route("/credentials/s3-api", endpoint(read.s3_credentials), methods=_GET_HEAD),
    Route("/credentials/github-app", endpoint(read.github_app), methods=_GET_HEAD),
    Route("/metadata/{name:path}", endpoint(read.metadata_file), methods=_GET_HEAD),
    Route("/github/user", endpoint(github_user), methods=_GET_HEAD),
    Route("/github/user/orgs", endpoint(github_user_orgs), methods=_GET_HEAD),
    Route("/create/{project}", endpoint(admin.create_project), methods=["POST"]),
    Route("/remove/{project}", endpoint(admin.remove_project), methods=["DELETE"]),
    Route("/remove/{project}/{asset}", endpoint(admin.remove_asset), methods=["DELETE"]),
    Route("/remove/{project}/{asset}/{version}", endpoint(admin.remove_version), methods=["DELETE"]),
    Route("/permissions/{project}", endpoint(admin.set_permissions), methods=["PUT"]),
    Route("/quota/{project}", endpoint(admin.set_quota), methods=["PUT"]),
    Route("/unlock/{project}", endpoint(admin.unlock), methods=["DELETE"]),
    Route("/refresh/latest/{project}/{asset}", endpoint(admin.refresh_latest), methods=["POST"]),
    Route("/refresh/usage/{project}", endpoint(admin.refresh_usage), methods=["POST"]),
    # The two per-file routes first: SegmentRouter tries the "/upload" routes in this order.
    Route("/upload/put/{grant}", put_object, methods=["PUT"]),
    Route("/upload/presigned-file/{slug:path}", endpoint(upload.presigned_file, quick=True), methods=["POST"]),
    Route("/upload/start/{project}/{asset}/{version}", endpoint(upload.start_upload), methods=["POST"]),
    Route("/upload/complete/{project}/{asset}/{version}", endpoint(upload.complete_upload), methods=["POST"]),
    Route("/upload/abort/{project}/{asset}/{version}", endpoint(upload.abort_upload), methods=["POST"]),
    Route("/probation/approve/{project}/{asset}/{version}", endpoint(probation.approve), methods=["POST"]),
    Route("/probation/reject/{project}/{asset}/{version}", endpoint(probation.reject), methods=["POST"]),
]


def _first_segment(path: str) -> str:
    return path[1:].partition("/")[0]


class SegmentRouter(Router):
    """A Router that tries only the routes sharing the request path's first segment.

    Starlette's Router tries every route's regex in turn (about 14 per request with this route
    list); a dict lookup on the first segment leaves at most four. Each group is an ordinary Router,
    so 404, 405 and path parameters behave exactly as with one flat route list.
    """

    def __init__(self, routes: list[Route]) -> None:
        super().__init__(routes, redirect_slashes=False)  # "/list/" is no endpoint, as in the reference
        groups: dict[str, list[Route]] = {}
        for route in routes:
            groups.setdefault(_first_segment(route.path), []).append(route)
        self._groups = {segment: Router(group, redirect_slashes=False) for segment, group in groups.items()}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        group = self._groups.get(_first_segment(scope["path"]))
        await (group.app if group else self.default)(scope, receive, send)


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one error handler: every failure becomes ``{"status": "error", "reason": ...}``."""
    if isinstance(exc, HttpError):
        return error_response(exc.reason, exc.status)
    if isinstance(exc, HTTPException):  # no route matched (404) or no method matched (405)
        raw = request.scope["raw_path"].decode("latin-1")
        if _DOUBLE_SLASH.search(raw):
            query = request.scope.get("query_string", b"").decode("latin-1")
            target = _DOUBLE_SLASH.sub("/", raw) + (f"?{query}" if query else "")
            return RedirectResponse(target, status_code=301)
        return error_response("no such endpoint", 404)
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    # OS errors would name server-side paths; say only what went wrong.
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return error_response(reason or type(exc).__name__, 500)


def _cors_preflight(scope: Scope) -> Response:
    """The reference's answer to ``OPTIONS`` on any path."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if {"origin", "access-control-request-method", "access-control-request-headers"} <= headers.keys():
        return Response(
            status_code=200,
            headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": "GET,HEAD,POST,OPTIONS",
                "Access-Control-Max-Age": "86400",
                "Access-Control-Allow-Headers": headers["access-control-request-headers"],
            },
        )
    return Response(status_code=200, headers={"Allow": "GET, HEAD, POST, OPTIONS"})


class RawPathGateway:
    """Route on the raw path, answer CORS, add ``Access-Control-Allow-Origin`` and log every request.

    The log holds method and path only: never headers (tokens), never the
    query of presigned URLs (signatures).
    """

    def __init__(self, app: ASGIApp, request_log: list[tuple[str, str]]) -> None:
        self.app = app
        self.request_log = request_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        scope["raw_path"], scope["path"] = raw, raw.decode("latin-1")
        self.request_log.append((scope["method"], (raw + (b"?" + query if query else b"")).decode("latin-1")))
        started, status = time.monotonic(), 500

        async def send_with_cors(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                if not any(key == _CORS_HEADER for key, _ in headers):  # Starlette sends lower-case names
                    message = {**message, "headers": [*headers, (_CORS_HEADER, b"*")]}
            await send(message)

        try:
            if scope["method"] == "OPTIONS":
                await _cors_preflight(scope)(scope, receive, send_with_cors)
            else:
                await self.app(scope, receive, send_with_cors)
        finally:
            if logger.isEnabledFor(logging.INFO):  # skips the formatting on the hot path when not logging
                elapsed = (time.monotonic() - started) * 1000
                logger.info("%s %s %s %.1fms", scope["method"], scope["path"], status, elapsed)


def create_app(
    root: str | os.PathLike[str],
    users: Users,
    metadata_dir: str | os.PathLike[str] | None = None,
    max_file_size: int | None = MAX_FILE_SIZE,
) -> Starlette:
    """The Starlette application serving the bucket stored under ``root``.

    Private state (the signing secret) lives in ``<root>.state`` next to the
    root, so it can never be listed or served; temporary files live on the
    root's own file system (see :class:`Bucket`). ``app.state`` holds the
    bucket, the users, the signer and ``request_log``.

    Example:
        >>> import tempfile, pathlib
        >>> from gypsum_flows.server.users import Users
        >>> app = create_app(pathlib.Path(tempfile.mkdtemp()) / "root", Users((), ()))
        >>> app.state.bucket.list("", recursive=True)
        []
    """
    root = Path(root).resolve()
    state = state_dir(root)
    request_log: list[tuple[str, str]] = []
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RawPathGateway, request_log=request_log)],
        exception_handlers={Exception: handle_error, HttpError: handle_error, HTTPException: handle_error},
    )
    app.router = SegmentRouter(ROUTES)
    app.state.bucket = Bucket(root)
    app.state.users = users
    app.state.signer = Signer(load_secret(state))
    app.state.metadata_dir = Path(metadata_dir).resolve() if metadata_dir else None
    app.state.request_log = request_log
    app.state.max_file_size = max_file_size  # as the real gypsum's object store; None: no limit
    return app


def state_dir(root: str | os.PathLike[str]) -> Path:
    """The server's private folder for ``root``: ``<root>.state`` next to it.

    Example:
        >>> state_dir("/srv/registry").name
        'registry.state'
    """
    root = Path(root).resolve()
    return root.with_name(root.name + ".state")
