"""Idempotency: publishing a version again changes nothing, or fails naming what differs.

Before uploading, a flow asks what the server holds for the target version
(:func:`gypsum_flows.recover.version_state`):

- ``absent``: publish;
- ``complete``: compare the folder about to be uploaded with its manifest
  (sizes and MD5 sums); identical means ``unchanged``, anything else is a
  :class:`~gypsum_flows.errors.VersionConflictError` naming every differing file;
- ``partial``: settled first by recovery's rule
  (:func:`~gypsum_flows.flows.recover.settle_target`): a live upload of the
  version is waited for, then compared as above; an interrupted one is
  cleared (admin token) and the flow publishes afresh.

An upload that fails because another publisher got there first ("already
exists", "locked") ends the same way: the version it finds is compared, not
reported as a failure (:func:`upload_or_recover`).

Example:
    >>> differences({"a": (1, "x"), "b": (2, "y")}, {"a": (1, "x"), "c": (3, "z")})
    ['b (only in the new content)', 'c (only in the published version)']
"""

from __future__ import annotations

import os
from pathlib import Path

from prefect import get_run_logger

from ..batch.spec import AssetJob
from ..blocks import GypsumCredentials
from ..client.prepare import prepare_directory_upload
from ..client.upload import md5_file
from ..errors import GypsumError, VersionConflictError
from ..recover import version_state
from ..tasks import upload_version
from .credentials import url_and_token
from .recover import settle_target
from .report import Outcome, unchanged

#: Entries compared between a folder and a published version: path -> (size, md5).
Entries = dict[str, tuple[int, str]]


def target_is_published(project: str, asset: str, version: str, credentials: GypsumCredentials, recover: bool) -> bool:
    """Whether the target version is complete; a partial one is settled first (:func:`settle_target`).

    Runs inside an asset's task run: two requests at most (the summary, then a listing after a 404), made
    by the client itself, since a nested task run per request would cost more than the request.

    Example::

        @flow
        def needs_upload(credentials: GypsumCredentials) -> bool:
            return not target_is_published("scrnaseq", "zeisel-brain", "2024-02-01", credentials, recover=True)
    """
    state = version_state(project, asset, version, **url_and_token(credentials, write=False))
    if state == "partial":
        state = settle_target(project, asset, version, recover, credentials=credentials)
    return state == "complete"


def published_entries(project: str, asset: str, version: str, credentials: GypsumCredentials) -> Entries:
    """``path -> (size, md5)`` of a published version, from its manifest (read afresh).

    Example::

        @flow
        def sizes(credentials: GypsumCredentials) -> int:
            return sum(size for size, _ in published_entries("test-R", "basic", "v1", credentials).values())
    """
    manifest = credentials.get_client().fetch_manifest(project, asset, version, overwrite=True)
    return {path: (int(entry["size"]), entry["md5sum"]) for path, entry in manifest.items()}


def folder_entries(directory: str | Path) -> Entries:
    """``path -> (size, md5)`` of every file under ``directory`` (through symbolic links, to files or folders).

    The files are those an upload lists (:func:`prepare_directory_upload`), so FIFOs and the like are
    refused the same way.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.txt").write_text("abc")
        >>> folder_entries(folder)
        {'a.txt': (3, '900150983cd24fb0d6963f7d28e17f72')}
    """
    listing = prepare_directory_upload(str(directory), links="auto")
    paths = listing["files"] + [link["from.path"] for link in listing["links"]]
    return {rel: md5_file(os.path.join(directory, rel)) for rel in sorted(paths)}


def differences(new: Entries, published: Entries) -> list[str]:
    """Human-readable differences between content about to be published and a published version.

    Example:
        >>> differences({"a": (1, "x")}, {"a": (2, "y")})
        ['a (differs: 1 vs 2 bytes, md5 x vs y)']
    """
    out = []
    for path in sorted(set(new) | set(published)):
        if path not in published:
            out.append(f"{path} (only in the new content)")
        elif path not in new:
            out.append(f"{path} (only in the published version)")
        elif new[path] != published[path]:
            out.append(
                f"{path} (differs: {new[path][0]} vs {published[path][0]} bytes, md5 {new[path][1][:8]}"
                f" vs {published[path][1][:8]})"
            )
    return out


def unchanged_or_conflict(
    directory: str | Path, project: str, asset: str, version: str, credentials: GypsumCredentials
) -> Outcome:
    """``unchanged`` if the published version holds exactly the files of ``directory``; else
    :class:`VersionConflictError` naming each difference.

    Example::

        @flow
        def compare(credentials: GypsumCredentials) -> Outcome:
            return unchanged_or_conflict("./v1", "scrnaseq", "zeisel-brain", "v1", credentials)
    """
    diff = differences(folder_entries(directory), published_entries(project, asset, version, credentials))
    if diff:
        raise VersionConflictError(f"{project}/{asset}/{version}", diff)
    return unchanged(project, asset, version)


def published_folder_outcome(
    directory: str, project: str, asset: str, version: str, credentials: GypsumCredentials, recover: bool
) -> Outcome | None:
    """``unchanged`` if the version is already published with exactly the folder's files, ``None`` if it
    still has to be published; raises :class:`VersionConflictError` if it exists with other files.

    Example::

        @flow
        def publish_once(folder: str, credentials: GypsumCredentials) -> Outcome:
            done = published_folder_outcome(folder, "scrnaseq", "zeisel-brain", "v1", credentials, recover=True)
            return done or Outcome(outcome="published", **upload_version(folder, "scrnaseq", "zeisel-brain", "v1"))
    """
    if not target_is_published(project, asset, version, credentials, recover):
        return None
    return unchanged_or_conflict(directory, project, asset, version, credentials)


def upload_or_recover(
    directory: str,
    project: str,
    asset: str,
    version: str,
    *,
    probation: bool,
    deduplicate: bool,
    credentials: GypsumCredentials,
    recover: bool,
    inputs: list[str] | None = None,
) -> Outcome:
    """``upload_version`` as a ``published`` outcome; after a failure, whatever the server now holds decides.

    A failed upload may have lost a race: another publisher's session held
    the lock ("locked") or completed first ("already exists"). Or a start
    whose answer was lost left the server holding the lock for a session
    nobody knows. So after a failure the version is settled
    (:func:`settle_target`: wait for a live lock, clear a stale one) and:

    - complete: compared with ``directory``; ``unchanged`` if identical, else
      :class:`VersionConflictError`;
    - absent after clearing a partial version: uploaded once more;
    - absent from the start: the original error is raised.

    Example::

        @flow
        def publish(credentials: GypsumCredentials) -> Outcome:
            return upload_or_recover("./v1", "scrnaseq", "zeisel-brain", "v1", probation=False,
                                     deduplicate=True, credentials=credentials, recover=True)
    """

    def upload() -> Outcome:
        # Inside the asset's task run: upload_version's body, without a nested task run.
        stats = upload_version.fn(
            directory,
            project,
            asset,
            version,
            probation=probation,
            deduplicate=deduplicate,
            inputs=inputs,
            credentials=credentials,
        )
        return Outcome(outcome="published", **stats)

    try:
        return upload()
    except GypsumError:
        state = version_state(project, asset, version, **url_and_token(credentials, write=False))
        if state == "absent":
            raise
    get_run_logger().warning(
        "The upload of %s/%s/%s failed, and the server holds a %s version of it; comparing or clearing it",
        project,
        asset,
        version,
        state,
    )
    if state == "complete" or settle_target(project, asset, version, recover, credentials=credentials) == "complete":
        return unchanged_or_conflict(directory, project, asset, version, credentials)
    return upload()


def upload_job(
    directory: str, job: AssetJob, credentials: GypsumCredentials, recover: bool, inputs: list[str]
) -> Outcome:
    """:func:`upload_or_recover` of ``directory`` as the version of ``job``, with the job's upload options.

    Example::

        @flow
        def publish(credentials: GypsumCredentials) -> Outcome:
            job = AssetJob(project="scrnaseq", asset="zeisel-brain", version="v1", directory="./v1")
            return upload_job("./v1", job, credentials, recover=True, inputs=[])
    """
    return upload_or_recover(
        directory,
        job.project,
        job.asset,
        job.version,
        probation=job.probation,
        deduplicate=job.deduplicate,
        credentials=credentials,
        recover=recover,
        inputs=inputs,
    )
