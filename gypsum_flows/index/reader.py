"""What the indexer reads from a gypsum server: its listings, versions, documents and ``..logs``.

Through the client's own reads (:mod:`gypsum_flows.client`), so the indexer
gets the same transport, retry budget and checks of what the server sends
(:mod:`gypsum_flows.client.untrusted`). Works against the public instance
and the local gypsum-flows server alike; needs no credentials.

Example:
    >>> log_time("2024-05-01T12:34:56.789Z_123456")
    1714566896789
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..client import untrusted
from ..client._util import fetch_json, list_keys
from ..client.read import fetch_manifest, list_assets, list_projects, list_versions
from ..constants import LATEST_FILE, LOGS_PREFIX, SUMMARY_FILE
from ..errors import GypsumNotFoundError
from ..names import version_key


def log_time(name: str) -> int | None:
    """Unix milliseconds from a log name ``{ISO time}_{digits}``, or ``None`` if it has none."""
    stamp, sep, _ = posixpath.basename(name).partition("_")
    if not sep:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return round(parsed.timestamp() * 1000)


@dataclass(frozen=True)
class LogEntry:
    """One ``..logs`` record: its name, time (Unix ms) and content."""

    name: str
    time: int
    content: dict[str, Any]


class RestRegistry:
    """The gypsum server behind ``url``, as the indexer reads it.

    Args:
        url: The server's base URL, e.g. ``https://gypsum.artifactdb.com``.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def json(self, key: str) -> Any:
        """The parsed JSON document at ``key``."""
        return fetch_json(key, self.url)

    def projects(self) -> list[str]:
        """Every project."""
        return list_projects(url=self.url, offline=False)

    def assets(self, project: str) -> list[str]:
        """Every asset of ``project``."""
        return list_assets(project, url=self.url, offline=False)

    def versions(self, project: str, asset: str) -> list[str]:
        """Every version folder of an asset, finished or not."""
        return list_versions(project, asset, url=self.url, offline=False)

    def latest(self, project: str, asset: str) -> str | None:
        """The asset's latest version, or ``None`` when it has none."""
        try:
            return fetch_json(f"{project}/{asset}/{LATEST_FILE}", self.url, untrusted.latest)
        except GypsumNotFoundError:
            return None

    def summary(self, project: str, asset: str, version: str) -> dict[str, Any]:
        """The version's ``..summary``, its times as the server wrote them."""
        return fetch_json(version_key(project, asset, version, SUMMARY_FILE), self.url, untrusted.summary)

    def documents(self, project: str, asset: str, version: str, basenames: set[str]) -> dict[str, dict[str, Any]]:
        """The version's files whose base name is in ``basenames``: ``{basename: {path: document}}``.

        A link entry is read from its final target (``ancestor``, else ``link``).
        """
        manifest = fetch_manifest(project, asset, version, cache_dir=False, url=self.url)
        found: dict[str, dict[str, Any]] = {name: {} for name in basenames}
        for path in sorted(manifest):
            base = posixpath.basename(path)
            if base not in basenames:
                continue
            link = manifest[path].get("link")
            target = link.get("ancestor", link) if link else dict(project=project, asset=asset, version=version)
            where = (target["project"], target["asset"], target["version"], target["path"] if link else path)
            found[base][path] = self.json(version_key(*where))
        return found

    def logs_after(self, after_ms: int) -> list[LogEntry]:
        """Log records later than ``after_ms``, oldest first."""
        listed = list_keys(self.url, LOGS_PREFIX, recursive=False)
        entries = []
        for name in untrusted.listed_paths(listed, LOGS_PREFIX, LOGS_PREFIX, self.url):
            stamp = log_time(name)
            if stamp is None or stamp <= after_ms:
                continue
            try:
                entries.append(LogEntry(LOGS_PREFIX + name, stamp, self.json(LOGS_PREFIX + name)))
            except GypsumNotFoundError:
                continue  # expired (the daily clean-up) between listing and reading
        return sorted(entries, key=lambda e: (e.time, e.name))
