"""Recovery as Prefect tasks, and the ``recover`` flow: clear stale project locks left by interrupted uploads.

A thin Prefect layer over :mod:`gypsum_flows.recover`, which decides
everything. The ``recover`` flow (admins): one task finds every project lock,
one task per stale lock clears it (unlock, then remove the version if it is
still partial; a complete version is never removed), and the run leaves a
table artifact and a markdown summary. Locks younger than ``older_than`` are
reported and left alone. The publishing flows settle a partial target
version with :func:`settle_target`, by the same rule.

Example::

    from gypsum_flows.flows.recover import recover

    recover(older_than="2h", dry_run=True, credentials="local-gypsum-admin")
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from .. import recover as core
from ..blocks import GypsumCredentials
from ..constants import STALE_LOCK_AGE
from ..errors import GypsumError
from ..tasks.base import gypsum_task
from .credentials import resolve_credentials, url_and_token

#: Locks cleared at once.
RECOVERY_WORKERS = 4
ARTIFACT_KEY = "gypsum-recover"


@gypsum_task("find_project_locks")
def find_project_locks(
    projects: list[str] | None = None, *, credentials: GypsumCredentials | None = None
) -> tuple[int, list[core.ProjectLock]]:
    """Every project lock (among ``projects``, default all); returns (projects checked, locks).

    Example:
        >>> @flow
        ... def locks() -> int:
        ...     return len(find_project_locks(credentials=GypsumCredentials(url=server.url))[1])
    """
    return core.find_locks(projects, **url_and_token(credentials, write=False))


@gypsum_task("handle_project_lock[{lock.project}]", write=True)
def handle_project_lock(
    lock: core.ProjectLock, older_than: float, dry_run: bool = False, *, credentials: GypsumCredentials | None = None
) -> core.RecoveryAction:
    """Clear one lock if it is ``older_than`` seconds old, else report it as fresh; safe to retry.

    See :func:`gypsum_flows.recover.handle_lock`.

    Example:
        >>> @flow
        ... def clear(lock) -> str:
        ...     return handle_project_lock(lock, 900.0, credentials=admin).action
    """
    return core.handle_lock(lock, older_than, dry_run, **url_and_token(credentials, write=not dry_run))


# No retries and no tags, as the asset's task run it runs in: it waits for, or clears, one version.
@gypsum_task("settle_target[{project}/{asset}/{version}]", retries=0, tags=frozenset())
def settle_target(
    project: str, asset: str, version: str, recover: bool, *, credentials: GypsumCredentials
) -> core.VersionState:
    """Wait for another live upload of this version, or clear an interrupted one; ``"complete"`` or ``"absent"``.

    :func:`gypsum_flows.recover.settle_version` with the block's server and
    token: the lock-age rule of ``recover`` (15 minutes,
    ``GYPSUM_STALE_LOCK_AGE``), a wait of at most 10 minutes
    (``GYPSUM_LOCK_WAIT``) for a younger lock. Clearing needs an admin token.

    Raises:
        InterruptedUploadError: The version must be cleared and this run may not (or cannot) do it.
        VersionBusyError: The other upload did not finish in time.

    Example::

        @flow
        def settle(credentials: GypsumCredentials) -> str:
            return settle_target("scrnaseq", "zeisel-brain", "2024-02-01", True, credentials=credentials)
    """
    report = get_run_logger().warning
    return core.settle_version(
        project, asset, version, recover=recover, report=report, **url_and_token(credentials, write=True)
    )


@flow(
    name="recover",
    flow_run_name="recover",
    # Prefect types task_runner invariantly, so none of its own runners fits it.
    task_runner=ThreadPoolTaskRunner(max_workers=RECOVERY_WORKERS),  # type: ignore[arg-type]
)
def recover(
    older_than: str = STALE_LOCK_AGE,
    dry_run: bool = False,
    projects: list[str] | None = None,
    credentials: GypsumCredentials | str | None = None,
) -> dict[str, Any]:
    """Clear project locks older than ``older_than`` and the partial versions they guard.

    Args:
        older_than: Lock age threshold (``"90s"``, ``"15m"``, ``"2h"``), by the server's clock.
        dry_run: Only report what would be done (no token needed).
        projects: Only look at these projects (default: every project).
        credentials: A GypsumCredentials block with an admin token, the name of a saved one,
            or ``None`` for the client defaults (GYPSUM_REST_URL, GYPSUM_TOKEN, the cached token).

    Returns:
        The :class:`~gypsum_flows.recover.RecoveryReport` as a dict.

    Raises:
        GypsumError: Some locks could not be handled (after the artifacts are written).
    """
    threshold = core.parse_duration(older_than)
    creds = resolve_credentials(credentials)
    checked, locks = find_project_locks(projects, credentials=creds)
    futures = handle_project_lock.map(locks, unmapped(threshold), unmapped(dry_run), credentials=unmapped(creds))
    futures.wait()
    actions = [_action(lock, future) for lock, future in zip(locks, futures, strict=True)]
    report = core.RecoveryReport(creds.resolved_url(), threshold, dry_run, checked, actions)
    create_table_artifact([asdict(a) for a in actions], key=ARTIFACT_KEY, description="Project locks and actions")
    create_markdown_artifact(f"```\n{report.summary()}\n```", key=f"{ARTIFACT_KEY}-summary", description="Recovery")
    if report.failed:
        raise GypsumError(f"{len(report.failed)} locks could not be handled:\n{report.summary()}")
    return report.to_dict()


def _action(lock: core.ProjectLock, future: PrefectFuture[core.RecoveryAction]) -> core.RecoveryAction:
    """The task's action, or a ``failed`` one carrying its error."""
    try:
        return future.result()
    except Exception as exc:  # the task's own error, reported in its row
        return core.failed_action(lock, exc)
