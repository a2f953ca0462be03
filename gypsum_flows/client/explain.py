"""Not-found errors that say what does exist: the versions of an asset, the assets of a project.

Example:
    >>> err = version_not_found("p", "a", "v9", GypsumNotFoundError("object not found", status=404), ["v1", "v2"])
    >>> str(err)
    "404 version 'v9' of p/a does not exist (its versions: v1, v2)"
"""

from __future__ import annotations

from ..errors import GypsumError, GypsumNotFoundError


def existing_versions(project: str, asset: str, url: str) -> list[str] | None:
    """The asset's versions, or ``None`` when even listing them fails."""
    from .read import list_versions

    try:
        return list_versions(project, asset, url=url)
    except GypsumError:
        return None


def _listed(names: list[str] | None, what: str) -> str:
    if names is None:
        return ""
    return f" (its {what}: {', '.join(names)})" if names else f" (it has no {what})"


def version_not_found(
    project: str, asset: str, version: str, exc: GypsumNotFoundError, versions: list[str] | None
) -> GypsumNotFoundError:
    """``exc`` restated: which version is missing, and which ones exist."""
    reason = f"version '{version}' of {project}/{asset} does not exist{_listed(versions, 'versions')}"
    return GypsumNotFoundError(reason, status=exc.status, method=exc.method, url=exc.url)


def no_latest(project: str, asset: str, exc: GypsumNotFoundError, versions: list[str] | None) -> GypsumNotFoundError:
    """``exc`` restated for an asset without a latest version."""
    why = (
        "the asset does not exist"
        if not versions
        else (f"all its versions are on probation or incomplete{_listed(versions, 'versions')}")
    )
    reason = f"{project}/{asset} has no latest version: {why}"
    return GypsumNotFoundError(reason, status=exc.status, method=exc.method, url=exc.url)
