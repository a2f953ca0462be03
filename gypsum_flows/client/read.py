"""Read-only calls: ``fetch_*`` (latest, manifest, summary, permissions, quota, usage) and ``list_*``.

Same parameters and results as gypsum_client 0.2.0; ``url=None`` and
``cache_dir=None`` mean :func:`rest_url` and :func:`cache_directory` at call
time, and ``cache_dir=False`` bypasses the cache (gypsum_client's ``None``).
What the server sends is checked first (see :mod:`.untrusted`): an unsafe name,
path or link, or a document of the wrong shape, raises
:class:`~gypsum_flows.errors.GypsumUnsafeResponseError`.

Example:
    >>> fetch_latest("test-R", "basic", url=server.url)  # doctest: +SKIP
    'v3'
"""

from __future__ import annotations

import contextlib
import os

from .. import _http, next_steps
from ..cache import bucket_path, resolve_cache
from ..constants import LATEST_FILE, PERMISSIONS_FILE, QUOTA_FILE, SUMMARY_FILE, USAGE_FILE, offline_from_environment
from ..errors import GypsumNotFoundError
from . import explain, untrusted
from . import offline as cached
from ._util import cast_datetime, fetch_cacheable_json, fetch_json, list_keys, load_manifest


def _cache_or_off(cache_dir: str | bool | None) -> str | bool:
    return False if cache_dir is False else resolve_cache(cache_dir)  # type: ignore[arg-type]


def _offline(flag: bool | None) -> bool:
    """``offline=`` if given, else ``GYPSUM_OFFLINE``."""
    return offline_from_environment() if flag is None else flag


def fetch_latest(project: str, asset: str, url: str | None = None, offline: bool | None = None) -> str:
    """The latest (non-probational) version of an asset.

    Offline (``offline=True`` or ``GYPSUM_OFFLINE=1``): the newest settled version in the cache.

    Raises:
        GypsumNotFoundError: The asset has no latest version.
        GypsumUnsafeResponseError: The server named a version that is not a safe name.

    Example:
        >>> fetch_latest("test-R", "basic", url=server.url)  # doctest: +SKIP
        'v3'
    """
    if _offline(offline):
        return cached.latest(project, asset)
    url = _http.resolve_url(url)
    try:
        return fetch_json(f"{project}/{asset}/{LATEST_FILE}", url, untrusted.latest)
    except GypsumNotFoundError as exc:
        raise explain.no_latest(project, asset, exc, explain.existing_versions(project, asset, url)) from None


def fetch_manifest(
    project: str,
    asset: str,
    version: str,
    cache_dir: str | bool | None = None,
    overwrite: bool = False,
    url: str | None = None,
) -> dict:
    """The manifest of a version: ``{path: {"size", "md5sum", "link"?}}``, cached.

    Example:
        >>> fetch_manifest("test-R", "basic", "v1", url=server.url)["blah.txt"]["size"]  # doctest: +SKIP
        52
    """
    return load_manifest(project, asset, version, _cache_or_off(cache_dir), _http.resolve_url(url), overwrite)


def fetch_summary(
    project: str,
    asset: str,
    version: str,
    cache_dir: str | bool | None = None,
    overwrite: bool = False,
    url: str | None = None,
) -> dict:
    """The summary of a version, with ``upload_start``/``upload_finish`` as naive UTC datetimes.

    A probational summary can still change, so it is not kept in the cache.
    ``upload_finish`` is absent while an upload is in progress.

    Example:
        >>> fetch_summary("test-R", "basic", "v1", url=server.url)["upload_user_id"]  # doctest: +SKIP
        'owner-user'
    """
    cache = _cache_or_off(cache_dir)
    url = _http.resolve_url(url)
    try:
        out = fetch_cacheable_json(project, asset, version, SUMMARY_FILE, cache, url, overwrite)
    except GypsumNotFoundError as exc:
        versions = explain.existing_versions(project, asset, url)
        raise explain.version_not_found(project, asset, version, exc, versions) from None
    for field in ("upload_start", "upload_finish"):
        if field in out:
            out[field] = cast_datetime(out[field])
    if (out.get("on_probation") or "upload_finish" not in out) and cache is not False:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(bucket_path(str(cache), project, asset, version, SUMMARY_FILE))
    return out


def fetch_permissions(project: str, url: str | None = None) -> dict:
    """A project's ``owners`` and ``uploaders``; each uploader's ``until`` as a naive UTC datetime.

    Example:
        >>> fetch_permissions("test-R", url=server.url)["owners"]  # doctest: +SKIP
        ['owner-user']
    """
    try:
        perms = fetch_json(f"{project}/{PERMISSIONS_FILE}", _http.resolve_url(url), untrusted.permissions)
    except GypsumNotFoundError as exc:
        raise GypsumNotFoundError(
            next_steps.create_project(project), status=exc.status, method=exc.method, url=exc.url
        ) from None
    for uploader in perms.get("uploaders", []):
        if "until" in uploader:
            uploader["until"] = cast_datetime(uploader["until"])
    return perms


def fetch_quota(project: str, url: str | None = None) -> dict:
    """A project's quota: ``{"baseline", "growth_rate", "year"}``.

    Example:
        >>> fetch_quota("test-R", url=server.url)["baseline"]  # doctest: +SKIP
        10000000000
    """
    return fetch_json(f"{project}/{QUOTA_FILE}", _http.resolve_url(url))


def fetch_usage(project: str, url: str | None = None) -> int:
    """A project's storage usage in bytes.

    Example:
        >>> fetch_usage("test-R", url=server.url)  # doctest: +SKIP
        72
    """
    return fetch_json(f"{project}/{USAGE_FILE}", _http.resolve_url(url), untrusted.usage)


def _list_dirs(prefix: str | None, url: str) -> list[str]:
    """Names of the "directories" right under ``prefix`` (without ``..`` entries), as gypsum_client."""
    return untrusted.listed_names(list_keys(url, prefix, recursive=False), prefix or "", url)


def list_projects(url: str | None = None, offline: bool | None = None) -> list[str]:
    """All project names (offline: those in the cache).

    Example:
        >>> "test-R" in list_projects(url=server.url)  # doctest: +SKIP
        True
    """
    if _offline(offline):
        return cached.listing("project", cached.cached_projects(), None)
    return _list_dirs(None, _http.resolve_url(url))


def list_assets(project: str, url: str | None = None, offline: bool | None = None) -> list[str]:
    """The assets of a project (offline: those in the cache).

    Example:
        >>> list_assets("test-R", url=server.url)  # doctest: +SKIP
        ['basic']
    """
    if _offline(offline):
        return cached.listing(f"asset of project '{project}'", cached.cached_assets(None, project), None)
    return _list_dirs(f"{project}/", _http.resolve_url(url))


def list_versions(project: str, asset: str, url: str | None = None, offline: bool | None = None) -> list[str]:
    """The versions of an asset (``[]`` for an unknown asset; offline: those in the cache).

    Example:
        >>> list_versions("test-R", "basic", url=server.url)  # doctest: +SKIP
        ['v1', 'v2', 'v3']
    """
    if _offline(offline):
        found = cached.cached_versions(None, project, asset)
        return cached.listing(f"version of {project}/{asset}", found, None)
    return _list_dirs(f"{project}/{asset}/", _http.resolve_url(url))


def list_files(
    project: str,
    asset: str,
    version: str,
    prefix: str | None = None,
    include_dot: bool = True,
    url: str | None = None,
    offline: bool | None = None,
) -> list[str]:
    """Paths of the objects stored in a version, relative to it (internal ``..`` files included).

    Offline: from the manifest of a complete cached version.

    Link entries have no object and are not listed; see :func:`fetch_manifest`.

    Example:
        >>> list_files("test-R", "basic", "v2", url=server.url)  # doctest: +SKIP
        ['..links', '..manifest', '..summary', 'foo/..links']
    """
    if _offline(offline):
        paths = [p for p in cached.files(project, asset, version) if p.startswith(prefix or "")]
        return paths if include_dot else [p for p in paths if not p.startswith("..")]
    base, url = f"{project}/{asset}/{version}/", _http.resolve_url(url)
    query = base + (prefix or "")
    paths = untrusted.listed_paths(list_keys(url, query, recursive=True), base, query, url)
    return paths if include_dot else [p for p in paths if not p.startswith("..")]
