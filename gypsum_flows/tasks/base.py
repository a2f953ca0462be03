"""How a gypsum task is declared: one decorator, four kinds of operation.

=============  ===========================  ===========  ==============  ==========
kind           examples                     cache        retries         tags
=============  ===========================  ===========  ==============  ==========
settled read   fetch_manifest, save_version  per policy   transient, 3    gypsum
live read      fetch_latest, list_versions   none         transient, 3    gypsum
write          create_project, upload_*      none         transient, 3*   gypsum, gypsum-write
local          validate_metadata             none         none            gypsum
=============  ===========================  ===========  ==============  ==========

(*) the steps of an upload session (``start_upload``, ``upload_files``,
``complete_upload``, ``abort_upload``) have no retries: a retry in the middle
of a session is not a clean attempt. ``upload_version`` carries the retries
for the whole session.

Uncached tasks never persist their results, so no result (for instance the
upload session of ``start_upload``) lands in result storage.

Example:
    >>> from gypsum_flows.tasks import save_version, fetch_latest
    >>> sorted(save_version.tags), fetch_latest.cache_policy
    (['gypsum'], NoCache(key_storage=None, isolation_level=None, lock_manager=None))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE, CachePolicy

from ..blocks import GypsumClient, GypsumCredentials
from .policies import DEFAULT_RETRIES, retry_options

P = ParamSpec("P")
R = TypeVar("R")

#: Every task has the ``gypsum`` tag; mutations of the server also ``gypsum-write``,
#: so ``prefect concurrency-limit create gypsum-write 2`` throttles writes only.
READ_TAGS = frozenset({"gypsum"})
WRITE_TAGS = READ_TAGS | {"gypsum-write"}


def gypsum_task(
    run_name: str | None = None,
    *,
    cache_policy: CachePolicy = NO_CACHE,
    write: bool = False,
    retries: int = DEFAULT_RETRIES,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a gypsum task named after its function.

    Args:
        run_name: ``task_run_name`` template, e.g. ``"save_version[{project}/{asset}/{version}]"``.
        cache_policy: how results are cached across runs; uncached results are not persisted.
        write: the task changes the server (adds the ``gypsum-write`` tag).
        retries: how many times a transient failure is retried.

    Example:
        >>> @gypsum_task("ping[{project}]")
        ... def ping(project: str, *, credentials=None) -> str:
        ...     return project
        >>> ping.name, ping.retries
        ('ping', 3)
    """

    def declare(fn: Callable[P, R]) -> Task[P, R]:
        return task(
            name=fn.__name__,
            task_run_name=run_name or fn.__name__,
            tags=set(WRITE_TAGS if write else READ_TAGS),
            cache_policy=cache_policy,
            persist_result=cache_policy is not NO_CACHE,
            **retry_options(retries),
        )(fn)

    return declare


def client_for(credentials: GypsumCredentials | None) -> GypsumClient:
    """The client view a task calls: the block's settings, or the client's defaults.

    Example:
        >>> client_for(GypsumCredentials(url="http://127.0.0.1:8787"))
        GypsumClient(url='http://127.0.0.1:8787')
    """
    return (credentials or GypsumCredentials()).get_client()
