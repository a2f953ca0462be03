"""Project administration, probation, refresh, removal and unlocking.

These calls change server state, so they are repeated only when the server
cannot have acted on them (connection refused, 429, 503).

Example:
    >>> create_project("demo", owners=["alice"], url=server.url, token=admin_token)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .. import _http
from ..auth import resolve_token
from ._util import names_path, sanitize_uploaders
from .read import fetch_permissions


def _admin(
    method: str, endpoint: str, names: tuple[str, ...], url: str | None, token: str | None, body: Any = None
) -> Any:
    """Send one state-changing call to ``/{endpoint}/{names...}``; returns the JSON reply or ``None``."""
    target = f"{_http.resolve_url(url)}/{endpoint}/{names_path(*names)}"
    reply = _http.request(method, target, policy=_http.GUARDED, token=resolve_token(token), json=body)
    return reply.json(allow_empty=True)


def _quota_fields(baseline: int | None, growth_rate: int | None, year: int | None) -> dict:
    given = {"baseline": baseline, "growth_rate": growth_rate, "year": year}
    return {k: v for k, v in given.items() if v is not None}


def create_project(
    project: str,
    owners: str | list[str],
    uploaders: list[dict] | None = None,
    baseline: int | None = None,
    growth_rate: int | None = None,
    year: int | None = None,
    url: str | None = None,
    token: str | None = None,
) -> None:
    """Create a project with its owners, uploaders and (optionally) quota. Admins only.

    Args:
        project: Project name.
        owners: GitHub logins or organisations owning the project.
        uploaders: Dicts ``{"id", "asset"?, "version"?, "until"?, "trusted"?}``; ``until`` may be a datetime.
        baseline: Quota at creation, in bytes.
        growth_rate: Quota growth per year, in bytes.
        year: Year of creation for the quota.
        url: gypsum REST URL; default :func:`rest_url`.
        token: An admin's GitHub token; default :func:`access_token`.

    Example:
        >>> create_project("demo", owners="alice", url=server.url, token=admin_token)  # doctest: +SKIP
    """
    owners = [owners] if isinstance(owners, str) else list(owners)
    body: dict[str, Any] = {"permissions": {"owners": owners, "uploaders": sanitize_uploaders(uploaders or [])}}
    quota = _quota_fields(baseline, growth_rate, year)
    if quota:
        body["quota"] = quota
    _admin("POST", "create", (project,), url, token, body)


def set_permissions(
    project: str,
    owners: str | list[str] | None = None,
    uploaders: list[dict] | None = None,
    append: bool = True,
    url: str | None = None,
    token: str | None = None,
) -> None:
    """Change a project's owners and/or uploaders (added to the current ones when ``append``).

    Example:
        >>> set_permissions("demo", uploaders=[{"id": "bob", "trusted": True}], url=server.url,
        ...                 token=owner_token)  # doctest: +SKIP
    """
    owners = [owners] if isinstance(owners, str) else owners
    perms: dict[str, Any] = {}
    old = fetch_permissions(project, url=url) if append else {"owners": [], "uploaders": []}
    if owners is not None:
        perms["owners"] = list(dict.fromkeys([*old["owners"], *owners]))
    if uploaders is not None:
        perms["uploaders"] = sanitize_uploaders([*old["uploaders"], *uploaders])
    _admin("PUT", "permissions", (project,), url, token, perms)


def set_quota(
    project: str,
    baseline: int | None = None,
    growth_rate: int | None = None,
    year: int | None = None,
    url: str | None = None,
    token: str | None = None,
) -> None:
    """Change the given quota fields of a project. Admins only.

    Example:
        >>> set_quota("demo", baseline=10**9, url=server.url, token=admin_token)  # doctest: +SKIP
    """
    _admin("PUT", "quota", (project,), url, token, _quota_fields(baseline, growth_rate, year))


def approve_probation(project: str, asset: str, version: str, url: str | None = None, token: str | None = None) -> None:
    """Approve a probational version (owners and admins).

    Example:
        >>> approve_probation("demo", "a", "v1", url=server.url, token=owner_token)  # doctest: +SKIP
    """
    _admin("POST", "probation/approve", (project, asset, version), url, token)


def reject_probation(project: str, asset: str, version: str, url: str | None = None, token: str | None = None) -> None:
    """Reject (delete) a probational version (owners, admins, or its own uploader).

    Example:
        >>> reject_probation("demo", "a", "v1", url=server.url, token=owner_token)  # doctest: +SKIP
    """
    _admin("POST", "probation/reject", (project, asset, version), url, token)


def refresh_latest(project: str, asset: str, url: str | None = None, token: str | None = None) -> str | None:
    """Recompute an asset's latest version; returns it, or ``None`` if no version qualifies. Admins only.

    Example:
        >>> refresh_latest("test-R", "basic", url=server.url, token=admin_token)  # doctest: +SKIP
        'v3'
    """
    return (_admin("POST", "refresh/latest", (project, asset), url, token) or {}).get("version")


def refresh_usage(project: str, url: str | None = None, token: str | None = None) -> int:
    """Recompute a project's usage in bytes; returns it. Admins only.

    Example:
        >>> refresh_usage("test-R", url=server.url, token=admin_token)  # doctest: +SKIP
        72
    """
    return _admin("POST", "refresh/usage", (project,), url, token)["total"]


def remove_project(project: str, url: str | None = None, token: str | None = None) -> bool:
    """Delete a project and everything in it. Admins only. Returns ``True``.

    Example:
        >>> remove_project("demo", url=server.url, token=admin_token)  # doctest: +SKIP
        True
    """
    _admin("DELETE", "remove", (project,), url, token)
    return True


def remove_asset(project: str, asset: str, url: str | None = None, token: str | None = None) -> bool:
    """Delete an asset and all its versions. Admins only. Returns ``True``.

    Example:
        >>> remove_asset("demo", "a", url=server.url, token=admin_token)  # doctest: +SKIP
        True
    """
    _admin("DELETE", "remove", (project, asset), url, token)
    return True


def remove_version(project: str, asset: str, version: str, url: str | None = None, token: str | None = None) -> bool:
    """Delete one version (the latest is recomputed if needed). Admins only. Returns ``True``.

    Example:
        >>> remove_version("demo", "a", "v1", url=server.url, token=admin_token)  # doctest: +SKIP
        True
    """
    _admin("DELETE", "remove", (project, asset, version), url, token)
    return True


def unlock_project(project: str, url: str | None = None, token: str | None = None) -> None:
    """Remove a stale project lock left by a failed upload (R's ``unlockProject``). Admins only.

    Example:
        >>> unlock_project("demo", url=server.url, token=admin_token)  # doctest: +SKIP
    """
    _admin("DELETE", "unlock", (project,), url, token)
