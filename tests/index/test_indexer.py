"""The indexer against a live local gypsum server: fresh builds, log replay and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from metadata_helpers import MetadataServer, bioc_doc, table_snapshot
from polling import next_millisecond

from gypsum_flows.cli import main
from gypsum_flows.client.search import search_metadata_text
from gypsum_flows.errors import GypsumNotFoundError
from gypsum_flows.index.build import IndexClass, build_fresh, update

BIOC = IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")
OTHER = IndexClass.parse("_other.json,other.sqlite3")


def test_fresh_build_indexes_finished_public_versions(metadata_server: MetadataServer, tmp_path: Path) -> None:
    metadata_server.create_project("proj")
    metadata_server.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Mouse brain atlas"), "data.txt": b"x"})
    metadata_server.upload(
        "proj",
        "a",
        "v2",
        {"sub/_bioconductor.json": bioc_doc("Mouse brain atlas v2"), "_other.json": {"note": "Other class"}},
    )
    metadata_server.upload("proj", "b", "v1", {"_bioconductor.json": bioc_doc("On probation")}, probation=True)
    metadata_server.upload("proj", "c", "v1", {"readme.txt": b"no metadata"})
    out = tmp_path / "out"
    report = build_fresh(metadata_server.url, out, [BIOC, OTHER])
    assert report.errors == [] and report.versions == 3
    snap = table_snapshot(out / "bioconductor.sqlite3")
    assert [(v[0], v[1], v[2], v[3], v[5]) for v in snap["versions"]] == [
        ("proj", "a", "v1", "owner-user", 0),
        ("proj", "a", "v2", "owner-user", 1),
        ("proj", "c", "v1", "owner-user", 1),
    ]
    assert [p[3] for p in snap["paths"]] == ["_bioconductor.json", "sub/_bioconductor.json"]
    assert ("proj", "a", "v1", "_bioconductor.json", "sources.provider", "geo") in snap["links"]
    assert snap["user_version"] == 1001000
    other = table_snapshot(out / "other.sqlite3")
    assert [p[3] for p in other["paths"]] == ["_other.json"]
    stamp = int((out / "modified").read_text())
    assert abs(stamp - time.time() * 1000) < 60_000
    assert sorted(p.name for p in out.iterdir()) == ["bioconductor.sqlite3", "modified", "other.sqlite3"]


def test_links_are_read_from_their_final_target(metadata_server: MetadataServer, tmp_path: Path) -> None:
    metadata_server.create_project("proj")
    metadata_server.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Original Müller")})
    target = {"project": "proj", "asset": "a", "version": "v1", "path": "_bioconductor.json"}
    metadata_server.upload("proj", "b", "v1", {}, links={"x/_bioconductor.json": target})
    metadata_server.upload(
        "proj", "c", "v1", {}, links={"_bioconductor.json": {**target, "asset": "b", "path": "x/_bioconductor.json"}}
    )
    build_fresh(metadata_server.url, tmp_path, [BIOC])
    rows = search_metadata_text(tmp_path / "bioconductor.sqlite3", "muller")
    assert sorted((r["asset"], r["path"]) for r in rows) == [
        ("a", "_bioconductor.json"),
        ("b", "x/_bioconductor.json"),
        ("c", "_bioconductor.json"),
    ]
    assert all(r["metadata"]["title"] == "Original Müller" for r in rows)


def test_incremental_update_matches_a_fresh_build(metadata_server: MetadataServer, tmp_path: Path) -> None:
    for project in ("keep", "gone"):
        metadata_server.create_project(project)
    metadata_server.upload("keep", "a", "v1", {"_bioconductor.json": bioc_doc("Alpha one")})
    metadata_server.upload("keep", "a", "v2", {"_bioconductor.json": bioc_doc("Alpha two")})
    metadata_server.upload("keep", "b", "v1", {"_bioconductor.json": bioc_doc("Beta one")})
    metadata_server.upload("keep", "p", "v1", {"_bioconductor.json": bioc_doc("Probation one")})
    metadata_server.upload("gone", "g", "v1", {"_bioconductor.json": bioc_doc("Gone one")})
    incremental = tmp_path / "incremental"
    build_fresh(metadata_server.url, incremental, [BIOC])
    before = table_snapshot(incremental / "bioconductor.sqlite3")
    built_at = int((incremental / "modified").read_text())
    next_millisecond()

    actions = [
        lambda: metadata_server.upload(
            "keep",
            "a",
            "v3",
            {"_bioconductor.json": bioc_doc("Alpha three"), "deep/er/_bioconductor.json": bioc_doc("Alpha deep")},
        ),
        lambda: metadata_server.remove("keep", "a", "v3"),  # deletes the latest: v2 becomes latest again
        lambda: metadata_server.remove("keep", "a", "v1"),  # deletes a non-latest version
        lambda: metadata_server.upload("keep", "c", "v1", {"_bioconductor.json": bioc_doc("Gamma one")}),
        lambda: metadata_server.remove("keep", "c"),  # delete-asset
        lambda: metadata_server.remove("gone"),  # delete-project
        lambda: metadata_server.upload(
            "keep", "p", "v2", {"_bioconductor.json": bioc_doc("Probation two")}, probation=True
        ),
        lambda: metadata_server.upload(
            "keep", "p", "v3", {"_bioconductor.json": bioc_doc("Probation three")}, probation=True
        ),
        lambda: metadata_server.approve("keep", "p", "v3"),  # approved first: latest
        lambda: metadata_server.approve("keep", "p", "v2"),  # approved later but older: not latest
        lambda: metadata_server.upload("keep", "b", "v2", {"_bioconductor.json": bioc_doc("Beta two")}),
    ]
    for action in actions:
        action()
        next_millisecond()

    report = update(metadata_server.url, incremental, [BIOC])
    assert report.errors == [] and report.logs == 9
    assert report.modified > built_at
    fresh = tmp_path / "fresh"
    build_fresh(metadata_server.url, fresh, [BIOC])
    after = table_snapshot(incremental / "bioconductor.sqlite3")
    assert after == table_snapshot(fresh / "bioconductor.sqlite3")
    assert after != before
    assert [(v[1], v[2], v[5]) for v in after["versions"]] == [
        ("a", "v2", 1),
        ("b", "v1", 0),
        ("b", "v2", 1),
        ("p", "v1", 0),
        ("p", "v2", 0),
        ("p", "v3", 1),
    ]

    # Replaying the same logs again changes nothing; a second update with no new logs keeps the stamp.
    stamp = (incremental / "modified").read_text()
    (incremental / "modified").write_text(str(int(stamp) - 60_000))
    assert update(metadata_server.url, incremental, [BIOC]).errors == []
    assert table_snapshot(incremental / "bioconductor.sqlite3") == after
    again = update(metadata_server.url, incremental, [BIOC])
    assert again.logs == 0 and (incremental / "modified").read_text() == stamp
    assert sorted(p.name for p in incremental.iterdir()) == ["bioconductor.sqlite3", "modified"]


def test_a_failed_build_leaves_the_previous_one(metadata_server: MetadataServer, static_server, tmp_path: Path) -> None:
    metadata_server.create_project("proj")
    metadata_server.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Survivor")})
    out = tmp_path / "out"
    build_fresh(metadata_server.url, out, [BIOC])
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    # A server that answers 404 to everything: both builds fail before touching the files.
    with pytest.raises(GypsumNotFoundError):
        build_fresh(static_server.url, out, [BIOC])
    with pytest.raises(GypsumNotFoundError):
        update(static_server.url, out, [BIOC])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files


def test_add_then_delete_before_the_update(metadata_server: MetadataServer, tmp_path: Path) -> None:
    metadata_server.create_project("proj")
    metadata_server.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Stays")})
    build_fresh(metadata_server.url, tmp_path, [BIOC])
    next_millisecond()
    metadata_server.upload("proj", "a", "v2", {"_bioconductor.json": bioc_doc("Short lived")})
    next_millisecond()
    metadata_server.remove("proj", "a", "v2")
    report = update(metadata_server.url, tmp_path, [BIOC])
    assert report.errors == [] and report.logs == 2
    rows = search_metadata_text(tmp_path / "bioconductor.sqlite3", "stays")
    assert [r["version"] for r in rows] == ["v1"]
    assert search_metadata_text(tmp_path / "bioconductor.sqlite3", "lived", latest=False) == []


def test_update_needs_an_earlier_build(metadata_server: MetadataServer, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run a fresh build first"):
        update(metadata_server.url, tmp_path, [BIOC])
    (tmp_path / "modified").write_text("0")
    with pytest.raises(FileNotFoundError, match="no database 'bioconductor.sqlite3'"):
        update(metadata_server.url, tmp_path, [BIOC])


@pytest.mark.parametrize("spec", ["_bioconductor.json", ",x.sqlite3", "a/b.json,x.sqlite3", "a.json,"])
def test_bad_class_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="BASENAME,DBNAME"):
        IndexClass.parse(spec)


def test_cli_fresh_then_update(metadata_server: MetadataServer, tmp_path: Path, capsys) -> None:
    metadata_server.create_project("proj")
    metadata_server.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Command line")})
    out = str(tmp_path / "cli")
    assert main(["index", "--url", metadata_server.url, "--dir", out]) == 0
    assert "fresh build: indexed 1 versions" in capsys.readouterr().out
    next_millisecond()
    metadata_server.upload("proj", "a", "v2", {"_bioconductor.json": bioc_doc("Command line two")})
    assert (
        main(
            [
                "index",
                "--url",
                metadata_server.url,
                "--dir",
                out,
                "--class",
                "_bioconductor.json,bioconductor.sqlite3",
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "update" and report["logs"] == 1 and report["errors"] == []
    assert main(["index", "--url", metadata_server.url, "--dir", out, "--class", "nonsense"]) == 1
    assert "BASENAME,DBNAME" in capsys.readouterr().err
