"""JSONB works whatever SQLite the interpreter bundles (section 8.2 of docs/gypsum-api.md)."""

from __future__ import annotations

import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gypsum_flows._sqlite import JSONB_MIN_VERSION, connect, release_reader, sqlite_module
from gypsum_flows.client.search import search_metadata_text
from gypsum_flows.index.db import IndexWriter

SUMMARY = {"upload_user_id": "me", "upload_finish": "2024-05-01T12:34:56.789Z"}
DOC = {"title": "Müller's mouse", "nested": {"n": 1, "ok": True, "list": ["a", None]}}


def test_shim_picks_a_sqlite_with_jsonb() -> None:
    module = sqlite_module()
    if sqlite3.sqlite_version_info < JSONB_MIN_VERSION:
        # This machine's case (3.40): the standard library cannot even parse jsonb().
        with pytest.raises(sqlite3.OperationalError):
            sqlite3.connect(":memory:").execute("SELECT jsonb('{}')")
        assert module is not sqlite3
    else:
        assert module is sqlite3
    assert tuple(int(x) for x in module.sqlite_version.split(".")) >= JSONB_MIN_VERSION
    conn = connect(":memory:")
    assert conn.execute("SELECT json_extract(jsonb('{\"a\": [1, 2]}'), '$.a[1]')").fetchone() == (2,)
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_index_stores_jsonb_and_reads_it_back(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite3"
    with IndexWriter(db) as writer:
        writer.add_version("p", "a", "v1", True, SUMMARY, {"_bioconductor.json": DOC})
    conn = connect(db, read_only=True)
    blob, text = conn.execute("SELECT metadata, json_extract(metadata, '$') FROM paths").fetchone()
    assert isinstance(blob, bytes) and not blob.startswith(b"{")  # binary JSONB, not JSON text
    assert json.loads(text) == DOC
    # The plain standard library still reads everything but the JSONB column of the same file.
    plain = sqlite3.connect(db)
    assert plain.execute("SELECT project, user, time, latest FROM versions").fetchall() == [
        ("p", "me", 1714566896.789, 1)
    ]
    assert [r["metadata"] for r in search_metadata_text(db, "muller")] == [DOC]


def test_read_only_connections(tmp_path: Path) -> None:
    odd = tmp_path / "odd name %3f?#.sqlite3"
    with IndexWriter(odd) as writer:
        writer.add_version("p", "a", "v1", True, SUMMARY, {})
    conn = connect(odd, read_only=True)
    assert conn.execute("SELECT count(*) FROM versions").fetchone() == (1,)
    with pytest.raises(Exception, match="readonly"):
        conn.execute("DELETE FROM versions")
    with pytest.raises(FileNotFoundError, match="missing.sqlite3"):
        connect(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_shared_reader_follows_replaced_and_changed_files(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    with IndexWriter(db) as writer:
        writer.add_version("p", "a", "v1", True, SUMMARY, {"m.json": {"t": "first"}})
    assert [r["version"] for r in search_metadata_text(db, "first")] == ["v1"]
    # Changed in place by another connection.
    with IndexWriter(db) as writer:
        writer.add_version("p", "a", "v2", True, SUMMARY, {"m.json": {"t": "second"}})
    assert [r["version"] for r in search_metadata_text(db, "second")] == ["v2"]
    # Replaced by a new file, as fetch_metadata_database and the indexer do.
    other = tmp_path / "other.sqlite3"
    with IndexWriter(other) as writer:
        writer.add_version("q", "b", "v9", True, SUMMARY, {"m.json": {"t": "third"}})
    os.replace(other, db)
    assert [r["version"] for r in search_metadata_text(db, "third")] == ["v9"]
    assert search_metadata_text(db, "first") == []
    release_reader(db)
    os.remove(db)
    with pytest.raises(FileNotFoundError, match="no SQLite database"):
        search_metadata_text(db, "third")


def test_shared_reader_serves_threads(tmp_path: Path) -> None:
    db = tmp_path / "threads.sqlite3"
    with IndexWriter(db) as writer, writer.batch():
        for i in range(40):
            writer.add_version("p", f"a{i}", "v1", True, SUMMARY, {"m.json": {"t": f"word{i} common"}})
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: search_metadata_text(db, f"word{i}")[0]["asset"], range(40)))
        counts = list(pool.map(lambda _: len(search_metadata_text(db, "common")), range(16)))
    assert results == [f"a{i}" for i in range(40)] and counts == [40] * 16
