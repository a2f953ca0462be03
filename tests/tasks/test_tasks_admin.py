"""Administration tasks in flows: project life cycle, permissions, quota, probation, refreshes, removal."""

from __future__ import annotations

import pytest
from prefect import flow

from gypsum_flows import client
from gypsum_flows.errors import GypsumNotFoundError
from gypsum_flows.tasks import (
    approve_probation,
    create_project,
    fetch_permissions,
    fetch_quota,
    list_versions,
    refresh_latest,
    refresh_usage,
    reject_probation,
    remove_asset,
    remove_project,
    remove_version,
    set_permissions,
    set_quota,
    unlock_project,
)


def test_project_life_cycle(gypsum_server, unique_name, publish, credentials, tmp_path):
    project = unique_name("admin")
    admin = credentials(gypsum_server, "admin")
    owner_login, uploader_login = gypsum_server.logins["owner"], gypsum_server.logins["uploader"]

    @flow
    def set_up() -> dict:
        create_project(project, owners=[gypsum_server.logins["admin"]], baseline=10**6, credentials=admin)
        set_permissions(project, owners=[owner_login], uploaders=[{"id": uploader_login}], credentials=admin)
        set_quota(project, growth_rate=123, credentials=admin)
        return {
            "permissions": fetch_permissions(project, credentials=admin),
            "quota": fetch_quota(project, credentials=admin),
        }

    ready = set_up()
    assert set(ready["permissions"]["owners"]) == {gypsum_server.logins["admin"], owner_login}
    assert [u["id"] for u in ready["permissions"]["uploaders"]] == [uploader_login]
    assert ready["quota"]["baseline"] == 10**6 and ready["quota"]["growth_rate"] == 123

    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"1"})
    publish(gypsum_server, project, "basic", "v2", {"a.txt": b"22"}, probation=True)
    publish(gypsum_server, project, "basic", "v3", {"a.txt": b"333"}, probation=True)
    publish(gypsum_server, project, "other", "v1", {"a.txt": b"x"})
    # A session left open (as after a crash) holds the project lock until an admin releases it.
    folder = tmp_path / "stuck"
    folder.mkdir()
    (folder / "s.txt").write_bytes(b"s")
    client.start_upload(
        project,
        "stuck",
        "v1",
        ["s.txt"],
        directory=str(folder),
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )

    @flow
    def curate() -> dict:
        unlock_project(project, credentials=admin)
        remove_asset(project, "stuck", credentials=admin)
        approve_probation(project, "basic", "v2", credentials=admin)
        reject_probation(project, "basic", "v3", credentials=admin)
        removed = remove_version(project, "basic", "v1", credentials=admin)
        return {
            "removed": removed,
            "versions": list_versions(project, "basic", credentials=admin),
            "latest": refresh_latest(project, "basic", credentials=admin),
            "usage": refresh_usage(project, credentials=admin),
            "asset_removed": remove_asset(project, "other", credentials=admin),
        }

    done = curate()
    assert done == {"removed": True, "versions": ["v2"], "latest": "v2", "usage": 3, "asset_removed": True}

    @flow
    def tear_down() -> bool:
        return remove_project(project, credentials=admin)

    assert tear_down() is True
    with pytest.raises(GypsumNotFoundError):
        client.fetch_permissions(project, url=gypsum_server.url)
