"""publish-batch over folders holding a FIFO or a symlinked folder: refused, named, never hanging or dropped."""

from __future__ import annotations

import os

import pytest
from flows_helpers import create_project, credentials, requests_matching, write_asset

from gypsum_flows import client
from gypsum_flows.flows import BatchFailedError, publish_batch


@pytest.mark.timeout(300, func_only=True)  # a FIFO opened for reading would block the batch for ever
def test_odd_folders_fail_their_asset_by_name_and_the_rest_publishes(fresh_gypsum_server, unique_name, tmp_path):
    server = fresh_gypsum_server
    project = create_project(server, unique_name("odd"))
    write_asset(tmp_path / "data" / "fifo", {"x.csv": "x\n1\n"})
    os.mkfifo(tmp_path / "data" / "fifo" / "pipe")
    outside = write_asset(tmp_path / "outside", {"y.csv": "y\n2\n"}, metadata=None)
    write_asset(tmp_path / "data" / "linked", {"x.csv": "x\n1\n"})
    (tmp_path / "data" / "linked" / "more").symlink_to(outside, target_is_directory=True)
    write_asset(tmp_path / "data" / "fine", {"x.csv": "x\n1\n"})
    spec = tmp_path / "batch.yaml"
    spec.write_text(
        "assets:\n"
        + "".join(
            f"  - {{project: {project}, asset: {name}, version: v1, directory: data/{name}}}\n"
            for name in ("fifo", "linked", "fine")
        )
    )

    with pytest.raises(BatchFailedError) as caught:
        publish_batch(str(spec), credentials=credentials(server, "admin"))

    outcomes = {o.asset: o for o in caught.value.outcomes}
    assert outcomes["fine"].outcome == "published"
    assert outcomes["fifo"].outcome == "failed" and "'pipe' is a FIFO" in outcomes["fifo"].detail
    assert outcomes["linked"].outcome == "failed" and "'more' is a symlink to the folder" in outcomes["linked"].detail
    assert requests_matching(server, "POST", "/upload/start/") == [f"/upload/start/{project}/fine/v1"]
    assert client.list_assets(project, url=server.url) == ["fine"]
