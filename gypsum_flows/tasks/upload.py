"""Tasks that upload to a gypsum server.

Prefer :func:`upload_version`: it runs a whole upload session (start, send
the files, complete) in one task, the client aborts the session on any
failure, and the task's retries start again from scratch, so every attempt is
clean. The session
steps are tasks too, for flows that need to act between them; they are never
retried on their own (a retry in the middle of a session is not a clean
attempt, and Prefect rolls back an enclosing transaction on the first failed
attempt, see ``prefect-notes`` 1.7).

Example::

    from prefect import flow
    from gypsum_flows.blocks import GypsumCredentials
    from gypsum_flows.tasks import upload_version

    local = GypsumCredentials.load("local-gypsum")   # url + token of an uploader
"""

from __future__ import annotations

import os
from typing import Any, Literal

from prefect import get_run_logger

from ..blocks import GypsumCredentials
from ..progress import TransferProgress
from .base import client_for, gypsum_task
from .lineage import record_published


# Parentheses around paths: `prefect deployment run --watch` renders run names as rich markup,
# where an absolute path in brackets ("[/...") is a closing tag and crashes the watcher.
@gypsum_task("prepare_directory_upload({directory})", retries=0)
def prepare_directory_upload(
    directory: str,
    links: Literal["auto", "always", "never"] = "auto",
    *,
    credentials: GypsumCredentials | None = None,
) -> dict[str, list[Any]]:
    """Sort a folder's files into files to send and symlinks into the gypsum cache to register as links.

    Returns:
        ``{"files": [relative paths], "links": [{"from.path", "to.project", "to.asset", "to.version", "to.path"}]}``.

    Example:
        In a flow: ``len(prepare_directory_upload("./v2-draft", links="always", credentials=local)["links"])``.
    """
    return client_for(credentials).prepare_directory_upload(directory, links=links)


@gypsum_task("start_upload[{project}/{asset}/{version}]", write=True, retries=0)
def start_upload(
    project: str,
    asset: str,
    version: str,
    files: str | list[str] | list[dict[str, Any]],
    links: list[dict[str, str]] | None = None,
    deduplicate: bool = True,
    probation: bool = False,
    directory: str | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> dict[str, Any]:
    """Open an upload session for a new version (locks the project until completed or aborted).

    Returns:
        The session: ``file_urls``, ``complete_url``, ``abort_url`` and ``session_token``.

    Example:
        In a flow: ``start_upload("test-R", "basic", "v2", ["a.txt"], directory="./v2", credentials=local)``.
    """
    return client_for(credentials).start_upload(
        project,
        asset,
        version,
        files,
        links=links,
        deduplicate=deduplicate,
        probation=probation,
        directory=directory,
    )


@gypsum_task(write=True, retries=0)
def upload_files(
    init: dict[str, Any],
    directory: str | None = None,
    concurrent: int = 8,
    *,
    credentials: GypsumCredentials | None = None,
) -> None:
    """Send the files an upload session asks for.

    Example:
        In a flow: ``upload_files(session, directory="./v2", concurrent=4, credentials=local)``.
    """
    client_for(credentials).upload_files(init, directory=directory, concurrent=concurrent)


@gypsum_task(write=True, retries=0)
def complete_upload(init: dict[str, Any], *, credentials: GypsumCredentials | None = None) -> None:
    """Finish an upload session: the version becomes visible (and latest unless on probation).

    Example:
        In a flow: ``complete_upload(session, credentials=local)``.
    """
    client_for(credentials).complete_upload(init)


@gypsum_task(write=True, retries=0)
def abort_upload(init: dict[str, Any], *, credentials: GypsumCredentials | None = None) -> None:
    """Cancel an upload session: its files are deleted and the project unlocked.

    Example:
        In a flow: ``abort_upload(session, credentials=local)``.
    """
    client_for(credentials).abort_upload(init)


@gypsum_task("upload_version[{project}/{asset}/{version}]", write=True)
def upload_version(
    directory: str,
    project: str,
    asset: str,
    version: str,
    *,
    probation: bool = False,
    deduplicate: bool = True,
    concurrent: int = 8,
    inputs: list[str] | None = None,
    credentials: GypsumCredentials | None = None,
) -> dict[str, Any]:
    """Upload a folder as a new version in one clean, retryable attempt.

    Start a session, send the files, complete it; on any failure the client
    aborts the session and the error is raised, so a retry (transient
    failures only) starts afresh. Symlinks into the gypsum cache become links
    to the versions they point to (any other symlink is refused, as in
    gypsum_client's ``upload_directory``). The new version is recorded as the
    Prefect asset ``gypsum://PROJECT/ASSET/VERSION`` with ``inputs`` (asset
    keys of the versions it was made from) as upstream assets (see :mod:`.lineage`).

    Returns:
        ``{"project", "asset", "version", "files_uploaded", "files_linked", "bytes_uploaded", "bytes_linked"}``:
        files and bytes actually sent, and entries stored as links (explicit or
        matched by deduplication).

    Example:
        In a flow: ``upload_version("./v2-draft", "test-R", "basic", "v2", credentials=local)``.
    """
    client = client_for(credentials)
    sent = _LastProgress()
    client.upload_directory(
        directory,
        project,
        asset,
        version,
        deduplicate=deduplicate,
        probation=probation,
        concurrent=concurrent,
        progress=sent,
    )
    plan = client.prepare_directory_upload(directory, links="always")
    stats = {
        "project": project,
        "asset": asset,
        "version": version,
        "files_uploaded": sent.files_total,
        "files_linked": len(plan["files"]) + len(plan["links"]) - sent.files_total,
        "bytes_uploaded": sent.bytes_total,
        "bytes_linked": max(_folder_bytes(directory, plan) - sent.bytes_total, 0),
    }
    get_run_logger().info(
        "Uploaded %s/%s/%s: %d files sent (%d bytes), %d stored as links",
        project,
        asset,
        version,
        stats["files_uploaded"],
        stats["bytes_uploaded"],
        stats["files_linked"],
    )
    record_published(stats, probation=probation, inputs=inputs, credentials=credentials)
    return stats


def _folder_bytes(directory: str, plan: dict[str, list[Any]]) -> int:
    """Bytes of every file of an upload plan, sent or linked (links are followed)."""
    paths = [*plan["files"], *(link["from.path"] for link in plan["links"])]
    return sum(os.path.getsize(os.path.join(directory, path)) for path in paths)


@gypsum_task("upload_directory[{project}/{asset}/{version}]", write=True)
def upload_directory(
    directory: str,
    project: str,
    asset: str,
    version: str,
    deduplicate: bool = True,
    probation: bool = False,
    concurrent: int = 8,
    abort_failed: bool = True,
    *,
    credentials: GypsumCredentials | None = None,
) -> bool:
    """Upload a folder as a new version, with the reference client's signature and result.

    The same clean attempt as :func:`upload_version`; ``abort_failed=False``
    leaves a failed session open (and the project locked) for inspection.

    Returns:
        True.

    Example:
        In a flow: ``upload_directory("./v2-draft", "test-R", "basic", "v2", credentials=local)``.
    """
    return client_for(credentials).upload_directory(
        directory,
        project,
        asset,
        version,
        deduplicate=deduplicate,
        probation=probation,
        concurrent=concurrent,
        abort_failed=abort_failed,
    )


class _LastProgress:
    """A progress callback that keeps the totals of the files a session actually sends.

    The client reports nothing when every file was matched by deduplication,
    hence the zero defaults.
    """

    files_total = 0
    bytes_total = 0

    def __call__(self, progress: TransferProgress) -> None:
        self.files_total, self.bytes_total = progress.files_total, progress.bytes_total
