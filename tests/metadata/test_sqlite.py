"""JSONB works whatever SQLite the interpreter bundles (section 8.2)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gypsum_flows._sqlite import JSONB_MIN_VERSION, connect, sqlite_module
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
        ("p", "me", 1714566896.789, 1)]
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
