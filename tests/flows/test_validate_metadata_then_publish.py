"""validate-metadata-then-publish against the local server on a real Prefect."""

from __future__ import annotations

import json

import pytest
from flows_helpers import (
    BROKEN_METADATA,
    REFERENCE_METADATA,
    create_project,
    credentials,
    read_artifacts,
    requests_matching,
    wait_for_events,
)

from gypsum_flows import client
from gypsum_flows.errors import GypsumMetadataError, VersionConflictError
from gypsum_flows.flows import validate_metadata_then_publish
from gypsum_flows.flows.report import artifact_key


def test_publishes_valid_folder_then_rerun_is_unchanged(fresh_gypsum_server, unique_name, asset_folder):
    server = fresh_gypsum_server
    project = create_project(server, unique_name("vp"))
    folder = asset_folder("v1", {"counts.csv": "a,b\n1,2\n", "deep/er/notes.txt": "hello"})
    (folder / "deep" / "_bioconductor.json").write_text(json.dumps(REFERENCE_METADATA))

    outcome = validate_metadata_then_publish(str(folder), project, "cells", "v1", credentials=credentials(server))

    assert (outcome.outcome, outcome.files_uploaded, outcome.files_linked) == ("published", 4, 0)
    assert outcome.bytes_uploaded == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    manifest = client.fetch_manifest(project, "cells", "v1", url=server.url, cache_dir=False)
    assert sorted(manifest) == ["_bioconductor.json", "counts.csv", "deep/_bioconductor.json", "deep/er/notes.txt"]
    assert client.fetch_latest(project, "cells", url=server.url) == "v1"
    events = wait_for_events("gypsum.version.published", f"gypsum.version.{project}/cells/v1", 1)
    assert [e.resource.id for e in events] == [f"gypsum.version.{project}/cells/v1"]
    assert events[0].payload["files_uploaded"] == 4
    key = artifact_key("gypsum-publish", project, "cells")
    tables = [a for a in read_artifacts(key) if a.type == "table"]
    assert tables and "published" in json.dumps(tables[0].data)
    assert read_artifacts(f"{key}-summary")

    starts_before = len(requests_matching(server, "POST", "/upload/start/"))
    again = validate_metadata_then_publish(str(folder), project, "cells", "v1", credentials=credentials(server))
    assert again.outcome == "unchanged"
    assert len(requests_matching(server, "POST", "/upload/start/")) == starts_before


def test_metadata_failure_in_one_of_several_files_uploads_nothing(fresh_gypsum_server, unique_name, asset_folder):
    server = fresh_gypsum_server
    project = create_project(server, unique_name("vp"))
    folder = asset_folder("v1", {"a/x.txt": "1", "b/y.txt": "2", "c/z.txt": "3"})
    (folder / "a" / "_bioconductor.json").write_text(json.dumps(REFERENCE_METADATA))
    (folder / "b" / "_bioconductor.json").write_text(json.dumps(BROKEN_METADATA))
    wrong_types = dict(REFERENCE_METADATA, genome=["hg19"], taxonomy_id=[9606])
    (folder / "c" / "_bioconductor.json").write_text(json.dumps(wrong_types))
    before = len(server.request_log)

    with pytest.raises(GypsumMetadataError) as caught:
        validate_metadata_then_publish(str(folder), project, "cells", "v1", credentials=credentials(server))

    message = str(caught.value)
    assert "b/_bioconductor.json" in message and "bioconductor_version" in message
    assert "c/_bioconductor.json: $.genome[0]" in message and "c/_bioconductor.json: $.taxonomy_id[0]" in message
    assert "a/_bioconductor.json" not in message
    assert len(caught.value.violations) == 3
    assert server.request_log[before:] == []
    assert client.list_versions(project, "cells", url=server.url) == []


def test_missing_metadata_fails_unless_not_required(fresh_gypsum_server, unique_name, asset_folder):
    from gypsum_flows.batch import MetadataCheck

    server = fresh_gypsum_server
    project = create_project(server, unique_name("vp"))
    folder = asset_folder("bare", {"x.txt": "1"}, metadata=None)
    with pytest.raises(GypsumMetadataError, match="no metadata file named '_bioconductor.json'"):
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(server))
    relaxed = MetadataCheck(required=False)
    outcome = validate_metadata_then_publish(
        str(folder), project, "a", "v1", metadata=relaxed, credentials=credentials(server)
    )
    assert outcome.outcome == "published"


def test_existing_version_with_other_content_names_the_files(gypsum_server, unique_name, asset_folder):
    project = create_project(gypsum_server, unique_name("vp"))
    folder = asset_folder("v1", {"same.txt": "s", "changed.txt": "old", "gone.txt": "g"})
    validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(gypsum_server))
    (folder / "changed.txt").write_text("new!")
    (folder / "gone.txt").unlink()
    (folder / "added.txt").write_text("+")

    with pytest.raises(VersionConflictError) as caught:
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(gypsum_server))

    files = caught.value.files
    assert [f.split(" ")[0] for f in files] == ["added.txt", "changed.txt", "gone.txt"]
    assert "same.txt" not in str(caught.value)


def test_token_never_in_flow_run_parameters(gypsum_server, unique_name, asset_folder):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    project = create_project(gypsum_server, unique_name("vp"))
    folder = asset_folder("v1", {"x.txt": "1"})
    validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(gypsum_server))
    with get_client(sync_client=True) as prefect:
        runs = prefect.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"validate-publish-{project}-a-v1"]))
        )
    assert runs
    dumped = json.dumps([r.parameters for r in runs])
    assert gypsum_server.tokens["owner"] not in dumped and "**********" in dumped
