"""The ``approve-probation`` flow: check probational versions, then approve, reject or leave them.

Example::

    from gypsum_flows.flows import approve_probation_flow

    # every probational version of the project; reject those that fail the checks
    approve_probation_flow("scrnaseq", required_files=["counts.csv"], on_failure="reject",
                           credentials="local-gypsum")
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

from prefect import flow

from ..batch.metadata import MetadataCheck, Violation, file_violations
from ..batch.validate import schema_path
from ..blocks import GypsumCredentials
from ..errors import GypsumError
from ..tasks import (
    approve_probation,
    fetch_manifest,
    fetch_metadata_schema,
    fetch_summary,
    list_assets,
    list_versions,
    reject_probation,
    save_file,
)
from .credentials import resolve_credentials
from .report import Outcome, artifact_key, emit_approved, publish_report

#: What to do with a version whose checks fail.
OnFailure = Literal["reject", "leave"]


@flow(name="approve-probation", flow_run_name="approve-probation-{project}")
def approve_probation_flow(
    project: str,
    asset: str | None = None,
    version: str | None = None,
    required_files: list[str] | None = None,
    metadata: MetadataCheck | None = MetadataCheck(),
    on_failure: OnFailure = "leave",
    credentials: GypsumCredentials | str | None = None,
) -> list[Outcome]:
    """Check one probational version, or every one of a project or asset, and decide.

    A version passes when each of ``required_files`` is in its manifest and its
    metadata files are valid; it is then approved. A version that fails is
    rejected (deleted) or left on probation, as ``on_failure`` says. The
    report lists each decision and its reasons.

    Args:
        project: Project to look in.
        asset: Only this asset (required with ``version``).
        version: Only this version; it must be on probation.
        required_files: Paths every version must contain.
        metadata: Metadata files to validate; ``None`` skips the check.
        on_failure: ``"reject"`` or ``"leave"`` (pending) when a check fails.
        credentials: A GypsumCredentials block (an owner's or admin's token), the
            name of a saved one, or ``None`` for the client defaults.

    Returns:
        One outcome per version: ``approved``, ``rejected`` or ``pending`` with the reasons.
    """
    creds = resolve_credentials(credentials)
    key = artifact_key("gypsum-probation", project, asset or "")
    try:
        targets = _targets(project, asset, version, creds)
        outcomes = [_decide(project, a, v, required_files or [], metadata, on_failure, creds) for a, v in targets]
    except Exception as exc:
        failed = Outcome(project=project, asset=asset or "*", version=version or "*", outcome="failed", detail=str(exc))
        publish_report(f"Probation review of {project}", [failed], key)
        raise
    publish_report(f"Probation review of {project}", outcomes, key)
    return outcomes


def _targets(project: str, asset: str | None, version: str | None, creds: GypsumCredentials) -> list[tuple[str, str]]:
    """(asset, version) of the versions to review."""
    if version is not None:
        if asset is None:
            raise GypsumError("approve-probation: 'version' needs 'asset' too")
        if not on_probation(project, asset, version, creds):
            raise GypsumError(f"{project}/{asset}/{version} is not on probation")
        return [(asset, version)]
    assets = [asset] if asset is not None else list_assets(project, credentials=creds)
    return [
        (a, v)
        for a in assets
        for v in list_versions(project, a, credentials=creds)
        if on_probation(project, a, v, creds)
    ]


def on_probation(project: str, asset: str, version: str, creds: GypsumCredentials) -> bool:
    """Whether a finished version is on probation (read afresh)."""
    summary = fetch_summary(project, asset, version, overwrite=True, credentials=creds)
    return bool(summary.get("on_probation")) and bool(summary.get("upload_finish"))


def _decide(
    project: str,
    asset: str,
    version: str,
    required_files: list[str],
    metadata: MetadataCheck | None,
    on_failure: OnFailure,
    creds: GypsumCredentials,
) -> Outcome:
    reasons = review_version(project, asset, version, required_files, metadata, creds)
    row = Outcome(project=project, asset=asset, version=version, outcome="approved")
    if not reasons:
        approve_probation(project, asset, version, credentials=creds)
        row.detail = "all checks passed"
        emit_approved(row, creds.resolved_url())
    elif on_failure == "reject":
        reject_probation(project, asset, version, credentials=creds)
        row.outcome, row.detail = "rejected", "; ".join(reasons)
    else:
        row.outcome, row.detail = "pending", "left on probation: " + "; ".join(reasons)
    return row


def review_version(
    project: str,
    asset: str,
    version: str,
    required_files: list[str],
    metadata: MetadataCheck | None,
    credentials: GypsumCredentials,
) -> list[str]:
    """Why a version should not be approved (an empty list when every check passes)."""
    manifest = fetch_manifest(project, asset, version, overwrite=True, credentials=credentials)
    reasons = [f"required file {path!r} is missing" for path in required_files if path not in manifest]
    if metadata is not None:
        reasons += [str(v) for v in _metadata_violations(project, asset, version, manifest, metadata, credentials)]
    return reasons


def _metadata_violations(
    project: str, asset: str, version: str, manifest: dict, metadata: MetadataCheck, creds: GypsumCredentials
) -> list[Violation]:
    files = sorted(p for p in manifest if PurePosixPath(p).name in metadata.files)
    if not files:
        names = " or ".join(repr(n) for n in metadata.files)
        return [Violation("", "", f"no metadata file named {names} found")] if metadata.required else []
    schema = schema_path(metadata, lambda name: fetch_metadata_schema(name, credentials=creds))
    out: list[Violation] = []
    for rel in files:
        local = save_file(project, asset, version, rel, credentials=creds)
        out += file_violations(Path(local), rel, schema)
    return out
