"""Tasks that download from a gypsum server into the local gypsum cache.

``save_file`` and ``save_version`` are cached across runs, but a cached
result is only reused while the files it points to are still in the gypsum
cache with the sizes the manifest gives; otherwise the task runs and
downloads again. ``resolve_links`` and ``clone_version`` change local folders
and always run.

Example::

    from prefect import flow
    from gypsum_flows.blocks import GypsumCredentials
    from gypsum_flows.tasks import save_version

    local = GypsumCredentials(url="http://127.0.0.1:8787", cache_dir="./gypsum-cache")
"""

from __future__ import annotations

from typing import Any

from ..blocks import GypsumCredentials
from .base import client_for, gypsum_task
from .policies import LOCAL_COPY, local_copy_state


@gypsum_task("save_file[{project}/{asset}/{version}/{path}]", cache_policy=LOCAL_COPY)
def save_file(
    project: str,
    asset: str,
    version: str,
    path: str,
    overwrite: bool = False,
    *,
    credentials: GypsumCredentials | None = None,
) -> str:
    """Download one file of a version (following links) into the gypsum cache.

    A cached copy whose size no longer matches the manifest is downloaded again.

    Returns:
        The local path, ``{cache}/bucket/{project}/{asset}/{version}/{path}``.

    Example:
        ```python
        @flow
        def readme() -> str:
            local_path = save_file("test-R", "basic", "v1", "README.md", credentials=local)
            return open(local_path).read()
        ```
    """
    damaged = local_copy_state(credentials, project, asset, version, path=path) is False
    return client_for(credentials).save_file(project, asset, version, path, overwrite=overwrite or damaged)


@gypsum_task("save_version[{project}/{asset}/{version}]", cache_policy=LOCAL_COPY)
def save_version(
    project: str,
    asset: str,
    version: str,
    overwrite: bool = False,
    relink: bool = True,
    concurrent: int = 8,
    *,
    credentials: GypsumCredentials | None = None,
) -> str:
    """Download every file of a version into the gypsum cache.

    A saved version with a missing or resized file is downloaded again.

    Args:
        relink: materialise linked files as hard links to their targets.
        concurrent: parallel downloads (not part of the cache key).

    Returns:
        The local folder, ``{cache}/bucket/{project}/{asset}/{version}``.

    Example:
        In a flow: ``save_version("test-R", "basic", "v1", concurrent=4, credentials=local)``.
    """
    damaged = local_copy_state(credentials, project, asset, version, relink=relink) is False
    return client_for(credentials).save_version(
        project, asset, version, overwrite=overwrite or damaged, relink=relink, concurrent=concurrent
    )


@gypsum_task("resolve_links[{project}/{asset}/{version}]")
def resolve_links(
    project: str,
    asset: str,
    version: str,
    overwrite: bool = False,
    concurrent: int = 8,
    *,
    credentials: GypsumCredentials | None = None,
) -> bool:
    """Materialise the linked files of a cached version from their targets.

    Example:
        ```python
        @flow
        def relink() -> bool:
            save_version("test-R", "basic", "v2", relink=False, credentials=local)
            return resolve_links("test-R", "basic", "v2", credentials=local)
        ```
    """
    return client_for(credentials).resolve_links(project, asset, version, overwrite=overwrite, concurrent=concurrent)


@gypsum_task("clone_version[{project}/{asset}/{version}]")
def clone_version(
    project: str,
    asset: str,
    version: str,
    destination: str,
    download: bool = True,
    *,
    credentials: GypsumCredentials | None = None,
    **kwargs: Any,
) -> None:
    """Mirror a version in ``destination`` as symlinks into the gypsum cache, ready to modify and upload.

    Args:
        download: save the version first (extra keywords such as ``relink``
            go to ``save_version``).

    Example:
        In a flow: ``clone_version("test-R", "basic", "v1", "./v2-draft", credentials=local)``.
    """
    client_for(credentials).clone_version(project, asset, version, destination, download=download, **kwargs)
