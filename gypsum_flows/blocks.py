"""Prefect blocks of gypsum-flows: ``GypsumCredentials`` and the ``GypsumVersion`` storage block.

Prefect finds this module through the ``prefect.collections`` entry point, so
``GypsumCredentials.load("name")`` and ``prefect block register -m
gypsum_flows.blocks`` work once the package is installed.

Example:
    >>> from gypsum_flows.blocks import GypsumCredentials
    >>> GypsumCredentials(url="http://127.0.0.1:8787/", token="s3cret")
    GypsumCredentials(url='http://127.0.0.1:8787/', token=SecretStr('**********'), cache_dir=None)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from prefect.blocks.abstract import CredentialsBlock
from prefect.filesystems import ReadableDeploymentStorage, ReadableFileSystem
from pydantic import Field, HttpUrl, SecretStr

from ._http import resolve_url
from .cache import resolve_cache
from .errors import GypsumError
from .names import bad_path_reason

if TYPE_CHECKING:
    from .client_view import GypsumClient


class GypsumCredentials(CredentialsBlock):
    """Where a gypsum server is, who you are on it, and where downloads are cached.

    Every field is optional: an empty field falls back, at call time, to the
    client's own default (``GYPSUM_REST_URL`` or the public instance; the token
    from ``GYPSUM_TOKEN`` or the cached token file; ``GYPSUM_CACHE_DIR`` or the
    cache folder shared with the reference clients). The token is only handed
    to calls that need an identity (mutations) and is never part of a task's
    cache key or result.

    Example:
        Load a saved block and fetch a manifest with it:
        ```python
        from gypsum_flows.blocks import GypsumCredentials
        from gypsum_flows.tasks import fetch_manifest
        from prefect import flow

        @flow
        def manifest_flow():
            credentials = GypsumCredentials.load("BLOCK_NAME")
            return fetch_manifest("test-R", "basic", "v1", credentials=credentials)
        ```
    """

    _block_type_name = "Gypsum Credentials"
    _block_type_slug = "gypsum-credentials"
    _logo_url = HttpUrl("https://github.com/ArtifactDB.png")
    _documentation_url = HttpUrl("https://github.com/ArtifactDB/gypsum-worker")

    url: str | None = Field(
        default=None,
        description="REST URL of the gypsum server; empty means GYPSUM_REST_URL or the public instance.",
    )
    token: SecretStr | None = Field(
        default=None,
        description="Token sent with mutations; empty means GYPSUM_TOKEN or the cached token file.",
    )
    cache_dir: str | None = Field(
        default=None,
        description="Folder of the local gypsum cache; empty means GYPSUM_CACHE_DIR or the shared default.",
    )

    def resolved_url(self) -> str:
        """The server URL calls will use now, without a trailing slash."""
        return resolve_url(self.url)

    def resolved_cache_dir(self) -> str:
        """The cache folder calls will use now."""
        return resolve_cache(self.cache_dir)

    def client_kwargs(self, write: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``gypsum_flows.client`` functions: only the fields that are set.

        Args:
            write: include the token (only mutations need an identity).

        Example:
            >>> GypsumCredentials(url="http://x", token="t").client_kwargs()
            {'url': 'http://x'}
        """
        kwargs: dict[str, Any] = {"url": self.url, "cache_dir": self.cache_dir}
        if write and self.token is not None:
            kwargs["token"] = self.token.get_secret_value()
        return {k: v for k, v in kwargs.items() if v is not None}

    def get_client(self) -> GypsumClient:
        """The client of this block's server: typed methods that receive its settings by rule.

        Reads get the URL and cache folder, writes also the token (see
        :mod:`gypsum_flows.client_view`).

        Example:
            >>> client = GypsumCredentials(url="http://127.0.0.1:1", token="t").get_client()
            >>> client
            GypsumClient(url='http://127.0.0.1:1')
            >>> callable(client.fetch_latest)
            True
        """
        # Imported on use: Prefect imports this module (entry point) in every process, client or not.
        from .client_view import GypsumClient

        return GypsumClient(url=self.url, cache_dir=self.cache_dir, token=self.token)


class GypsumVersion(ReadableFileSystem, ReadableDeploymentStorage):
    """One published gypsum version as read-only Prefect storage: files, or the whole version as a folder.

    ``read_path`` is ``save_file`` (the file's bytes, through the local gypsum
    cache); ``get_directory`` is ``save_version`` followed by a copy of the
    version's files (or of one folder of it) into a local folder, so a
    deployment can run code, configs or reference data published on gypsum
    (see also the ``gypsum_flows.deployments.steps.pull_version`` pull step).

    Example:
        Read a file of a published version, or copy the version into a folder:
        ```python
        from gypsum_flows.blocks import GypsumVersion

        storage = GypsumVersion.load("BLOCK_NAME")
        text = storage.read_path_sync("flows/etl.py").decode()
        storage.get_directory_sync(local_path="./code")
        ```
    """

    _block_type_name = "Gypsum Version"
    _block_type_slug = "gypsum-version"
    _logo_url = HttpUrl("https://github.com/ArtifactDB.png")
    _documentation_url = HttpUrl("https://github.com/ArtifactDB/gypsum-worker")

    project: str = Field(description="Project of the version.")
    asset: str = Field(description="Asset of the version.")
    version: str = Field(description="Name of the published version.")
    credentials: GypsumCredentials = Field(
        default_factory=GypsumCredentials,
        description="Server, token and cache folder; empty fields fall back to the client defaults.",
    )

    @property
    def label(self) -> str:
        """``project/asset/version``."""
        return f"{self.project}/{self.asset}/{self.version}"

    def read_path_sync(self, path: str) -> bytes:
        """The content of the file at ``path`` in the version (downloaded into the cache once).

        Raises:
            GypsumNotFoundError: The version has no such file.
        """
        _check_relative(path)
        local = self.credentials.get_client().save_file(self.project, self.asset, self.version, path)
        return Path(local).read_bytes()

    async def read_path(self, path: str) -> bytes:
        """:meth:`read_path_sync` in a worker thread (Prefect's ``ReadableFileSystem`` interface)."""
        return await to_thread.run_sync(self.read_path_sync, path)

    def get_directory_sync(self, from_path: str | None = None, local_path: str | None = None) -> list[str]:
        """Copy the version's files (only those under ``from_path``, if given) into ``local_path``.

        Args:
            from_path: A folder inside the version; its content lands directly in ``local_path``.
            local_path: Destination folder (default: the current one); existing files are replaced.

        Returns:
            The paths copied, relative to ``local_path``.

        Raises:
            GypsumError: ``from_path`` is not a relative path, or holds no file of the version.
        """
        prefix = "" if from_path in (None, "", ".") else _check_relative(from_path.rstrip("/")) + "/"
        client = self.credentials.get_client()
        root = Path(client.save_version(self.project, self.asset, self.version))
        wanted = sorted(
            p for p in client.fetch_manifest(self.project, self.asset, self.version) if p.startswith(prefix)
        )
        if not wanted:
            raise GypsumError(f"{self.label} has no files under {from_path!r}")
        destination = Path(local_path or os.getcwd())
        copied = []
        for path in wanted:
            relative = _check_relative(path[len(prefix) :])
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                target.unlink()
            shutil.copyfile(root / path, target)  # a copy: cache files are shared and must stay untouched
            copied.append(relative)
        return copied

    async def get_directory(self, from_path: str | None = None, local_path: str | None = None) -> None:
        """:meth:`get_directory_sync` in a worker thread (Prefect's ``ReadableDeploymentStorage`` interface)."""
        await to_thread.run_sync(self.get_directory_sync, from_path, local_path)


def _check_relative(path: str) -> str:
    """``path`` if it is a valid path inside a version, else a :class:`GypsumError` saying why."""
    reason = bad_path_reason(path)
    if reason:
        raise GypsumError(f"bad path {path!r}: {reason}")
    return path
