"""The lifecycle events of gypsum versions, and the provenance (flow run) they carry.

Events, each on resource ``gypsum.version.PROJECT/ASSET/VERSION`` (or
``gypsum.asset.PROJECT/ASSET``, ``gypsum.project.PROJECT``):

==============================  =====================================================
``gypsum.version.published``    a new version (payload: ``probation``, files, bytes)
``gypsum.version.approved``     a probational version became public
``gypsum.version.rejected``     a probational version was rejected (deleted)
``gypsum.version.removed``      a version was removed
``gypsum.asset.removed``        an asset and all its versions were removed
``gypsum.project.removed``      a project was removed
==============================  =====================================================

Every payload carries ``url`` (the server) and, inside a run, ``flow_run_id``,
``flow_run_name`` and ``flow_run_url``, and the flow run is a related
resource, so automations and deployment triggers (``deployments/prefect.yaml``)
can react and anyone can trace a version to the run that made it. No payload
ever holds a token.

Example:
    >>> version_resource("p", "a", "v1")["prefect.resource.id"]
    'gypsum.version.p/a/v1'
"""

from __future__ import annotations

from typing import Any

from prefect import runtime
from prefect.events import emit_event

PUBLISHED_EVENT = "gypsum.version.published"
APPROVED_EVENT = "gypsum.version.approved"
REJECTED_EVENT = "gypsum.version.rejected"
REMOVED_EVENT = "gypsum.version.removed"
ASSET_REMOVED_EVENT = "gypsum.asset.removed"
PROJECT_REMOVED_EVENT = "gypsum.project.removed"


def flow_run_provenance() -> dict[str, str]:
    """``flow_run_id``, ``flow_run_name`` and ``flow_run_url`` of the current flow run ({} outside one).

    Example:
        >>> flow_run_provenance()
        {}
    """
    run_id = runtime.flow_run.id
    if not run_id:
        return {}
    out = {"flow_run_id": str(run_id), "flow_run_name": str(runtime.flow_run.name or "")}
    url = runtime.flow_run.ui_url
    if url:
        out["flow_run_url"] = str(url)
    return out


def version_resource(project: str, asset: str, version: str) -> dict[str, str]:
    """The event resource of a version.

    Example:
        >>> version_resource("p", "a", "v1")["gypsum.version"]
        'v1'
    """
    return {
        "prefect.resource.id": f"gypsum.version.{project}/{asset}/{version}",
        "prefect.resource.name": f"{project}/{asset}/{version}",
        "gypsum.project": project,
        "gypsum.asset": asset,
        "gypsum.version": version,
    }


def emit_lifecycle_event(event: str, resource: dict[str, str], url: str, payload: dict[str, Any] | None = None) -> None:
    """Emit ``event`` on ``resource`` with the server ``url``, ``payload`` and the flow run's provenance.

    Example::

        emit_lifecycle_event(REMOVED_EVENT, version_resource("p", "a", "v1"), "http://127.0.0.1:8787")
    """
    provenance = flow_run_provenance()
    related = []
    if provenance:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{provenance['flow_run_id']}",
                "prefect.resource.role": "flow-run",
            }
        )
    emit_event(event=event, resource=resource, related=related, payload={"url": url, **(payload or {}), **provenance})


def emit_removed(project: str, asset: str | None, version: str | None, url: str) -> None:
    """Announce the removal of a version, an asset (``version`` None) or a project (both None).

    Example::

        emit_removed("p", "a", None, "http://127.0.0.1:8787")   # gypsum.asset.removed
    """
    if asset is not None and version is not None:
        emit_lifecycle_event(REMOVED_EVENT, version_resource(project, asset, version), url)
    elif asset is not None:
        resource = {
            "prefect.resource.id": f"gypsum.asset.{project}/{asset}",
            "gypsum.project": project,
            "gypsum.asset": asset,
        }
        emit_lifecycle_event(ASSET_REMOVED_EVENT, resource, url)
    else:
        emit_lifecycle_event(
            PROJECT_REMOVED_EVENT, {"prefect.resource.id": f"gypsum.project.{project}", "gypsum.project": project}, url
        )
