"""The ``recover`` flow on a real Prefect: stale locks cleared, fresh ones kept, a report left behind."""

from __future__ import annotations

import asyncio
import json

from flows_helpers import age_lock
from recover_helpers import start_partial_upload, stored_keys
from resilience_helpers import asset_files
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.flows.recover import ARTIFACT_KEY, recover
from gypsum_flows.recover import read_lock


async def _run_details(flow_run_id):
    from prefect.client.orchestration import get_client

    async with get_client() as prefect:
        run = await prefect.read_flow_run(flow_run_id)
        artifacts = await prefect.read_latest_artifacts()
    return run, [a for a in artifacts if a.key == ARTIFACT_KEY]


def test_recover_flow_clears_stale_locks_only(prefect_harness, gypsum_server, make_project, tmp_path):
    server = gypsum_server
    stale, fresh = make_project(server), make_project(server)
    start_partial_upload(server, stale, "a", "v1", write_files(tmp_path / "s", asset_files(1)), send=1)
    age_lock(server, stale, 7200)
    start_partial_upload(server, fresh, "a", "v1", write_files(tmp_path / "f", asset_files(2)), send=1)
    fresh_before = stored_keys(server, f"{fresh}/")
    admin = GypsumCredentials(url=server.url, token=server.tokens["admin"])

    dry = recover("1h", dry_run=True, projects=[stale, fresh], credentials=admin)
    assert read_lock(stale, url=server.url) is not None
    state = recover("1h", projects=[stale, fresh], credentials=admin, return_state=True)
    report = state.result()

    by_project = {a["project"]: a for a in report["actions"]}
    assert {p: a["action"] for p, a in by_project.items()} == {stale: "recovered", fresh: "fresh"}
    assert [a["action"] for a in dry["actions"]] == ["would-recover", "fresh"]
    assert read_lock(stale, url=server.url) is None and not stored_keys(server, f"{stale}/a/")
    assert client.list_versions(stale, "a", url=server.url) == []
    assert stored_keys(server, f"{fresh}/") == fresh_before
    run, artifacts = asyncio.run(_run_details(state.state_details.flow_run_id))
    assert server.tokens["admin"] not in json.dumps(run.parameters, default=str)
    assert artifacts and {row["project"] for row in json.loads(artifacts[0].data)} == {stale, fresh}
