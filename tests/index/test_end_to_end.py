"""The whole loop offline: validate, upload, index, serve the index, fetch it, find by text."""

from __future__ import annotations

from pathlib import Path

from metadata_helpers import MetadataServer, bioc_doc
from polling import next_millisecond

from gypsum_flows.client import metadata
from gypsum_flows.client.metadata import fetch_metadata_database, shipped_schema_path, validate_metadata
from gypsum_flows.client.search import search_metadata_text, translate_text_query
from gypsum_flows.index.build import IndexClass, build_fresh, update

BIOC = IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")


def test_upload_index_fetch_search(metadata_server: MetadataServer, tmp_path: Path, monkeypatch) -> None:
    docs = {
        ("atlas", "v1"): bioc_doc("Mouse brain atlas", "Single-cell RNA-seq of the Müller glia"),
        ("atlas", "v2"): bioc_doc("Mouse brain atlas", "Revised: adds the F-35 Lightning II lab's samples"),
        ("lungs", "v1"): bioc_doc("Human lung", "Aaron's every人 cohort", genome=["GRCh38"]),
    }
    metadata_server.create_project("e2e")
    for (asset, version), doc in docs.items():
        assert validate_metadata(doc, shipped_schema_path())
        metadata_server.upload("e2e", asset, version, {"_bioconductor.json": doc, "counts.csv": b"1,2\n"})
    assert build_fresh(metadata_server.url, metadata_server.metadata_dir, [BIOC]).errors == []

    cache = tmp_path / "cache"
    base = metadata_server.url + "/metadata/"
    db = fetch_metadata_database(cache_dir=str(cache), url=base)
    assert db == str(cache / "databases" / "bioconductor.sqlite3")

    def hits(query, **kwargs) -> list[tuple[str, str]]:
        return sorted((r["asset"], r["version"]) for r in search_metadata_text(db, query, **kwargs))

    assert hits("muller", latest=False) == [("atlas", "v1")]
    assert hits("mouse brain") == [("atlas", "v2")]
    assert hits("f-35 lightning") == [("atlas", "v2")]
    assert hits("every人") == [("lungs", "v1")]
    assert hits(translate_text_query("title:human OR title:mouse AND NOT revised")) == [("lungs", "v1")]
    assert hits(translate_text_query("title:human OR title:mouse AND NOT lung")) == [("atlas", "v2"), ("lungs", "v1")]
    assert hits(translate_text_query("GRCh% OR aaron")) == [("lungs", "v1")]
    [row] = search_metadata_text(db, "aaron")
    assert row["metadata"] == docs[("lungs", "v1")] and row["user"] == "owner-user"

    # A new version, an incremental index update, and the next check (an hour later) fetches it.
    next_millisecond()  # log names are stamped in milliseconds
    metadata_server.upload("e2e", "lungs", "v2", {"_bioconductor.json": bioc_doc("Human lung, zebrafish control")})
    assert update(metadata_server.url, metadata_server.metadata_dir, [BIOC]).logs == 1
    assert hits("zebrafish") == []
    monkeypatch.setattr(metadata, "CHECK_INTERVAL", 0.0)
    assert fetch_metadata_database(cache_dir=str(cache), url=base) == db
    assert hits("zebrafish") == [("lungs", "v2")]
    assert hits("aaron", latest=False) == [("lungs", "v1")]
