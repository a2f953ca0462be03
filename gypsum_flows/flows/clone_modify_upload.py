"""The ``clone-modify-upload`` flow: a new version made from an existing one, sending only what changed.

The source version is cloned as symbolic links into the gypsum cache; the
overlay's files replace or add files, the delete list removes paths, and an
optional Python callable edits the folder. On upload, every file still linked
to the cache becomes a link to the version it came from: only changed files
are sent.

The work is the task :func:`publish_clone`, which ``publish-batch`` also
runs once per clone asset inside its own flow run.

Example::

    from gypsum_flows.flows import clone_modify_upload

    clone_modify_upload("scrnaseq", "tasic-brain", "2024-03-01",
                        overlay="./tasic-patch", delete=["notes/README.txt"],
                        credentials="local-gypsum")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from ..batch.metadata import MetadataCheck
from ..batch.spec import LATEST, AssetJob, CloneJob
from ..blocks import GypsumCredentials
from ..errors import CacheWriteError, GypsumError, GypsumNotFoundError, GypsumSpecError
from ..names import bad_path_reason, version_asset_key
from ..tasks import clone_version
from ..tasks.base import gypsum_task
from .credentials import resolve_credentials
from .idempotency import target_is_published, unchanged_or_conflict, upload_job
from .metadata import raise_for_violations, validate_folder_metadata
from .project_slots import project_slot
from .report import Outcome, artifact_key, emit_published, reported

#: Edits a working folder in place; must replace files rather than write into them (they link into the cache).
Modifier = Callable[[Path], None]


@flow(name="clone-modify-upload", flow_run_name="clone-modify-upload-{project}-{asset}-{version}")
def clone_modify_upload(
    project: str,
    asset: str,
    version: str,
    source_version: str = LATEST,
    source_project: str | None = None,
    source_asset: str | None = None,
    overlay: str | None = None,
    delete: list[str] | None = None,
    modify: Modifier | None = None,
    probation: bool = False,
    deduplicate: bool = True,
    metadata: MetadataCheck | None = MetadataCheck(),
    recover_interrupted_upload: bool = True,
    inputs: list[str] | None = None,
    credentials: GypsumCredentials | str | None = None,
) -> Outcome:
    """Clone a version, apply changes, and upload the result as ``project/asset/version``.

    Args:
        project: Project of the new version.
        asset: Asset of the new version.
        version: Name of the new version.
        source_version: Version to clone, default the latest.
        source_project: Project to clone from (default ``project``).
        source_asset: Asset to clone from (default ``asset``).
        overlay: Folder whose files are added to, or replace files of, the clone.
        delete: Paths (files or folders) to remove from the clone.
        modify: Python API only: ``modify(folder)`` edits the clone in place. Files
            are links into the read-only cache: replace them (unlink, then write),
            never write into them.
        probation: Upload on probation.
        deduplicate: Files identical to the latest version's become links.
        metadata: Metadata files to validate in the final folder; ``None`` skips it.
        recover_interrupted_upload: Remove an interrupted upload of this very version first (admin).
        inputs: Asset keys of further versions it was made from; the cloned version is
            always recorded as its upstream Prefect asset.
        credentials: A GypsumCredentials block, the name of a saved one, or ``None`` for the client defaults.

    Returns:
        The outcome: ``published`` (files sent vs linked) or ``unchanged``.
    """
    delete = list(delete or [])
    validate_changes(overlay, delete)
    source = CloneJob(
        project=source_project or project,
        asset=source_asset or asset,
        version=source_version,
        overlay=overlay,
        delete=delete,
    )
    options: dict[str, Any] = {"probation": probation, "deduplicate": deduplicate, "metadata": metadata}
    job = AssetJob(project=project, asset=asset, version=version, clone=source, inputs=inputs or [], **options)
    return publish_clone(job, recover_interrupted_upload, modify, credentials=resolve_credentials(credentials))


# As publish_folder: no tags, and the default retries run the whole asset again after a transient failure.
@gypsum_task("publish {job.label}", tags=frozenset())
def publish_clone(
    job: AssetJob,
    recover_interrupted_upload: bool = True,
    modify: Modifier | None = None,
    *,
    credentials: GypsumCredentials,
) -> Outcome:
    """Clone, change and publish the version of ``job`` (see :func:`clone_modify_upload`; changes already checked).

    One task run per asset, named for it, with the asset's report as artifacts.

    Example::

        @flow
        def patch(credentials: GypsumCredentials) -> Outcome:
            clone = CloneJob(project="scrnaseq", asset="tasic-brain", version="latest", overlay="./patch")
            job = AssetJob(project="scrnaseq", asset="tasic-brain", version="v2", clone=clone)
            return publish_clone(job, credentials=credentials)
    """
    clone = job.clone
    if clone is None:
        raise GypsumSpecError(f"{job.label} names nothing to clone: a folder is publish_folder's")
    pav = (job.project, job.asset, job.version)

    def run() -> Outcome:
        exists = target_is_published(*pav, credentials, recover_interrupted_upload)
        if exists and clone.version == LATEST:
            # "latest" may be this very version by now: re-derive from it, so applying the
            # changes again must be a no-op.
            source = pav
        elif clone.version == LATEST:
            source = (clone.project, clone.asset, _latest_source(clone.project, clone.asset, credentials))
        else:
            source = (clone.project, clone.asset, clone.version)
        with tempfile.TemporaryDirectory(prefix="gypsum-clone-") as scratch:
            work = os.path.join(scratch, job.version)
            clone_version.fn(*source, work, credentials=credentials)  # no nested task run per request
            apply_changes(work, clone.overlay, clone.delete, modify, missing_ok=exists)
            if job.metadata is not None:
                raise_for_violations(
                    job.label, validate_folder_metadata.fn(work, job.metadata, credentials=credentials)
                )
            if exists:
                return unchanged_or_conflict(work, *pav, credentials)
            inputs = [version_asset_key(*source), *job.inputs]
            outcome = upload_job(work, job, credentials, recover_interrupted_upload, inputs)
        if outcome.outcome != "published":
            return outcome
        outcome.detail = f"cloned from {'/'.join(source)}"
        emit_published(outcome, credentials.resolved_url(), job.probation)
        return outcome

    with project_slot(job.project):  # one publisher per project, across machines
        key = artifact_key("gypsum-clone", job.project, job.asset)
        return reported(f"Clone, modify and upload {job.label}", key, *pav, run)


def validate_changes(overlay: str | None, delete: list[str]) -> None:
    """Refuse bad delete paths and a missing overlay before anything is cloned."""
    for path in delete:
        reason = bad_path_reason(path)
        if reason:
            raise GypsumError(f"cannot delete {path!r}: {reason}")
    if overlay is not None and not Path(overlay).is_dir():
        raise GypsumError(f"overlay folder not found: {overlay}")


@gypsum_task("apply_changes({work})", retries=0, tags=frozenset())  # local work: nothing to retry or throttle
def apply_changes(
    work: str, overlay: str | None, delete: list[str], modify: Modifier | None, missing_ok: bool = False
) -> None:
    """Overlay, delete, then call ``modify``; cloned links are replaced, never written through.

    ``missing_ok`` tolerates deleting paths that are already gone (re-deriving a version from itself).
    """
    root = Path(work)
    if overlay is not None:
        _overlay(Path(overlay), root)
    for rel in delete:
        _delete(root, rel, missing_ok)
    if modify is not None:
        before = _cache_targets(root)
        modify(root)
        touched = [rel for rel, stamp in before.items() if _stamp(root / rel) not in (stamp, None)]
        if touched:
            raise CacheWriteError(
                f"modify() wrote into cloned files, which are links into the gypsum cache: {touched}; "
                "replace files (unlink, then write) instead of editing them in place, and clear the cache copies"
            )
    get_run_logger().info(
        "Applied changes to %s: overlay=%s, deleted=%s, modify=%s", work, overlay, delete, modify is not None
    )


def _overlay(source: Path, root: Path) -> None:
    for dirpath, _dirs, files in os.walk(source):
        for name in files:
            rel = (Path(dirpath) / name).relative_to(source)
            target = root / rel
            if target.is_symlink() or target.exists():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(dirpath) / name, target)


def _delete(root: Path, rel: str, missing_ok: bool) -> None:
    target = root / rel
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.is_symlink() or target.exists():
        target.unlink()
    elif not missing_ok:
        raise GypsumError(f"cannot delete {rel!r}: no such file in the cloned version")


def _cache_targets(root: Path) -> dict[str, tuple[int, int] | None]:
    """Size and modification time of the cache file behind every cloned link."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                out[path.relative_to(root).as_posix()] = _stamp(path)
    return out


def _stamp(path: Path) -> tuple[int, int] | None:
    """(size, mtime) of what a cloned link points to, or None if the link was replaced or removed."""
    if not path.is_symlink():
        return None
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_size, info.st_mtime_ns


def _latest_source(project: str, asset: str, creds: GypsumCredentials) -> str:
    """The latest version of the clone source; an error saying there is nothing to clone from if none."""
    try:
        return creds.get_client().fetch_latest(project, asset)
    except GypsumNotFoundError as exc:
        raise GypsumNotFoundError(
            f"nothing to clone from: {exc.reason}", status=exc.status, method=exc.method, url=exc.url
        ) from None
