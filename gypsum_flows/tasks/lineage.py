"""Published versions as Prefect assets: key ``gypsum://PROJECT/ASSET/VERSION``, properties, metadata, upstreams.

Every version :func:`~gypsum_flows.tasks.upload_version` publishes is
materialised by a small task run of its own (``materialize_version``), so
Prefect's event feed (and, on Prefect Cloud, the assets page and lineage
graph) shows it:

- key: :func:`gypsum_flows.names.version_asset_key`; names are escaped, since
  Prefect keys cannot hold spaces, ``%`` and a few more: letters, digits,
  ``-``, ``.`` and ``_`` stay, every other character becomes ``~XX`` per UTF-8
  byte (``zeisel brain`` -> ``zeisel~20brain``);
- properties: the version's URL on the server (its file listing) and the
  project's owners;
- metadata: files, files and bytes sent versus stored as links, probation, and
  the flow run that published it;
- upstream assets: the source of a clone, and the ``inputs:`` of a spec asset.

Recording is best effort: a version is published whether or not its asset
could be recorded (a warning says why not).

Example:
    >>> version_asset("scrnaseq", "zeisel brain", "v1", url="http://127.0.0.1:8787", owners=["me"]).key
    'gypsum://scrnaseq/zeisel~20brain/v1'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from prefect import get_run_logger
from prefect.assets import Asset, AssetProperties, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE

from ..blocks import GypsumCredentials
from ..names import version_asset_key, version_key
from .events import flow_run_provenance

#: Recorded as the tool that materialised the assets.
MATERIALIZED_BY = "gypsum-flows"


def version_url(url: str, project: str, asset: str, version: str) -> str:
    """The listing of a version's files on the server at ``url``.

    Example:
        >>> version_url("http://127.0.0.1:8787/", "p", "a b", "v1")
        'http://127.0.0.1:8787/list?recursive=true&prefix=p/a%20b/v1/'
    """
    prefix = quote(version_key(project, asset, version) + "/")
    return f"{url.rstrip('/')}/list?recursive=true&prefix={prefix}"


def version_asset(project: str, asset: str, version: str, *, url: str, owners: list[str]) -> Asset:
    """The Prefect asset of a published version, with its properties.

    Example:
        >>> version_asset("p", "a", "v1", url="http://x", owners=["me"]).properties.owners
        ['me']
    """
    return Asset(
        key=version_asset_key(project, asset, version),
        properties=AssetProperties(
            name=version_key(project, asset, version),
            url=version_url(url, project, asset, version),
            description=f"Version {version} of asset {asset} of project {project} on {url.rstrip('/')}.",
            owners=owners,
        ),
    )


def record_published(
    stats: dict[str, Any],
    *,
    probation: bool,
    inputs: list[str] | None = None,
    credentials: GypsumCredentials | None = None,
) -> None:
    """Materialise the version ``stats`` describes (an ``upload_version`` result) as a Prefect asset.

    Args:
        stats: ``project``, ``asset``, ``version``, file and byte counts of the upload.
        probation: Whether the version is on probation.
        inputs: Asset keys of the versions it was made from (its upstream assets).
        credentials: Where the version lives (for its URL and the project's owners).

    Example::

        @flow
        def publish(credentials: GypsumCredentials) -> None:
            stats = upload_version("./v2", "scrnaseq", "zeisel-brain", "v2", credentials=credentials)
            record_published(stats, probation=False, inputs=["gypsum://scrnaseq/zeisel-brain/v1"],
                             credentials=credentials)
    """
    creds = credentials or GypsumCredentials()
    project, asset, version = stats["project"], stats["asset"], stats["version"]
    try:
        owners = list(creds.get_client().fetch_permissions(project).get("owners") or [])
        target = version_asset(project, asset, version, url=creds.resolved_url(), owners=owners)
        record = materialize(
            target,
            by=MATERIALIZED_BY,
            asset_deps=[Asset(key=key) for key in dict.fromkeys(inputs or []) if key != target.key],
            name="materialize_version",
            task_run_name=f"materialize_version[{version_key(project, asset, version)}]",
            cache_policy=NO_CACHE,
        )(_add_metadata)
        record(target.key, asset_metadata(stats, probation))
    except Exception as exc:  # noqa: BLE001 - lineage must never undo or fail a publication
        get_run_logger().warning(
            "Could not record %s as a Prefect asset: %s: %s",
            version_key(project, asset, version),
            type(exc).__name__,
            exc,
        )


def asset_metadata(stats: dict[str, Any], probation: bool) -> dict[str, Any]:
    """The materialisation metadata of a published version.

    Example:
        >>> asset_metadata({"files_uploaded": 1, "files_linked": 2, "bytes_uploaded": 5, "bytes_linked": 7},
        ...                probation=True)["files"]
        3
    """
    counts = {
        name: int(stats.get(name, 0)) for name in ("files_uploaded", "files_linked", "bytes_uploaded", "bytes_linked")
    }
    return {
        "files": counts["files_uploaded"] + counts["files_linked"],
        **counts,
        "probation": probation,
        **flow_run_provenance(),
    }


def _add_metadata(key: str, metadata: dict[str, Any]) -> None:
    add_asset_metadata(key, metadata)
