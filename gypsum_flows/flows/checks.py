"""Steps shared by the flows: credentials, metadata checks, and what a target version already is.

Idempotency lives here. Before uploading, a flow asks :func:`existing_version`
what the server holds for the target version:

- nothing: publish;
- a complete version: compare the folder about to be uploaded with its
  manifest (sizes and MD5 sums); identical means "unchanged", anything else is
  a :class:`VersionConflictError` naming every differing file;
- an incomplete version: :func:`settle_target` applies ``recover``'s rule
  (:func:`gypsum_flows.recover.settle_version`). Another upload of the
  version whose lock is younger than 15 minutes may be live: the flow waits
  for it, then compares as above (identical files: "unchanged"). An older
  lock, or a partial version without a lock, was left by an interrupted
  upload: it is cleared (admin token) and the flow publishes afresh. A lock
  held for another version is never touched.

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
from typing import Any, Literal

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ..batch.check import schema_path
from ..batch.metadata import MetadataCheck, Violation, metadata_violations
from ..blocks import GypsumCredentials
from ..client.prepare import prepare_directory_upload
from ..client.upload import md5_file
from ..errors import GypsumError, GypsumMetadataError, GypsumNotFoundError
from ..recover import InterruptedUploadError, VersionBusyError, settle_version
from ..tasks import upload_version
from .report import Outcome, unchanged

__all__ = ["InterruptedUploadError", "VersionBusyError", "VersionConflictError"]

#: Entries compared between a folder and a published version: path -> (size, md5).
Entries = dict[str, tuple[int, str]]
VersionState = Literal["absent", "incomplete", "complete"]


class VersionConflictError(GypsumError):
    """The target version already exists with different content; ``files`` lists the differences."""

    def __init__(self, label: str, files: list[str]) -> None:
        self.files = files
        shown = "; ".join(files[:20]) + (f"; and {len(files) - 20} more" if len(files) > 20 else "")
        super().__init__(f"{label} already exists with different content: {shown}")


def resolve_credentials(credentials: GypsumCredentials | str | None) -> GypsumCredentials:
    """A credentials block from a block, the name of a saved block, or ``None`` (client defaults).

    Example:
        >>> resolve_credentials(None).url is None
        True
    """
    if isinstance(credentials, str):
        return GypsumCredentials.load(credentials)
    return credentials or GypsumCredentials()


@task(name="check_folder_metadata", task_run_name="check_folder_metadata({directory})", cache_policy=NO_CACHE)
def check_folder_metadata(
    directory: str, metadata: MetadataCheck, *, credentials: GypsumCredentials | None = None
) -> list[Violation]:
    """Every violation of every metadata file under ``directory`` (an empty list when all pass).

    Example::

        @flow
        def lint(folder: str) -> list[str]:
            return [str(v) for v in check_folder_metadata(folder, MetadataCheck())]
    """
    client = resolve_credentials(credentials).get_client()
    return metadata_violations(directory, metadata, schema_path(metadata, client.fetch_metadata_schema))


def raise_for_violations(label: str, violations: list[Violation]) -> None:
    """Raise one :class:`GypsumMetadataError` listing every violation, if there are any.

    Example:
        >>> try:
        ...     raise_for_violations("p/a/v1", [Violation("x/_bioconductor.json", "$", "'title' is required")])
        ... except GypsumMetadataError as exc:
        ...     print(exc)
        metadata of p/a/v1 failed validation (1 problem); nothing was uploaded:
          x/_bioconductor.json: $: 'title' is required
    """
    if violations:
        listing = "\n".join(f"  {v}" for v in violations)
        raise GypsumMetadataError(
            f"metadata of {label} failed validation ({len(violations)} problem{'s' * (len(violations) != 1)}); "
            f"nothing was uploaded:\n{listing}",
            [(f"{v.file}:{v.where}" if v.file else v.where, v.message) for v in violations],
        )


def existing_version(project: str, asset: str, version: str, credentials: GypsumCredentials) -> VersionState:
    """What the server holds for a version: nothing, an interrupted upload, or a complete version.

    Example::

        @flow
        def state() -> str:
            return existing_version("test-R", "basic", "v1", GypsumCredentials(url="http://127.0.0.1:8787"))
    """
    # The client itself, not its tasks: this runs inside an asset's task run, where a nested task run
    # per request would cost more than the request.
    client = credentials.get_client()
    try:
        summary = client.fetch_summary(project, asset, version, overwrite=True)
    except GypsumNotFoundError:
        # No summary: nothing, or a listed version whose upload start got no further.
        return "incomplete" if version in client.list_versions(project, asset) else "absent"
    return "complete" if summary.get("upload_finish") else "incomplete"


def recover_settings(credentials: GypsumCredentials | None, write: bool) -> dict[str, Any]:
    """``url=`` (and for writes ``token=``) from the block, for :mod:`gypsum_flows.recover`.

    Example:
        >>> recover_settings(GypsumCredentials(url="http://x", token="t"), write=False)
        {'url': 'http://x'}
    """
    kwargs = (credentials or GypsumCredentials()).client_kwargs(write=write)
    return {k: v for k, v in kwargs.items() if k in ("url", "token")}


def target_is_published(project: str, asset: str, version: str, credentials: GypsumCredentials, recover: bool) -> bool:
    """Whether the target version is complete; an unfinished one is settled first (:func:`settle_target`).

    Example::

        @flow
        def needs_upload(credentials: GypsumCredentials) -> bool:
            return not target_is_published("scrnaseq", "zeisel-brain", "2024-02-01", credentials, recover=True)
    """
    state = existing_version(project, asset, version, credentials)
    if state == "incomplete":
        state = settle_target(project, asset, version, recover, credentials=credentials)
    return state == "complete"


@task(name="settle_target", task_run_name="settle_target[{project}/{asset}/{version}]", cache_policy=NO_CACHE)
def settle_target(
    project: str, asset: str, version: str, recover: bool, *, credentials: GypsumCredentials
) -> VersionState:
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
    logger = get_run_logger()
    state = settle_version(
        project, asset, version, recover=recover, report=logger.warning, **recover_settings(credentials, write=True)
    )
    return "complete" if state == "complete" else "absent"


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


def ensure_same_content(label: str, new: Entries, published: Entries) -> None:
    """Raise :class:`VersionConflictError` unless ``new`` and ``published`` hold the same files.

    Example:
        >>> ensure_same_content("p/a/v1", {"a": (1, "x")}, {"a": (1, "x")})
    """
    diff = differences(new, published)
    if diff:
        raise VersionConflictError(label, diff)


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
    label = f"{project}/{asset}/{version}"
    ensure_same_content(label, folder_entries(directory), published_entries(project, asset, version, credentials))
    return unchanged(project, asset, version)


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
    - absent after clearing an unfinished version: uploaded once more;
    - absent from the start: the original error is raised.

    Example::

        @flow
        def publish(credentials: GypsumCredentials) -> Outcome:
            return upload_or_recover("./v1", "scrnaseq", "zeisel-brain", "v1", probation=False,
                                     deduplicate=True, credentials=credentials, recover=True)
    """
    options = {"probation": probation, "deduplicate": deduplicate, "inputs": inputs, "credentials": credentials}
    upload = upload_version.fn  # inside the asset's task run: its body, without a nested task run
    try:
        return Outcome(outcome="published", **upload(directory, project, asset, version, **options))
    except GypsumError:
        state = existing_version(project, asset, version, credentials)
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
        label = f"{project}/{asset}/{version}"
        ensure_same_content(label, folder_entries(directory), published_entries(project, asset, version, credentials))
        return unchanged(project, asset, version)
    return Outcome(outcome="published", **upload(directory, project, asset, version, **options))
