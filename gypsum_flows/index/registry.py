"""Reading a gypsum registry for the indexer, through the REST API only (``/list`` and ``/file``).

Works against the public instance and the local gypsum-flows server alike;
needs no credentials.

Example:
    >>> log_time("2024-05-01T12:34:56.789Z_123456")
    1714566896789
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .. import _http
from ..constants import LATEST_FILE, LOGS_PREFIX, MANIFEST_FILE, SUMMARY_FILE
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
    """A gypsum registry behind ``url``.

    Args:
        url: The server's base URL, e.g. ``https://gypsum.artifactdb.com``.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _list(self, prefix: str) -> list[str]:
        return _http.get_json(f"{self.url}/list", params={"prefix": prefix, "recursive": "false"})

    def _children(self, prefix: str) -> list[str]:
        """Names of the "folders" directly under ``prefix``, skipping internal ``..`` ones."""
        names = [key[len(prefix) : -1] for key in self._list(prefix) if key.endswith("/")]
        return [n for n in names if n and not n.startswith("..")]

    def json(self, key: str) -> Any:
        """The parsed JSON object at ``key``."""
        return _http.get_json(f"{self.url}/file/{quote(key, safe='')}")

    def projects(self) -> list[str]:
        """Every project."""
        return self._children("")

    def assets(self, project: str) -> list[str]:
        """Every asset of ``project``."""
        return self._children(f"{project}/")

    def versions(self, project: str, asset: str) -> list[str]:
        """Every version folder of an asset, finished or not."""
        return self._children(f"{project}/{asset}/")

    def latest(self, project: str, asset: str) -> str | None:
        """The asset's latest version, or ``None`` when it has none."""
        try:
            return self.json(f"{project}/{asset}/{LATEST_FILE}")["version"]
        except GypsumNotFoundError:
            return None

    def summary(self, project: str, asset: str, version: str) -> dict[str, Any]:
        """The version's ``..summary``."""
        return self.json(version_key(project, asset, version, SUMMARY_FILE))

    def documents(self, project: str, asset: str, version: str, basenames: set[str]) -> dict[str, dict[str, Any]]:
        """The version's files whose base name is in ``basenames``: ``{basename: {path: document}}``.

        A link entry is read from its final target (``ancestor``, else ``link``).
        """
        manifest = self.json(version_key(project, asset, version, MANIFEST_FILE))
        found: dict[str, dict[str, Any]] = {name: {} for name in basenames}
        for path in sorted(manifest):
            base = posixpath.basename(path)
            if base not in basenames:
                continue
            link = manifest[path].get("link")
            target = link.get("ancestor", link) if link else None
            key = (
                version_key(target["project"], target["asset"], target["version"], target["path"])
                if target
                else version_key(project, asset, version, path)
            )
            found[base][path] = self.json(key)
        return found

    def logs_after(self, after_ms: int) -> list[LogEntry]:
        """Log records later than ``after_ms``, oldest first."""
        entries = []
        for key in self._list(LOGS_PREFIX):
            stamp = log_time(key)
            if stamp is None or stamp <= after_ms:
                continue
            try:
                entries.append(LogEntry(key, stamp, self.json(key)))
            except GypsumNotFoundError:
                continue  # expired (the daily clean-up) between listing and reading
        return sorted(entries, key=lambda e: (e.time, e.name))
