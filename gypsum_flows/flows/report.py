"""What every flow leaves behind: outcome rows, table and markdown artifacts, progress, events.

Each flow returns :class:`Outcome` rows; :func:`publish_report` turns them
into a table artifact (asset, version, outcome, files sent vs linked, bytes)
and a markdown summary, and :func:`emit_published` announces a new version as
a ``gypsum.version.published`` event with resource id
``gypsum.version.<project>/<asset>/<version>``, so automations can react.

Example:
    >>> row = Outcome(project="p", asset="a", version="v1", outcome="published", files_uploaded=2)
    >>> row.label, table_rows([row])[0]["outcome"]
    ('p/a/v1', 'published')
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Literal, cast
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from pydantic import BaseModel

from ..errors import GypsumError
from ..hints import hint_for
from ..tasks.events import (
    APPROVED_EVENT,
    PUBLISHED_EVENT,
    emit_lifecycle_event,
    flow_run_provenance,
    version_resource,
)

#: What happened to one version.
OutcomeKind = Literal["published", "unchanged", "failed", "approved", "rejected", "pending"]


class Outcome(BaseModel):
    """What a flow did with one version, and why."""

    project: str
    asset: str
    version: str
    outcome: OutcomeKind
    files_uploaded: int = 0
    files_linked: int = 0
    bytes_uploaded: int = 0
    detail: str = ""
    hint: str = ""

    @property
    def label(self) -> str:
        """``project/asset/version``."""
        return f"{self.project}/{self.asset}/{self.version}"


def artifact_key(*parts: str) -> str:
    """An artifact key from free text: lowercase letters, digits and dashes only.

    Example:
        >>> artifact_key("gypsum", "scRNAseq_2024", "Zeisel Brain")
        'gypsum-scrnaseq-2024-zeisel-brain'
    """
    text = "-".join(parts).lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text)).strip("-")[:100]


def table_rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """One table row per outcome, in the column order of the table artifact."""
    return [
        {
            "project": o.project,
            "asset": o.asset,
            "version": o.version,
            "outcome": o.outcome,
            "files uploaded": o.files_uploaded,
            "files linked": o.files_linked,
            "bytes uploaded": o.bytes_uploaded,
            "detail": o.detail,
            "hint": o.hint,
        }
        for o in outcomes
    ]


def summary_markdown(title: str, outcomes: list[Outcome]) -> str:
    """A markdown summary: counts per outcome, then one line per version (details of failures in full).

    Example:
        >>> print(summary_markdown("Batch", [Outcome(project="p", asset="a", version="v", outcome="unchanged")]))
        # Batch
        <BLANKLINE>
        **1 unchanged**
        <BLANKLINE>
        - `p/a/v`: unchanged
    """
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    lines = [f"# {title}", "", "**" + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + "**", ""]
    for o in outcomes:
        moved = o.files_uploaded or o.files_linked
        sent = f" ({o.files_uploaded} sent, {o.files_linked} linked, {o.bytes_uploaded} bytes)" if moved else ""
        line = f"- `{o.label}`: {o.outcome}{sent}"
        if o.detail:
            detail = o.detail.replace("\n", "\n  ")
            line += f"\n  ```\n  {detail}\n  ```" if "\n" in o.detail else f": {o.detail}"
        if o.hint:
            line += f"\n  hint: {o.hint}"
        lines.append(line)
    return "\n".join(lines)


def unchanged(project: str, asset: str, version: str) -> Outcome:
    """The outcome of a version that already exists with exactly the content asked for.

    Example:
        >>> unchanged("p", "a", "v1").outcome
        'unchanged'
    """
    return Outcome(
        project=project,
        asset=asset,
        version=version,
        outcome="unchanged",
        detail="already published with identical files",
    )


def failed(project: str, asset: str, version: str, exc: BaseException) -> Outcome:
    """The outcome of a version whose publication raised ``exc``: its message, and a hint where one helps.

    Example:
        >>> from gypsum_flows.errors import GypsumAuthError
        >>> failed("p", "a", "v1", GypsumAuthError("no token found")).hint.startswith("set GYPSUM_TOKEN")
        True
    """
    detail = str(exc) if isinstance(exc, GypsumError) else f"{type(exc).__name__}: {exc}"
    return Outcome(project=project, asset=asset, version=version, outcome="failed", detail=detail, hint=hint_for(exc))


def reported(title: str, key: str, project: str, asset: str, version: str, body: Callable[[], Outcome]) -> Outcome:
    """Run ``body`` and leave its report (table + summary) under ``key``, also when it fails.

    Example::

        @flow
        def publish() -> Outcome:
            return reported("Publish p/a/v1", "gypsum-publish-p-a", "p", "a", "v1", lambda: unchanged("p", "a", "v1"))
    """
    try:
        outcome = body()
    except Exception as exc:
        publish_report(title, [failed(project, asset, version, exc)], key)
        raise
    publish_report(title, [outcome], key)
    return outcome


def publish_report(title: str, outcomes: list[Outcome], key: str) -> None:
    """Create the table artifact and the markdown summary of a flow run under ``key``.

    Example::

        @flow
        def report() -> None:
            publish_report("Batch", [unchanged("p", "a", "v1")], key="gypsum-batch-example")
    """
    create_table_artifact(table_rows(outcomes), key=key, description=title)
    markdown = summary_markdown(title, outcomes) + provenance_markdown(flow_run_provenance())
    create_markdown_artifact(markdown, key=f"{key}-summary"[:100], description=title)


def provenance_markdown(provenance: dict[str, str]) -> str:
    """The report's closing line naming (and linking) the flow run that produced it.

    Example:
        >>> provenance_markdown({"flow_run_id": "1f", "flow_run_name": "brave-fox", "flow_run_url": "http://ui/1f"})
        '\\n\\nFlow run: [brave-fox](http://ui/1f) (`1f`)'
    """
    if not provenance:
        return ""
    name = provenance.get("flow_run_name") or provenance["flow_run_id"]
    shown = f"[{name}]({provenance['flow_run_url']})" if provenance.get("flow_run_url") else name
    return f"\n\nFlow run: {shown} (`{provenance['flow_run_id']}`)"


def emit_published(outcome: Outcome, url: str, probation: bool) -> None:
    """Announce a new version: ``gypsum.version.published`` on ``gypsum.version.<p>/<a>/<v>``.

    ``probation`` is in the payload and, as ``"true"``/``"false"``, in the resource label
    ``gypsum.probation``, which deployment triggers can ``match`` (they cannot match payloads).

    Example::

        emit_published(Outcome(project="p", asset="a", version="v1", outcome="published"),
                       url="http://127.0.0.1:8787", probation=False)
    """
    _emit(PUBLISHED_EVENT, outcome, url, {"probation": probation}, {"gypsum.probation": str(probation).lower()})


def emit_approved(outcome: Outcome, url: str) -> None:
    """Announce that a probational version was approved: ``gypsum.version.approved``.

    Example::

        emit_approved(Outcome(project="p", asset="a", version="v1", outcome="approved"), "http://127.0.0.1:8787")
    """
    _emit(APPROVED_EVENT, outcome, url, {})


def _emit(event: str, outcome: Outcome, url: str, extra: dict[str, Any], labels: dict[str, str] | None = None) -> None:
    counts = {
        "files_uploaded": outcome.files_uploaded,
        "files_linked": outcome.files_linked,
        "bytes_uploaded": outcome.bytes_uploaded,
    }
    resource = {**version_resource(outcome.project, outcome.asset, outcome.version), **(labels or {})}
    emit_lifecycle_event(event, resource, url, {**counts, **extra})


class Progress:
    """A progress artifact that moves as items finish, at most once a second (and at the last item).

    Example::

        progress = Progress(total=10, key="gypsum-batch-progress")
        progress.advance("p/a/v1 published")
    """

    #: Seconds between two updates: each is a request to the Prefect API, and a batch of small assets
    #: finishes several a second.
    INTERVAL = 1.0

    def __init__(self, total: int, key: str, description: str) -> None:
        self.total = max(total, 1)
        self.done = 0
        # Called from sync code, it returns the id; its signature also admits the coroutine.
        self.id = cast(UUID, create_progress_artifact(0.0, key=key, description=description))
        self._shown_at = time.monotonic()

    def advance(self, description: str) -> None:
        """Count one more finished item."""
        self.done += 1
        now = time.monotonic()
        if self.done < self.total and now - self._shown_at < self.INTERVAL:
            return
        self._shown_at = now
        update_progress_artifact(self.id, 100.0 * self.done / self.total, description=description)
