"""The indexer against a live local gypsum server: fresh builds, log replay, the CLI and the offline loop."""

from __future__ import annotations

import time
from pathlib import Path

from gypsum_flows.index.build import IndexClass, build_fresh, update

from metadata_helpers import Registry, bioc_doc, table_snapshot

BIOC = IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")


def test_fresh_build_indexes_finished_public_versions(registry: Registry, tmp_path: Path) -> None:
    registry.create_project("proj")
    registry.upload("proj", "a", "v1", {"_bioconductor.json": bioc_doc("Mouse brain atlas"), "data.txt": b"x"})
    registry.upload("proj", "a", "v2", {"sub/_bioconductor.json": bioc_doc("Mouse brain atlas v2")})
    registry.upload("proj", "b", "v1", {"_bioconductor.json": bioc_doc("On probation")}, probation=True)
    report = build_fresh(registry.url, tmp_path / "out", [BIOC])
    assert report.errors == [] and report.versions == 2
    snap = table_snapshot(tmp_path / "out" / "bioconductor.sqlite3")
    assert [(v[0], v[1], v[2], v[3], v[5]) for v in snap["versions"]] == [
        ("proj", "a", "v1", "owner-user", 0), ("proj", "a", "v2", "owner-user", 1)]
    assert [p[3] for p in snap["paths"]] == ["_bioconductor.json", "sub/_bioconductor.json"]
