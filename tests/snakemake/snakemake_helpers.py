"""Shared data and helpers for the Snakemake plugin tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import snakemake_storage_plugin_gypsum

#: The versions of zeisel-brain the session publishes: files, then the same files as links.
FIRST, LINKED = "2024-02-01", "2024-03-01"
ASSET = "zeisel-brain"
#: The folder holding the plugin package under test: on the path, Snakemake finds that copy by its name.
PLUGIN_ROOT = str(Path(snakemake_storage_plugin_gypsum.__file__).resolve().parents[1])


@dataclass
class Published:
    """The published example: its server, project and the source folder."""

    server: object
    project: str
    source: Path
    asset: str = ASSET

    @property
    def url(self) -> str:
        return self.server.url  # type: ignore[attr-defined]

    def query(self, version: str = FIRST, path: str | None = None) -> str:
        base = f"gypsum://{self.project}/{self.asset}/{version}"
        return f"{base}/{path}" if path else base


def make_provider(tmp_path: Path, settings, logger: logging.Logger | None = None):
    """A provider as Snakemake makes one for a run."""
    from snakemake_storage_plugin_gypsum import StorageProvider

    return StorageProvider(
        local_prefix=tmp_path / "local", logger=logger or logging.getLogger("gypsum-test"), settings=settings
    )


def data_requests(server, since: int = 0) -> list[str]:
    """Paths of ``/file/`` downloads of non-internal objects since request number ``since``."""
    out = []
    for method, path in server.request_log[since:]:
        key = path.split("?")[0]
        if method == "GET" and key.startswith("/file/") and "%2F..".lower() not in key.lower():
            out.append(key)
    return out
