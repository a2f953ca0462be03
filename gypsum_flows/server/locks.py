"""The project lock file ``{P}/..LOCK`` and upload session tokens (section 1.4 of docs/gypsum-api.md).

Every check-and-write happens under the bucket's per-project thread lock,
so two requests can never both take the lock.

Example:
    >>> hash_session("00000000-0000-4000-8000-000000000000")
    '24BV4OAwfVoBa+xNwzjWmHXrD7fmFKixJbCPsIIJXZg='
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..constants import LOCK_FILE
from .storage import Bucket
from .web import HttpError

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)


def hash_session(session: str) -> str:
    """base64(sha256(session)), the form stored in the lock file."""
    return base64.b64encode(hashlib.sha256(session.encode()).digest()).decode()


def lock_key(project: str) -> str:
    """The key of ``project``'s lock file."""
    return f"{project}/{LOCK_FILE}"


def lock_project(bucket: Bucket, project: str, asset: str, version: str) -> str:
    """Take the lock for a new session; returns the session token (403 if already locked).

    The caller holds ``bucket.project_lock(project)``.
    """
    if bucket.exists(lock_key(project)):
        bucket.lock_history.append((time.time(), "refused", project, asset, version))
        raise HttpError("project asset has already been locked", 403)
    session = str(uuid.uuid4())
    bucket.put_json(lock_key(project), {"session_hash": hash_session(session), "asset": asset, "version": version})
    bucket.lock_history.append((time.time(), "locked", project, asset, version))
    return session


def unlock_project(bucket: Bucket, project: str) -> None:
    """Release the lock (no error if it is not held)."""
    bucket.delete(lock_key(project))
    bucket.lock_history.append((time.time(), "unlocked", project, "", ""))


def check_lock(bucket: Bucket, project: str, asset: str, version: str, session: str) -> str:
    """Check that ``session`` holds the lock for ``asset``/``version`` (403 with the reference reason).

    Returns the session's hash.
    """
    lock = bucket.get_json_memo(lock_key(project))
    if lock is None:
        raise HttpError("project has not been previously locked for upload", 403)
    if not _UUID4.match(session):
        raise HttpError("session token does not look like a v4 UUID", 403)
    session_hash = hash_session(session)
    if not hmac.compare_digest(str(lock.get("session_hash", "")), session_hash):
        raise HttpError("project was locked for a different upload session", 403)
    if lock.get("asset") != asset:
        raise HttpError("project was locked for upload of a different asset", 403)
    if lock.get("version") != version:
        raise HttpError("project was locked for upload of a different version", 403)
    return session_hash


@contextmanager
def locked(bucket: Bucket, project: str, asset: str, version: str) -> Iterator[None]:
    """Hold the project lock for one short operation (remove, refresh, probation)."""
    with bucket.project_lock(project):
        lock_project(bucket, project, asset, version)
        try:
            yield
        finally:
            unlock_project(bucket, project)
