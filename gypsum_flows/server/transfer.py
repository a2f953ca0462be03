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
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from .locks import lock_key
from .signing import SESSION_TAG_LENGTH, Grant
from .storage import Bucket, remove_if_present
from .web import HttpError


async def put_object(request: Request) -> Response:
    """Receive one presigned upload."""
    state = request.app.state
    grant = state.signer.verify(request.path_params["grant"], _signature(request.scope["query_string"]))
    header = request.headers.get("content-md5")
    if header is None:
        raise HttpError("missing Content-MD5 header", 400)
    if header != grant.md5:
        raise HttpError("Content-MD5 header does not match the presigned URL", 403)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > grant.size:
        raise HttpError(f"body of {declared} bytes exceeds the declared size of {grant.size} bytes", 413)
    # Refuse dead sessions before receiving the bytes; the commit checks again under the lock. Both
    # are a few small file operations, done in the event loop (see web.endpoint on thread hops).
    _require_session(state.bucket, grant)
    fd, tmp = state.bucket.temp_file()
    try:
        digest = await _receive(request, fd, grant.size)
        if base64.b64encode(digest).decode() != grant.md5:
            raise HttpError("body MD5 does not match Content-MD5", 400)
        moved = _commit(state.bucket, grant, tmp, digest.hex())
    except BaseException:
        remove_if_present(tmp)
        raise
    if not moved:
        remove_if_present(tmp)
    return Response(status_code=200, headers={"ETag": f'"{digest.hex()}"'})


def _signature(query: bytes) -> str:
    """The ``signature`` query parameter (parsed directly: Starlette's QueryParams cost more)."""
    return dict(parse_qsl(query.decode("latin-1"))).get("signature", "")


async def _receive(request: Request, fd: int, limit: int) -> bytes:
    """Write the body to ``fd`` (closing it); its MD5 digest. 413 beyond ``limit`` bytes."""
    md5, size = hashlib.md5(), 0
    with os.fdopen(fd, "wb") as handle:
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HttpError(f"body exceeds the declared size of {limit} bytes", 413)
                md5.update(chunk)
                handle.write(chunk)
        except ClientDisconnect:  # e.g. the client's file changed mid-body: not a server error
            raise HttpError("the client disconnected before sending the whole body", 400) from None
    return md5.digest()


def _project(grant: Grant) -> str:
    return grant.key.split("/", 1)[0]


def _require_session(bucket: Bucket, grant: Grant) -> None:
    """The grant's session must still hold its project's lock (403 otherwise)."""
    lock = bucket.get_json_memo(lock_key(_project(grant)))
    if lock is None or str(lock.get("session_hash", ""))[:SESSION_TAG_LENGTH] != grant.session:
        raise HttpError("the upload session of this presigned URL is no longer active", 403)


def _commit(bucket: Bucket, grant: Grant, tmp: str, md5: str) -> bool:
    """Rename the received file into place if its session still holds the lock and it is not there yet.

    Whether it was moved (a replay leaves ``tmp`` for the caller to remove).
    """
    with bucket.project_lock(_project(grant)):
        _require_session(bucket, grant)
        if bucket.md5(grant.key) == md5:
            return False
        bucket.put_file(grant.key, tmp, md5)
        return True
