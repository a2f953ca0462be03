"""Metadata tasks in a flow: schema and index fetched from a local server, validation, text search."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import pytest
import yaml
from prefect import flow
from task_helpers import task_run_of
from testdata import REFERENCE_METADATA as DOCUMENT
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.client.metadata import shipped_schema_path
from gypsum_flows.errors import GypsumMetadataError
from gypsum_flows.index.build import IndexClass, build_fresh
from gypsum_flows.tasks import (
    define_text_query,
    fetch_metadata_database,
    fetch_metadata_schema,
    search_metadata_text,
    validate_metadata,
)


@pytest.fixture
def indexed_server(tmp_path):
    """A server of its own: one version with ``_bioconductor.json``, its index and a schema under /metadata/."""
    from gypsum_flows.server import serve_in_thread

    token = secrets.token_urlsafe(16)
    users = tmp_path / "users.yaml"
    users.write_text(yaml.safe_dump({"admins": ["meta-admin"], "users": [{"login": "meta-admin", "token": token}]}))
    metadata = tmp_path / "metadata"
    metadata.mkdir()
    shutil.copyfile(shipped_schema_path(), metadata / "bioconductor-v1.json")
    handle = serve_in_thread(tmp_path / "root", users, metadata_dir=metadata)
    client.create_project("meta", owners=["meta-admin"], url=handle.url, token=token)
    folder = write_files(tmp_path / "v1", {"_bioconductor.json": json.dumps(DOCUMENT).encode(), "x.rds": b"x"})
    client.upload_directory(str(folder), "meta", "empire", "v1", url=handle.url, token=token)
    build_fresh(handle.url, metadata, [IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")])
    yield handle
    handle.stop()


def test_metadata_tasks_fetch_validate_and_search(indexed_server, cache_dir, monkeypatch):
    # Only the environment names the metadata host: the block's gypsum URL must not be used for it.
    monkeypatch.setenv("GYPSUM_SCHEMA_URL", f"{indexed_server.url}/metadata/")
    credentials = GypsumCredentials(url=f"{indexed_server.url}/not-the-metadata-host", cache_dir=str(cache_dir))
    broken = {k: v for k, v in DOCUMENT.items() if k != "title"}

    @flow
    def find_vader() -> dict:
        schema = fetch_metadata_schema("bioconductor-v1.json", credentials=credentials)
        database = fetch_metadata_database(url=f"{indexed_server.url}/metadata/", credentials=credentials)
        clause = define_text_query("vader", field="maintainer_name") & define_text_query("luk%", partial=True)
        return {
            "schema": schema,
            "database": database,
            "valid": validate_metadata(DOCUMENT, schema, credentials=credentials),
            "invalid": validate_metadata(broken, schema, credentials=credentials, return_state=True),
            "hits": search_metadata_text(database, clause, include_metadata=False, credentials=credentials),
            "misses": search_metadata_text(database, ["vader", "yoda"], credentials=credentials),
        }

    out = find_vader()
    assert Path(out["schema"]) == cache_dir / "schemas" / "bioconductor-v1.json"
    assert Path(out["database"]) == cache_dir / "databases" / "bioconductor.sqlite3"
    assert out["valid"] is True
    error = out["invalid"].result(raise_on_failure=False)
    assert isinstance(error, GypsumMetadataError) and "title" in str(error)
    assert task_run_of(out["invalid"]).run_count == 1
    [hit] = out["hits"]
    assert (hit["project"], hit["asset"], hit["version"], hit["path"]) == ("meta", "empire", "v1", "_bioconductor.json")
    assert out["misses"] == []
    paths = [path for _, path in indexed_server.request_log]
    assert "/metadata/bioconductor-v1.json" in paths and "/metadata/bioconductor.sqlite3" in paths
    assert not any("not-the-metadata-host" in path for path in paths)
