"""Read-only endpoints: ``/file``, ``/list``, credentials, metadata files, ``/`` (section 3.1 of docs/gypsum-api.md).

Example (over HTTP)::

    GET /file/test-R%2Fbasic%2F..latest        -> {"version": "v3"}
    GET /list?prefix=test-R/basic/&recursive=false -> ["test-R/basic/v1/", ..., "test-R/basic/..latest"]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from urllib.parse import unquote

from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ..names import is_internal_path
from .web import Call, HttpError

#: Where ``GET /`` redirects, as the reference does.
DOCS_URL = "https://artifactdb.github.io/gypsum-worker"

#: Files up to this size are answered from one read in the handler's thread; larger ones (and
#: ``Range`` requests) stream through FileResponse, whose per-chunk thread hops cost more than
#: the read itself for the many small files of a typical version.
_INLINE_LIMIT = 1 << 20


class _FileResponse(FileResponse):
    """FileResponse reading 1 MiB per worker-thread hop (starlette's 64 KiB costs 16,384 hops per GiB)."""

    chunk_size = 1 << 20


def _file_response(
    path: str, stat: os.stat_result, media_type: str, etag: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """The file at ``path`` (whose ``os.stat`` is ``stat``): inline when small, streamed otherwise."""
    if (headers is None or "range" not in headers) and stat.st_size <= _INLINE_LIMIT:
        with open(path, "rb") as handle:
            content = handle.read()
        extra = {"last-modified": _http_date(int(stat.st_mtime)), "accept-ranges": "bytes"}
        if etag:
            extra["etag"] = etag
        return Response(content, media_type=media_type, headers=extra)
    return _FileResponse(path, stat_result=stat, media_type=media_type, headers={"etag": etag} if etag else None)


@lru_cache(maxsize=256)
def _http_date(seconds: int) -> str:
    """``formatdate`` for whole seconds, cached: the files of one upload share a few mtimes."""
    return formatdate(seconds, usegmt=True)


def _media_type(key: str) -> str:
    return "application/json" if is_internal_path(key) else "application/octet-stream"


def quick_file(call: Call) -> Response | None:
    """``GET /file`` answered in the event loop: a small stored object whose MD5 is known (one ``stat``).

    ``None`` for anything else (a large file, a ``Range``, a first MD5, an error to build), which
    :func:`get_file` answers in a worker thread.
    """
    if "range" in call.headers:
        return None
    key = call.params["key"]
    bucket = call.state.bucket
    try:
        path = bucket.path(key)  # 400 for unsafe keys (and keys ending in "/")
        stat = os.stat(path)
    except (HttpError, OSError):
        return None
    md5 = bucket.known_md5(path, stat)
    if md5 is None or stat.st_size > _INLINE_LIMIT:
        return None
    return _file_response(path, stat, _media_type(key), f'"{md5}"')


def get_file(call: Call) -> Response:
    """``GET``/``HEAD /file/{key}``: the object's bytes with Content-Length, ETag and Last-Modified.

    ``Range`` requests are honoured.
    """
    key = call.params["key"]
    bucket = call.state.bucket
    if key.endswith("/") or "//" in key:  # could be an R2 key, never one of ours
        raise HttpError("object not found", 404)
    path = bucket.path(key)
    stat = _file_stat(path)
    md5 = bucket.md5(key)
    if md5 is None:  # deleted since the stat
        raise HttpError("object not found", 404)
    return _file_response(path, stat, _media_type(key), f'"{md5}"', call.headers)


def _file_stat(path: str) -> os.stat_result:
    """``os.stat`` of a regular file at ``path``; 404 when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        raise HttpError("object not found", 404) from None
    if not S_ISREG(stat.st_mode):
        raise HttpError("object not found", 404)
    return stat


def list_objects(call: Call) -> Response:
    """``GET /list?prefix=&recursive=``: full keys; "directories" end in ``/`` when not recursive."""
    # The reference decodes query values twice (URLSearchParams, then decodeURIComponent).
    prefix = unquote(call.query.get("prefix", ""))
    recursive = call.query.get("recursive") == "true"
    return JSONResponse(call.state.bucket.list(prefix, recursive))


def s3_credentials(call: Call) -> Response:
    """``GET /credentials/s3-api``: the local server has no S3 API."""
    raise HttpError("this local gypsum server has no S3 credentials; read objects through /file and /list", 404)


def github_app(call: Call) -> Response:
    """``GET /credentials/github-app``: the local server has no GitHub app."""
    raise HttpError(
        "this local gypsum server has no GitHub app; use a token from its users file as the bearer token", 404
    )


def metadata_file(call: Call) -> Response:
    """``GET /metadata/{name}``: a file of the metadata folder (the SQLite index and its ``modified`` stamp)."""
    folder: Path | None = call.state.metadata_dir
    name = call.params["name"]
    if folder is None:
        raise HttpError("this server has no metadata folder", 404)
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise HttpError(f"invalid metadata file name '{name}'", 400)
    path = str(folder / name)
    return _file_response(path, _file_stat(path), "application/octet-stream")


def root(call: Call) -> Response:
    """``GET /``: a redirect to the API documentation."""
    return RedirectResponse(DOCS_URL, status_code=301)
