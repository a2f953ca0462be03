"""approve-probation against the local server: approve, leave pending, reject, with reasons."""

from __future__ import annotations

import pytest
from flows_helpers import BROKEN_METADATA, create_project, credentials, wait_for_events

from gypsum_flows import client
from gypsum_flows.batch import MetadataCheck
from gypsum_flows.errors import GypsumError
from gypsum_flows.flows import approve_probation_flow, validate_metadata_then_publish


def test_checks_decide_approve_leave_and_reject(gypsum_server, unique_name, asset_folder):
    server = gypsum_server
    project = create_project(server, unique_name("ap"))
    owner = credentials(server)
    versions = {
        "good": asset_folder("good", {"counts.csv": "1"}),
        "no-counts": asset_folder("no-counts", {"other.csv": "1"}),
        "bad-meta": asset_folder("bad-meta", {"counts.csv": "2"}, metadata=BROKEN_METADATA),
    }
    for version, folder in versions.items():
        validate_metadata_then_publish(
            str(folder), project, "cells", version, probation=True, metadata=None, credentials=owner
        )

    outcomes = approve_probation_flow(project, required_files=["counts.csv"], on_failure="leave", credentials=owner)

    decided = {o.version: o for o in outcomes}
    assert {v: o.outcome for v, o in decided.items()} == {
        "good": "approved",
        "no-counts": "pending",
        "bad-meta": "pending",
    }
    assert "required file 'counts.csv' is missing" in decided["no-counts"].detail
    assert "_bioconductor.json" in decided["bad-meta"].detail and "bioconductor_version" in decided["bad-meta"].detail
    assert "on_probation" not in client.fetch_summary(project, "cells", "good", url=server.url, cache_dir=False)
    assert client.fetch_summary(project, "cells", "no-counts", url=server.url, cache_dir=False)["on_probation"]
    assert client.fetch_latest(project, "cells", url=server.url) == "good"
    assert wait_for_events("gypsum.version.approved", f"gypsum.version.{project}/cells/good", 1)

    rejected = approve_probation_flow(
        project, asset="cells", version="bad-meta", on_failure="reject", credentials=owner
    )
    assert [(o.version, o.outcome) for o in rejected] == [("bad-meta", "rejected")]
    assert "bad-meta" not in client.list_versions(project, "cells", url=server.url)

    # Without the required-file rule, no-counts passes; only probational versions are considered.
    relaxed = approve_probation_flow(project, asset="cells", metadata=MetadataCheck(), credentials=owner)
    assert [(o.version, o.outcome) for o in relaxed] == [("no-counts", "approved")]


def test_single_version_must_be_on_probation(gypsum_server, unique_name, asset_folder):
    project = create_project(gypsum_server, unique_name("ap"))
    owner = credentials(gypsum_server)
    validate_metadata_then_publish(str(asset_folder("v1", {"x": "1"})), project, "a", "v1", credentials=owner)
    with pytest.raises(GypsumError, match="not on probation"):
        approve_probation_flow(project, asset="a", version="v1", credentials=owner)
