"""Project administration: create, permissions, quota, remove, unlock, refresh (section 3.2 of docs/gypsum-api.md).

Example (over HTTP, as an administrator)::

    POST   /create/my-project   {"permissions": {"owners": ["alice"]}}  -> 200
    DELETE /remove/my-project                                            -> 200
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from starlette.responses import JSONResponse, Response

from ..constants import LATEST_FILE, PERMISSIONS_FILE, QUOTA_FILE, USAGE_FILE
from .bookkeeping import add_usage, recompute_latest, write_log
from .locks import locked, unlock_project
from .permissions import is_manager, validate_permissions, validate_quota
from .storage import Bucket
from .users import identify, require_admin
from .web import Call, HttpError, empty_response

_QUOTA_FIELDS = ("baseline", "growth_rate", "year")


def create_project(call: Call) -> Response:
    """``POST /create/{P}`` (admin): write ``..permissions``, ``..quota`` and ``..usage``."""
    require_admin(call)
    project = call.params["project"]
    if "/" in project:
        raise HttpError("project name cannot contain '/'", 400)
    project = call.name("project")
    bucket: Bucket = call.state.bucket
    with bucket.project_lock(project):
        if bucket.exists(f"{project}/{PERMISSIONS_FILE}"):
            raise HttpError(f"project '{project}' already exists", 400)
        body = call.json()
        if not isinstance(body, dict):
            raise HttpError("expected a JSON object in the request body", 400)
        perms = body.get("permissions", {})
        validate_permissions(perms)
        quota = body.get("quota", {})
        validate_quota(quota)
        defaults = {"baseline": 10 * 10**9, "growth_rate": 20 * 10**9, "year": datetime.now(timezone.utc).year}
        bucket.put_json(f"{project}/{USAGE_FILE}", {"total": 0})
        bucket.put_json(f"{project}/{QUOTA_FILE}", {**defaults, **{k: quota[k] for k in _QUOTA_FIELDS if k in quota}})
        bucket.put_json(
            f"{project}/{PERMISSIONS_FILE}",
            {"owners": perms.get("owners", []), "uploaders": perms.get("uploaders", [])},
        )
    return empty_response()


def set_permissions(call: Call) -> Response:
    """``PUT /permissions/{P}`` (owner or admin): replace ``owners`` and/or ``uploaders`` whole."""
    user = identify(call)
    project = call.name("project")

    def check_manager(perms: dict[str, Any]) -> None:
        if not is_manager(call, user, perms):
            raise HttpError(f"user does not own project '{project}'", 403)

    missing = HttpError(f"project '{project}' does not exist", 404)
    return _update(call, project, PERMISSIONS_FILE, missing, validate_permissions, check_manager)


def set_quota(call: Call) -> Response:
    """``PUT /quota/{P}`` (admin): overwrite the quota fields the body supplies."""
    require_admin(call)
    project = call.name("project")
    return _update(call, project, QUOTA_FILE, HttpError("project does not exist", 400), validate_quota)


def _update(
    call: Call,
    project: str,
    filename: str,
    missing: HttpError,
    validate: Callable[[Any], None],
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Response:
    """Overwrite the project's ``filename`` with the validated body's fields, under the project's lock.

    Raises ``missing`` when the file is absent; ``check`` vets the stored document before the body is read.
    """
    bucket: Bucket = call.state.bucket
    key = f"{project}/{filename}"
    with bucket.project_lock(project):
        stored = bucket.get_json(key)
        if stored is None:
            raise missing
        if check is not None:
            check(stored)
        body = call.json()
        validate(body)
        _overwrite(bucket, key, stored, body)
    return empty_response()


def _overwrite(bucket: Bucket, key: str, stored: dict[str, Any], body: dict[str, Any]) -> None:
    """Replace the stored document's existing fields by the body's, writing only on change."""
    changed = {k: body[k] for k in stored if k in body and body[k] != stored[k]}
    if changed:
        bucket.put_json(key, {**stored, **changed})


def remove_project(call: Call) -> Response:
    """``DELETE /remove/{P}`` (admin): delete everything under the project (200 if absent)."""
    require_admin(call)
    project = call.name("project")
    bucket: Bucket = call.state.bucket
    with locked(bucket, project, "", ""):
        bucket.delete_prefix(f"{project}/")
    write_log(bucket, {"type": "delete-project", "project": project})
    return empty_response()


def _require_usage(bucket: Bucket, project: str) -> None:
    if bucket.get_json(f"{project}/{USAGE_FILE}") is None:
        raise HttpError(f"no file at '{project}/{USAGE_FILE}'", 500)


def remove_asset(call: Call) -> Response:
    """``DELETE /remove/{P}/{A}`` (admin): delete the asset and give its bytes back to the quota."""
    require_admin(call)
    project, asset = call.name("project"), call.name("asset")
    bucket: Bucket = call.state.bucket
    with locked(bucket, project, asset, ""):
        _require_usage(bucket, project)
        add_usage(bucket, project, -bucket.delete_prefix(f"{project}/{asset}/"))
    write_log(bucket, {"type": "delete-asset", "project": project, "asset": asset})
    return empty_response()


def remove_version(call: Call) -> Response:
    """``DELETE /remove/{P}/{A}/{V}`` (admin): delete the version; recompute ``..latest`` if it was latest."""
    require_admin(call)
    project, asset = call.name("project"), call.name("asset")
    version = call.name("version")
    bucket: Bucket = call.state.bucket
    with locked(bucket, project, asset, version):
        _require_usage(bucket, project)
        add_usage(bucket, project, -bucket.delete_prefix(f"{project}/{asset}/{version}/"))
        latest = bucket.get_json(f"{project}/{asset}/{LATEST_FILE}")
        was_latest = latest is not None and latest.get("version") == version
        if was_latest:
            recompute_latest(bucket, project, asset)
    entry = {"type": "delete-version", "project": project, "asset": asset, "version": version, "latest": was_latest}
    write_log(bucket, entry)
    return empty_response()


def unlock(call: Call) -> Response:
    """``DELETE /unlock/{P}`` (admin): remove a stale lock (200 even without one)."""
    require_admin(call)
    project = call.name("project")
    bucket: Bucket = call.state.bucket
    with bucket.project_lock(project):
        unlock_project(bucket, project)
    return empty_response()


def refresh_latest(call: Call) -> Response:
    """``POST /refresh/latest/{P}/{A}`` (admin): recompute ``..latest``; ``{version}`` or ``{}``."""
    require_admin(call)
    project, asset = call.name("project"), call.name("asset")
    bucket: Bucket = call.state.bucket
    if bucket.get_json(f"{project}/{PERMISSIONS_FILE}") is None:
        raise HttpError("project does not exist", 400)
    with locked(bucket, project, asset, ""):
        version = recompute_latest(bucket, project, asset)
    return JSONResponse({"version": version} if version else {})


def refresh_usage(call: Call) -> Response:
    """``POST /refresh/usage/{P}`` (admin): recompute ``..usage`` from the stored objects."""
    require_admin(call)
    project = call.name("project")
    bucket: Bucket = call.state.bucket
    if bucket.get_json(f"{project}/{USAGE_FILE}") is None:
        raise HttpError("project does not exist", 400)
    with locked(bucket, project, "placeholder", "placeholder"):
        usage = {"total": bucket.usage(f"{project}/")}
        bucket.put_json(f"{project}/{USAGE_FILE}", usage)
    return JSONResponse(usage)
