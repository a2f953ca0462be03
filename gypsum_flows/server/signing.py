"""Signed, expiring upload grants for the presigned PUT URLs.

A grant names the key, its MD5, its size, the upload session and an expiry;
it travels base64url-encoded (a compact JSON array) in the URL path with an
HMAC-SHA256 signature, truncated to 128 bits, in the query. The secret lives
in the server's private state folder, never in the bucket. Short URLs keep
signing, sending and checking each of the many small files of a version cheap.

Example:
    >>> signer = Signer(b"k" * 32)
    >>> token, signature = signer.sign("p/a/v/x.txt", "XUFAKrxLKna5cZ2REBfFkg==", 5, "24BV4OAwfVoBa+xNwzjWmHXrD7fm")
    >>> signer.verify(token, signature).key
    'p/a/v/x.txt'
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import NamedTuple

from .web import HttpError, encode_json

#: Lifetime of a presigned URL, as the reference's S3 presigning (seconds).
GRANT_LIFETIME = 3600

#: Characters of the session hash a grant carries (128 bits of a SHA-256 in base64).
SESSION_TAG_LENGTH = 22

#: Bytes of the HMAC-SHA256 kept in the signature (128 bits, as HMAC-SHA256-128).
_SIGNATURE_BYTES = 16


class Grant(NamedTuple):
    """What a presigned PUT URL allows: ``size`` bytes with base64 MD5 ``md5`` at ``key``, while
    the upload session whose lock-file hash starts with ``session`` holds the lock, until ``expires``."""

    key: str
    md5: str
    size: int
    session: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies upload grants with one secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "Signer(<secret>)"

    def _signature(self, token: str) -> str:
        return _b64(hmac.digest(self._secret, token.encode(), "sha256")[:_SIGNATURE_BYTES])

    def sign(self, key: str, md5: str, size: int, session_hash: str, lifetime: int = GRANT_LIFETIME) -> tuple[str, str]:
        """``(token, signature)`` of a grant for ``key`` expiring in ``lifetime`` seconds."""
        grant = Grant(key, md5, size, session_hash[:SESSION_TAG_LENGTH], int(time.time()) + lifetime)
        token = _b64(encode_json(grant).encode())
        return token, self._signature(token)

    def verify(self, token: str, signature: str) -> Grant:
        """The grant of a genuine, unexpired token; 403 otherwise."""
        if not hmac.compare_digest(self._signature(token).encode(), signature.encode()):
            raise HttpError("presigned URL signature does not match", 403)
        grant = Grant(*json.loads(_unb64(token)))
        if grant.expires < time.time():
            raise HttpError("presigned URL has expired", 403)
        return grant


def load_secret(state: Path) -> bytes:
    """The signing secret kept in ``state``, created (owner-only) on first use.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> load_secret(folder) == load_secret(folder)
        True
    """
    path = state / "signing-secret"
    if not path.exists():
        state.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()
