"""Retry and cache policies shared by every gypsum task.

Retries: only errors for which :func:`gypsum_flows.errors.is_transient` is
true (network failures, timeouts, 429, 5xx, a locked project) are retried,
with exponential backoff and jitter, and only when no layer below repeated
the request already (its ``attempts`` is 1): a task run again never
multiplies the client's own retries, so :data:`RETRY_BUDGET` bounds the
sends of one request (docs/client.md, "The retry budget"). Invalid requests,
permissions, missing objects and quota fail at once.

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

import os
from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.tasks import Task, exponential_backoff
from prefect.utilities.hashing import hash_objects

from .. import __version__
from .._http import ATTEMPTS
from ..blocks import GypsumCredentials
from ..cache import bucket_path, complete_marker
from ..client.upload import UPLOAD_ROUNDS
from ..errors import GypsumError, is_transient

#: Default number of retries of a task that talks to the server.
DEFAULT_RETRIES = 3
#: The most times a task sends one request, across every layer and whatever mix of faults it meets: the
#: transport's ATTEMPTS in each of an upload's UPLOAD_ROUNDS (a file of an upload), or ATTEMPTS after a send
#: in each earlier run of the task (other requests). A server that fails every request is given up on after
#: ATTEMPTS sends (docs/client.md, "The retry budget").
RETRY_BUDGET = max(ATTEMPTS * UPLOAD_ROUNDS, DEFAULT_RETRIES + ATTEMPTS)
#: First retry delay in seconds; each later one doubles (2, 4, 8 s).
BACKOFF_FACTOR = 2.0
#: Each delay is stretched by up to this fraction at random, so mapped tasks do not retry in lockstep.
JITTER_FACTOR = 0.5
#: Inputs that never enter a cache key: the block carries the token, and
#: ``concurrent`` changes how a result is obtained, not what it is.
UNKEYED_INPUTS = frozenset({"credentials", "concurrent"})


def retry_if_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """``retry_condition_fn`` of every gypsum task: retry transient errors that no layer below repeated.

    A request the client already sent again (``attempts`` > 1: the transport's
    backoff, a resumed or re-fetched download, an upload round) had its whole
    budget; running the task again would only multiply it.

    Example:
        >>> from prefect.states import Failed
        >>> from gypsum_flows.errors import GypsumTransientError, GypsumNotFoundError
        >>> retry_if_transient(None, None, Failed(data=GypsumTransientError("busy", status=503)))
        True
        >>> retry_if_transient(None, None, Failed(data=GypsumNotFoundError("gone", status=404)))
        False
        >>> exhausted = GypsumTransientError("busy", status=503)
        >>> exhausted.attempts = 7
        >>> retry_if_transient(None, None, Failed(data=exhausted))
        False
    """
    exc = state.data
    return isinstance(exc, GypsumError) and is_transient(exc) and exc.attempts <= 1


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

    The key also holds the cache folder, and there is no key unless the local
    copy (one file with a ``path`` input, else the whole version) is intact
    (see :func:`local_copy_state`), so a deleted or damaged copy is
    downloaded again instead of being served from cache.
    """

    def location(self, credentials: GypsumCredentials) -> dict[str, str]:
        return {**super().location(credentials), "cache_dir": credentials.resolved_cache_dir()}

    def local_copy_ok(self, credentials: GypsumCredentials, inputs: dict[str, Any]) -> bool:
        state = local_copy_state(
            credentials,
            inputs["project"],
            inputs["asset"],
            inputs["version"],
            path=inputs.get("path"),
            relink=inputs.get("relink", True),
        )
        return state is True


def local_copy_state(
    credentials: GypsumCredentials | None,
    project: str,
    asset: str,
    version: str,
    *,
    path: str | None = None,
    relink: bool = True,
) -> bool | None:
    """Whether a saved file (or, without ``path``, a saved version) is intact in the gypsum cache.

    Returns:
        None when there is no local copy (or nothing to check it against);
        True when every file it covers has the size the manifest gives; False
        when it is damaged. A version counts as saved once its COMPLETE marker
        exists; with ``relink=False`` its link entries are not checked (they
        were never materialised).

    Example:
        >>> local_copy_state(GypsumCredentials(cache_dir="/nonexistent"), "test-R", "basic", "v1") is None
        True
    """
    credentials = credentials or GypsumCredentials()
    cache = credentials.resolved_cache_dir()
    if path:
        saved = bucket_path(cache, project, asset, version, path)
    else:
        saved = complete_marker(cache, project, asset, version)
    if not os.path.exists(saved):
        return None
    try:
        manifest = credentials.get_client().fetch_manifest(project, asset, version)
    except GypsumError:
        return None
    if path and path not in manifest:
        return None
    covered = [path] if path else [p for p, entry in manifest.items() if relink or "link" not in entry]
    return all(_has_size(bucket_path(cache, project, asset, version, p), manifest[p]["size"]) for p in covered)


def _has_size(path: str, size: int) -> bool:
    try:
        return os.path.getsize(path) == size
    except OSError:
        return False


#: Immutable reads returning data (manifest, summary, listing).
SETTLED_VERSION = SettledVersionPolicy()
#: ``save_file`` and ``save_version``: paths in the gypsum cache.
LOCAL_COPY = LocalCopyPolicy()
