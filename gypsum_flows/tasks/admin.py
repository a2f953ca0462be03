"""Tasks that administer a gypsum server: projects, permissions, quotas, probation, removal.

Every task here changes the server, carries the ``gypsum-write`` tag and
sends the credentials' token. Transient failures (including a project locked
by another operation) are retried; refusals are not. Rejections and removals
are announced as ``gypsum.*`` events (see :mod:`.events`).

Example::

    from prefect import flow
    from gypsum_flows.blocks import GypsumCredentials
    from gypsum_flows.tasks import create_project, approve_probation

    admin = GypsumCredentials.load("gypsum-admin")   # url + an admin's token
"""

from __future__ import annotations

from datetime import datetime

from ..blocks import GypsumCredentials
from .base import client_for, gypsum_task
from .events import REJECTED_EVENT, emit_lifecycle_event, emit_removed, version_resource

#: An uploader entry: ``{"id": login, "until"?: datetime|str, "trusted"?: bool, "asset"?: str, "version"?: str}``.
Uploader = dict[str, str | bool | datetime]


@gypsum_task("create_project[{project}]", write=True)
def create_project(
    project: str,
    owners: str | list[str],
    uploaders: list[Uploader] | None = None,
    baseline: int | None = None,
    growth_rate: int | None = None,
    year: int | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> None:
    """Create a project with its owners, uploaders and (optionally) quota. Admins only.

    Example:
        In a flow: ``create_project("test-R", owners=["alice"], baseline=10**9, credentials=admin)``.
    """
    client_for(credentials).create_project(
        project, owners, uploaders=uploaders, baseline=baseline, growth_rate=growth_rate, year=year
    )


@gypsum_task("set_permissions[{project}]", write=True)
def set_permissions(
    project: str,
    owners: list[str] | None = None,
    uploaders: list[Uploader] | None = None,
    append: bool = True,
    *,
    credentials: GypsumCredentials | None = None,
) -> None:
    """Add to (``append=True``) or replace a project's owners and uploaders. Owners and admins.

    Example:
        In a flow: ``set_permissions("test-R", uploaders=[{"id": "bob", "trusted": True}], credentials=admin)``.
    """
    client_for(credentials).set_permissions(project, owners=owners, uploaders=uploaders, append=append)


@gypsum_task("set_quota[{project}]", write=True)
def set_quota(
    project: str,
    baseline: int | None = None,
    growth_rate: int | None = None,
    year: int | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> None:
    """Change the given fields of a project's quota. Admins only.

    Example:
        In a flow: ``set_quota("test-R", growth_rate=2 * 10**9, credentials=admin)``.
    """
    client_for(credentials).set_quota(project, baseline=baseline, growth_rate=growth_rate, year=year)


@gypsum_task("approve_probation[{project}/{asset}/{version}]", write=True)
def approve_probation(project: str, asset: str, version: str, *, credentials: GypsumCredentials | None = None) -> None:
    """Accept a version on probation (it may become the latest). Owners and admins.

    Example:
        In a flow: ``approve_probation("test-R", "basic", "v2", credentials=admin)``.
    """
    client_for(credentials).approve_probation(project, asset, version)


@gypsum_task("reject_probation[{project}/{asset}/{version}]", write=True)
def reject_probation(project: str, asset: str, version: str, *, credentials: GypsumCredentials | None = None) -> None:
    """Delete a version on probation. Owners, admins, or the uploader themselves.

    Example:
        In a flow: ``reject_probation("test-R", "basic", "v2", credentials=admin)``.
    """
    client_for(credentials).reject_probation(project, asset, version)
    emit_lifecycle_event(REJECTED_EVENT, version_resource(project, asset, version), _url(credentials))


@gypsum_task("refresh_latest[{project}/{asset}]", write=True)
def refresh_latest(project: str, asset: str, *, credentials: GypsumCredentials | None = None) -> str | None:
    """Recompute an asset's latest version from its summaries. Admins only.

    Returns:
        The latest version, or None when the asset has no settled version.

    Example:
        In a flow: ``refresh_latest("test-R", "basic", credentials=admin)``.
    """
    return client_for(credentials).refresh_latest(project, asset)


@gypsum_task("refresh_usage[{project}]", write=True)
def refresh_usage(project: str, *, credentials: GypsumCredentials | None = None) -> int:
    """Recompute a project's usage from its files. Admins only.

    Returns:
        The total in bytes.

    Example:
        In a flow: ``refresh_usage("test-R", credentials=admin)``.
    """
    return client_for(credentials).refresh_usage(project)


@gypsum_task("remove_project[{project}]", write=True)
def remove_project(project: str, *, credentials: GypsumCredentials | None = None) -> bool:
    """Delete a project and everything in it. Admins only.

    Example:
        In a flow: ``remove_project("test-R", credentials=admin)``.
    """
    removed = client_for(credentials).remove_project(project)
    emit_removed(project, None, None, _url(credentials))
    return removed


@gypsum_task("remove_asset[{project}/{asset}]", write=True)
def remove_asset(project: str, asset: str, *, credentials: GypsumCredentials | None = None) -> bool:
    """Delete an asset and all its versions. Admins only.

    Example:
        In a flow: ``remove_asset("test-R", "basic", credentials=admin)``.
    """
    removed = client_for(credentials).remove_asset(project, asset)
    emit_removed(project, asset, None, _url(credentials))
    return removed


@gypsum_task("remove_version[{project}/{asset}/{version}]", write=True)
def remove_version(project: str, asset: str, version: str, *, credentials: GypsumCredentials | None = None) -> bool:
    """Delete one version. Admins only.

    Example:
        In a flow: ``remove_version("test-R", "basic", "v1", credentials=admin)``.
    """
    removed = client_for(credentials).remove_version(project, asset, version)
    emit_removed(project, asset, version, _url(credentials))
    return removed


@gypsum_task("unlock_project[{project}]", write=True)
def unlock_project(project: str, *, credentials: GypsumCredentials | None = None) -> None:
    """Release a project lock left by a failed upload that was never aborted. Admins only.

    Example:
        In a flow: ``unlock_project("test-R", credentials=admin)``.
    """
    client_for(credentials).unlock_project(project)


def _url(credentials: GypsumCredentials | None) -> str:
    """The server URL an event names (never the token)."""
    return (credentials or GypsumCredentials()).resolved_url()
