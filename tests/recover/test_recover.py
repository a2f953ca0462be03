"""Stale-lock recovery against the local server: what is cleared, what is never touched."""

from __future__ import annotations

import pytest
from flows_helpers import age_lock
from recover_helpers import start_partial_upload, stored_keys, version_files, write_lock
from resilience_helpers import asset_files
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.errors import GypsumLockedError
from gypsum_flows.recover import parse_duration, read_lock, recover, recover_lock

HOUR = 3600.0


@pytest.fixture
def setup(gypsum_server, make_project, tmp_path):
    """A project with a complete v1 and the folder of a v2 whose upload will be left half-done."""
    project = make_project(gypsum_server)
    v1 = write_files(tmp_path / "v1", asset_files(1))
    client.upload_directory(str(v1), project, "a", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"])
    return project, write_files(tmp_path / "v2", asset_files(2))


def test_stale_lock_of_a_killed_upload_is_cleared_and_its_partial_version_removed(gypsum_server, setup):
    project, v2 = setup
    server, admin = gypsum_server, gypsum_server.tokens["admin"]
    start_partial_upload(server, project, "a", "v2", v2, send=1)
    age_lock(server, project, HOUR)
    v1_before = stored_keys(server, f"{project}/a/v1/")

    report = recover("15m", projects=[project], url=server.url, token=admin)

    [action] = report.actions
    assert (action.action, action.asset, action.version) == ("recovered", "a", "v2")
    assert action.removed_version and action.version_state == "partial"
    assert action.age_seconds >= HOUR - 5
    assert read_lock(project, url=server.url) is None
    assert client.list_versions(project, "a", url=server.url) == ["v1"]
    assert not stored_keys(server, f"{project}/a/v2/")
    assert stored_keys(server, f"{project}/a/v1/") == v1_before
    # The project is usable again: the same version uploads cleanly.
    client.upload_directory(str(v2), project, "a", "v2", url=server.url, token=server.tokens["owner"])
    assert version_files(server, project, "a", "v2") == asset_files(2)


def test_lock_younger_than_the_threshold_is_left_alone(gypsum_server, setup):
    project, v2 = setup
    init = start_partial_upload(gypsum_server, project, "a", "v2", v2, send=1)
    age_lock(gypsum_server, project, 60)
    before = stored_keys(gypsum_server, f"{project}/")

    report = recover("15m", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])

    assert [(a.action, a.version_state) for a in report.actions] == [("fresh", "partial")]
    assert stored_keys(gypsum_server, f"{project}/") == before
    # The upload that owns the lock can still finish.
    client.upload_files({**init, "file_urls": init["file_urls"][1:]}, directory=str(v2), url=gypsum_server.url)
    client.complete_upload(init, url=gypsum_server.url)
    assert version_files(gypsum_server, project, "a", "v2") == asset_files(2)
    assert read_lock(project, url=gypsum_server.url) is None


def test_dry_run_changes_nothing_and_sends_only_reads(fresh_gypsum_server, make_project, tmp_path):
    server = fresh_gypsum_server
    project = make_project(server)
    start_partial_upload(server, project, "a", "v1", write_files(tmp_path / "v1", asset_files(1)), send=2)
    age_lock(server, project, HOUR)
    other = make_project(server)
    write_lock(server, other, "", "", HOUR)  # a project-wide operation that crashed
    before, seen = stored_keys(server), len(server.request_log)

    report = recover(0, dry_run=True, url=server.url)  # no token needed

    assert sorted((a.project, a.action) for a in report.actions) == sorted(
        [(project, "would-recover"), (other, "would-unlock")]
    )
    assert report.projects_checked == 2 and report.dry_run
    assert stored_keys(server) == before
    assert {method for method, _ in server.request_log[seen:]} <= {"GET", "HEAD"}


def test_complete_version_is_never_removed(gypsum_server, setup):
    """A lock left over a *finished* version (e.g. a server crash after completion) only gets unlocked."""
    project, _ = setup
    v1_before = stored_keys(gypsum_server, f"{project}/a/v1/")
    write_lock(gypsum_server, project, "a", "v1", HOUR)

    report = recover("15m", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])

    [action] = report.actions
    assert (action.action, action.version_state, action.removed_version) == ("unlocked", "complete", False)
    assert stored_keys(gypsum_server, f"{project}/a/v1/") == v1_before
    assert read_lock(project, url=gypsum_server.url) is None
    assert client.fetch_latest(project, "a", url=gypsum_server.url) == "v1"


def test_partial_version_without_summary_is_removed(gypsum_server, setup):
    project, v2 = setup
    start_partial_upload(gypsum_server, project, "a", "v2", v2, send=2)
    (gypsum_server.root / project / "a" / "v2" / "..summary").unlink()
    age_lock(gypsum_server, project, HOUR)

    report = recover("15m", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])

    assert [(a.action, a.version_state) for a in report.actions] == [("recovered", "partial")]
    assert not stored_keys(gypsum_server, f"{project}/a/v2/")


def test_lock_taken_again_since_it_was_read_is_skipped(gypsum_server, setup, tmp_path):
    project, v2 = setup
    server, admin = gypsum_server, gypsum_server.tokens["admin"]
    write_lock(server, project, "a", "gone", HOUR)
    old = read_lock(project, url=server.url)
    client.unlock_project(project, url=server.url, token=admin)
    init = start_partial_upload(server, project, "a", "v2", v2, send=1)  # a live upload takes the project

    action = recover_lock(old, url=server.url, token=admin)

    assert action.action == "skipped" and "locked again" in action.detail
    assert read_lock(project, url=server.url).version == "v2"
    client.upload_files({**init, "file_urls": init["file_urls"][1:]}, directory=str(v2), url=server.url)
    client.complete_upload(init, url=server.url)
    assert version_files(server, project, "a", "v2") == asset_files(2)


def test_recovery_without_a_lock_leaves_projects_usable(gypsum_server, setup):
    project, _ = setup
    report = recover("0s", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])
    assert report.actions == [] and report.projects_checked == 1


def test_locked_project_is_really_locked_before_recovery(gypsum_server, setup, tmp_path):
    """The scenario is real: a stale lock blocks every other upload until recovery."""
    project, v2 = setup
    start_partial_upload(gypsum_server, project, "a", "v2", v2, send=0)
    age_lock(gypsum_server, project, HOUR)
    other = write_files(tmp_path / "other", asset_files(3))
    owner = gypsum_server.tokens["owner"]
    with pytest.raises(GypsumLockedError):
        client.upload_directory(str(other), project, "b", "v1", url=gypsum_server.url, token=owner)
    recover("15m", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])
    client.upload_directory(str(other), project, "b", "v1", url=gypsum_server.url, token=owner)
    assert sorted(client.list_assets(project, url=gypsum_server.url)) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("45s", 45.0), ("15m", 900.0), ("2h", 7200.0), ("1h30m", 5400.0), ("3d", 259200.0), (5, 5.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "m", "-5", "1h 3", "15m!"])
def test_bad_durations_say_what_is_wrong(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_cli_without_admin_rights_fails_clearly_and_changes_nothing(gypsum_server, setup, monkeypatch, capsys):
    from gypsum_flows.cli import main

    project, v2 = setup
    start_partial_upload(gypsum_server, project, "a", "v2", v2, send=1)
    age_lock(gypsum_server, project, HOUR)
    before = stored_keys(gypsum_server, f"{project}/")
    monkeypatch.setenv("GYPSUM_TOKEN", gypsum_server.tokens["owner"])
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(v2.parent / "empty-cache"))

    code = main(["recover", "--url", gypsum_server.url, "--project", project])

    assert code == 1
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert row.split()[0] == "failed" and "GypsumPermissionError: 403" in row
    assert stored_keys(gypsum_server, f"{project}/") == before


def test_cli_refuses_a_bad_threshold_before_any_request(fresh_gypsum_server, capsys):
    from gypsum_flows.cli import main

    seen = len(fresh_gypsum_server.request_log)
    assert main(["recover", "--url", fresh_gypsum_server.url, "--older-than", "soon"]) == 1
    assert "invalid duration 'soon'" in capsys.readouterr().err
    assert len(fresh_gypsum_server.request_log) == seen


def test_one_failing_project_does_not_stop_the_others(gypsum_server, setup, make_project, tmp_path):
    project, v2 = setup
    start_partial_upload(gypsum_server, project, "a", "v2", v2, send=1)
    age_lock(gypsum_server, project, HOUR)
    broken = make_project(gypsum_server)
    start_partial_upload(gypsum_server, broken, "a", "v1", write_files(tmp_path / "b", asset_files(4)), send=1)
    age_lock(gypsum_server, broken, HOUR)
    (gypsum_server.root / broken / "..usage").unlink()  # the server cannot remove a version then (500)

    report = recover("15m", projects=[broken, project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])

    assert [(a.project, a.action) for a in report.actions] == [(broken, "failed"), (project, "recovered")]
    assert "500" in report.failed[0].detail
    assert read_lock(project, url=gypsum_server.url) is None


def test_corrupt_lock_is_unlocked_and_said_to_be_unreadable(gypsum_server, setup):
    project, _ = setup
    write_lock(gypsum_server, project, "a", "v9", HOUR)
    (gypsum_server.root / project / "..LOCK").write_text("{not json")
    age_lock(gypsum_server, project, HOUR)

    report = recover("15m", projects=[project], url=gypsum_server.url, token=gypsum_server.tokens["admin"])

    [action] = report.actions
    assert (action.action, action.removed_version) == ("unlocked", False) and "not valid JSON" in action.detail
    assert read_lock(project, url=gypsum_server.url) is None
    assert client.list_versions(project, "a", url=gypsum_server.url) == ["v1"]
