"""The Snakemake storage provider and storage object for ``gypsum://`` queries.

Snakemake finds the classes by module name (``StorageProvider``,
``StorageObject`` and ``StorageProviderSettings`` of
``snakemake_storage_plugin_gypsum``); the object class must live in the
provider's module.

Example:
    >>> StorageProvider.is_valid_query("gypsum://test-R/basic/v1/blah.txt").valid
    True
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_common.logging import get_logger
from snakemake_interface_storage_plugins.common import Operation
from snakemake_interface_storage_plugins.io import (
    IOCacheStorageInterface,
    Mtime,
    get_constant_prefix,
)
from snakemake_interface_storage_plugins.storage_object import (
    StorageObjectGlob,
    StorageObjectRead,
    StorageObjectWrite,
)
from snakemake_interface_storage_plugins.storage_provider import (
    ExampleQuery,
    QueryType,
    StorageProviderBase,
    StorageQueryValidationResult,
)
from tenacity import (
    after_log,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from gypsum_flows import client
from gypsum_flows.constants import ENV_TOKEN
from gypsum_flows.errors import GypsumError, is_transient

from . import transfer
from .catalog import Catalog, VersionInfo
from .query import LATEST, SCHEME, GypsumQuery, parse_query, query_problem
from .settings import StorageProviderSettings

T = TypeVar("T")

# The interface's retry_decorator (3 attempts, exponential waits), for transient gypsum errors only.
_retry_transient = retry(
    retry=retry_if_exception(is_transient),
    wait=wait_exponential(multiplier=3),
    stop=stop_after_attempt(3),
    after=after_log(get_logger(), logging.WARNING),
    reraise=True,
)


@contextlib.contextmanager
def _about(query: str) -> Iterator[None]:
    """Turn gypsum errors into Snakemake errors that name the query."""
    try:
        yield
    except GypsumError as exc:
        raise WorkflowError(f"gypsum storage {query}: {exc}") from exc


class StorageProvider(StorageProviderBase):
    """``gypsum://PROJECT/ASSET/VERSION[/PATH]`` over :mod:`gypsum_flows.client`; one catalog per run."""

    settings: StorageProviderSettings

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = StorageProviderSettings()
        if self.settings.token:
            # Spawned jobs inherit the environment; the token is kept out of their printed command (hide_token).
            os.environ[ENV_TOKEN] = self.settings.token
        self.catalog = Catalog(self.settings.url, self.settings.cache_dir, self.logger)

    @classmethod
    def example_queries(cls) -> list[ExampleQuery]:
        """Queries shown by ``snakemake --help`` and checked by the interface's tests."""
        return [
            ExampleQuery(
                "gypsum://scrnaseq/zeisel-brain/2024-02-01/counts.csv",
                "One file of a published version.",
                QueryType.INPUT,
            ),
            ExampleQuery(
                "gypsum://scrnaseq/zeisel-brain/latest/counts.csv",
                "One file of the asset's latest version (resolved once per run).",
                QueryType.INPUT,
            ),
            ExampleQuery(
                "gypsum://scrnaseq/zeisel-brain/2024-02-01",
                "A whole version as a directory (input, or directory() output to publish).",
                QueryType.ANY,
            ),
        ]

    def rate_limiter_key(self, query: str, operation: Operation) -> Any:
        """One rate limit per gypsum server."""
        return self.settings.url or client.rest_url()

    def default_max_requests_per_second(self) -> float:
        """Storage operations per second unless ``--storage-gypsum-max-requests-per-second`` says otherwise."""
        return 100.0

    def use_rate_limiter(self) -> bool:
        return True

    @classmethod
    def is_valid_query(cls, query: str) -> StorageQueryValidationResult:
        """Whether ``query`` is a gypsum query (wildcards allowed), with the reason if not."""
        problem = query_problem(query)
        return StorageQueryValidationResult(query=query, valid=problem is None, reason=problem)

    def token(self, query: GypsumQuery) -> str:
        """The token for publishing: the setting, else the gypsum token file or environment (never interactive)."""
        found = self.settings.token or client.access_token(request=False, cache_dir=self.settings.cache_dir)
        if not found:
            raise WorkflowError(
                f"gypsum storage {query}: publishing needs a GitHub token: set SNAKEMAKE_STORAGE_GYPSUM_TOKEN "
                "(or GYPSUM_TOKEN, or log in with gypsum_flows' set_access_token)"
            )
        return str(found)


class StorageObject(StorageObjectRead, StorageObjectWrite, StorageObjectGlob):
    """One file of a version, or a whole version (a directory)."""

    provider: StorageProvider

    def __post_init__(self) -> None:
        self._parsed: GypsumQuery | None = None

    # -- naming ---------------------------------------------------------------------------------------------------

    @property
    def target(self) -> GypsumQuery:
        """The query with ``latest`` resolved (once per run)."""
        if self._parsed is None:
            try:
                parsed = parse_query(self.query)
            except ValueError as exc:
                raise WorkflowError(str(exc)) from None
            self._parsed = self._call(lambda: self.provider.catalog.resolve(parsed))
        return self._parsed

    def local_suffix(self) -> str:
        return self.target.key

    def get_inventory_parent(self) -> str | None:
        # A file's parent is its version; a version's is its asset (never itself an object: queries need 3 parts).
        target = self.target
        parent = f"{target.project}/{target.asset}" if target.is_version else target.version_key
        return self.cache_key(parent)

    def cleanup(self) -> None:
        """Nothing to close: the client's pooled session is shared."""

    # -- reading --------------------------------------------------------------------------------------------------

    def _call(self, func: Callable[[], T]) -> T:
        """``func()`` with transient failures retried and gypsum errors naming the query."""
        with _about(self.print_query):
            return _retry_transient(func)()

    def _version(self) -> VersionInfo | None:
        target = self.target
        return self._call(lambda: self.provider.catalog.version(target.project, target.asset, target.version))

    def _entry(self) -> dict | None:
        info = self._version()
        if info is None or not info.complete:
            return None
        return info.files.get(self.target.path) if self.target.path else {"size": 0}

    async def inventory(self, cache: IOCacheStorageInterface) -> None:
        """One manifest per version fills existence, size, mtime and MD5 of all its files."""
        parent = self.get_inventory_parent()
        if parent in cache.exists_in_storage or self.cache_key() in cache.exists_in_storage:
            return
        info = self._version()
        version_key = self.cache_key(self.target.version_key)  # a file's inventory parent
        cache.exists_in_storage[version_key] = info is not None and info.complete
        if info is None or not info.complete:
            cache.exists_in_storage[self.cache_key()] = False
            return
        cache.mtime[version_key], cache.size[version_key] = Mtime(storage=info.finished), 0
        for path, entry in info.files.items():
            key = self.cache_key(f"{self.target.version_key}/{path}")
            cache.exists_in_storage[key] = True
            cache.mtime[key] = Mtime(storage=info.finished)
            cache.size[key] = entry["size"]
            cache.checksum[key] = f"md5:{entry['md5sum']}"
        if self.cache_key() not in cache.exists_in_storage:
            cache.exists_in_storage[self.cache_key()] = False

    def exists(self) -> bool:
        """A file: listed in its complete version. A version: complete on the server (probational or not)."""
        return self._entry() is not None

    def mtime(self) -> float:
        """The version's ``upload_finish``: it never moves, so nothing reruns spuriously."""
        info = self._version()
        if info is None or not info.complete:
            raise WorkflowError(f"gypsum storage {self.print_query}: no such complete version")
        return info.finished  # type: ignore[return-value]

    def size(self) -> int:
        """The file's size from the manifest; 0 for a version."""
        entry = self._entry()
        if entry is None:
            raise WorkflowError(f"gypsum storage {self.print_query}: does not exist")
        return int(entry["size"])

    def local_footprint(self) -> int:
        """A version's total size (linked files included); a file's size."""
        if not self.target.is_version:
            return self.size()
        info = self._version()
        return sum(int(e["size"]) for e in info.files.values()) if info and info.complete else 0

    def checksum(self) -> str | None:
        """``md5:<hex>`` of a file, from the manifest; ``None`` for a version."""
        entry = self._entry()
        return f"md5:{entry['md5sum']}" if entry and not self.target.is_version else None

    def retrieve_object(self) -> None:
        """Save through the shared gypsum cache, then hard link (or copy) into Snakemake's local path."""
        target, settings = self.target, self.provider.settings
        if self._entry() is None:
            raise WorkflowError(f"gypsum storage {self.print_query}: does not exist")
        if target.is_version:
            more: dict[str, Any] = {} if settings.concurrent is None else {"concurrent": settings.concurrent}
            cached = self._call(
                lambda: client.save_version(
                    target.project, target.asset, target.version, cache_dir=settings.cache_dir, url=settings.url, **more
                )
            )
            files = self._version().files  # type: ignore[union-attr]
            self._call(lambda: transfer.place_version(files, cached, self.local_path(), target))
        else:
            path = str(target.path)
            cached = self._call(
                lambda: client.save_file(
                    target.project, target.asset, target.version, path, cache_dir=settings.cache_dir, url=settings.url
                )
            )
            transfer.place_file(cached, self.local_path())

    # -- writing --------------------------------------------------------------------------------------------------

    def store_object(self) -> None:
        """Publish a ``directory()`` output as a new version (a file output: a new one-file version)."""
        if parse_query(self.query).version == LATEST:
            raise WorkflowError(f"gypsum storage {self.print_query}: outputs need an explicit version, not '{LATEST}'")
        target, settings = self.target, self.provider.settings
        if self._version() is not None:
            raise WorkflowError(
                f"gypsum storage {self.print_query}: version {target.version_key} already exists, and gypsum "
                "versions are immutable: publish the output as a new version instead"
            )
        local = self.local_path()
        if target.is_version:
            if not local.is_dir():
                raise WorkflowError(
                    f"gypsum storage {self.print_query}: a whole version is published from a "
                    f"folder; mark the output with directory() ({local} is not a folder)"
                )
            folder = local
            listing = self._call(lambda: transfer.folder_listing(folder, settings.cache_dir))
        else:
            folder = local.parents[len(target.path.split("/")) - 1]  # type: ignore[union-attr]
            listing = {"files": [target.path], "links": []}
        token = self.provider.token(target)
        self.provider.logger.info(
            f"gypsum: publishing {len(listing['files'])} files and {len(listing['links'])} "
            f"links as {target.version_key}"
        )
        try:
            self._call(
                lambda: transfer.publish(
                    target,
                    folder,
                    listing,
                    url=settings.url,
                    token=token,
                    probation=bool(settings.probation),
                    deduplicate=bool(settings.deduplicate),
                    concurrent=settings.concurrent,
                    logger=self.provider.logger,
                )
            )
        finally:
            self.provider.catalog.forget(target.project, target.asset, target.version)

    def remove(self) -> None:
        """Refused: versions are immutable. A probational version is rejected (deleted) instead."""
        target = self.target
        info = self._version()
        if info is None:
            return
        if target.is_version and info.probation:
            token = self.provider.token(target)
            self._call(
                lambda: client.reject_probation(
                    target.project, target.asset, target.version, url=self.provider.settings.url, token=token
                )
            )
            self.provider.catalog.forget(target.project, target.asset, target.version)
            self.provider.logger.info(f"gypsum: rejected the probational version {target.version_key}")
            return
        what = "a file of a version" if target.path else f"the published version {target.version_key}"
        raise WorkflowError(
            f"gypsum storage {self.print_query}: refusing to remove {what}: gypsum versions are immutable "
            "(only a probational version can be removed, by rejecting it; an administrator can remove versions "
            "with gypsum_flows.client.remove_version)"
        )

    # -- glob -----------------------------------------------------------------------------------------------------

    def list_candidate_matches(self) -> Iterable[str]:
        """Queries of the files (and the version itself) under the query's constant prefix."""
        prefix = get_constant_prefix(self.query, strip_incomplete_parts=True)
        parts = prefix[len(SCHEME) :].split("/")[:-1] if prefix.startswith(SCHEME) else []
        if len(parts) < 2:
            raise WorkflowError(
                f"gypsum storage {self.print_query}: glob_wildcards needs a fixed project and "
                "asset (wildcards in the version and the path are fine)"
            )
        project, asset = parts[:2]
        versions = parts[2:3] or self._call(
            lambda: client.list_versions(project, asset, url=self.provider.settings.url)
        )
        out = []
        catalog = self.provider.catalog
        for version in versions:
            info = self._call(functools.partial(catalog.version, project, asset, version))
            if info is None or not info.complete:
                continue
            base = f"{SCHEME}{project}/{asset}/{version}"
            out.extend([base, *(f"{base}/{path}" for path in info.files)])
        return [query for query in out if query.startswith(prefix)]
