"""Defaults, environment variable names and cache layout names.

Nothing here reads the environment at import time: callers use the helper
functions, which look at ``os.environ`` when they are called.
"""

from __future__ import annotations

import os

#: The public production instance, used when nothing else is configured.
DEFAULT_REST_URL = "https://gypsum.artifactdb.com"

#: Environment variables understood by gypsum-flows.
ENV_REST_URL = "GYPSUM_REST_URL"
ENV_CACHE_DIR = "GYPSUM_CACHE_DIR"
ENV_TOKEN = "GYPSUM_TOKEN"
ENV_GITHUB_TOKEN = "GITHUB_TOKEN"
ENV_METADATA_URL = "GYPSUM_METADATA_URL"
ENV_SCHEMA_URL = "GYPSUM_SCHEMA_URL"
#: Publishing: the age of a lock presumed dead, and how long to wait for another live upload.
ENV_STALE_LOCK_AGE = "GYPSUM_STALE_LOCK_AGE"
ENV_LOCK_WAIT = "GYPSUM_LOCK_WAIT"

#: Locks at least this old belong to uploads presumed dead (``recover``'s default, and the flows').
STALE_LOCK_AGE = "15m"
#: How long a publishing flow waits for another live upload of the version it publishes.
LOCK_WAIT = "10m"

#: Where the published metadata index and schemas live.
DEFAULT_DATABASE_URL = "https://github.com/ArtifactDB/bioconductor-metadata-index/releases/download/latest/"
DEFAULT_SCHEMA_URL = "https://artifactdb.github.io/bioconductor-metadata-index/"

#: Cache layout shared with gypsum_client and the R client (section 4.4 of docs/gypsum-api.md).
BUCKET_CACHE_NAME = "bucket"
STATUS_CACHE_NAME = "status"
CREDENTIALS_CACHE_NAME = "credentials"
DATABASES_CACHE_NAME = "databases"
SCHEMAS_CACHE_NAME = "schemas"
COMPLETE_MARKER = "COMPLETE"
LOCK_SUFFIX = ".LOCK"

#: HTTP timeouts in seconds: (connect, read).
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
#: Files up to this size move as one request or response body, several in flight from one thread;
#: larger ones stream from or to disk, each on a thread of its own.
SMALL_FILE_SIZE = 1 << 20
#: The largest JSON document (manifest, summary, listing...) read from a server; a larger one is refused.
MAX_DOCUMENT_SIZE = 256 << 20

#: The largest file gypsum takes: one presigned PUT per file, and Cloudflare R2 refuses single uploads over
#: 5 MiB less than 5 GiB (4.995 GiB). The client checks it before starting an upload to a server that is not
#: local; the local server enforces it by default (``--max-file-size``).
MAX_FILE_SIZE = 5 * 2**30 - 5 * 2**20
#: Set to 1 (or true/yes) for offline mode: nothing touches the network, answers come from the cache.
ENV_OFFLINE = "GYPSUM_OFFLINE"

#: Internal file names inside the bucket (section 2 of docs/gypsum-api.md).
PERMISSIONS_FILE = "..permissions"
QUOTA_FILE = "..quota"
USAGE_FILE = "..usage"
LATEST_FILE = "..latest"
SUMMARY_FILE = "..summary"
MANIFEST_FILE = "..manifest"
LINKS_FILE = "..links"
LOCK_FILE = "..LOCK"
LOGS_PREFIX = "..logs/"


def default_rest_url() -> str:
    """The REST URL from ``GYPSUM_REST_URL``, else the public instance."""
    return os.environ.get(ENV_REST_URL) or DEFAULT_REST_URL


def offline_from_environment() -> bool:
    """Whether ``GYPSUM_OFFLINE`` asks for offline mode (read now)."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def default_cache_dir() -> str:
    """The cache folder from ``GYPSUM_CACHE_DIR``, else the folder shared with the reference clients."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return env
    from platformdirs import user_cache_dir

    # appdirs and rappdirs give the same path for ("gypsum", "ArtifactDB") on every platform.
    return user_cache_dir("gypsum", "ArtifactDB")
