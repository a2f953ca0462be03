"""MD5 sums of local files, remembered while a file stays the same (as git's index and DVC do).

A re-run of a batch compares every local file with the published manifest;
hashing gigabytes again to learn that nothing changed is the slow part. So
each file's size and MD5 are kept with what ``stat`` says about it (size,
``mtime_ns``, ``ctime_ns``, inode and device) and reused while all of these
are the same; any change means the file is hashed again. ``ctime`` changes on
every write and cannot be set back by a program, so a file rewritten with its
old mtime restored is still seen as changed. A file modified within the last
:data:`RACY_SECONDS` is hashed but not remembered, since a second write within
one timestamp tick would not show in its stat (git's "racily clean" case).

The entries live in one SQLite database under the gypsum cache folder
(``md5/files.sqlite3``), in WAL mode, so concurrent processes and threads read
and write it safely; anything wrong with it (a read-only cache, a locked or
corrupt database) only means files are hashed again.

Example:
    >>> import hashlib, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_text("abc")
    >>> file_md5(str(path), cache_dir=tempfile.mkdtemp())
    (3, '900150983cd24fb0d6963f7d28e17f72')
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
import threading
import time

from .cache import resolve_cache

#: Bytes read at a time when hashing.
CHUNK = 1 << 20
#: A file modified this recently is not remembered (a same-tick rewrite would not change its stat).
RACY_SECONDS = 1.0
#: Seconds a connection waits for another writer before giving up (the call then just hashes).
BUSY_TIMEOUT = 5.0
#: Where the database lives inside the gypsum cache folder.
DATABASE = os.path.join("md5", "files.sqlite3")

_SCHEMA = """CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, inode INTEGER, device INTEGER,
    md5 TEXT)"""

_local = threading.local()


def file_md5(path: str, cache_dir: str | None = None) -> tuple[int, str]:
    """Size and MD5 hex digest of the file at ``path`` (through symbolic links), reused while it is unchanged.

    Args:
        path: The file.
        cache_dir: The gypsum cache folder holding the database (default: :func:`cache_directory`).
    """
    info = os.stat(path)
    stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
    key = os.path.abspath(path)
    db = _database(cache_dir)
    if db is not None:
        try:
            row = db.execute(
                "SELECT size, mtime_ns, ctime_ns, inode, device, md5 FROM files WHERE path = ?", (key,)
            ).fetchone()
        except sqlite3.Error:
            row = None
        if row is not None and tuple(row[:5]) == stamp:
            return info.st_size, row[5]
    size, md5 = compute_md5(path)
    if db is not None and size == info.st_size and time.time_ns() - info.st_mtime_ns > RACY_SECONDS * 1e9:
        try:
            with db:
                db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", (key, *stamp, md5))
        except sqlite3.Error:
            pass  # another writer held the lock too long: hashed again next time
    return size, md5


def compute_md5(path: str) -> tuple[int, str]:
    """Size and MD5 hex digest of a file, read once in chunks (no cache).

    Example:
        >>> compute_md5(__file__)[1] == hashlib.md5(open(__file__, "rb").read()).hexdigest()
        True
    """
    digest, size = hashlib.md5(), 0
    # O_NONBLOCK: a FIFO swapped in after the caller's stat must not hang the open.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", path)
    with open(fd, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _database(cache_dir: str | None) -> sqlite3.Connection | None:
    """This thread's connection to the database of ``cache_dir``, or ``None`` if it cannot be opened.

    A database that is broken or cannot be written is given up for this
    thread; one that was only busy (another thread or process was creating
    it) is opened again on the next call.
    """
    path = os.path.join(resolve_cache(cache_dir), DATABASE)
    connections: dict[str, sqlite3.Connection | None] = _local.__dict__.setdefault("connections", {})
    if path not in connections:
        try:
            connections[path] = _open(path)
        except sqlite3.OperationalError:
            return None  # busy: this call hashes without the database
    return connections[path]


def _open(path: str) -> sqlite3.Connection | None:
    """A connection to the database at ``path`` (created if new), ``None`` if it is broken or unwritable.

    Raises:
        sqlite3.OperationalError: the database was locked while it was being set up (worth another try).
    """
    db = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a cache: a power cut may lose the last entries, never corrupt
        db.execute(_SCHEMA)
        return db
    except sqlite3.OperationalError as error:
        if db is not None:
            db.close()
        if "locked" in str(error) or "busy" in str(error):
            raise
        return None
    except (OSError, sqlite3.Error):
        if db is not None:
            db.close()
        return None
