"""Text search on hand-built indexes (section 7 of docs/gypsum-api.md): every clause combination, latest, metadata, R's extras."""

from __future__ import annotations

import json
from pathlib import Path

import gypsum_client
import pytest

from gypsum_flows._sqlite import connect
from gypsum_flows.client.search import (
    GypsumSearchClause,
    define_text_query,
    gsc,
    search_metadata_text,
    search_metadata_text_filter,
    translate_text_query,
)
from gypsum_flows.index.db import SCHEMA

T = define_text_query

#: (project, asset, version, latest, user, time, path, document, {field: [tokens]}) written by hand, as the
#: reference indexer would store them.
ROWS = [
    (
        "P1",
        "A1",
        "v1",
        0,
        "alice",
        100.0,
        "a.json",
        {"title": "Mouse brain atlas", "species": "mouse"},
        {"title": ["mouse", "brain", "atlas"], "species": ["mouse"]},
    ),
    (
        "P1",
        "A1",
        "v2",
        1,
        "alice",
        200.0,
        "a.json",
        {"title": "Mouse brain atlas", "description": "Updated lung data"},
        {"title": ["mouse", "brain", "atlas"], "description": ["updated", "lung", "data"]},
    ),
    (
        "P1",
        "A2",
        "v1",
        1,
        "bob",
        300.0,
        "x/b.json",
        {"title": "Human lung", "authors": ["Müller", "Aaron's"]},
        {"title": ["human", "lung"], "authors": ["muller", "aaron", "s"]},
    ),
    (
        "P2",
        "A3",
        "v1",
        1,
        "carol",
        400.0,
        "c.json",
        {"title": "Fly wing", "description": "brain-derived cells every人", "sources": [{"id": "GSE1"}]},
        {"title": ["fly", "wing"], "description": ["brain-derived", "cells", "every人"], "sources.id": ["gse1"]},
    ),
]
ALL_LATEST = {"P1/A1/v2", "P1/A2/v1", "P2/A3/v1"}


def build(path: Path, user_version: int = 1001000) -> Path:
    conn = connect(path)
    with conn:
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version = {user_version}")
        for project, asset, version, latest, user, time, rel, doc, terms in ROWS:
            vid = conn.execute(
                "INSERT INTO versions(project, asset, version, user, time, latest) VALUES (?,?,?,?,?,?)",
                (project, asset, version, user, time, latest),
            ).lastrowid
            pid = conn.execute(
                "INSERT INTO paths(vid, path, metadata) VALUES (?, ?, jsonb(?))", (vid, rel, json.dumps(doc))
            ).lastrowid
            for field, tokens in terms.items():
                conn.execute("INSERT OR IGNORE INTO fields(field) VALUES (?)", (field,))
                for token in tokens:
                    conn.execute("INSERT OR IGNORE INTO tokens(token) VALUES (?)", (token,))
                    conn.execute(
                        "INSERT INTO links(pid, fid, tid) SELECT ?, fid, tid FROM fields, tokens "
                        "WHERE field = ? AND token = ?",
                        (pid, field, token),
                    )
    conn.close()
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("search") / "hand.sqlite3")


def found(db: Path, query, latest: bool = True) -> set[str]:
    return {
        f"{r['project']}/{r['asset']}/{r['version']}"
        for r in search_metadata_text(db, query, latest=latest, include_metadata=False)
    }


CASES = [
    ("one word", "mouse", {"P1/A1/v2"}),
    ("case and diacritics folded like the indexer", "MÜLLER", {"P1/A2/v1"}),
    ("CJK stays in the token", "every人", {"P2/A3/v1"}),
    ("words of one string are ANDed", "brain atlas", {"P1/A1/v2"}),
    ("list is AND", ["lung", "updated"], {"P1/A1/v2"}),
    ("AND across fields", T("brain") & T("lung"), {"P1/A1/v2"}),
    ("OR", T("brain") | T("lung"), {"P1/A1/v2", "P1/A2/v1"}),
    ("dash kept: brain-derived is its own token", T("brain-derived"), {"P2/A3/v1"}),
    ("NOT", ~T("mouse"), {"P1/A2/v1", "P2/A3/v1"}),
    ("NOT of OR", ~(T("mouse") | T("fly")), {"P1/A2/v1"}),
    ("field", T("lung", field="title"), {"P1/A2/v1"}),
    ("field of an array of objects", T("GSE1", field="sources.id"), {"P2/A3/v1"}),
    ("field inside OR", T("lung", field="title") | T("fly"), {"P1/A2/v1", "P2/A3/v1"}),
    ("two fields inside OR", T("lung", field="title") | T("lung", field="description"), {"P1/A1/v2", "P1/A2/v1"}),
    ("field with several words", T("human lung", field="title"), {"P1/A2/v1"}),
    ("field does not leak", T("lung", field="authors"), set()),
    ("OR of non-text clauses", (T("mouse") & T("brain")) | (T("fly") & T("wing")), {"P1/A1/v2", "P2/A3/v1"}),
    ("OR mixing text and NOT", T("fly") | ~T("lung"), {"P2/A3/v1"}),
    ("partial", T("bra%", partial=True), {"P1/A1/v2", "P2/A3/v1"}),
    ("partial with field", T("%un%", field="title", partial=True), {"P1/A2/v1"}),
    ("partial single-char wildcard", T("lun_", partial=True), {"P1/A1/v2", "P1/A2/v1"}),
    ("no partial: % is a separator", T("bra%"), set()),
    ("empty query matches everything", "  !! ", ALL_LATEST),
    ("empty child is dropped", T("mouse") & T("..."), {"P1/A1/v2"}),
    ("project", gsc(project="P2"), {"P2/A3/v1"}),
    ("asset LIKE", gsc(asset="A_", partial=True) & ~gsc(asset="A1"), {"P1/A2/v1", "P2/A3/v1"}),
    ("path", gsc(path="x/%", partial=True), {"P1/A2/v1"}),
    ("user", gsc(user="alice") | gsc(user="carol"), {"P1/A1/v2", "P2/A3/v1"}),
    ("time after", gsc(time=250), {"P1/A2/v1", "P2/A3/v1"}),
    ("time at or before", gsc(time=300, after=False), {"P1/A1/v2", "P1/A2/v1"}),
    ("text and column", gsc("lung") & gsc(version="v1"), {"P1/A2/v1"}),
    ("quotes are data, not SQL", "O'Brien'); DROP TABLE tokens; --", set()),
]


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_search_latest(db: Path, query, expected: set[str]) -> None:
    assert found(db, query) == expected


@pytest.mark.parametrize(("query", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_public_filter_gives_the_same_results(db: Path, query, expected: set[str]) -> None:
    """search_metadata_text orders ANDs by token frequency; the database-free filter intersects instead."""
    where = search_metadata_text_filter(query)
    sql = (
        "SELECT versions.project, versions.asset, versions.version FROM paths "
        "LEFT JOIN versions ON paths.vid = versions.vid WHERE " + " AND ".join(where["where"] + ["latest = 1"])
    )
    conn = connect(db, read_only=True)
    try:
        assert {"/".join(row) for row in conn.execute(sql, where["parameters"])} == expected
    finally:
        conn.close()


def test_all_versions(db: Path) -> None:
    assert found(db, "mouse", latest=False) == {"P1/A1/v1", "P1/A1/v2"}
    assert found(db, gsc(version="v1"), latest=False) == {"P1/A1/v1", "P1/A2/v1", "P2/A3/v1"}
    rows = search_metadata_text(db, "atlas", latest=False, include_metadata=False)
    assert sorted((r["version"], r["latest"]) for r in rows) == [("v1", False), ("v2", True)]


def test_result_shape_with_and_without_metadata(db: Path) -> None:
    [row] = search_metadata_text(db, "human")
    assert row == {
        "project": "P1",
        "asset": "A2",
        "version": "v1",
        "path": "x/b.json",
        "metadata": ROWS[2][7],
        "user": "bob",
        "time": 300.0,
    }
    [row] = search_metadata_text(db, "human", include_metadata=False, latest=False)
    assert row == {
        "project": "P1",
        "asset": "A2",
        "version": "v1",
        "path": "x/b.json",
        "latest": True,
        "user": "bob",
        "time": 300.0,
    }


def test_format_1_0_has_no_user_or_time(tmp_path: Path) -> None:
    old = build(tmp_path / "old.sqlite3", user_version=0)
    [row] = search_metadata_text(old, "human", include_metadata=False)
    assert set(row) == {"project", "asset", "version", "path"}


@pytest.mark.parametrize(
    "query",
    [
        "mouse",
        ["brain", "atlas"],
        T("mouse") | T("fly"),
        ~T("mouse"),
        T("lung", field="title"),
        T("bra%", partial=True),
        T("mouse") & ~T("lung"),
    ],
)
def test_agrees_with_gypsum_client_where_it_is_right(db: Path, query) -> None:
    """The reference client (ASCII tokens, no OR bugs hit) finds the same documents, all versions."""
    ours = found(db, query, latest=False)
    theirs = {
        f"{r['project']}/{r['asset']}/{r['version']}"
        for r in gypsum_client.search_metadata_text(str(db), query, latest=False, include_metadata=False)
    }
    assert ours == theirs and ours


def test_filter_binds_every_value() -> None:
    where = search_metadata_text_filter(T("lung", field="title") | gsc(user="x'; --") | gsc(time=5.0))
    assert where["parameters"] == {"p0": "lung", "p1": "title", "p2": "x'; --", "p3": 5.0}
    assert "lung" not in where["where"][0] and "x'" not in where["where"][0]


def test_bad_queries() -> None:
    with pytest.raises(ValueError, match="at least 1 element"):
        search_metadata_text_filter([])
    with pytest.raises(ValueError, match="unknown search clause type 'xor'"):
        search_metadata_text_filter(GypsumSearchClause(type="xor"))
    with pytest.raises(ValueError, match="exactly one of"):
        gsc("a", project="b")
    with pytest.raises(ValueError, match="exactly one of"):
        gsc()
    with pytest.raises(TypeError, match="got int"):
        search_metadata_text_filter(5)


def test_operators_build_the_reference_tree() -> None:
    a, b = T("a"), T("b")
    assert (a & b) == GypsumSearchClause(type="and", children=[a, b])
    assert (a | b).type == "or" and (~a).child is a


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(mouse OR fly) AND NOT wing", {"P1/A1/v2"}),
        ("mouse OR fly wing", {"P1/A1/v2", "P2/A3/v1"}),  # AND binds tighter than OR
        ("brain atlas OR human", {"P1/A1/v2", "P1/A2/v1"}),
        ("title: lung", {"P1/A2/v1"}),
        ("title:human lung", {"P1/A2/v1"}),
        ("title:lung OR description:lung", {"P1/A1/v2", "P1/A2/v1"}),
        ("bra%", {"P1/A1/v2", "P2/A3/v1"}),
        ("NOT NOT mouse", {"P1/A1/v2"}),
        ("NOT (mouse OR lung)", {"P2/A3/v1"}),
    ],
)
def test_translate_text_query(db: Path, text: str, expected: set[str]) -> None:
    assert found(db, translate_text_query(text)) == expected


def test_translate_text_query_structure() -> None:
    q = translate_text_query("(a OR b) AND NOT title:c%")
    assert q == GypsumSearchClause(
        type="and",
        children=[
            GypsumSearchClause(type="or", children=[T("a"), T("b")]),
            GypsumSearchClause(type="not", child=T("c%", field="title", partial=True)),
        ],
    )
    assert translate_text_query("x title:y z") == GypsumSearchClause(
        type="and",
        children=[T("x"), GypsumSearchClause(type="and", children=[T("y", field="title"), T("z", field="title")])],
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("(a OR b", "expected ')' at the end"),
        ("a OR", "expected a word at the end"),
        ("NOT", "at the end"),
        (") a", "at position 0"),
        ("a AND AND b", "at position 6"),
        ("title:", "expected words after 'title:'"),
        ("", ""),
    ],
)
def test_translate_text_query_errors(text: str, where: str) -> None:
    with pytest.raises(ValueError, match="invalid text query") as info:
        translate_text_query(text)
    assert where in str(info.value)


def test_r_named_aliases(db: Path) -> None:
    """R 1.2's ``searchMetadata`` and ``searchMetadataFilter``, whose column names can be aliases."""
    from gypsum_flows import client

    query = (gsc("brain") | gsc("lung")) & gsc(project="P1") & gsc(user="a%", partial=True) & gsc(time=150)
    assert client.search_metadata is client.search_metadata_text
    rows = client.search_metadata(db, query, latest=False, include_metadata=False)
    assert {f"{r['project']}/{r['asset']}/{r['version']}" for r in rows} == {"P1/A1/v2"}
    where = client.search_metadata_filter(
        query,
        pid_name="pp.pid",
        project_name="vv.project",
        asset_name="vv.asset",
        version_name="vv.version",
        path_name="pp.path",
        user_name="vv.user",
        time_name="vv.time",
    )
    sql = where["where"][0]
    assert "vv.project = :" in sql and "vv.user LIKE :" in sql and "vv.time > :" in sql and "pp.pid IN" in sql
    assert "versions." not in sql and "paths." not in sql
    conn = connect(db)
    try:
        found_rows = conn.execute(
            "SELECT vv.project, vv.asset, vv.version FROM paths AS pp LEFT JOIN versions AS vv ON pp.vid = vv.vid "
            f"WHERE {sql}",
            where["parameters"],
        ).fetchall()
    finally:
        conn.close()
    assert [tuple(r) for r in found_rows] == [("P1", "A1", "v2")]
    by_path = client.search_metadata_filter(gsc(path="x/%", partial=True), path_name="pp.path")
    assert by_path == {"where": ["pp.path LIKE :p0"], "parameters": {"p0": "x/%"}}
    assert client.search_metadata_filter(" ,, ") == {"where": [], "parameters": {}}
