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

import contextlib
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from types import ModuleType
from typing import Any

#: The first SQLite release with JSONB functions.
JSONB_MIN_VERSION = (3, 45, 0)


def sqlite_module() -> ModuleType:
    """The DB-API module to use: the standard ``sqlite3`` if it has JSONB, else ``sqlean``."""
    if sqlite3.sqlite_version_info >= JSONB_MIN_VERSION:
        return sqlite3
    import sqlean

    return sqlean


def connect(path: str | os.PathLike[str], *, read_only: bool = False, **kwargs: Any) -> sqlite3.Connection:
    """Open ``path`` with JSONB support and foreign keys enforced.

    Args:
        path: The database file (``":memory:"`` for a private in-memory one).
        read_only: Open without write access; the file must exist.
        **kwargs: Passed to the module's ``connect`` (e.g. ``check_same_thread``).

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
        conn = module.connect(uri, uri=True, **kwargs)
    else:
        conn = module.connect(os.fspath(path), **kwargs)
    # Deleting a version must cascade to its paths and links (section 8.2 of docs/gypsum-api.md).
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


#: Read-only connections kept open by :func:`shared_reader`: path -> (file signature, connection, lock).
_READERS: dict[str, tuple[tuple[int, int, int], sqlite3.Connection, threading.Lock]] = {}
_READERS_LOCK = threading.Lock()
_MAX_READERS = 8


def _signature(path: str) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no SQLite database at '{path}'") from None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _close(entry: tuple[Any, sqlite3.Connection, threading.Lock]) -> None:
    with entry[2]:
        entry[1].close()


@contextlib.contextmanager
def shared_reader(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``path`` that stays open between calls.

    A new connection starts with an empty page cache, which makes a search
    several times slower than on a warm one. The connection is reopened when
    the file is replaced or changed, and used by one thread at a time.

    Example:
        >>> import tempfile
        >>> db = tempfile.mkdtemp() + "/x.sqlite3"
        >>> connect(db).execute("PRAGMA user_version = 7").connection.close()
        >>> with shared_reader(db) as conn:
        ...     conn.execute("PRAGMA user_version").fetchone()
        (7,)
    """
    key = os.path.abspath(path)
    signature = _signature(key)
    with _READERS_LOCK:
        entry = _READERS.get(key)
        if entry is None or entry[0] != signature:
            if entry is not None:
                _close(entry)
            conn = connect(key, read_only=True, check_same_thread=False)
            conn.execute("PRAGMA cache_size = -65536")
            entry = _READERS[key] = (signature, conn, threading.Lock())
            while len(_READERS) > _MAX_READERS:
                _close(_READERS.pop(next(iter(_READERS))))
    with entry[2]:
        yield entry[1]


def release_reader(path: str | os.PathLike[str]) -> None:
    """Close the shared connection to ``path``, if any (before replacing the file on Windows)."""
    with _READERS_LOCK:
        entry = _READERS.pop(os.path.abspath(path), None)
    if entry is not None:
        _close(entry)
