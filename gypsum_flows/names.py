"""Name and path rules shared by the client, its cache and the local server.

The reasons are the reference server's own words (section 1.5 of
docs/gypsum-api.md), so a check made locally fails exactly as the server would.

Example:
    >>> bad_name_reason("..hidden", "asset")
    "asset name cannot start with '..'"
    >>> version_key("test-R", "basic", "v1", "foo/bar.txt")
    'test-R/basic/v1/foo/bar.txt'
"""

from __future__ import annotations

import ipaddress
import re
import string

from .errors import GypsumNameError

#: Scheme of the Prefect asset key of a published version.
ASSET_SCHEME = "gypsum://"
#: Longest asset key Prefect accepts.
MAX_ASSET_KEY_LENGTH = 512
#: Characters kept as they are in an asset key; every other one is escaped.
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + "-._")
_ESCAPED = re.compile(r"(?:~[0-9A-F]{2})+")


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


def escape_key_name(name: str) -> str:
    """``name`` as one segment of an asset key: letters, digits, ``-``, ``.`` and ``_`` stay, and every
    other character becomes ``~XX`` per UTF-8 byte (uppercase hex), ``~`` itself included.

    Prefect asset keys cannot hold spaces, ``%``, ``#``, ``?``, quotes, brackets and a few
    more, so percent-encoding is impossible; ``~`` is allowed and rare in names.

    Example:
        >>> escape_key_name("zeisel brain 100%")
        'zeisel~20brain~20100~25'
        >>> escape_key_name("2024-03-01")
        '2024-03-01'
    """
    return "".join(c if c in _KEY_SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in name)


def unescape_key_name(segment: str) -> str:
    """The name that :func:`escape_key_name` turned into ``segment``.

    Raises:
        GypsumNameError: ``segment`` is not the output of :func:`escape_key_name`.

    Example:
        >>> unescape_key_name("zeisel~20brain")
        'zeisel brain'
    """
    name = _ESCAPED.sub(lambda m: bytes.fromhex(m.group().replace("~", "")).decode("utf-8", "replace"), segment)
    if escape_key_name(name) != segment:
        raise GypsumNameError(
            f"{segment!r} is not an escaped gypsum name (use ~XX, uppercase hex, for other "
            "characters than letters, digits, '-', '.' and '_')"
        )
    return name


def version_asset_key(project: str, asset: str, version: str) -> str:
    """The Prefect asset key of a version: ``gypsum://PROJECT/ASSET/VERSION``, each name escaped.

    Raises:
        GypsumNameError: A name is invalid, or the key is longer than Prefect's 512 characters.

    Example:
        >>> version_asset_key("scrnaseq", "zeisel brain", "v1")
        'gypsum://scrnaseq/zeisel~20brain/v1'
    """
    names = [check_name(n, kind) for n, kind in ((project, "project"), (asset, "asset"), (version, "version"))]
    key = ASSET_SCHEME + "/".join(escape_key_name(n) for n in names)
    if len(key) > MAX_ASSET_KEY_LENGTH:
        raise GypsumNameError(
            f"the asset key of {project}/{asset}/{version} would be {len(key)} characters, "
            f"more than Prefect's {MAX_ASSET_KEY_LENGTH}"
        )
    return key


def parse_version_asset_key(key: str) -> tuple[str, str, str]:
    """``(project, asset, version)`` of a key made by :func:`version_asset_key`.

    Raises:
        GypsumNameError: ``key`` is not ``gypsum://PROJECT/ASSET/VERSION`` with escaped names.

    Example:
        >>> parse_version_asset_key("gypsum://scrnaseq/zeisel~20brain/v1")
        ('scrnaseq', 'zeisel brain', 'v1')
    """
    parts = key[len(ASSET_SCHEME) :].split("/") if key.startswith(ASSET_SCHEME) else []
    if len(parts) != 3:
        raise GypsumNameError(f"expected an asset key gypsum://PROJECT/ASSET/VERSION (got {key!r})")
    project, asset, version = (unescape_key_name(p) for p in parts)
    for name, kind in ((project, "project"), (asset, "asset"), (version, "version")):
        check_name(name, kind)
    return project, asset, version
