"""Offline mode: answers from the cache alone, for air-gapped machines.

With ``GYPSUM_OFFLINE=1`` (or ``offline=True`` on the calls that take it)
no request is sent at all (:mod:`gypsum_flows._http` refuses them with
:class:`~gypsum_flows.errors.GypsumOfflineError`). Complete cached versions,
their manifests and summaries load as usual, since the cache already answers
those without the network; ``fetch_latest`` and the ``list_*`` calls answer
from the versions the cache holds, and say so clearly when it holds none.

Example:
    >>> import tempfile
    >>> cached_versions(tempfile.mkdtemp(), "test-R", "basic")
    []
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from ..cache import bucket_path, complete_marker, resolve_cache
from ..constants import BUCKET_CACHE_NAME, MANIFEST_FILE, SUMMARY_FILE
from ..errors import GypsumOfflineError


def _folders(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".."))
    except FileNotFoundError:
        return []


def _nothing(what: str, cache_dir: str) -> GypsumOfflineError:
    return GypsumOfflineError(
        f"offline mode: the cache at {cache_dir} holds no {what}; save it once while online (e.g. save_version)"
    )


def cached_projects(cache_dir: str | None = None) -> list[str]:
    """Projects with anything in the cache."""
    return _folders(os.path.join(resolve_cache(cache_dir), BUCKET_CACHE_NAME))


def cached_assets(cache_dir: str | None, project: str) -> list[str]:
    """Assets of ``project`` with anything in the cache."""
    return _folders(os.path.join(resolve_cache(cache_dir), BUCKET_CACHE_NAME, project))


def cached_versions(cache_dir: str | None, project: str, asset: str) -> list[str]:
    """Versions of ``project/asset`` whose manifest is in the cache."""
    cache = resolve_cache(cache_dir)
    base = os.path.join(cache, BUCKET_CACHE_NAME, project, asset)
    return [v for v in _folders(base) if os.path.exists(bucket_path(cache, project, asset, v, MANIFEST_FILE))]


def _finished(cache: str, project: str, asset: str, version: str) -> datetime | None:
    """When a cached, settled (not probational) version finished uploading; ``None`` if unknown or not settled."""
    try:
        with open(bucket_path(cache, project, asset, version, SUMMARY_FILE), encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, ValueError):
        return None
    if summary.get("on_probation") or "upload_finish" not in summary:
        return None
    return datetime.fromisoformat(str(summary["upload_finish"]).replace("Z", "+00:00"))


def latest(project: str, asset: str, cache_dir: str | None = None) -> str:
    """The newest settled version of ``project/asset`` that the cache holds."""
    cache = resolve_cache(cache_dir)
    finished = {v: _finished(cache, project, asset, v) for v in cached_versions(cache, project, asset)}
    settled = {v: when for v, when in finished.items() if when is not None}
    if not settled:
        raise _nothing(f"settled version of {project}/{asset}", cache)
    return max(settled, key=lambda v: settled[v])


def listing(kind: str, found: list[str], cache_dir: str | None) -> list[str]:
    """``found``, or the offline error naming what the cache lacks."""
    if not found:
        raise _nothing(kind, resolve_cache(cache_dir))
    return found


def files(project: str, asset: str, version: str, cache_dir: str | None = None) -> list[str]:
    """The stored (non-link) paths of a complete cached version, with its internal files, as ``list_files``."""
    cache = resolve_cache(cache_dir)
    if not os.path.exists(complete_marker(cache, project, asset, version)):
        raise _nothing(f"complete copy of {project}/{asset}/{version}", cache)
    with open(bucket_path(cache, project, asset, version, MANIFEST_FILE), encoding="utf-8") as handle:
        manifest = json.load(handle)
    stored = [p for p, entry in manifest.items() if "link" not in entry]
    folder = bucket_path(cache, project, asset, version)
    internal = [
        os.path.relpath(os.path.join(root, n), folder)
        for root, _, names in os.walk(folder)
        for n in names
        if n.startswith("..") and not n.endswith(".LOCK")
    ]
    return sorted(stored + internal)
