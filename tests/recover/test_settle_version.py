"""settle_version, the rule every publishing flow applies to a partial target version, without Prefect."""

from __future__ import annotations

import re

import pytest
from flows_helpers import age_lock, requests_matching
from recover_helpers import start_partial_upload, stored_keys
from resilience_helpers import asset_files
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.errors import InterruptedUploadError, VersionBusyError
from gypsum_flows.recover import read_lock, settle_version, version_state

HOUR = 3600.0
#: (stale age, wait) in seconds: a lock younger than 15 minutes is waited for, here for half a second at most.
RULES = (900.0, 0.5)


@pytest.fixture
def project(gypsum_server, make_project, tmp_path):
    """A project with a complete a/v1 and a partial a/v2 (one file of three sent), its lock still held."""
    name = make_project(gypsum_server)
    server, owner = gypsum_server, gypsum_server.tokens["owner"]
    client.upload_directory(
        str(write_files(tmp_path / "v1", asset_files(1))), name, "a", "v1", url=server.url, token=owner
    )
    start_partial_upload(server, name, "a", "v2", write_files(tmp_path / "v2", asset_files(2)), send=1)
    return name


def test_a_version_is_absent_partial_or_complete(gypsum_server, project):
    states = [version_state(project, "a", v, url=gypsum_server.url) for v in ("v1", "v2", "v3")]
    assert states == ["complete", "partial", "absent"]
    (gypsum_server.root / project / "a" / "v2" / "..summary").unlink()  # files, but no summary yet
    assert version_state(project, "a", "v2", url=gypsum_server.url) == "partial"


def test_a_partial_version_under_another_versions_lock_is_left_alone(gypsum_server, project, tmp_path):
    server, admin = gypsum_server, gypsum_server.tokens["admin"]
    client.unlock_project(project, url=server.url, token=admin)  # a/v2's session is gone
    start_partial_upload(server, project, "b", "v9", write_files(tmp_path / "b", asset_files(3)), send=0)
    age_lock(server, project, HOUR)  # even a stale lock of another version is never touched
    before = stored_keys(server, f"{project}/")

    expected = rf"{project}/a/v2 is partial, but project '{project}' is locked by another operation \({project}/b/v9\)"
    with pytest.raises(InterruptedUploadError, match=expected):
        settle_version(project, "a", "v2", url=server.url, token=admin, rules=RULES)

    lock = read_lock(project, url=server.url)
    assert (lock.asset, lock.version) == ("b", "v9")
    assert stored_keys(server, f"{project}/") == before


def test_a_stale_lock_of_the_version_is_recovered(gypsum_server, project):
    server = gypsum_server
    age_lock(server, project, HOUR)
    said: list[str] = []

    state = settle_version(project, "a", "v2", url=server.url, token=server.tokens["admin"], report=said.append)

    assert state == "absent" and read_lock(project, url=server.url) is None
    assert client.list_versions(project, "a", url=server.url) == ["v1"]
    [message] = said
    assert re.fullmatch(
        rf"Removed the partial version {project}/a/v2 left by an interrupted upload \(lock \d+s old\)", message
    )


@pytest.mark.parametrize(
    ("token", "recover", "message"),
    [("admin", True, None), ("owner", True, "an admin must clear it"), ("admin", False, "rerun with recovery enabled")],
)
def test_a_partial_version_without_a_lock_is_removed_only_by_an_admin_who_may(
    gypsum_server, project, token, recover, message
):
    server = gypsum_server
    client.unlock_project(project, url=server.url, token=server.tokens["admin"])
    settle = {"recover": recover, "url": server.url, "token": server.tokens[token], "rules": RULES}

    if message is None:
        assert settle_version(project, "a", "v2", **settle) == "absent"
        assert not stored_keys(server, f"{project}/a/v2/")
    else:
        with pytest.raises(InterruptedUploadError, match=rf"{project}/a/v2 was left partial .*{message}"):
            settle_version(project, "a", "v2", **settle)
        assert version_state(project, "a", "v2", url=server.url) == "partial"


def test_a_live_upload_of_the_version_is_waited_for_then_left_alone(gypsum_server, project):
    server = gypsum_server
    session = read_lock(project, url=server.url).session_hash
    removals = len(requests_matching(server, "DELETE", f"/{project}"))

    with pytest.raises(VersionBusyError, match=r"being uploaded by another session .* waited 0.5s"):
        settle_version(project, "a", "v2", url=server.url, token=server.tokens["admin"], rules=RULES)

    assert read_lock(project, url=server.url).session_hash == session
    assert len(requests_matching(server, "DELETE", f"/{project}")) == removals
    assert settle_version(project, "a", "v1", url=server.url, rules=RULES) == "complete"
