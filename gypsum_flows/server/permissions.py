"""Permissions and quota documents: validation and the owner/uploader checks.

Reasons and statuses are the reference server's, except that its two
status-less errors (uploader ``asset``/``version`` types) are 400 here.

Example:
    >>> validate_permissions({"owners": ["a"], "uploaders": [{"id": "b", "trusted": True}]})
    >>> validate_quota({"baseline": -1})
    Traceback (most recent call last):
    ...
    gypsum_flows.server.web.HttpError: expected 'baseline' to be a non-negative number
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..constants import PERMISSIONS_FILE
from .users import User, identify
from .web import Call, HttpError

_UNTIL = re.compile(r"^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_UNTIL_REASON = "expected 'uploaders.until' property to be a date/time-formatted string"


def parse_time(text: str) -> datetime | None:
    """Parse an ISO-8601 time; no zone means UTC (as on the Worker). ``None`` if unparseable.

    Example:
        >>> parse_time("2024-05-01T12:34:56.789Z").isoformat()
        '2024-05-01T12:34:56.789000+00:00'
    """
    text = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_permissions(body: Any) -> None:
    """Check a permissions document (or a partial one); 400 naming the first problem."""
    if not isinstance(body, dict):
        raise HttpError("expected permissions to be a JSON object", 400)
    if "owners" in body:
        if not isinstance(body["owners"], list):
            raise HttpError("expected 'owners' to be an array", 400)
        if not all(isinstance(o, str) for o in body["owners"]):
            raise HttpError("expected 'owners' to be an array of strings", 400)
    if "uploaders" in body:
        if not isinstance(body["uploaders"], list):
            raise HttpError("expected 'uploaders' to be an array", 400)
        for entry in body["uploaders"]:
            _validate_uploader(entry)


def _validate_uploader(entry: Any) -> None:
    if not isinstance(entry, dict):
        raise HttpError("expected 'uploaders' to be an array of objects", 400)
    if not isinstance(entry.get("id"), str):
        raise HttpError("expected 'uploaders.id' property to be a string", 400)
    if "until" in entry:
        until = entry["until"]
        if not isinstance(until, str) or not _UNTIL.match(until) or parse_time(until) is None:
            raise HttpError(_UNTIL_REASON, 400)
    if "trusted" in entry and not isinstance(entry["trusted"], bool):
        raise HttpError("expected 'uploaders.trusted' property to be a boolean", 400)
    for name in ("asset", "version"):
        if name in entry and not isinstance(entry[name], str):
            raise HttpError(f"expected '{name}' property to be a string", 400)


def validate_quota(body: Any) -> None:
    """Check a (partial) quota document; 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise HttpError("expected quota specification to be a JSON object", 400)
    for name in ("baseline", "growth_rate", "year"):
        if name in body:
            if not _is_number(body[name]):
                raise HttpError(f"expected '{name}' to be a number", 400)
            if body[name] < 0:
                raise HttpError(f"expected '{name}' to be a non-negative number", 400)


def read_permissions(call: Call, project: str) -> dict[str, Any]:
    """The stored permissions of ``project`` (400 if the project has none)."""
    perms = call.state.bucket.get_json(f"{project}/{PERMISSIONS_FILE}")
    if perms is None:
        raise HttpError(f"no existing permissions for project '{project}'", 400)
    return perms


def is_manager(call: Call, user: User, perms: dict[str, Any]) -> bool:
    """Whether ``user`` owns the project or is an administrator."""
    return user.is_one_of(perms.get("owners", [])) or call.state.users.is_admin(user)


def require_owner(call: Call, project: str) -> User:
    """The user, who must own ``project`` or be an administrator (403 otherwise)."""
    user = identify(call)
    if not is_manager(call, user, read_permissions(call, project)):
        raise HttpError(f"user is not an owner of project '{project}'", 403)
    return user


@dataclass(frozen=True)
class Uploader:
    """Who may upload, and whether they manage the project or are trusted."""

    user: User
    can_manage: bool
    is_trusted: bool


def require_uploader(call: Call, project: str, asset: str, version: str) -> Uploader:
    """Check upload rights for ``project/asset/version`` like the reference server.

    The first uploader entry naming the user decides: a mismatching
    ``asset``/``version`` or a past ``until`` denies, even if a later entry
    would allow (the reference's first-match rule).
    """
    user = identify(call)
    perms = read_permissions(call, project)
    if is_manager(call, user, perms):
        return Uploader(user, True, True)
    for entry in perms.get("uploaders", []):
        if entry.get("id") != user.login and entry.get("id") not in user.orgs:
            continue
        if "asset" in entry and entry["asset"] != asset:
            break
        if "version" in entry and entry["version"] != version:
            break
        until = parse_time(entry["until"]) if "until" in entry else None
        if until is not None and until < datetime.now(timezone.utc):
            break
        return Uploader(user, False, bool(entry.get("trusted", False)))
    raise HttpError("user is not authorized to upload", 403)
