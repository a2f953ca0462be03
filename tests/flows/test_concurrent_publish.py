"""Two publishers of one version: a live session is waited for, never destroyed; a lost race is compared."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from flows_helpers import (
    big_asset_spec,
    create_project,
    credentials,
    json_outcomes,
    publish_command,
    requests_matching,
    subprocess_env,
    write_asset,
)
from prefect import flow

from gypsum_flows import client
from gypsum_flows.errors import InterruptedUploadError, VersionBusyError, VersionConflictError
from gypsum_flows.flows import validate_metadata_then_publish
from gypsum_flows.flows.idempotency import folder_entries, upload_or_recover
from gypsum_flows.recover import read_lock


def _one_asset_spec(folder: Path, project: str, files: dict[str, str]) -> tuple[Path, Path]:
    data = write_asset(folder / "data", files)
    spec = folder / "one.yaml"
    spec.write_text(f"assets:\n  - {{project: {project}, asset: a, version: v1, directory: data}}\n")
    return spec, data


def _start_by_hand(server, project: str, folder: Path, send: int) -> dict:
    """An upload session of ``folder`` as project/a/v1 by the owner, with only the first ``send`` files sent."""
    paths = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    init = client.start_upload(
        project,
        "a",
        "v1",
        paths,
        directory=str(folder),
        deduplicate=False,
        url=server.url,
        token=server.tokens["owner"],
    )
    client.upload_files({**init, "file_urls": init["file_urls"][:send]}, directory=str(folder), url=server.url)
    return init


def _finish_by_hand(server, init: dict, folder: Path) -> None:
    client.upload_files({**init, "file_urls": init["file_urls"][1:]}, directory=str(folder), url=server.url)
    client.complete_upload(init, url=server.url)


def _wait_until_polling(server, project: str, process: subprocess.Popen, timeout: float = 300.0) -> None:
    """Return once the publish run has read ``project``'s lock twice (it is waiting for the session)."""
    deadline = time.monotonic() + timeout
    while len(requests_matching(server, "GET", f"/file/{project}%2F..LOCK")) < 2:
        if process.poll() is not None:
            raise AssertionError(f"publish ended before waiting: {process.communicate()}")
        assert time.monotonic() < deadline, "publish never started waiting for the live session"
        time.sleep(0.2)


@pytest.mark.parametrize("same_files", [True, False])
def test_live_session_survives_publish_with_admin_token(fresh_gypsum_server, unique_name, tmp_path, same_files):
    server = fresh_gypsum_server
    project = create_project(server, unique_name("live"))
    files = {"a.txt": "first\n", "b.txt": "second\n"}
    spec, data = _one_asset_spec(tmp_path, project, files)
    theirs = data if same_files else write_asset(tmp_path / "theirs", {**files, "b.txt": "other\n"})
    init = _start_by_hand(server, project, theirs, send=1)
    session = read_lock(project, url=server.url).session_hash

    process = subprocess.Popen(
        publish_command(spec, server.url),
        env=subprocess_env(PUBLISH_TOKEN=server.tokens["admin"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_polling(server, project, process)
        assert read_lock(project, url=server.url).session_hash == session  # still the hand-made session
        _finish_by_hand(server, init, theirs)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    summary = client.fetch_summary(project, "a", "v1", url=server.url, cache_dir=False)
    assert summary["upload_finish"] and summary["upload_user_id"] == server.logins["owner"]
    assert not requests_matching(server, "DELETE", "/remove/") and not requests_matching(server, "DELETE", "/unlock/")
    assert not requests_matching(server, "DELETE", "/upload/abort/")
    assert len(requests_matching(server, "POST", "/upload/start/")) == 1
    if same_files:
        assert process.returncode == 0, stdout + stderr
        assert [o["outcome"] for o in json_outcomes(stdout)] == ["unchanged"]
    else:
        assert process.returncode == 1, stdout + stderr
        assert "already exists with different content: b.txt (differs" in stdout


def test_two_publish_runs_of_one_spec_started_together_both_exit_0(fresh_gypsum_server, unique_name, tmp_path):
    server = fresh_gypsum_server
    projects = [create_project(server, unique_name("twice")) for _ in range(2)]
    spec = big_asset_spec(tmp_path, projects, 4, megabytes=2)
    env = subprocess_env(PUBLISH_TOKEN=server.tokens["owner"])  # no admin: nothing may need clearing

    runs = [
        subprocess.Popen(
            publish_command(spec, server.url), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=600) for run in runs]

    for run, (stdout, stderr) in zip(runs, results, strict=True):
        assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    per_asset = list(zip(*[[o["outcome"] for o in json_outcomes(stdout)] for stdout, _ in results], strict=True))
    assert all(sorted(pair) == ["published", "unchanged"] for pair in per_asset), per_asset
    for i in range(4):
        manifest = client.fetch_manifest(projects[i % 2], f"a{i}", "v1", url=server.url, cache_dir=False)
        assert {p: (e["size"], e["md5sum"]) for p, e in manifest.items()} == folder_entries(tmp_path / "data" / f"a{i}")
    assert all(read_lock(p, url=server.url) is None for p in projects)


@flow
def _upload_once(directory: str, project: str, creds) -> str:
    return upload_or_recover(
        directory, project, "a", "v1", probation=False, deduplicate=True, credentials=creds, recover=True
    ).outcome


def test_already_exists_after_a_lost_race_is_compared(gypsum_server, unique_name, asset_folder):
    project = create_project(gypsum_server, unique_name("race"))
    folder = asset_folder("v1", {"x.txt": "1"})
    client.upload_directory(
        str(folder), project, "a", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"]
    )  # the other publisher won
    starts = len(requests_matching(gypsum_server, "POST", f"/upload/start/{project}/"))

    assert _upload_once(str(folder), project, credentials(gypsum_server)) == "unchanged"
    assert len(requests_matching(gypsum_server, "POST", f"/upload/start/{project}/")) == starts + 1
    other = asset_folder("other", {"x.txt": "2"})
    with pytest.raises(VersionConflictError, match=r"x.txt \(differs"):
        _upload_once(str(other), project, credentials(gypsum_server))


def test_a_live_session_that_does_not_finish_in_time_is_left_alone(
    gypsum_server, unique_name, asset_folder, monkeypatch
):
    monkeypatch.setenv("GYPSUM_LOCK_WAIT", "2s")
    project = create_project(gypsum_server, unique_name("slow"))
    folder = asset_folder("v1", {"x.txt": "1"})
    init = _start_by_hand(gypsum_server, project, folder, send=1)

    started = time.monotonic()
    with pytest.raises(VersionBusyError, match=r"being uploaded by another session .* waited 2s"):
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(gypsum_server, "admin"))
    assert time.monotonic() - started < 120
    _finish_by_hand(gypsum_server, init, folder)  # the session is intact
    assert client.fetch_summary(project, "a", "v1", url=gypsum_server.url, cache_dir=False)["upload_finish"]


def test_a_partial_version_while_another_version_holds_the_lock(gypsum_server, unique_name, asset_folder):
    server = gypsum_server
    project = create_project(server, unique_name("other"))
    folder = asset_folder("v1", {"x.txt": "1"})
    _start_by_hand(server, project, folder, send=1)
    client.unlock_project(project, url=server.url, token=server.tokens["admin"])  # its session is gone
    client.start_upload(
        project, "b", "v9", ["x.txt"], directory=str(folder), url=server.url, token=server.tokens["owner"]
    )  # another live upload

    with pytest.raises(InterruptedUploadError, match=rf"locked by another operation \({project}/b/v9\); left alone"):
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(server, "admin"))
    lock = read_lock(project, url=server.url)
    assert (lock.asset, lock.version) == ("b", "v9")


def test_a_partial_version_without_a_lock_is_cleared_and_published(gypsum_server, unique_name, asset_folder):
    server = gypsum_server
    project = create_project(server, unique_name("orphan"))
    folder = asset_folder("v1", {"x.txt": "1"})
    _start_by_hand(server, project, folder, send=1)
    client.unlock_project(project, url=server.url, token=server.tokens["admin"])  # no session can complete it

    with pytest.raises(InterruptedUploadError, match="its lock is gone.*an admin must clear it"):
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(server))
    outcome = validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(server, "admin"))
    assert outcome.outcome == "published" and read_lock(project, url=server.url) is None
