"""SQLite connections that understand JSONB, on any Python.

The metadata index stores documents as SQLite JSONB (``jsonb(?)``), which
needs SQLite >= 3.45. Python's bundled ``sqlite3`` is often older (3.40 in
Debian 12), so :func:`connect` falls back to ``sqlean`` (sqlean.py, a current
SQLite with the same DB-API) when the standard library's is too old.

Example:
    >>> conn = connect(":memory:")
    >>> conn.execute("SELECT json_extract(jsonb('{\\"a\\": 1}'), '$.a')").fetchone()
    (1,)
    >>> conn.close()
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from types import ModuleType

#: The first SQLite release with JSONB functions.
JSONB_MIN_VERSION = (3, 45, 0)


def sqlite_module() -> ModuleType:
    """The DB-API module to use: the standard ``sqlite3`` if it has JSONB, else ``sqlean``."""
    if sqlite3.sqlite_version_info >= JSONB_MIN_VERSION:
        return sqlite3
    import sqlean

    return sqlean


def connect(path: str | os.PathLike[str], *, read_only: bool = False) -> sqlite3.Connection:
    """Open ``path`` with JSONB support and foreign keys enforced.

    Args:
        path: The database file (``":memory:"`` for a private in-memory one).
        read_only: Open without write access; the file must exist.

    Returns:
        A DB-API connection (``sqlite3`` or ``sqlean``; they share the API).

    Raises:
        FileNotFoundError: ``read_only`` and ``path`` does not exist.

    Example:
        >>> connect(":memory:").execute("PRAGMA foreign_keys").fetchone()
        (1,)
    """
    module = sqlite_module()
    if read_only:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no SQLite database at '{os.fspath(path)}'")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        conn = module.connect(uri, uri=True)
    else:
        conn = module.connect(os.fspath(path))
    # Deleting a version must cascade to its paths and links (section 8.2).
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
