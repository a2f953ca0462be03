"""Name and path rules shared by the client, its cache and the local server.

The reasons are the reference server's own words (section 1.5 of the API
contract), so a check made locally fails exactly as the server would.

Example:
    >>> bad_name_reason("..hidden", "asset")
    "asset name cannot start with '..'"
    >>> version_key("test-R", "basic", "v1", "foo/bar.txt")
    'test-R/basic/v1/foo/bar.txt'
"""

from __future__ import annotations

import ipaddress

from .errors import GypsumNameError


def bad_name_reason(name: object, kind: str) -> str | None:
    """Why ``name`` is not a valid project, asset or version name, or ``None``."""
    if not isinstance(name, str):
        return f"{kind} name should be a string"
    if name == "":
        return f"{kind} name cannot be empty"
    if "/" in name or "\\" in name:
        return f"{kind} name cannot contain '/' or '\\\\'"
    if name.startswith(".."):
        return f"{kind} name cannot start with '..'"
    return None


def check_name(name: object, kind: str) -> str:
    """Return ``name`` if it is a valid ``kind`` name, else raise :class:`GypsumNameError`."""
    reason = bad_name_reason(name, kind)
    if reason:
        raise GypsumNameError(f"{reason} (got {name!r})")
    return name  # type: ignore[return-value]


def bad_path_reason(path: object) -> str | None:
    """Why ``path`` is not a valid file path inside a version, or ``None``.

    The checks run in the reference server's order.
    """
    if not isinstance(path, str):
        return "'files.path' should be a string"
    if path == "":
        return "'files.path' cannot be empty"
    if path.startswith("..") or "/.." in path:
        return "components of 'files.path' cannot start with '..'"
    if path.startswith("/") or path.endswith("/"):
        return "'files.path' cannot start or end with '/'"
    if "//" in path:
        return "'files.path' cannot contain repeated '/'"
    if "\\" in path:
        return "'files.path' cannot contain '\\\\'"
    return None


def is_internal_path(key: str) -> bool:
    """Whether ``key`` names an internal ``..`` file (never counted as usage)."""
    return key.startswith("..") or "/.." in key


def is_safe_key(key: str) -> bool:
    """Whether an object key stays inside the bucket when joined to a root folder.

    Refuses absolute keys, backslashes, NUL bytes, empty components and any
    component that is ``.`` or ``..``.
    """
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        return False
    parts = key.split("/")
    # A trailing "/" (a "directory" prefix) is allowed; other empty parts are not.
    if parts[-1] == "":
        parts = parts[:-1]
    return all(p not in ("", ".", "..") for p in parts)


def version_key(project: str, asset: str, version: str, path: str | None = None) -> str:
    """The bucket key of a version folder, or of ``path`` inside it."""
    base = f"{project}/{asset}/{version}"
    return f"{base}/{path}" if path else base


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
