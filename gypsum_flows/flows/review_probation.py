"""The ``review-probation`` flow: check a probational version, wait for a reviewer, then approve or reject it.

1. The checks of ``approve-probation`` run (required files, metadata validity).
2. A markdown artifact shows the result: checks, files and sizes, and the
   differences from the asset's latest version.
3. The run pauses (``pause_flow_run(wait_for_input=ReviewDecision)``): in the
   Prefect UI (or through the API's resume endpoint) a reviewer enters
   ``approve`` or ``reject``, their name and a reason.
4. The version is approved or rejected, and an artifact records who decided
   and why. Without a decision within ``timeout`` seconds the version stays on
   probation and the run fails saying so.

``deployments/prefect.yaml`` starts it on every ``gypsum.version.published``
event of a probational version.

Example::

    from gypsum_flows.flows import review_probation

    review_probation("scrnaseq", "zeisel-brain", "2024-03-01", required_files=["counts.csv"],
                     timeout=86400, credentials="gypsum")
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from ..batch.metadata import MetadataCheck
from ..blocks import GypsumCredentials
from ..errors import GypsumError, GypsumNotFoundError, ReviewTimeoutError
from ..tasks import approve_probation, fetch_latest, reject_probation
from .approve_probation import on_probation, review_version
from .credentials import resolve_credentials
from .idempotency import Entries, differences, published_entries
from .report import Outcome, artifact_key, emit_approved, publish_report

#: Seconds between two looks at whether the paused run was resumed.
POLL_SECONDS = 2
#: Rows of the file table in the review artifact.
MAX_FILE_ROWS = 200


class ReviewDecision(RunInput):
    """What a reviewer decides about a probational version."""

    decision: Literal["approve", "reject"] = Field(description="Approve (publish) or reject (delete) the version.")
    reviewer: str = Field(min_length=1, description="Who decides: a name or login.")
    reason: str = Field(min_length=1, description="Why.")


@flow(name="review-probation", flow_run_name="review-probation-{project}-{asset}-{version}")
def review_probation(
    project: str,
    asset: str,
    version: str,
    required_files: list[str] | None = None,
    metadata: MetadataCheck | None = MetadataCheck(),
    timeout: int = 7 * 24 * 3600,
    credentials: GypsumCredentials | str | None = None,
) -> Outcome:
    """Review one probational version: report, wait for a decision, then approve or reject it.

    Args:
        project: Project of the version.
        asset: Asset of the version.
        version: The version on probation.
        required_files: Paths the version must contain.
        metadata: Metadata files to validate; ``None`` skips the check.
        timeout: Seconds to wait for a decision; then the version stays on probation.
        credentials: A GypsumCredentials block (an owner's or admin's token) or the name of a saved one.

    Returns:
        The outcome: ``approved`` or ``rejected``, with the reviewer and reason.

    Raises:
        GypsumError: The version is not on probation.
        ReviewTimeoutError: No decision came within ``timeout`` seconds.
    """
    creds = resolve_credentials(credentials)
    label = f"{project}/{asset}/{version}"
    key = artifact_key("gypsum-review", project, asset, version)
    if not on_probation(project, asset, version, creds):
        raise GypsumError(f"{label} is not on probation (already approved or rejected?)")
    problems = review_version(project, asset, version, required_files or [], metadata, creds)
    entries = published_entries(project, asset, version, creds)
    latest = _latest(project, asset, creds)
    changes = differences(entries, published_entries(project, asset, latest, creds)) if latest else []
    create_markdown_artifact(
        review_markdown(label, problems, entries, latest, changes), key=key, description=f"Review of {label}"
    )
    try:
        decision = pause_flow_run(wait_for_input=ReviewDecision, timeout=timeout, poll_interval=POLL_SECONDS)
    except FlowPauseTimeout:
        create_markdown_artifact(
            f"# Review of {label}\n\nNo decision within {timeout} s: left on probation.",
            key=f"{key}-decision"[:100],
            description=f"Decision on {label}",
        )
        raise ReviewTimeoutError(f"no decision on {label} within {timeout} s; it stays on probation") from None
    outcome = _apply(decision, project, asset, version, creds)
    create_markdown_artifact(
        decision_markdown(label, decision, problems), key=f"{key}-decision"[:100], description=f"Decision on {label}"
    )
    publish_report(f"Review of {label}", [outcome], artifact_key("gypsum-probation", project, asset))
    return outcome


def _latest(project: str, asset: str, creds: GypsumCredentials) -> str | None:
    try:
        return fetch_latest(project, asset, credentials=creds)
    except GypsumNotFoundError:
        return None  # the first version of the asset


def _apply(decision: ReviewDecision, project: str, asset: str, version: str, creds: GypsumCredentials) -> Outcome:
    detail = f"{decision.decision} by {decision.reviewer}: {decision.reason}"
    get_run_logger().info("Review of %s/%s/%s: %s", project, asset, version, detail)
    outcome = Outcome(project=project, asset=asset, version=version, outcome="approved", detail=detail)
    if decision.decision == "approve":
        approve_probation(project, asset, version, credentials=creds)
        emit_approved(outcome, creds.resolved_url())
    else:
        reject_probation(project, asset, version, credentials=creds)  # the task announces the rejection
        outcome.outcome = "rejected"
    return outcome


def review_markdown(label: str, problems: list[str], entries: Entries, latest: str | None, changes: list[str]) -> str:
    """The review artifact: checks, files and sizes, differences from the latest version.

    Example:
        >>> print(review_markdown("p/a/v2", [], {"a.txt": (3, "900150983cd24fb0")}, "v1", ["a.txt (differs)"]))
        # Review of p/a/v2 (on probation)
        <BLANKLINE>
        **Checks: all passed**
        <BLANKLINE>
        ## Files: 1, 3 bytes
        <BLANKLINE>
        | path | bytes | md5 |
        |---|---|---|
        | `a.txt` | 3 | `90015098` |
        <BLANKLINE>
        ## Differences from the latest version (v1)
        <BLANKLINE>
        - a.txt (differs)
    """
    verdict = "all passed" if not problems else f"{len(problems)} problem{'s' * (len(problems) != 1)}"
    lines = [f"# Review of {label} (on probation)", "", f"**Checks: {verdict}**", ""]
    lines += [f"- {problem}" for problem in problems] + ([""] if problems else [])
    lines += [
        f"## Files: {len(entries)}, {sum(size for size, _ in entries.values())} bytes",
        "",
        "| path | bytes | md5 |",
        "|---|---|---|",
    ]
    lines += [f"| `{path}` | {size} | `{md5[:8]}` |" for path, (size, md5) in sorted(entries.items())[:MAX_FILE_ROWS]]
    if len(entries) > MAX_FILE_ROWS:
        lines.append(f"| ... and {len(entries) - MAX_FILE_ROWS} more | | |")
    if latest is None:
        lines += ["", "## No latest version to compare with (the asset's first)"]
    else:
        lines += ["", f"## Differences from the latest version ({latest})", ""]
        lines += [f"- {change}" for change in changes] or ["- none: the same files"]
    return "\n".join(lines)


def decision_markdown(label: str, decision: ReviewDecision, problems: list[str]) -> str:
    """The decision artifact: what was decided, by whom, why, and over which check results.

    Example:
        >>> d = ReviewDecision(decision="reject", reviewer="ana", reason="wrong genome")
        >>> print(decision_markdown("p/a/v2", d, []))
        # Decision on p/a/v2: reject
        <BLANKLINE>
        - reviewer: ana
        - reason: wrong genome
        - checks: all passed
    """
    checks = "all passed" if not problems else "; ".join(problems)
    return "\n".join(
        [
            f"# Decision on {label}: {decision.decision}",
            "",
            f"- reviewer: {decision.reviewer}",
            f"- reason: {decision.reason}",
            f"- checks: {checks}",
        ]
    )
