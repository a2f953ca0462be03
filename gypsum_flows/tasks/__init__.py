"""Prefect tasks for gypsum: one task per public ``gypsum_flows.client`` operation, same names.

Every task takes the client function's parameters (minus ``url``, ``token``
and ``cache_dir``) plus a keyword ``credentials``
(:class:`~gypsum_flows.blocks.GypsumCredentials`, or None for the client's
defaults). Retries cover transient failures only; reads of settled versions
are cached across runs; see :mod:`.base` and :mod:`.policies`. On top of
the client: :func:`upload_version`, one clean and retryable upload session.

With ``.map``, wrap the block in ``prefect.unmapped``: a pydantic block is
iterable (over its fields), so Prefect would otherwise map over it.

Example:
    >>> from prefect import flow
    >>> from gypsum_flows.blocks import GypsumCredentials
    >>> from gypsum_flows.tasks import fetch_latest, save_version
    >>> @flow
    ... def download_latest(project: str, asset: str) -> str:
    ...     local = GypsumCredentials(url="http://127.0.0.1:8787")
    ...     version = fetch_latest(project, asset, credentials=local)
    ...     return save_version(project, asset, version, credentials=local)
"""

from .admin import (
    approve_probation,
    create_project,
    refresh_latest,
    refresh_usage,
    reject_probation,
    remove_asset,
    remove_project,
    remove_version,
    set_permissions,
    set_quota,
    unlock_project,
)
from .download import clone_version, resolve_links, save_file, save_version
from .metadata import (
    define_text_query,
    fetch_metadata_database,
    fetch_metadata_schema,
    search_metadata_text,
    validate_metadata,
)
from .read import (
    fetch_latest,
    fetch_manifest,
    fetch_permissions,
    fetch_quota,
    fetch_summary,
    fetch_usage,
    list_assets,
    list_files,
    list_projects,
    list_versions,
    public_s3_config,
)
from .upload import (
    abort_upload,
    complete_upload,
    prepare_directory_upload,
    start_upload,
    upload_directory,
    upload_files,
    upload_version,
)

__all__ = [
    "abort_upload",
    "approve_probation",
    "clone_version",
    "complete_upload",
    "create_project",
    "define_text_query",
    "fetch_latest",
    "fetch_manifest",
    "fetch_metadata_database",
    "fetch_metadata_schema",
    "fetch_permissions",
    "fetch_quota",
    "fetch_summary",
    "fetch_usage",
    "list_assets",
    "list_files",
    "list_projects",
    "list_versions",
    "prepare_directory_upload",
    "public_s3_config",
    "refresh_latest",
    "refresh_usage",
    "reject_probation",
    "remove_asset",
    "remove_project",
    "remove_version",
    "resolve_links",
    "save_file",
    "save_version",
    "search_metadata_text",
    "set_permissions",
    "set_quota",
    "start_upload",
    "unlock_project",
    "upload_directory",
    "upload_files",
    "upload_version",
    "validate_metadata",
]
