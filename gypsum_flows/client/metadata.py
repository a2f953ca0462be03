"""Metadata schemas, validation and the published metadata index (section 7 of docs/gypsum-api.md).

- :func:`validate_metadata` checks a document against a JSON schema (draft 7)
  and reports every violation with its JSON path.
- :func:`fetch_metadata_schema` caches a schema from a configurable base URL,
  falling back to the copy shipped with gypsum-flows when the network is down;
  each schema is resolved once per process, and a fallback is reported once
  (one plain log line) and remembered, so a large batch never retries it.
- :func:`fetch_metadata_database` caches a SQLite index and its ``modified``
  stamp, checks the stamp at most once an hour per base URL, replaces the
  files atomically under a file lock, and keeps serving the cached file (with
  a warning) when the check fails.

Base URLs come from the ``url`` argument, else ``GYPSUM_SCHEMA_URL`` /
``GYPSUM_METADATA_URL``, else the published locations; a local gypsum-flows
server serves a database at ``<server>/metadata/``.

Example:
    >>> validate_metadata({"title": "x"}, {"type": "object", "required": ["title"]})
    True
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import warnings
from importlib import resources
from typing import Any

import jsonschema

from .. import _http, cache
from .._sqlite import release_reader
from ..constants import (
    DATABASES_CACHE_NAME,
    DEFAULT_DATABASE_URL,
    DEFAULT_SCHEMA_URL,
    ENV_METADATA_URL,
    ENV_SCHEMA_URL,
    SCHEMAS_CACHE_NAME,
)
from ..errors import GypsumHTTPError, GypsumMetadataError, GypsumTransientError
from .fetch import download

#: Seconds between two checks of a database's ``modified`` stamp (per process and base URL).
CHECK_INTERVAL = 3600.0

#: Retries for metadata requests, which have a fallback (or nothing to fall back on) and should fail fast.
_QUICK = _http.Policy(_http.TRANSIENT_STATUSES, unsure=True, attempts=3)

#: base URL -> (monotonic time of the last successful check, remote ``modified`` value).
_LAST_CHECK: dict[str, tuple[float, float]] = {}
_LAST_CHECK_LOCK = threading.Lock()

#: (base URL, schema name, cache folder or "") -> the local schema file this process uses.
_SCHEMAS: dict[tuple[str, str, str], str] = {}
_SCHEMAS_LOCK = threading.Lock()

_log = logging.getLogger(__name__)


def _base_url(url: str | None, env: str, default: str) -> str:
    """``url``, else the environment variable, else ``default``; always ending with ``/``."""
    return (url or os.environ.get(env) or default).rstrip("/") + "/"


def _json_path(path: Any) -> str:
    """``$.sources[0].id`` from a jsonschema error path."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _load_schema(schema: str | os.PathLike[str] | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(schema, dict):
        return schema
    with open(fetch_metadata_schema() if schema is None else schema, encoding="utf-8") as handle:
        return json.load(handle)


def validate_metadata(
    metadata: Any,
    schema: str | os.PathLike[str] | dict[str, Any] | None = None,
    stringify: bool | None = None,
) -> bool:
    """Validate a metadata document against a JSON schema (draft 7).

    Args:
        metadata: The document, or its JSON text.
        schema: Path to a schema file, the schema itself, or ``None`` for
            :func:`fetch_metadata_schema` ``()`` (as R's default).
        stringify: Serialise ``metadata`` to JSON before parsing it again;
            defaults to ``not isinstance(metadata, str)``.

    Returns:
        ``True``.

    Raises:
        GypsumMetadataError: Listing every violation as ``$.json.path: message``;
            ``.violations`` holds the ``(path, message)`` pairs.

    Example:
        >>> validate_metadata('{"title": 1}', {"properties": {"title": {"type": "string"}}})
        Traceback (most recent call last):
        ...
        gypsum_flows.errors.GypsumMetadataError: metadata validation failed with 1 problem:
          $.title: 1 is not of type 'string'
    """
    if stringify is None:
        stringify = not isinstance(metadata, str)
    text = json.dumps(metadata) if stringify else metadata
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise GypsumMetadataError(f"metadata is not valid JSON: {exc}", [("$", str(exc))]) from None
    validator = jsonschema.Draft7Validator(_load_schema(schema))
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return True
    violations = [(_json_path(e.absolute_path), e.message) for e in errors]
    lines = "\n".join(f"  {path}: {message}" for path, message in violations)
    count = f"{len(violations)} problem" + ("s" if len(violations) > 1 else "")
    raise GypsumMetadataError(f"metadata validation failed with {count}:\n{lines}", violations)


def shipped_schema_path(name: str = "bioconductor/v1.json") -> str | None:
    """The copy of schema ``name`` shipped with gypsum-flows, or ``None``.

    Example:
        >>> shipped_schema_path().endswith("v1.json")
        True
    """
    candidate = resources.files("gypsum_flows").joinpath("schemas", *name.split("/"))
    return str(candidate) if candidate.is_file() else None


def _get(url: str) -> bytes:
    """The body at ``url``, with few retries: a failure here has a fallback or is reported quickly."""
    return _http.request("GET", url, policy=_QUICK, check_body=False).body


def fetch_metadata_schema(
    name: str = "bioconductor/v1.json",
    cache_dir: str | bool | None = None,
    overwrite: bool = False,
    url: str | None = None,
) -> str:
    """Path to a cached JSON schema for metadata documents.

    Args:
        name: The schema's name under the base URL.
        cache_dir: The cache folder (``None``: :func:`cache_directory`); the
            file is ``schemas/<name>``. ``False`` downloads to a new temporary
            file instead (gypsum_client's ``None``).
        overwrite: Download again even if cached.
        url: Base URL; defaults to ``GYPSUM_SCHEMA_URL``, else the published site.

    Returns:
        The cached file, or the shipped copy when the server cannot be reached
        (logged once per process as a warning of ``gypsum_flows.client.metadata``).

    Raises:
        GypsumNotFoundError: The server has no such schema.
        GypsumTransientError: The server cannot be reached and no copy ships,
            or it sent something that is not JSON.

    Example:
        >>> path = fetch_metadata_schema(url="http://127.0.0.1:9/")  # doctest: +SKIP
    """
    base = _base_url(url, ENV_SCHEMA_URL, DEFAULT_SCHEMA_URL)
    folder = "" if cache_dir is False else cache.resolve_cache(cache_dir if isinstance(cache_dir, str) else None)
    key = (base, name, folder)
    with _SCHEMAS_LOCK:
        known = None if overwrite else _SCHEMAS.get(key)
        if known is None or not os.path.exists(known):  # a cleared cache is filled again
            known = _resolve_schema(base, name, folder or None, overwrite)
            # A temporary download belongs to its caller; the cached file or the fallback is for everyone.
            if folder or known == shipped_schema_path(name):
                _SCHEMAS[key] = known
    return known


def _resolve_schema(base: str, name: str, folder: str | None, overwrite: bool) -> str:
    """The schema file: cached, else downloaded (into the cache, or a temporary file without one)."""
    if folder is None:
        return _save_schema(base, name, None)
    path = os.path.join(folder, SCHEMAS_CACHE_NAME, *name.split("/"))
    if not overwrite and os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with cache.file_lock(path):
        if overwrite or not os.path.exists(path):
            return _save_schema(base, name, path)
    return path


def _save_schema(base: str, name: str, path: str | None) -> str:
    """Download schema ``name`` to ``path`` (a new temporary file if ``None``), or fall back to the shipped copy."""
    try:
        data = _get(base + name)
        try:
            json.loads(data)
        except ValueError:
            raise GypsumTransientError(f"schema '{name}' is not valid JSON", url=base + name) from None
    except GypsumTransientError as exc:
        shipped = shipped_schema_path(name)
        if shipped is None:
            raise
        _log.warning("could not fetch schema '%s' (%s); using the copy shipped with gypsum-flows", name, exc)
        return shipped
    path = path or _temporary_file(".json")
    cache.write_atomic(path, data)
    return path


def _temporary_file(suffix: str) -> str:
    """A new empty temporary file, for ``cache_dir=False``; the caller owns it."""
    fd, path = tempfile.mkstemp(prefix="gypsum-", suffix=suffix)
    os.close(fd)
    return path


def _parse_stamp(data: bytes, url: str) -> float:
    try:
        return float(data.decode("utf-8").strip())
    except ValueError:
        raise GypsumTransientError(f"'modified' is not a number: {data[:50]!r}", url=url) from None


def _remote_modified(base: str) -> float | None:
    """The ``modified`` stamp at ``base``, at most one request an hour; ``None`` (with a warning) on failure."""
    with _LAST_CHECK_LOCK:
        last = _LAST_CHECK.get(base)
    if last is not None and time.monotonic() - last[0] < CHECK_INTERVAL:
        return last[1]
    try:
        value = _parse_stamp(_get(base + "modified"), base + "modified")
    except GypsumHTTPError as exc:
        warnings.warn(f"failed to check the last modified timestamp; using the cached database: {exc}", stacklevel=3)
        return None
    _remember(base, value)
    return value


def _remember(base: str, value: float) -> None:
    with _LAST_CHECK_LOCK:
        _LAST_CHECK[base] = (time.monotonic(), value)


def read_modified_stamp(path: str | os.PathLike[str]) -> float | None:
    """The Unix-milliseconds stamp in a ``modified`` file, or ``None`` if missing or unreadable.

    Example:
        >>> read_modified_stamp("/nonexistent/modified") is None
        True
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return float(handle.readline())
    except (OSError, ValueError):
        return None


def write_modified_stamp(path: str | os.PathLike[str], millis: int | float | str) -> None:
    """Replace the ``modified`` stamp file at ``path`` atomically (Unix milliseconds as text)."""
    cache.write_atomic(os.fspath(path), str(millis).encode("utf-8"))


def fetch_metadata_database(
    name: str = "bioconductor.sqlite3",
    cache_dir: str | bool | None = None,
    overwrite: bool = False,
    url: str | None = None,
) -> str:
    """Path to a cached, up-to-date metadata index (SQLite).

    The server's ``modified`` stamp (Unix milliseconds) is compared with the
    cached one at most once an hour per process and base URL; a different
    stamp triggers a download. If the check fails, the cached file is returned
    with a warning (as the reference clients document, unlike what they do).

    Args:
        name: The database's name under the base URL.
        cache_dir: The cache folder (``None``: :func:`cache_directory`); files
            are ``databases/<name>`` and ``databases/<name>.modified``.
            ``False`` downloads to a new temporary file instead, without any
            check (gypsum_client's ``None``).
        overwrite: Download again without checking.
        url: Base URL; defaults to ``GYPSUM_METADATA_URL``, else the
            published GitHub release.

    Returns:
        The cached database file.

    Raises:
        GypsumHTTPError: Nothing is cached and the download failed.

    Example:
        >>> db = fetch_metadata_database(url=server_url + "/metadata/")  # doctest: +SKIP
    """
    base = _base_url(url, ENV_METADATA_URL, DEFAULT_DATABASE_URL)
    if cache_dir is False:
        path = _temporary_file(".sqlite3")
        try:
            download(base + name, path, key=name)
        except BaseException:
            os.unlink(path)
            raise
        return path
    folder = cache.resolve_cache(cache_dir if isinstance(cache_dir, str) else None)
    path = os.path.join(folder, DATABASES_CACHE_NAME, *name.split("/"))
    stamp_path = path + ".modified"
    if not overwrite and os.path.exists(path):
        remote = _remote_modified(base)
        if remote is None or remote == read_modified_stamp(stamp_path):
            return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with cache.file_lock(path):
        stamp = _get(base + "modified")
        value = _parse_stamp(stamp, base + "modified")
        # Another process may have brought the file up to date while we waited for the lock.
        if overwrite or not os.path.exists(path) or read_modified_stamp(stamp_path) != value:
            release_reader(path)  # an open search connection would block the replacement on Windows
            download(base + name, path, key=name)
            # The stamp goes in last, so an interrupted update is retried rather than trusted.
            cache.write_atomic(stamp_path, stamp)
    _remember(base, value)
    return path
