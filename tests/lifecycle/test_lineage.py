"""Asset lineage, lifecycle events and provenance of published versions, on the session's real Prefect."""

from __future__ import annotations

import pytest
from flows_helpers import create_project, credentials, wait_for_events, write_asset
from prefect import flow

from gypsum_flows.flows import publish_batch
from gypsum_flows.names import version_asset_key
from gypsum_flows.tasks import reject_probation, remove_version, upload_version


def run_artifacts(flow_run_id: str) -> list:
    """Every artifact a flow run created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


@pytest.fixture(autouse=True)
def _prefect(prefect_harness) -> None:
    """These tests run flows on the session's Prefect server."""


def test_a_batch_records_folder_and_clone_as_assets_with_the_clone_upstream(gypsum_server, unique_name, tmp_path):
    project = create_project(gypsum_server, unique_name("lin"))
    write_asset(tmp_path / "data" / "brain", {"counts.csv": "a,b\n1,2\n", "coldata.csv": "x\n1\n"})
    write_asset(tmp_path / "data" / "patch", {"coldata.csv": "x\n2\n"}, metadata=None)
    raw = version_asset_key(project, "raw reads", "v0")
    spec = tmp_path / "batch.yaml"
    spec.write_text(
        f"defaults: {{project: {project}}}\nassets:\n"
        f"  - {{asset: zeisel brain, version: v1, directory: data/brain, inputs: ['{raw}']}}\n"
        f"  - {{asset: zeisel brain, version: v2, clone: {{from: v1, overlay: data/patch}}}}\n"
    )
    publish_batch(str(spec), credentials=credentials(gypsum_server, "owner"))

    source, clone = (version_asset_key(project, "zeisel brain", v) for v in ("v1", "v2"))
    assert source == f"gypsum://{project}/zeisel~20brain/v1"
    events = {
        e.resource.id: e for e in wait_for_events("prefect.asset.materialization.succeeded", f"gypsum://{project}/", 2)
    }
    assert set(events) == {source, clone}
    upstream = {key: {r.id for r in e.related if r.role == "asset"} for key, e in events.items()}
    assert upstream == {source: {raw}, clone: {source}}
    made = events[clone]
    assert made.resource["prefect.resource.name"] == f"{project}/zeisel brain/v2"
    assert made.resource["prefect.asset.url"].startswith(gypsum_server.url + "/list?")
    assert made.resource["prefect.asset.owners"] == f'["{gypsum_server.logins["owner"]}"]'
    assert {k: made.payload[k] for k in ("files", "files_uploaded", "files_linked", "probation")} == {
        "files": 3,
        "files_uploaded": 1,
        "files_linked": 2,
        "probation": False,
    }
    assert made.payload["bytes_uploaded"] == 4 and made.payload["bytes_linked"] > 0
    # Provenance: the published event and the report name the flow run that made the version.
    [published] = wait_for_events("gypsum.version.published", f"gypsum.version.{project}/zeisel brain/v2", 1)
    assert published.payload["flow_run_id"] == made.payload["flow_run_id"]
    assert {r.id for r in published.related} >= {f"prefect.flow-run.{made.payload['flow_run_id']}"}
    reports = [a.data for a in run_artifacts(made.payload["flow_run_id"]) if a.type == "markdown"]
    assert any(f"(`{made.payload['flow_run_id']}`)" in text and "Flow run: [" in text for text in reports), reports


def test_rejections_and_removals_through_tasks_are_events(gypsum_server, unique_name, tmp_path):
    project = create_project(gypsum_server, unique_name("rm"))
    folder = write_asset(tmp_path / "v", {"a.txt": "a"})
    admin = credentials(gypsum_server, "admin")

    @flow
    def publish_then_drop() -> None:
        upload_version(str(folder), project, "x", "v1", credentials=admin)
        upload_version(str(folder), project, "x", "v2", probation=True, credentials=admin)
        reject_probation(project, "x", "v2", credentials=admin)
        remove_version(project, "x", "v1", credentials=admin)

    publish_then_drop()
    for event, version in (("gypsum.version.rejected", "v2"), ("gypsum.version.removed", "v1")):
        [seen] = wait_for_events(event, f"gypsum.version.{project}/x/{version}", 1)
        assert seen.payload["url"] == gypsum_server.url and seen.payload["flow_run_id"]
