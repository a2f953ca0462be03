"""Tasks that read from a gypsum server: fetch and list.

Manifests, settled summaries and file listings of a version never change, so
they are cached across runs (see :mod:`gypsum_flows.tasks.policies`); the
latest version, permissions, quota, usage and the project, asset and version
listings change at any time and are read afresh on every call.

The examples run in a flow against any server, e.g. a local one started with
``gypsum-flows server --root ./registry --port 8787``::

    from prefect import flow
    from gypsum_flows.blocks import GypsumCredentials
    from gypsum_flows.tasks import fetch_latest, fetch_manifest

    local = GypsumCredentials(url="http://127.0.0.1:8787")
"""

from __future__ import annotations

from typing import Any

from ..blocks import GypsumCredentials
from .base import client_for, gypsum_task
from .policies import SETTLED_VERSION


@gypsum_task("fetch_latest[{project}/{asset}]")
def fetch_latest(
    project: str, asset: str, offline: bool | None = None, *, credentials: GypsumCredentials | None = None
) -> str:
    """The latest version of an asset (never cached: it moves with every upload).

    Returns:
        The version name.

    Example:
        In a flow: ``fetch_latest("test-R", "basic", credentials=local)``.
    """
    return client_for(credentials).fetch_latest(project, asset, offline=offline)


@gypsum_task("fetch_manifest[{project}/{asset}/{version}]", cache_policy=SETTLED_VERSION)
def fetch_manifest(
    project: str,
    asset: str,
    version: str,
    overwrite: bool = False,
    *,
    credentials: GypsumCredentials | None = None,
) -> dict[str, dict[str, Any]]:
    """The manifest of a version: ``{path: {"size", "md5sum"[, "link"]}}``.

    Cached across runs once the version is settled; ``overwrite=True`` skips
    every cache.

    Example:
        ```python
        @flow
        def total_size() -> int:
            manifest = fetch_manifest("test-R", "basic", "v1", credentials=local)
            return sum(entry["size"] for entry in manifest.values())
        ```
    """
    return client_for(credentials).fetch_manifest(project, asset, version, overwrite=overwrite)


@gypsum_task("fetch_summary[{project}/{asset}/{version}]", cache_policy=SETTLED_VERSION)
def fetch_summary(
    project: str,
    asset: str,
    version: str,
    overwrite: bool = False,
    *,
    credentials: GypsumCredentials | None = None,
) -> dict[str, Any]:
    """Who uploaded a version and when, and whether it is on probation.

    Returns:
        ``upload_user_id``, ``upload_start``/``upload_finish`` (datetimes) and
        ``on_probation`` when true. Cached across runs only off probation.

    Example:
        ```python
        @flow
        def on_probation() -> bool:
            summary = fetch_summary("test-R", "basic", "v2", credentials=local)
            return summary.get("on_probation", False)
        ```
    """
    return client_for(credentials).fetch_summary(project, asset, version, overwrite=overwrite)


@gypsum_task("fetch_permissions[{project}]")
def fetch_permissions(project: str, *, credentials: GypsumCredentials | None = None) -> dict[str, Any]:
    """The owners and uploaders of a project (uploaders' ``until`` as datetimes).

    Example:
        In a flow: ``fetch_permissions("test-R", credentials=local)["owners"]``.
    """
    return client_for(credentials).fetch_permissions(project)


@gypsum_task("fetch_quota[{project}]")
def fetch_quota(project: str, *, credentials: GypsumCredentials | None = None) -> dict[str, Any]:
    """The storage quota of a project: ``baseline``, ``growth_rate`` and ``year``.

    Example:
        In a flow: ``fetch_quota("test-R", credentials=local)["baseline"]``.
    """
    return client_for(credentials).fetch_quota(project)


@gypsum_task("fetch_usage[{project}]")
def fetch_usage(project: str, *, credentials: GypsumCredentials | None = None) -> int:
    """Bytes currently used by a project.

    Example:
        In a flow: ``fetch_usage("test-R", credentials=local)``.
    """
    return client_for(credentials).fetch_usage(project)


@gypsum_task()
def list_projects(offline: bool | None = None, *, credentials: GypsumCredentials | None = None) -> list[str]:
    """Every project on the server.

    Example:
        In a flow: ``list_projects(credentials=local)``.
    """
    return client_for(credentials).list_projects(offline=offline)


@gypsum_task("list_assets[{project}]")
def list_assets(
    project: str, offline: bool | None = None, *, credentials: GypsumCredentials | None = None
) -> list[str]:
    """The assets of a project.

    Example:
        In a flow: ``list_assets("test-R", credentials=local)``.
    """
    return client_for(credentials).list_assets(project, offline=offline)


@gypsum_task("list_versions[{project}/{asset}]")
def list_versions(
    project: str, asset: str, offline: bool | None = None, *, credentials: GypsumCredentials | None = None
) -> list[str]:
    """The versions of an asset (empty for an unknown asset).

    Example:
        In a flow: ``list_versions("test-R", "basic", credentials=local)``.
    """
    return client_for(credentials).list_versions(project, asset, offline=offline)


@gypsum_task("list_files[{project}/{asset}/{version}]", cache_policy=SETTLED_VERSION)
def list_files(
    project: str,
    asset: str,
    version: str,
    prefix: str | None = None,
    include_dot: bool = True,
    offline: bool | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> list[str]:
    """The paths of a version's files, relative to the version, optionally under ``prefix``.

    Args:
        include_dot: also list internal files such as ``..manifest``.

    Example:
        In a flow: ``list_files("test-R", "basic", "v1", include_dot=False, credentials=local)``.
    """
    return client_for(credentials).list_files(
        project, asset, version, prefix=prefix, include_dot=include_dot, offline=offline
    )


@gypsum_task()
def public_s3_config(refresh: bool = False, *, credentials: GypsumCredentials | None = None) -> dict[str, str]:
    """The server's public, read-only S3 settings: ``endpoint``, ``bucket``, ``key`` and ``secret``.

    Example:
        In a flow: ``public_s3_config(credentials=local)["bucket"]``.
    """
    return client_for(credentials).public_s3_config(refresh=refresh)
