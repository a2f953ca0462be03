"""The gypsum client: every function of gypsum_client 0.2.0, same names, parameters and results.

Differences that matter (all intended behaviour of the reference, see the
contract's BUG/QUIRK notes):

- ``url=None`` and ``cache_dir=None`` mean :func:`rest_url` and
  :func:`cache_directory` **when called** (``GYPSUM_REST_URL``,
  ``GYPSUM_CACHE_DIR``); ``cache_dir=False`` bypasses the cache where
  gypsum_client accepted ``None``;
- one pooled HTTP session with timeouts and retries; typed errors from
  :mod:`gypsum_flows.errors`;
- downloads verified against the manifest and written atomically under file
  locks compatible with gypsum_client and the R client;
- ``save_version`` and ``upload_files`` move ``concurrent=8`` files at once:
  large ones on threads, small ones from one thread with that many requests
  in flight on kept-alive connections;
- ``deduplicate=True`` really deduplicates; keys with spaces work; aborts go
  to the same server; ``unlock_project`` from the R client.

Example:
    >>> from gypsum_flows import client
    >>> callable(client.save_version)
    True
"""

from __future__ import annotations

from .._http import REQUESTS_MOD
from ..auth import access_token, set_access_token
from ..constants import BUCKET_CACHE_NAME
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
from .config import cache_directory, public_s3_config, rest_url
from .download import clone_version, resolve_links, save_file, save_version
from .prepare import prepare_directory_upload
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
)
from .upload import abort_upload, complete_upload, start_upload, upload_directory, upload_files

__all__ = [
    # constants, as gypsum_client's
    "BUCKET_CACHE_NAME",
    "REQUESTS_MOD",
    # configuration and auth
    "access_token",
    "cache_directory",
    "public_s3_config",
    "rest_url",
    "set_access_token",
    # read
    "fetch_latest",
    "fetch_manifest",
    "fetch_permissions",
    "fetch_quota",
    "fetch_summary",
    "fetch_usage",
    "list_assets",
    "list_files",
    "list_projects",
    "list_versions",
    # download and cache
    "clone_version",
    "resolve_links",
    "save_file",
    "save_version",
    # upload
    "abort_upload",
    "complete_upload",
    "prepare_directory_upload",
    "start_upload",
    "upload_directory",
    "upload_files",
    # administration
    "approve_probation",
    "create_project",
    "refresh_latest",
    "refresh_usage",
    "reject_probation",
    "remove_asset",
    "remove_project",
    "remove_version",
    "set_permissions",
    "set_quota",
    "unlock_project",
]

# Metadata: schemas, validation, the published index and text search (R's gsc and translate_text_query too).
from .metadata import fetch_metadata_database, fetch_metadata_schema, validate_metadata  # noqa: E402
from .search import (  # noqa: E402
    GypsumSearchClause,
    define_text_query,
    gsc,
    search_metadata,
    search_metadata_filter,
    search_metadata_text,
    search_metadata_text_filter,
    translate_text_query,
)

__all__ += [
    "GypsumSearchClause",
    "define_text_query",
    "fetch_metadata_database",
    "fetch_metadata_schema",
    "gsc",
    "search_metadata",
    "search_metadata_filter",
    "search_metadata_text",
    "search_metadata_text_filter",
    "translate_text_query",
    "validate_metadata",
]
