"""Steps shared by the flows: credentials, metadata checks, and what a target version already is.

Idempotency lives here. Before uploading, a flow asks :func:`existing_version`
what the server holds for the target version:

- nothing: publish;
- a complete version: compare the folder about to be uploaded with its
  manifest (sizes and MD5 sums); identical means "unchanged", anything else is
  a :class:`VersionConflictError` naming every differing file;
- an incomplete version (an upload that was killed between start and
  complete; its project lock is still held): :func:`recover_interrupted`
  unlocks the project and removes the partial version (admin token needed),
  then the flow publishes afresh.

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
from ..errors import GypsumError, GypsumMetadataError, GypsumNotFoundError, GypsumPermissionError
from ..recover import read_lock
from ..tasks import fetch_manifest, fetch_summary, list_versions, remove_version, unlock_project, upload_version
from .report import Outcome, unchanged

#: Entries compared between a folder and a published version: path -> (size, md5).
Entries = dict[str, tuple[int, str]]
VersionState = Literal["absent", "incomplete", "complete"]


class VersionConflictError(GypsumError):
    """The target version already exists with different content; ``files`` lists the differences."""

    def __init__(self, label: str, files: list[str]) -> None:
        self.files = files
        shown = "; ".join(files[:20]) + (f"; and {len(files) - 20} more" if len(files) > 20 else "")
        super().__init__(f"{label} already exists with different content: {shown}")


class InterruptedUploadError(GypsumError):
    """The target version was left incomplete by an interrupted upload and could not be recovered here."""


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
    # Listing first: a missing version is the common case and should not show up as a failed task.
    if version not in list_versions(project, asset, credentials=credentials):
        return "absent"
    try:
        summary = fetch_summary(project, asset, version, overwrite=True, credentials=credentials)
    except GypsumNotFoundError:
        # A listed version without a summary: the start of an upload got no further.
        return "incomplete"
    return "complete" if summary.get("upload_finish") else "incomplete"


def target_is_published(
    project: str, asset: str, version: str, credentials: GypsumCredentials, recover: bool
) -> bool:
    """Whether the target version is already complete; an interrupted one is recovered (if allowed) first.

    Example::

        @flow
        def needs_upload(credentials: GypsumCredentials) -> bool:
            return not target_is_published("scrnaseq", "zeisel-brain", "2024-02-01", credentials, recover=True)
    """
    state = existing_version(project, asset, version, credentials)
    if state == "incomplete":
        if not recover:
            raise InterruptedUploadError(
                f"{project}/{asset}/{version} was left incomplete by an interrupted upload; rerun with "
                "recovery enabled (admin token) or ask an admin to run `gypsum-flows recover`"
            )
        state = recover_interrupted(project, asset, version, credentials)
    return state == "complete"


def recover_interrupted(project: str, asset: str, version: str, credentials: GypsumCredentials) -> VersionState:
    """Clear an interrupted upload of this very version: unlock the project, remove the partial version.

    Needs an admin token; otherwise raises :class:`InterruptedUploadError`
    saying what an admin must do. A lock held for another asset or version is
    never touched, and a version that turns out complete once the project is
    unlocked (its upload was alive after all) is kept.

    Returns:
        ``"absent"`` once the partial version is removed, or ``"complete"``.

    Example::

        @flow
        def clear(credentials: GypsumCredentials) -> None:
            recover_interrupted("scrnaseq", "zeisel-brain", "2024-02-01", credentials)
    """
    label = f"{project}/{asset}/{version}"
    lock = read_lock(project, url=credentials.resolved_url())
    if lock is not None and (lock.asset, lock.version) != (asset, version):
        raise InterruptedUploadError(
            f"{label} is incomplete, but project {project!r} is locked by another operation ({lock.label}); "
            "left alone: retry later, or ask an admin to run `gypsum-flows recover`"
        )
    try:
        unlock_project(project, credentials=credentials)
        # Checked again now that the old session can no longer complete: a complete version is never removed.
        if existing_version(project, asset, version, credentials) == "complete":
            return "complete"
        remove_version(project, asset, version, credentials=credentials)
    except GypsumPermissionError as exc:
        raise InterruptedUploadError(
            f"{label} was left incomplete by an interrupted upload that still locks project {project!r}; "
            f"an admin must clear it (`gypsum-flows recover`, or unlock_project then remove_version) "
            f"before it can be published: {exc.reason}"
        ) from None
    get_run_logger().warning("Removed the incomplete version %s left by an interrupted upload, and unlocked %s",
                             label, project)
    return "absent"


def published_entries(project: str, asset: str, version: str, credentials: GypsumCredentials) -> Entries:
    """``path -> (size, md5)`` of a published version, from its manifest (read afresh).

    Example::

        @flow
        def sizes(credentials: GypsumCredentials) -> int:
            return sum(size for size, _ in published_entries("test-R", "basic", "v1", credentials).values())
    """
    manifest = fetch_manifest(project, asset, version, overwrite=True, credentials=credentials)
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
            out.append(f"{path} (differs: {new[path][0]} vs {published[path][0]} bytes, md5 {new[path][1][:8]}"
                       f" vs {published[path][1][:8]})")
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
) -> dict[str, Any]:
    """``upload_version``, once more after clearing this very version if a failure left it half-started.

    A start whose answer was lost leaves the server holding the project lock
    for a session nobody knows: every retry then meets "already locked". If,
    after the failure, the version is incomplete and the lock is its own, the
    partial version is cleared (admin token) and the upload runs again.

    Example::

        @flow
        def publish(credentials: GypsumCredentials) -> dict:
            return upload_or_recover("./v1", "scrnaseq", "zeisel-brain", "v1", probation=False,
                                     deduplicate=True, credentials=credentials, recover=True)
    """
    options = {"probation": probation, "deduplicate": deduplicate, "inputs": inputs, "credentials": credentials}
    try:
        return upload_version(directory, project, asset, version, **options)
    except GypsumError:
        if not recover or existing_version(project, asset, version, credentials) != "incomplete":
            raise
    get_run_logger().warning("The upload of %s/%s/%s failed half-started; clearing it and trying again",
                             project, asset, version)
    recover_interrupted(project, asset, version, credentials)
    return upload_version(directory, project, asset, version, **options)

