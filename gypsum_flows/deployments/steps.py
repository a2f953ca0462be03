"""``prefect.yaml`` deployment steps: fetch a published gypsum version into a flow run's working folder.

A pull step runs before the flow is imported, on every run, on the worker's
machine. :func:`pull_version` copies a version (flow code, configs, reference
data) into a folder and makes it the run's working folder, so a file
entrypoint such as ``flows/etl.py:etl`` is read from the published version.

Example ``prefect.yaml`` deployment::

    - name: from-gypsum
      entrypoint: flows/etl.py:etl
      pull:
        - gypsum_flows.deployments.steps.pull_version:
            project: pipelines
            asset: etl
            version: "2024-03-01"
            credentials: gypsum          # name of a saved GypsumCredentials block
      work_pool: {name: gypsum-process}
"""

from __future__ import annotations

import os
from pathlib import Path

from ..blocks import GypsumCredentials, GypsumVersion


def pull_version(
    project: str,
    asset: str,
    version: str,
    credentials: str | None = None,
    directory: str | None = None,
    from_path: str | None = None,
) -> dict[str, str]:
    """Copy ``project/asset/version`` (or its folder ``from_path``) into ``directory``; a pull step.

    Args:
        project: Project of the version.
        asset: Asset of the version.
        version: Published version to fetch.
        credentials: Name of a saved GypsumCredentials block; ``None`` uses the
            client defaults (GYPSUM_REST_URL, GYPSUM_TOKEN). A name, never a
            token: step arguments are stored with the deployment.
        directory: Destination folder (default ``gypsum-PROJECT-ASSET-VERSION``
            under the current folder); existing files are replaced.
        from_path: Only this folder of the version, copied as the destination's content.

    Returns:
        ``{"directory": absolute destination}``: Prefect makes it the run's working folder.

    Example (not run as a doctest: it needs a saved ``gypsum`` block and a server holding the version):
        >>> pull_version("pipelines", "etl", "v1", credentials="gypsum")  # doctest: +SKIP
        {'directory': '/runs/abc/gypsum-pipelines-etl-v1'}
    """
    creds = GypsumCredentials.load(credentials) if credentials else GypsumCredentials()
    storage = GypsumVersion(project=project, asset=asset, version=version, credentials=creds)
    target = Path(directory or f"gypsum-{project}-{asset}-{version}").absolute()
    storage.get_directory_sync(from_path=from_path, local_path=os.fspath(target))
    return {"directory": os.fspath(target)}
