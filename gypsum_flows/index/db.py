"""The metadata index's SQLite file: schema and writes (section 8.2-8.4 of docs/gypsum-api.md).

Documents are stored as JSONB and their string values as (field, token)
links, tokenised by :func:`gypsum_flows.tokens.split_into_tokens` so search
and index agree. Every public method is one transaction.

Example:
    >>> import tempfile, pathlib
    >>> db = pathlib.Path(tempfile.mkdtemp()) / "demo.sqlite3"
    >>> with IndexWriter(db) as w:
    ...     w.add_version("p", "a", "v1", True, {"upload_user_id": "me", "upload_finish": "2024-01-01T00:00:00Z"},
    ...                   {"_bioconductor.json": {"title": "F-35 Lightning II"}})
    >>> connect(db).execute("SELECT token FROM tokens ORDER BY token").fetchall()
    [('f-35',), ('ii',), ('lightning',)]
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from .._sqlite import connect
from ..tokens import split_into_tokens

#: ``PRAGMA user_version`` of the format written here: gypsum-metadata-index 1.1.0.
USER_VERSION = 1001000

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions(vid INTEGER PRIMARY KEY, project TEXT NOT NULL, asset TEXT NOT NULL,
    version TEXT NOT NULL, user TEXT NOT NULL, time REAL NOT NULL, latest INTEGER NOT NULL,
    UNIQUE(project, asset, version));
CREATE INDEX IF NOT EXISTS index_versions1 ON versions(project, asset, version);
CREATE INDEX IF NOT EXISTS index_versions2 ON versions(latest, project, asset);
CREATE TABLE IF NOT EXISTS paths(pid INTEGER PRIMARY KEY, vid INTEGER NOT NULL, path TEXT NOT NULL,
    metadata BLOB NOT NULL, FOREIGN KEY(vid) REFERENCES versions(vid) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS index_paths ON paths(path);
CREATE TABLE IF NOT EXISTS tokens(tid INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS index_tokens ON tokens(token);
CREATE TABLE IF NOT EXISTS fields(fid INTEGER PRIMARY KEY, field TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS index_fields ON fields(field);
CREATE TABLE IF NOT EXISTS links(pid INTEGER NOT NULL, fid INTEGER NOT NULL, tid INTEGER NOT NULL,
    UNIQUE(pid, fid, tid) ON CONFLICT IGNORE, FOREIGN KEY(pid) REFERENCES paths(pid) ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS index_links ON links(tid, pid, fid);
"""
# index_links is (tid, pid, fid) where the reference has (tid, fid): a token's documents then come from the
# index alone, and "does document X have token Y" is one seek, which makes searches several times faster.
# Readers see the same tables.


def upload_time(summary: Mapping[str, Any]) -> float:
    """``upload_finish`` of a version summary in Unix seconds (``Date.parse`` semantics: no zone is UTC).

    Raises:
        ValueError: The summary has no parseable ``upload_finish`` (an unfinished upload).

    Example:
        >>> upload_time({"upload_finish": "2024-05-01T12:34:56.789Z"})
        1714566896.789
    """
    finish = summary.get("upload_finish")
    if not isinstance(finish, str):
        raise ValueError("version summary has no 'upload_finish' (upload not finished?)")
    stamp = datetime.fromisoformat(finish.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def document_terms(document: Any, prefix: str | None = None) -> Iterator[tuple[str, str]]:
    """Every (field, token) of a document's string values; array items take the array's field.

    Example:
        >>> sorted(set(document_terms({"a": {"b": ["X y", 1]}, "c": "x"})))
        [('a.b', 'x'), ('a.b', 'y'), ('c', 'x')]
    """
    if isinstance(document, list):
        for item in document:
            yield from document_terms(item, prefix)
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from document_terms(value, key if prefix is None else f"{prefix}.{key}")
    elif isinstance(document, str) and prefix is not None:
        for token in split_into_tokens(document):
            yield prefix, token


class IndexWriter:
    """Writes one metadata index file; creates it with the schema if needed.

    Each public method is atomic: its own transaction, or a savepoint inside
    an open :meth:`batch`.

    Args:
        path: The SQLite file.
        bulk: Trade crash safety for speed, for a fresh build into a file that is
            discarded on failure.
    """

    def __init__(self, path: str | os.PathLike[str], *, bulk: bool = False) -> None:
        self.conn = connect(path)
        self.conn.isolation_level = None  # transactions are managed here, explicitly
        if bulk:
            # Foreign-key checks double the cost of a links row; the writes here keep the keys valid.
            self.conn.execute("PRAGMA foreign_keys = OFF")
            self.conn.execute("PRAGMA synchronous = OFF")
            self.conn.execute("PRAGMA journal_mode = MEMORY")
        self.conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: the links index is hit at random
        with self._atomic():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version = {USER_VERSION}")
        # tokens and fields are never pruned, so their IDs stay valid while nothing is rolled back.
        self._ids: dict[str, dict[str, int]] = {"tokens": {}, "fields": {}}

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (an open batch is rolled back)."""
        self.conn.close()

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """A transaction, or a savepoint when a batch is open."""
        nested = self.conn.in_transaction
        self.conn.execute("SAVEPOINT one" if nested else "BEGIN")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO one" if nested else "ROLLBACK")
            if nested:
                self.conn.execute("RELEASE one")
            # The rollback may have dropped tokens or fields that the ID cache still holds.
            self._ids = {"tokens": {}, "fields": {}}
            raise
        self.conn.execute("RELEASE one" if nested else "COMMIT")

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction (much faster); a failed write still undoes only itself.

        Example:
            >>> with IndexWriter(":memory:") as w, w.batch():
            ...     w.delete_project("p")
        """
        with self._atomic():
            yield

    def _id(self, table: str, value: str) -> int:
        """The ID of ``value`` in ``tokens`` or ``fields``, inserting it if new."""
        cache = self._ids[table]
        found = cache.get(value)
        if found is None:
            column, key = ("token", "tid") if table == "tokens" else ("field", "fid")
            row = self.conn.execute(f"SELECT {key} FROM {table} WHERE {column} = ?", (value,)).fetchone()
            if row is None:
                row = self.conn.execute(
                    f"INSERT INTO {table}({column}) VALUES (?) RETURNING {key}", (value,)
                ).fetchone()
            found = cache[value] = row[0]
        return found

    def add_version(
        self,
        project: str,
        asset: str,
        version: str,
        latest: bool,
        summary: Mapping[str, Any],
        documents: Mapping[str, Any],
    ) -> None:
        """Replace (project, asset, version) with its documents, keyed by path in the version.

        The version row is written even without documents; when ``latest``,
        the asset's other versions lose their latest flag.
        """
        time = upload_time(summary)
        user = summary.get("upload_user_id")
        if not isinstance(user, str):
            raise ValueError(f"summary of {project}/{asset}/{version} has no 'upload_user_id'")
        with self._atomic():
            self._delete("project = ? AND asset = ? AND version = ?", (project, asset, version))
            if latest:
                self.conn.execute("UPDATE versions SET latest = 0 WHERE project = ? AND asset = ?", (project, asset))
            vid = self.conn.execute(
                "INSERT INTO versions(project, asset, version, user, time, latest) VALUES (?, ?, ?, ?, ?, ?)",
                (project, asset, version, user, time, int(bool(latest))),
            ).lastrowid
            for path, document in documents.items():
                pid = self.conn.execute(
                    "INSERT INTO paths(vid, path, metadata) VALUES (?, ?, jsonb(?))", (vid, path, json.dumps(document))
                ).lastrowid
                terms = set(document_terms(document))
                links = [(pid, self._id("fields", f), self._id("tokens", t)) for f, t in terms]
                self.conn.executemany("INSERT INTO links(pid, fid, tid) VALUES (?, ?, ?)", links)

    def _delete(self, where: str, params: tuple[str, ...]) -> None:
        # Explicit rather than through the foreign keys' cascade, which bulk mode turns off.
        vids = [row[0] for row in self.conn.execute(f"SELECT vid FROM versions WHERE {where}", params)]
        if not vids:
            return  # the common case when adding: skip the scan of paths (not indexed by vid)
        marks = ",".join("?" * len(vids))
        self.conn.execute(f"DELETE FROM links WHERE pid IN (SELECT pid FROM paths WHERE vid IN ({marks}))", vids)
        self.conn.execute(f"DELETE FROM paths WHERE vid IN ({marks})", vids)
        self.conn.execute(f"DELETE FROM versions WHERE vid IN ({marks})", vids)

    def delete_version(self, project: str, asset: str, version: str) -> None:
        """Remove one version and its documents."""
        with self._atomic():
            self._delete("project = ? AND asset = ? AND version = ?", (project, asset, version))

    def delete_asset(self, project: str, asset: str) -> None:
        """Remove every version of an asset."""
        with self._atomic():
            self._delete("project = ? AND asset = ?", (project, asset))

    def delete_project(self, project: str) -> None:
        """Remove every version of a project."""
        with self._atomic():
            self._delete("project = ?", (project,))

    def set_latest(self, project: str, asset: str, version: str) -> None:
        """Mark ``version`` as the asset's only latest version."""
        with self._atomic():
            self.conn.execute(
                "UPDATE versions SET latest = (version = ?) WHERE project = ? AND asset = ?", (version, project, asset)
            )
