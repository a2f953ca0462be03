"""How a gypsum task is declared: one decorator, a few kinds of operation.

- settled reads (``fetch_manifest``, ``fetch_summary``, ``list_files``,
  ``save_file``, ``save_version``): cached across runs (see
  :mod:`.policies`), 3 retries of transient failures, tag ``gypsum``;
- live reads (latest, permissions, quota, usage, listings, metadata
  downloads): never cached, 3 retries, tag ``gypsum``;
- writes (administration, ``upload_version``, ``upload_directory``): never
  cached, 3 retries, tags ``gypsum`` and ``gypsum-write``;
- upload session steps (``start_upload``, ``upload_files``,
  ``complete_upload``, ``abort_upload``): writes without retries, since a
  retry in the middle of a session is not a clean attempt (``upload_version``
  retries whole sessions);
- local work (``prepare_directory_upload``, ``validate_metadata``,
  ``define_text_query``, ``search_metadata_text``): never cached, no retries.

Uncached tasks never persist their results, so no result (for instance the
upload session of ``start_upload``) lands in result storage.

Example:
    >>> from gypsum_flows.tasks import create_project, fetch_latest
    >>> sorted(create_project.tags), fetch_latest.retries, fetch_latest.persist_result
    (['gypsum', 'gypsum-write'], 3, False)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE, CachePolicy

from ..blocks import GypsumCredentials
from .policies import DEFAULT_RETRIES, retry_options

if TYPE_CHECKING:
    from ..client_view import GypsumClient

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
    tags: frozenset[str] | None = None,
    **options: Any,
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a gypsum task named after its function.

    Args:
        run_name: ``task_run_name`` template, e.g. ``"save_version[{project}/{asset}/{version}]"``.
        cache_policy: how results are cached across runs; uncached results are not persisted.
        write: the task changes the server (adds the ``gypsum-write`` tag).
        retries: how many times a transient failure is retried.
        tags: the tags instead of ``gypsum`` (and ``gypsum-write``); ``frozenset()`` for none, as a flow's
            per-asset task has: every tagged run first takes its tags' concurrency slots from the Prefect API.
        options: further ``@task`` keywords, which win over the ones above (e.g. ``retry_condition_fn=None``).

    Example:
        >>> @gypsum_task("ping[{project}]")
        ... def ping(project: str, *, credentials=None) -> str:
        ...     return project
        >>> ping.name, ping.retries
        ('ping', 3)
        >>> gypsum_task(tags=frozenset(), retries=0)(ping.fn).tags
        set()
    """

    def declare(fn: Callable[P, R]) -> Task[P, R]:
        settings: dict[str, Any] = {
            "name": fn.__name__,
            "task_run_name": run_name or fn.__name__,
            "tags": set(WRITE_TAGS if write else READ_TAGS) if tags is None else set(tags),
            "cache_policy": cache_policy,
            "persist_result": cache_policy is not NO_CACHE,
            **retry_options(retries),
            **options,
        }
        return task(**settings)(fn)

    return declare


def client_for(credentials: GypsumCredentials | None) -> GypsumClient:
    """The typed client a task calls: the block's settings, or the client's defaults.

    Example:
        >>> client_for(GypsumCredentials(url="http://127.0.0.1:8787"))
        GypsumClient(url='http://127.0.0.1:8787')
    """
    return (credentials or GypsumCredentials()).get_client()
