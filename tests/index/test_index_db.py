"""The index writer (section 8.4 of docs/gypsum-api.md): replacing, deleting, latest flags, and atomic writes inside batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from metadata_helpers import table_snapshot

from gypsum_flows._sqlite import connect
from gypsum_flows.index.db import IndexWriter, document_terms, upload_time

SUMMARY = {"upload_user_id": "me", "upload_finish": "2024-05-01T12:00:00Z"}


def counts(path: Path) -> dict[str, int]:
    conn = connect(path, read_only=True)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("versions", "paths", "links")}
    finally:
        conn.close()


@pytest.mark.parametrize("bulk", [False, True])
def test_replace_delete_and_latest(tmp_path: Path, bulk: bool) -> None:
    db = tmp_path / "i.sqlite3"
    with IndexWriter(db, bulk=bulk) as w:
        w.add_version("p", "a", "v1", True, SUMMARY, {"m.json": {"t": "one two"}, "x/m.json": {"t": "three"}})
        w.add_version("p", "a", "v2", True, SUMMARY, {"m.json": {"t": "two"}})
        w.add_version("p", "b", "v1", True, SUMMARY, {})
        w.add_version("q", "c", "v1", True, SUMMARY, {"m.json": {"t": "four"}})
        assert counts(db) == {"versions": 4, "paths": 4, "links": 5}
        w.add_version("p", "a", "v1", False, SUMMARY, {"m.json": {"t": "five"}})  # replaced, not duplicated
        assert counts(db) == {"versions": 4, "paths": 3, "links": 3}
        w.set_latest("p", "a", "v1")
        assert [v[2] + str(v[5]) for v in table_snapshot(db)["versions"] if v[1] == "a"] == ["v11", "v20"]
        w.delete_version("p", "a", "v1")
        assert counts(db) == {"versions": 3, "paths": 2, "links": 2}
        w.delete_asset("p", "b")
        w.delete_project("q")
        assert counts(db) == {"versions": 1, "paths": 1, "links": 1}
        w.delete_project("nothing-here")
    assert table_snapshot(db)["links"] == [("p", "a", "v2", "m.json", "t", "two")]


def test_a_failed_version_inside_a_batch_undoes_only_itself(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    with IndexWriter(db, bulk=True) as w:
        with w.batch():
            w.add_version("p", "a", "v1", True, SUMMARY, {"m.json": {"t": "kept"}})
            with pytest.raises(TypeError):  # a set is not JSON: fails after the version row was written
                w.add_version("p", "a", "v2", True, SUMMARY, {"m.json": {"t": "lost"}, "n.json": {"s": {1}}})
            w.add_version("p", "b", "v1", True, SUMMARY, {"m.json": {"t": "kept too"}})
    snap = table_snapshot(db)
    assert [(v[1], v[2], v[5]) for v in snap["versions"]] == [("a", "v1", 1), ("b", "v1", 1)]
    assert sorted(link[5] for link in snap["links"]) == ["kept", "kept", "too"]


def test_a_failed_batch_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "i.sqlite3"
    with IndexWriter(db) as w:
        w.add_version("p", "a", "v1", True, SUMMARY, {"m.json": {"t": "before"}})
    before = table_snapshot(db)
    with IndexWriter(db) as w, pytest.raises(RuntimeError), w.batch():
        w.delete_project("p")
        w.add_version("p", "z", "v1", True, SUMMARY, {"m.json": {"t": "after"}})
        raise RuntimeError("interrupted")
    assert table_snapshot(db) == before


def test_version_rows_need_a_finished_summary(tmp_path: Path) -> None:
    with IndexWriter(tmp_path / "i.sqlite3") as w:
        with pytest.raises(ValueError, match="upload_finish"):
            w.add_version("p", "a", "v1", True, {"upload_user_id": "me"}, {})
        with pytest.raises(ValueError, match="upload_user_id"):
            w.add_version("p", "a", "v1", True, {"upload_finish": "2024-01-01T00:00:00Z"}, {})
    assert (
        upload_time({"upload_finish": "2024-01-01T00:00:00"})
        == upload_time({"upload_finish": "2024-01-01T00:00:00.000Z"})
        == 1704067200.0
    )


def test_document_terms_follow_the_indexer() -> None:
    doc = {"a": {"b": ["X y", 1, None, True, {"c": "Z"}]}, "n": 5, "s": "Müller x", "list": [["deep"]]}
    assert sorted(set(document_terms(doc))) == [
        ("a.b", "x"),
        ("a.b", "y"),
        ("a.b.c", "z"),
        ("list", "deep"),
        ("s", "muller"),
        ("s", "x"),
    ]
