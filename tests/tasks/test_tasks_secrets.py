"""The token never leaves the credentials block: not in parameters, task runs, logs, results or cache keys."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.results import ResultRecord
from prefect.settings import (
    PREFECT_HOME,
    PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    PREFECT_SERVER_DATABASE_CONNECTION_URL,
)
from task_helpers import flow_logs, flow_task_runs
from testdata import write_files

from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.tasks import (
    abort_upload,
    create_project,
    fetch_manifest,
    refresh_usage,
    save_version,
    set_permissions,
    start_upload,
    upload_version,
)


def files_under(folder: Path) -> list[Path]:
    return [Path(root, name) for root, _, names in os.walk(folder) for name in names]


def result_storage() -> Path:
    return Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value())


def test_the_token_is_nowhere_prefect_keeps_anything(gypsum_server, unique_name, cache_dir, tmp_path):
    token = gypsum_server.tokens["admin"]
    project = unique_name("secret")
    folder = write_files(tmp_path / "v1", {"a.txt": b"alpha", "b.txt": b"bravo"})
    draft = write_files(tmp_path / "draft", {"c.txt": b"charlie"})

    @flow
    def publish_with_a_block(credentials: GypsumCredentials) -> dict:
        create_project(project, owners=[gypsum_server.logins["admin"]], credentials=credentials)
        # A refused call logs its error: the message must not carry the token either.
        refused = create_project(project, owners=["x"], credentials=credentials, return_state=True)
        set_permissions(project, uploaders=[{"id": gypsum_server.logins["owner"]}], credentials=credentials)
        stats = upload_version(str(folder), project, "basic", "v1", credentials=credentials)
        session = start_upload(project, "basic", "v2", ["c.txt"], directory=str(draft), credentials=credentials)
        abort_upload(session, credentials=credentials)
        return {
            "refused": refused.is_failed(),
            "stats": stats,
            "manifest": fetch_manifest(project, "basic", "v1", credentials=credentials),
            "folder": save_version(project, "basic", "v1", credentials=credentials),
            "usage": refresh_usage(project, credentials=credentials),
        }

    block = GypsumCredentials(url=gypsum_server.url, token=token, cache_dir=str(cache_dir))
    state = publish_with_a_block(block, return_state=True)
    out = state.result()
    assert out["refused"] and out["usage"] == 10 and set(out["manifest"]) == {"a.txt", "b.txt"}
    assert token not in repr(block) and token not in str(block.model_dump())

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as api:
        flow_run = api.read_flow_run(flow_run_id)
    assert flow_run.parameters["credentials"]["token"] == "**********"
    assert token not in flow_run.model_dump_json()

    task_runs = flow_task_runs(flow_run_id, 10)  # upload_version records its asset in a task run of its own
    for run in task_runs:
        assert token not in run.model_dump_json(), run.name

    logs = flow_logs(flow_run_id)
    assert any("Uploaded" in log.message for log in logs)
    assert any("already exists" in log.message for log in logs)
    for log in logs:
        assert token not in log.message

    # Cache records (named by their cache keys) hold base64 pickles: look inside them too. Other
    # tests of the session may have left results in other shapes (bare serialized values): those
    # are searched decoded as well.
    records = []
    for path in files_under(result_storage()):
        raw = path.read_bytes()
        try:
            records.append(ResultRecord.deserialize(raw))
        except ValueError:
            assert token.encode() not in raw and token.encode() not in base64.b64decode(raw + b"=="), path
    assert out["manifest"] in [record.result for record in records], "the manifest should be cached"
    for record in records:
        assert token not in repr(record.result) and token not in record.metadata.storage_key
    for path in files_under(Path(PREFECT_HOME.value())):
        assert token not in path.name
        assert token.encode() not in path.read_bytes(), path

    # Everything the Prefect server stored (runs, parameters, logs, events) is in its database.
    database = PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1]
    for path in files_under(Path(database).parent):
        assert token.encode() not in path.read_bytes(), path
