"""clone-modify-upload against the local server: only changed files are sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows_helpers import create_project, credentials, requests_matching

from gypsum_flows import client
from gypsum_flows.errors import CacheWriteError
from gypsum_flows.flows import clone_modify_upload, validate_metadata_then_publish

FILES = {"a.txt": "alpha", "b.txt": "bravo", "c.txt": "charlie", "sub/d.txt": "delta", "sub/e.txt": "echo"}


@pytest.fixture
def published_v1(fresh_gypsum_server, unique_name, asset_folder):
    """A fresh server with project/asset v1 (five files + metadata); returns (server, project)."""
    project = create_project(fresh_gypsum_server, unique_name("cm"))
    folder = asset_folder("v1", FILES)
    validate_metadata_then_publish(str(folder), project, "asset", "v1", credentials=credentials(fresh_gypsum_server))
    return fresh_gypsum_server, project


def test_overlay_and_delete_send_only_changed_files(published_v1, asset_folder):
    server, project = published_v1
    overlay = asset_folder("patch", {"b.txt": "BRAVO v2", "sub/new.txt": "new file"}, metadata=None)
    puts_before = len(requests_matching(server, "PUT", ""))

    outcome = clone_modify_upload(
        project, "asset", "v2", overlay=str(overlay), delete=["c.txt"], credentials=credentials(server)
    )

    assert len(requests_matching(server, "PUT", "")) - puts_before == 2
    assert (outcome.outcome, outcome.files_uploaded, outcome.files_linked) == ("published", 2, 4)
    manifest = client.fetch_manifest(project, "asset", "v2", url=server.url, cache_dir=False)
    assert sorted(manifest) == ["_bioconductor.json", "a.txt", "b.txt", "sub/d.txt", "sub/e.txt", "sub/new.txt"]
    linked = sorted(p for p, e in manifest.items() if "link" in e)
    assert linked == ["_bioconductor.json", "a.txt", "sub/d.txt", "sub/e.txt"]
    assert all(manifest[p]["link"]["version"] == "v1" for p in linked)
    assert client.fetch_latest(project, "asset", url=server.url) == "v2"
    saved = Path(client.save_version(project, "asset", "v2", url=server.url))
    assert (saved / "b.txt").read_text() == "BRAVO v2" and (saved / "a.txt").read_text() == "alpha"

    # Immediate re-run: "latest" is v2 itself now; the changes are already there.
    starts = len(requests_matching(server, "POST", "/upload/start/"))
    again = clone_modify_upload(
        project, "asset", "v2", overlay=str(overlay), delete=["c.txt"], credentials=credentials(server)
    )
    assert again.outcome == "unchanged"
    assert len(requests_matching(server, "POST", "/upload/start/")) == starts


def test_callable_modification_from_an_explicit_version(published_v1):
    server, project = published_v1

    def edit(folder: Path) -> None:
        (folder / "a.txt").unlink()
        (folder / "a.txt").write_text("ALPHA, replaced")

    puts_before = len(requests_matching(server, "PUT", ""))
    outcome = clone_modify_upload(
        project, "asset", "v3", source_version="v1", modify=edit, credentials=credentials(server)
    )
    assert len(requests_matching(server, "PUT", "")) - puts_before == 1
    assert (outcome.files_uploaded, outcome.files_linked) == (1, 5)


def test_callable_writing_into_the_cache_is_refused(published_v1):
    server, project = published_v1

    def scribble(folder: Path) -> None:
        with open(folder / "sub" / "e.txt", "a") as handle:
            handle.write(" (edited in place)")

    with pytest.raises(CacheWriteError, match="sub/e.txt"):
        clone_modify_upload(project, "asset", "v9", modify=scribble, credentials=credentials(server))
    assert "v9" not in client.list_versions(project, "asset", url=server.url)


def test_delete_of_a_missing_path_is_an_error(published_v1):
    from gypsum_flows.errors import GypsumError

    server, project = published_v1
    with pytest.raises(GypsumError, match="no such file"):
        clone_modify_upload(project, "asset", "v4", delete=["nope.txt"], credentials=credentials(server))
    assert "v4" not in client.list_versions(project, "asset", url=server.url)


def test_clone_from_a_missing_asset_says_there_is_nothing_to_clone_from(published_v1):
    from gypsum_flows.errors import GypsumNotFoundError

    server, project = published_v1
    with pytest.raises(
        GypsumNotFoundError,
        match=f"nothing to clone from: {project}/ghost has no latest version: the asset does not exist",
    ):
        clone_modify_upload(project, "copy", "v1", source_asset="ghost", credentials=credentials(server))
    with pytest.raises(GypsumNotFoundError, match=r"version 'v7' of .* does not exist \(its versions: v1\)"):
        clone_modify_upload(
            project, "copy", "v1", source_asset="asset", source_version="v7", credentials=credentials(server)
        )
    assert client.list_versions(project, "copy", url=server.url) == []
