"""Signed, expiring upload grants for the presigned PUT URLs.

A grant names the key, its MD5, its size, the upload session and an expiry;
it travels base64url-encoded in the URL path with an HMAC-SHA256 signature in
the query. The secret lives in the server's private state folder, never in
the bucket.

Example:
    >>> signer = Signer(b"k" * 32)
    >>> token, signature = signer.sign({"key": "p/a/v/x.txt"})
    >>> signer.verify(token, signature)["key"]
    'p/a/v/x.txt'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from .web import HttpError

#: Lifetime of a presigned URL, as the reference's S3 presigning (seconds).
GRANT_LIFETIME = 3600


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
        return _b64(hmac.new(self._secret, token.encode(), hashlib.sha256).digest())

    def sign(self, claims: dict[str, Any], lifetime: int = GRANT_LIFETIME) -> tuple[str, str]:
        """``(token, signature)`` for ``claims`` plus an expiry."""
        body = {**claims, "expires": int(time.time()) + lifetime}
        token = _b64(json.dumps(body, separators=(",", ":")).encode())
        return token, self._signature(token)

    def verify(self, token: str, signature: str) -> dict[str, Any]:
        """The claims of a genuine, unexpired grant; 403 otherwise."""
        if not hmac.compare_digest(self._signature(token).encode(), signature.encode()):
            raise HttpError("presigned URL signature does not match", 403)
        claims = json.loads(_unb64(token))
        if claims["expires"] < time.time():
            raise HttpError("presigned URL has expired", 403)
        return claims


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
