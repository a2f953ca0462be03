"""Retry and cache policies shared by every gypsum task.

Retries: only errors for which :func:`gypsum_flows.errors.is_transient` is
true (network failures, timeouts, 429, 5xx, a locked project) are retried,
with exponential backoff and jitter. Invalid requests, permissions, missing
objects and quota fail at once.

Caching: only reads of a *settled* version (completed and not on probation)
are cached across runs, keyed on the task, the server URL and the inputs;
never on the credentials block or its token. Reads that return a path in the
local gypsum cache are also keyed on that path still being intact, so a hit
never hands back a deleted or truncated copy.

Example:
    >>> from gypsum_flows.tasks import fetch_latest
    >>> patient = fetch_latest.with_options(retries=10, retry_delay_seconds=30)
    >>> patient.retries
    10
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.tasks import Task, exponential_backoff
from prefect.utilities.hashing import hash_objects

from .. import __version__
from ..blocks import GypsumCredentials
from ..constants import BUCKET_CACHE_NAME, COMPLETE_MARKER, STATUS_CACHE_NAME
from ..errors import GypsumError, is_transient

#: Default number of retries of a task that talks to the server.
DEFAULT_RETRIES = 3
#: First retry delay in seconds; each later one doubles (2, 4, 8 s).
BACKOFF_FACTOR = 2.0
#: Each delay is stretched by up to this fraction at random, so mapped tasks do not retry in lockstep.
JITTER_FACTOR = 0.5
#: Inputs that never enter a cache key: the block carries the token, and
#: ``concurrent`` changes how a result is obtained, not what it is.
UNKEYED_INPUTS = frozenset({"credentials", "concurrent"})


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn`` of every gypsum task: retry transient errors only.

    Example:
        >>> from prefect.states import Failed
        >>> from gypsum_flows.errors import GypsumTransientError, GypsumNotFoundError
        >>> retry_if_transient(None, None, Failed(data=GypsumTransientError("busy", status=503)))
        True
        >>> retry_if_transient(None, None, Failed(data=GypsumNotFoundError("gone", status=404)))
        False
    """
    exc = state.data
    return isinstance(exc, BaseException) and is_transient(exc)


def retry_options(retries: int = DEFAULT_RETRIES) -> dict[str, Any]:
    """The retry keywords of a gypsum task (``@task``/``with_options`` keywords).

    Example:
        >>> retry_options(0)["retries"]
        0
    """
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=BACKOFF_FACTOR),
        "retry_jitter_factor": JITTER_FACTOR,
        "retry_condition_fn": retry_if_transient,
    }


def credentials_of(inputs: dict[str, Any]) -> GypsumCredentials:
    """The block passed to a task, or an empty one (client defaults)."""
    return inputs.get("credentials") or GypsumCredentials()


@dataclass
class SettledVersionPolicy(CachePolicy):
    """Cache a read of a version once it is completed and off probation.

    The key hashes the task's qualified name, the package version, the
    resolved server URL and the inputs minus :data:`UNKEYED_INPUTS`. No key
    (so no caching) when ``overwrite`` is set, when the version's summary
    cannot be read, or when it is on probation. The summary itself comes from
    the client, which keeps a settled summary in the gypsum cache, so deciding
    costs one request per version at most.

    Example:
        >>> from prefect import task
        >>> @task(cache_policy=SettledVersionPolicy())
        ... def manifest_size(project, asset, version, credentials=None):
        ...     ...
    """

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if inputs.get("overwrite"):
            return None
        credentials = credentials_of(inputs)
        if not self._settled(credentials, inputs) or not self.local_copy_ok(credentials, inputs):
            return None
        fn = task_ctx.task.fn
        parts = {
            "task": f"{fn.__module__}.{fn.__qualname__}",
            "package": __version__,
            "inputs": {k: v for k, v in inputs.items() if k not in UNKEYED_INPUTS},
            **self.location(credentials),
        }
        return hash_objects(parts, raise_on_failure=True)

    def location(self, credentials: GypsumCredentials) -> dict[str, str]:
        """Where the result comes from: the server URL (never the token)."""
        return {"url": credentials.resolved_url()}

    def local_copy_ok(self, credentials: GypsumCredentials, inputs: dict[str, Any]) -> bool:
        """Whether the local files a cached result points to are still intact."""
        return True

    @staticmethod
    def _settled(credentials: GypsumCredentials, inputs: dict[str, Any]) -> bool:
        client = credentials.get_client()
        try:
            summary = client.fetch_summary(inputs["project"], inputs["asset"], inputs["version"])
        except GypsumError:
            return False
        return summary.get("upload_finish") is not None and not summary.get("on_probation", False)


@dataclass
class LocalCopyPolicy(SettledVersionPolicy):
    """A :class:`SettledVersionPolicy` for results that are paths in the gypsum cache.

    The key also holds the cache folder, and there is no key unless every
    file the result covers (:meth:`covered`) exists with the size the manifest
    gives, so a deleted or damaged copy is downloaded again instead of being
    served from cache.
    """

    def location(self, credentials: GypsumCredentials) -> dict[str, str]:
        return {**super().location(credentials), "cache_dir": credentials.resolved_cache_dir()}

    def local_copy_ok(self, credentials: GypsumCredentials, inputs: dict[str, Any]) -> bool:
        project, asset, version = inputs["project"], inputs["asset"], inputs["version"]
        try:
            manifest = credentials.get_client().fetch_manifest(project, asset, version)
        except GypsumError:
            return False
        wanted = self.covered(manifest, inputs)
        root = Path(credentials.resolved_cache_dir(), BUCKET_CACHE_NAME, project, asset, version)
        return bool(wanted) and all(_has_size(root / path, manifest[path]["size"]) for path in wanted)

    def covered(self, manifest: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
        """The manifest paths a result stands for."""
        raise NotImplementedError


@dataclass
class SavedFilePolicy(LocalCopyPolicy):
    """Cache ``save_file`` while the saved file is intact."""

    def covered(self, manifest: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
        return [inputs["path"]] if inputs["path"] in manifest else []


@dataclass
class SavedVersionPolicy(LocalCopyPolicy):
    """Cache ``save_version`` while the version's COMPLETE marker and every file are intact.

    With ``relink=False`` the link entries are not materialised, so only the
    real files are checked.
    """

    def local_copy_ok(self, credentials: GypsumCredentials, inputs: dict[str, Any]) -> bool:
        status = Path(credentials.resolved_cache_dir(), STATUS_CACHE_NAME)
        marker = status / inputs["project"] / inputs["asset"] / inputs["version"] / COMPLETE_MARKER
        return marker.exists() and super().local_copy_ok(credentials, inputs)

    def covered(self, manifest: dict[str, Any], inputs: dict[str, Any]) -> list[str]:
        keep_links = inputs.get("relink", True)
        return [path for path, entry in manifest.items() if keep_links or "link" not in entry]


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


#: Immutable reads returning data (manifest, summary, listing).
SETTLED_VERSION = SettledVersionPolicy()
#: ``save_file``: a path in the gypsum cache.
SAVED_FILE = SavedFilePolicy()
#: ``save_version``: a folder in the gypsum cache.
SAVED_VERSION = SavedVersionPolicy()
