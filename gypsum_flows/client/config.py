"""Configuration: the REST URL, the cache folder and the public S3 credentials.

``rest_url()`` and ``cache_directory()`` are read by every client call that
gets ``url=None`` or ``cache_dir=None``, when it is called (never frozen at
import as in gypsum_client).

Example:
    >>> from gypsum_flows.client import rest_url
    >>> rest_url().startswith("http")
    True
"""

from __future__ import annotations

import json
import os
import threading
import time

from filelock import FileLock

from .. import _http
from .._http import rest_url
from ..cache import cache_directory, write_atomic
from ..constants import CREDENTIALS_CACHE_NAME, LOCK_SUFFIX
from .fetch import read_json

__all__ = ["cache_directory", "public_s3_config", "rest_url"]

#: How long cached S3 credentials are trusted (seconds).
S3_CONFIG_MAX_AGE = 7 * 24 * 3600

_s3_memory: dict[tuple[str, str | None], dict] = {}
_s3_lock = threading.Lock()


def _s3_file(cache_dir: str) -> str:
    return os.path.join(cache_dir, CREDENTIALS_CACHE_NAME, "s3.json")


def _read_s3_file(cache_dir: str) -> dict | None:
    path = _s3_file(cache_dir)
    if not os.path.exists(path) or time.time() - os.path.getmtime(path) > S3_CONFIG_MAX_AGE:
        return None
    with FileLock(path + LOCK_SUFFIX), open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_s3_file(cache_dir: str, creds: dict) -> None:
    path = _s3_file(cache_dir)
    with FileLock(path + LOCK_SUFFIX):
        write_atomic(path, json.dumps(creds).encode())


def public_s3_config(refresh: bool = False, url: str | None = None, cache_dir: str | None = None) -> dict:
    """The public read-only S3 credentials of the bucket: ``{endpoint, bucket, key, secret}``.

    Args:
        refresh: Ask the server again even if cached.
        url: gypsum REST URL; default :func:`rest_url`.
        cache_dir: Cache folder for ``credentials/s3.json`` (trusted for a week); ``None``, as in
            gypsum_client, keeps the credentials in memory only.

    Returns:
        The credentials.

    Raises:
        GypsumHTTPError: The server has none (the local server has no S3 API).

    Example:
        >>> public_s3_config(url="https://gypsum.artifactdb.com")["bucket"]  # doctest: +SKIP
        'gypsum-prod'
    """
    url = _http.resolve_url(url)
    key = (url, cache_dir)
    with _s3_lock:
        creds = None if refresh else _s3_memory.get(key)
    if creds is None and cache_dir is not None and not refresh:
        creds = _read_s3_file(cache_dir)
    if creds is None:
        creds = read_json(f"{url}/credentials/s3-api")
        if cache_dir is not None:
            _write_s3_file(cache_dir, creds)
    with _s3_lock:
        _s3_memory[key] = creds
    return creds
