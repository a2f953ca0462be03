"""The index-update flow: a fresh build on first run, then incremental replays of the server's logs."""

from __future__ import annotations

import json

import pytest
from flows_helpers import create_project, credentials, write_asset
from testdata import REFERENCE_METADATA

from gypsum_flows import client
from gypsum_flows.client import search_metadata_text
from gypsum_flows.flows import index_update


@pytest.fixture(autouse=True)
def _prefect(prefect_harness) -> None:
    """These tests run flows on the session's Prefect server."""


def test_first_run_builds_fresh_then_runs_replay_new_logs(fresh_gypsum_server, unique_name, tmp_path):
    server = fresh_gypsum_server
    project = create_project(server, unique_name("ix"))
    owner = credentials(server, "owner")

    def publish(version: str, title: str) -> None:
        folder = write_asset(tmp_path / version, {"a.txt": version}, metadata={**REFERENCE_METADATA, "title": title})
        client.upload_directory(str(folder), project, "a", version, url=server.url, token=server.tokens["owner"])

    publish("v1", "Gorilla brain")
    out = tmp_path / "index"
    first = index_update(str(out), credentials=owner)
    assert (first["mode"], first["versions"], first["errors"]) == ("fresh", 1, [])
    publish("v2", "Okapi liver")
    second = index_update(str(out), credentials=owner)
    assert second["mode"] == "update" and second["logs"] >= 1
    database = out / "bioconductor.sqlite3"
    assert [r["version"] for r in search_metadata_text(database, "okapi", include_metadata=False)] == ["v2"]
    assert search_metadata_text(database, "gorilla") == []  # v1 is no longer the latest
    client.remove_version(project, "a", "v2", url=server.url, token=server.tokens["admin"])
    index_update(str(out), credentials=owner)
    assert [r["version"] for r in search_metadata_text(database, "gorilla", include_metadata=False)] == ["v1"]
    again = index_update(str(out), fresh=True, credentials=owner)
    assert again["mode"] == "fresh" and json.loads((out / "modified").read_text()) >= first["modified"]
