"""Read tasks in a flow against the local server give exactly what the client gives."""

from __future__ import annotations

from prefect import flow
from task_helpers import flow_task_runs

from gypsum_flows import client
from gypsum_flows.tasks import (
    fetch_latest,
    fetch_manifest,
    fetch_permissions,
    fetch_quota,
    fetch_summary,
    fetch_usage,
    list_assets,
    list_files,
    list_projects,
    list_versions,
)


def test_read_tasks_return_what_the_client_returns(gypsum_server, unique_name, publish, credentials):
    project = unique_name("read")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"alpha", "sub/b.txt": b"bravo!"})
    publish(gypsum_server, project, "basic", "v2", {"a.txt": b"alpha2"})
    publish(gypsum_server, project, "other", "v1", {"c.txt": b"charlie"})
    reader = credentials(gypsum_server)

    @flow
    def read_everything() -> dict:
        return {
            "latest": fetch_latest(project, "basic", credentials=reader),
            "manifest": fetch_manifest(project, "basic", "v1", credentials=reader),
            "summary": fetch_summary(project, "basic", "v1", credentials=reader),
            "permissions": fetch_permissions(project, credentials=reader),
            "quota": fetch_quota(project, credentials=reader),
            "usage": fetch_usage(project, credentials=reader),
            "projects": list_projects(credentials=reader),
            "assets": list_assets(project, credentials=reader),
            "versions": list_versions(project, "basic", credentials=reader),
            "files": list_files(project, "basic", "v1", include_dot=False, credentials=reader),
            "prefixed": list_files(project, "basic", "v1", prefix="sub/", credentials=reader),
        }

    state = read_everything(return_state=True)
    got = state.result()
    url = gypsum_server.url
    assert got["latest"] == "v2" == client.fetch_latest(project, "basic", url=url)
    assert got["manifest"] == client.fetch_manifest(project, "basic", "v1", cache_dir=False, url=url)
    assert set(got["manifest"]) == {"a.txt", "sub/b.txt"} and got["manifest"]["sub/b.txt"]["size"] == 6
    assert got["summary"] == client.fetch_summary(project, "basic", "v1", cache_dir=False, url=url)
    assert got["summary"]["upload_user_id"] == gypsum_server.logins["owner"]
    assert got["permissions"]["owners"] == [gypsum_server.logins["owner"]]
    assert got["quota"] == client.fetch_quota(project, url=url)
    assert got["usage"] == len(b"alpha" + b"bravo!" + b"alpha2" + b"charlie")
    assert project in got["projects"]
    assert sorted(got["assets"]) == ["basic", "other"]
    assert sorted(got["versions"]) == ["v1", "v2"]
    assert sorted(got["files"]) == ["a.txt", "sub/b.txt"]
    assert got["prefixed"] == ["sub/b.txt"]

    names = {run.name for run in flow_task_runs(state.state_details.flow_run_id, 11)}
    assert f"fetch_manifest[{project}/basic/v1]" in names
    assert f"fetch_latest[{project}/basic]" in names
    assert f"fetch_usage[{project}]" in names
    assert "list_projects" in names
