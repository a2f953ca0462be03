"""``PUT /upload/put/{grant}?signature=...``: the presigned upload target.

The body streams to a temporary file in the private state folder while its
MD5 is computed; the object appears (atomic rename) only when the grant is
genuine and unexpired, the ``Content-MD5`` header and the bytes match the
grant, the size is not exceeded and the upload session still holds the
project lock. A replay after the session ended (completed or aborted) is
refused; a replay during the session (a client retrying a PUT whose answer
it lost) gets 200 and writes nothing when the object is already in place
with exactly the granted bytes.

Example (over HTTP)::

    PUT /upload/put/<grant>?signature=<sig>   Content-MD5: <base64 md5>   <bytes>  -> 200
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .locks import lock_key
from .storage import Bucket, remove_if_present
from .web import HttpError


async def put_object(request: Request) -> Response:
    """Receive one presigned upload."""
    state = request.app.state
    claims = state.signer.verify(request.path_params["grant"], request.query_params.get("signature", ""))
    header = request.headers.get("content-md5")
    if header is None:
        raise HttpError("missing Content-MD5 header", 400)
    if header != claims["md5"]:
        raise HttpError("Content-MD5 header does not match the presigned URL", 403)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > claims["size"]:
        raise HttpError(f"body of {declared} bytes exceeds the declared size of {claims['size']} bytes", 413)
    # Refuse dead sessions before receiving the bytes; the commit checks again under the lock. Both
    # are a few small file operations, done in the event loop (see web.endpoint on thread hops).
    _require_session(state.bucket, claims)
    fd, tmp = state.bucket.temp_file()
    try:
        digest = await _receive(request, fd, claims["size"])
        if base64.b64encode(digest).decode() != claims["md5"]:
            raise HttpError("body MD5 does not match Content-MD5", 400)
        _commit(state.bucket, claims, tmp, digest.hex())
    finally:
        remove_if_present(tmp)  # still there unless committed
    return Response(status_code=200, headers={"ETag": f'"{digest.hex()}"'})


async def _receive(request: Request, fd: int, limit: int) -> bytes:
    """Write the body to ``fd`` (closing it); its MD5 digest. 413 beyond ``limit`` bytes."""
    md5, size = hashlib.md5(), 0
    with os.fdopen(fd, "wb") as handle:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(f"body exceeds the declared size of {limit} bytes", 413)
            md5.update(chunk)
            handle.write(chunk)
    return md5.digest()


def _project(claims: dict[str, Any]) -> str:
    return claims["key"].split("/", 1)[0]


def _require_session(bucket: Bucket, claims: dict[str, Any]) -> None:
    """The grant's session must still hold its project's lock (403 otherwise)."""
    lock = bucket.get_json_memo(lock_key(_project(claims)))
    if lock is None or lock.get("session_hash") != claims["session_hash"]:
        raise HttpError("the upload session of this presigned URL is no longer active", 403)


def _commit(bucket: Bucket, claims: dict[str, Any], tmp: str, md5: str) -> None:
    """Rename the received file into place if its session still holds the lock and it is not there yet."""
    with bucket.project_lock(_project(claims)):
        _require_session(bucket, claims)
        if not (bucket.exists(claims["key"]) and bucket.md5(claims["key"]) == md5):
            bucket.put_file(claims["key"], tmp, md5)
