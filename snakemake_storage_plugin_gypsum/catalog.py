"""What one workflow run knows about gypsum versions: ``latest`` resolved once, one manifest per version.

The provider owns one :class:`Catalog` per Snakemake run. A version's summary
(completion time, probation) and manifest (files, sizes, MD5s) are fetched
once, through the gypsum cache, so a version already known to any gypsum
client costs no request at all.

Example:
    >>> import logging
    >>> catalog = Catalog(url=server.url, cache_dir=cache, logger=logging.getLogger())  # doctest: +SKIP
    >>> catalog.version("test-R", "basic", "v1").files["blah.txt"]["size"]  # doctest: +SKIP
    52
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timezone

from gypsum_flows import client
from gypsum_flows.errors import GypsumNotFoundError

from .query import LATEST, GypsumQuery


@dataclass(frozen=True)
class VersionInfo:
    """A version as the server has it: ``finished`` is ``upload_finish`` in Unix seconds, ``None`` while uploading."""

    finished: float | None
    probation: bool
    files: dict[str, dict] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether the upload of the version finished."""
        return self.finished is not None


class Catalog:
    """Versions and resolved ``latest`` names, each looked up once per run (thread-safe)."""

    def __init__(self, url: str | None, cache_dir: str | None, logger: logging.Logger) -> None:
        self.url = url
        self.cache_dir = cache_dir
        self.logger = logger
        self._latest: dict[tuple[str, str], str] = {}
        self._versions: dict[tuple[str, str, str], VersionInfo | None] = {}
        self._lock = threading.Lock()

    def resolve(self, query: GypsumQuery) -> GypsumQuery:
        """``query`` with ``latest`` replaced by the asset's latest version, the same all run long.

        Raises:
            GypsumNotFoundError: The asset has no latest version.
        """
        if query.version != LATEST:
            return query
        key = (query.project, query.asset)
        with self._lock:
            if key not in self._latest:
                self._latest[key] = client.fetch_latest(query.project, query.asset, url=self.url)
                self.logger.info(
                    f"gypsum: {query.project}/{query.asset}/{LATEST} is version '{self._latest[key]}' for this run"
                )
            return query.with_version(self._latest[key])

    def version(self, project: str, asset: str, version: str) -> VersionInfo | None:
        """The version's summary and (once complete) manifest, or ``None`` if the server has no such version."""
        key = (project, asset, version)
        with self._lock:
            if key in self._versions:
                return self._versions[key]
        info = self._fetch(project, asset, version)
        with self._lock:
            return self._versions.setdefault(key, info)

    def forget(self, project: str, asset: str, version: str) -> None:
        """Drop what is known of a version (after publishing or rejecting it)."""
        with self._lock:
            self._versions.pop((project, asset, version), None)

    def _fetch(self, project: str, asset: str, version: str) -> VersionInfo | None:
        try:
            summary = client.fetch_summary(project, asset, version, cache_dir=self.cache_dir, url=self.url)
        except GypsumNotFoundError:
            return None
        probation = bool(summary.get("on_probation"))
        finish = summary.get("upload_finish")
        if finish is None:
            return VersionInfo(finished=None, probation=probation)
        manifest = client.fetch_manifest(project, asset, version, cache_dir=self.cache_dir, url=self.url)
        return VersionInfo(finish.replace(tzinfo=timezone.utc).timestamp(), probation, manifest)
