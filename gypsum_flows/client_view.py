"""One gypsum server's client: every operation of :mod:`gypsum_flows.client` as a typed method.

A method takes its client function's own parameters (same names, defaults
and types) and leaves out ``url``, ``cache_dir`` and ``token``, which the
client supplies by rule, wherever the function takes them: reads get the
server URL and the cache folder, writes also the token, local work only the
cache folder. A read never receives the token. ``fetch_metadata_database``
and ``fetch_metadata_schema`` keep their own ``url`` (the hosts of the
metadata index and schemas, not the gypsum server).

This module does not import Prefect;
:meth:`gypsum_flows.blocks.GypsumCredentials.get_client` builds a client from
a credentials block, and every Prefect task calls one.

Example:
    >>> gypsum = GypsumClient(url="http://127.0.0.1:8787/", token="s3cret")
    >>> gypsum
    GypsumClient(url='http://127.0.0.1:8787')
    >>> gypsum.define_text_query("mouse", field="organism").field
    'organism'
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from . import client
from ._http import resolve_url
from .progress import ProgressOption


class GypsumClient:
    """:mod:`gypsum_flows.client` with the server URL, cache folder and (for writes) token filled in.

    Empty settings fall back to the client's defaults when a method is called
    (``GYPSUM_REST_URL``, ``GYPSUM_CACHE_DIR``, ``GYPSUM_TOKEN`` or the token
    file). The token is kept as a secret: not in the repr, handed only to
    writes.

    Example:
        >>> gypsum = GypsumClient(url="http://127.0.0.1:8787", token="s3cret")
        >>> "s3cret" in repr(gypsum) + str(vars(gypsum))
        False
    """

    def __init__(
        self, url: str | None = None, cache_dir: str | None = None, token: str | SecretStr | None = None
    ) -> None:
        self._url = url
        self._cache_dir = cache_dir
        self._token = SecretStr(token) if isinstance(token, str) else token

    def __repr__(self) -> str:
        return f"GypsumClient(url={resolve_url(self._url)!r})"

    def _secret(self) -> str | None:
        """The token for a write (None: the client resolves one)."""
        return None if self._token is None else self._token.get_secret_value()

    # Reads: the server URL and, where the function caches, the cache folder.

    def fetch_latest(self, project: str, asset: str, offline: bool | None = None) -> str:
        """The latest version of an asset."""
        return client.fetch_latest(project, asset, url=self._url, offline=offline)

    def fetch_manifest(self, project: str, asset: str, version: str, overwrite: bool = False) -> dict:
        """The manifest of a version."""
        return client.fetch_manifest(
            project, asset, version, cache_dir=self._cache_dir, overwrite=overwrite, url=self._url
        )

    def fetch_permissions(self, project: str) -> dict:
        """The owners and uploaders of a project."""
        return client.fetch_permissions(project, url=self._url)

    def fetch_summary(self, project: str, asset: str, version: str, overwrite: bool = False) -> dict:
        """Who uploaded a version, when, and whether it is on probation."""
        return client.fetch_summary(
            project, asset, version, cache_dir=self._cache_dir, overwrite=overwrite, url=self._url
        )

    def fetch_quota(self, project: str) -> dict:
        """The storage quota of a project."""
        return client.fetch_quota(project, url=self._url)

    def list_assets(self, project: str, offline: bool | None = None) -> list[str]:
        """The assets of a project."""
        return client.list_assets(project, url=self._url, offline=offline)

    def fetch_usage(self, project: str) -> int:
        """Bytes used by a project."""
        return client.fetch_usage(project, url=self._url)

    def list_files(
        self,
        project: str,
        asset: str,
        version: str,
        prefix: str | None = None,
        include_dot: bool = True,
        offline: bool | None = None,
    ) -> list[str]:
        """The paths of a version's files."""
        return client.list_files(project, asset, version, prefix, include_dot, url=self._url, offline=offline)

    def list_projects(self, offline: bool | None = None) -> list[str]:
        """Every project on the server."""
        return client.list_projects(url=self._url, offline=offline)

    def list_versions(self, project: str, asset: str, offline: bool | None = None) -> list[str]:
        """The versions of an asset."""
        return client.list_versions(project, asset, url=self._url, offline=offline)

    def public_s3_config(self, refresh: bool = False) -> dict:
        """The server's public, read-only S3 settings."""
        return client.public_s3_config(refresh, url=self._url, cache_dir=self._cache_dir)

    # Reads that download into the cache folder.

    def save_file(self, project: str, asset: str, version: str, path: str, overwrite: bool = False) -> str:
        """Download one file of a version into the cache."""
        return client.save_file(
            project, asset, version, path, cache_dir=self._cache_dir, overwrite=overwrite, url=self._url
        )

    def save_version(
        self,
        project: str,
        asset: str,
        version: str,
        overwrite: bool = False,
        relink: bool = True,
        concurrent: int = 8,
        progress: ProgressOption = None,
    ) -> str:
        """Download every file of a version into the cache."""
        return client.save_version(
            project,
            asset,
            version,
            cache_dir=self._cache_dir,
            overwrite=overwrite,
            relink=relink,
            concurrent=concurrent,
            url=self._url,
            progress=progress,
        )

    def resolve_links(
        self, project: str, asset: str, version: str, overwrite: bool = False, concurrent: int = 8
    ) -> bool:
        """Materialise the linked files of a cached version."""
        return client.resolve_links(
            project,
            asset,
            version,
            cache_dir=self._cache_dir,
            overwrite=overwrite,
            url=self._url,
            concurrent=concurrent,
        )

    def clone_version(
        self, project: str, asset: str, version: str, destination: str, download: bool = True, **kwargs: Any
    ) -> None:
        """Mirror a version in ``destination`` as symlinks into the cache."""
        client.clone_version(
            project, asset, version, destination, download, cache_dir=self._cache_dir, url=self._url, **kwargs
        )

    # Writes: the server URL and the token (upload session steps carry their own session token).

    def create_project(
        self,
        project: str,
        owners: str | list[str],
        uploaders: list[dict] | None = None,
        baseline: int | None = None,
        growth_rate: int | None = None,
        year: int | None = None,
    ) -> None:
        """Create a project (admins only)."""
        client.create_project(
            project, owners, uploaders, baseline, growth_rate, year, url=self._url, token=self._secret()
        )

    def set_permissions(
        self,
        project: str,
        owners: str | list[str] | None = None,
        uploaders: list[dict] | None = None,
        append: bool = True,
    ) -> None:
        """Add to or replace a project's owners and uploaders."""
        client.set_permissions(project, owners, uploaders, append, url=self._url, token=self._secret())

    def set_quota(
        self, project: str, baseline: int | None = None, growth_rate: int | None = None, year: int | None = None
    ) -> None:
        """Change a project's quota (admins only)."""
        client.set_quota(project, baseline, growth_rate, year, url=self._url, token=self._secret())

    def approve_probation(self, project: str, asset: str, version: str) -> None:
        """Accept a version on probation."""
        client.approve_probation(project, asset, version, url=self._url, token=self._secret())

    def reject_probation(self, project: str, asset: str, version: str) -> None:
        """Delete a version on probation."""
        client.reject_probation(project, asset, version, url=self._url, token=self._secret())

    def refresh_latest(self, project: str, asset: str) -> str | None:
        """Recompute an asset's latest version (admins only)."""
        return client.refresh_latest(project, asset, url=self._url, token=self._secret())

    def refresh_usage(self, project: str) -> int:
        """Recompute a project's usage (admins only)."""
        return client.refresh_usage(project, url=self._url, token=self._secret())

    def remove_project(self, project: str) -> bool:
        """Delete a project and everything in it (admins only)."""
        return client.remove_project(project, url=self._url, token=self._secret())

    def remove_asset(self, project: str, asset: str) -> bool:
        """Delete an asset and all its versions (admins only)."""
        return client.remove_asset(project, asset, url=self._url, token=self._secret())

    def remove_version(self, project: str, asset: str, version: str) -> bool:
        """Delete one version (admins only)."""
        return client.remove_version(project, asset, version, url=self._url, token=self._secret())

    def unlock_project(self, project: str) -> None:
        """Release a project lock left by a failed upload (admins only)."""
        client.unlock_project(project, url=self._url, token=self._secret())

    def start_upload(
        self,
        project: str,
        asset: str,
        version: str,
        files: str | list[str] | list[dict],
        links: list[dict] | None = None,
        deduplicate: bool = True,
        probation: bool = False,
        directory: str | None = None,
    ) -> dict:
        """Open an upload session for a new version."""
        return client.start_upload(
            project,
            asset,
            version,
            files,
            links=links,
            deduplicate=deduplicate,
            probation=probation,
            url=self._url,
            token=self._secret(),
            directory=directory,
        )

    def upload_files(
        self, init: dict, directory: str | None = None, concurrent: int = 8, progress: ProgressOption = None
    ) -> None:
        """Send the files an upload session asks for."""
        client.upload_files(init, directory, url=self._url, concurrent=concurrent, progress=progress)

    def complete_upload(self, init: dict) -> None:
        """Finish an upload session."""
        client.complete_upload(init, url=self._url)

    def abort_upload(self, init: dict) -> None:
        """Cancel an upload session."""
        client.abort_upload(init, url=self._url)

    def upload_directory(
        self,
        directory: str,
        project: str,
        asset: str,
        version: str,
        deduplicate: bool = True,
        probation: bool = False,
        concurrent: int = 8,
        abort_failed: bool = True,
        progress: ProgressOption = None,
    ) -> bool:
        """Upload a folder as a new version."""
        return client.upload_directory(
            directory,
            project,
            asset,
            version,
            cache_dir=self._cache_dir,
            deduplicate=deduplicate,
            probation=probation,
            url=self._url,
            token=self._secret(),
            concurrent=concurrent,
            abort_failed=abort_failed,
            progress=progress,
        )

    # Local work, and downloads from the metadata hosts (whose url is the caller's): the cache folder only.

    def prepare_directory_upload(self, directory: str, links: str = "auto") -> dict:
        """Sort a folder's files into files to send and links to register."""
        return client.prepare_directory_upload(directory, links, cache_dir=self._cache_dir)

    def fetch_metadata_database(
        self, name: str = "bioconductor.sqlite3", overwrite: bool = False, url: str | None = None
    ) -> str:
        """Download (or reuse) a metadata index into the cache; ``url`` is the index's host."""
        return client.fetch_metadata_database(name, cache_dir=self._cache_dir, overwrite=overwrite, url=url)

    def fetch_metadata_schema(
        self, name: str = "bioconductor/v1.json", overwrite: bool = False, url: str | None = None
    ) -> str:
        """Download (once) a metadata schema into the cache; ``url`` is the schemas' host."""
        return client.fetch_metadata_schema(name, cache_dir=self._cache_dir, overwrite=overwrite, url=url)

    # Local work that needs no setting: the client's own functions.
    validate_metadata = staticmethod(client.validate_metadata)
    define_text_query = staticmethod(client.define_text_query)
    search_metadata_text = staticmethod(client.search_metadata_text)
